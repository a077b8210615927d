// Latchkey: the one script. Passkey sign-in (button and autofill) and enrolment.
// No inline script anywhere (the CSP forbids it): pages pass data in data- attributes and
// <meta name="csrf-token">, and this file finds its elements by id.
"use strict";

(function () {
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrf = csrfMeta ? csrfMeta.getAttribute("content") : "";

  // ---- base64url and WebAuthn JSON, for browsers without parse*FromJSON / toJSON ----

  function b64urlToBuffer(value) {
    const base64 = value.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "===".slice((base64.length + 3) % 4);
    const binary = atob(padded);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function bufferToB64url(buffer) {
    if (!buffer) return undefined;
    const bytes = new Uint8Array(buffer);
    let binary = "";
    for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // WebIDL refuses null for enum members; the server may send null for "not set".
  function dropNulls(value) {
    if (Array.isArray(value)) return value.map(dropNulls);
    if (value && typeof value === "object") {
      const out = {};
      for (const key of Object.keys(value)) {
        if (value[key] !== null) out[key] = dropNulls(value[key]);
      }
      return out;
    }
    return value;
  }

  function withIds(list) {
    return (list || []).map(function (c) {
      return Object.assign({}, c, { id: b64urlToBuffer(c.id) });
    });
  }

  function creationOptions(json) {
    json = dropNulls(json);
    if (window.PublicKeyCredential && PublicKeyCredential.parseCreationOptionsFromJSON) {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    const options = Object.assign({}, json);
    options.challenge = b64urlToBuffer(json.challenge);
    options.user = Object.assign({}, json.user, { id: b64urlToBuffer(json.user.id) });
    if (json.excludeCredentials) options.excludeCredentials = withIds(json.excludeCredentials);
    return options;
  }

  function requestOptions(json) {
    json = dropNulls(json);
    if (window.PublicKeyCredential && PublicKeyCredential.parseRequestOptionsFromJSON) {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    const options = Object.assign({}, json);
    options.challenge = b64urlToBuffer(json.challenge);
    if (json.allowCredentials) options.allowCredentials = withIds(json.allowCredentials);
    return options;
  }

  function credentialJSON(credential) {
    if (typeof credential.toJSON === "function") {
      try {
        return credential.toJSON();
      } catch (e) {
        // Fall through to the manual form.
      }
    }
    const r = credential.response;
    const response = { clientDataJSON: bufferToB64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = bufferToB64url(r.attestationObject);
      if (typeof r.getTransports === "function") response.transports = r.getTransports();
    } else {
      response.authenticatorData = bufferToB64url(r.authenticatorData);
      response.signature = bufferToB64url(r.signature);
      if (r.userHandle) response.userHandle = bufferToB64url(r.userHandle);
    }
    return {
      id: credential.id,
      rawId: bufferToB64url(credential.rawId),
      type: credential.type,
      response: response,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults:
        typeof credential.getClientExtensionResults === "function"
          ? credential.getClientExtensionResults()
          : {},
    };
  }

  // ---- talking to the server ----

  class ServerError extends Error {
    constructor(code, message) {
      super(message);
      this.code = code;
    }
  }

  async function post(url, body) {
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify(body || {}),
      });
    } catch (e) {
      throw new ServerError("network", "Cannot reach the server. Check your connection and try again.");
    }
    let data = null;
    try {
      data = await response.json();
    } catch (e) {
      data = null;
    }
    if (!response.ok) {
      const message = data && data.message ? data.message : "The server refused the request (" + response.status + ").";
      throw new ServerError(data && data.error ? data.error : "http_" + response.status, message);
    }
    return data || {};
  }

  function describe(error) {
    if (error instanceof ServerError) return error.message;
    switch (error && error.name) {
      case "NotAllowedError":
        return "The passkey request was cancelled or timed out. Try again when you are ready.";
      case "InvalidStateError":
        return "This device already has a passkey for your account.";
      case "SecurityError":
        return "Your browser refused to use a passkey for this site (the address must match the server's public URL).";
      case "NotSupportedError":
        return "This device or browser cannot create a passkey of the kind required.";
      case "AbortError":
        return "The passkey request was interrupted.";
      default:
        return "Something went wrong: " + (error && error.message ? error.message : String(error));
    }
  }

  function showStatus(el, text, kind) {
    if (!el) return;
    el.textContent = text;
    el.className = "status " + (kind || "info");
  }

  function supported() {
    return !!(window.PublicKeyCredential && navigator.credentials && navigator.credentials.get);
  }

  // ---- sign-in (/login) ----

  function setUpLogin(root) {
    const button = document.getElementById("passkey-login");
    const status = document.getElementById("login-status");
    const next = root.getAttribute("data-next") || "";
    let conditional = null; // AbortController of the autofill request in flight
    let refresh = null;

    if (!supported()) {
      if (button) button.disabled = true;
      showStatus(status, "This browser cannot use passkeys. Use a login code instead.", "error");
      return;
    }

    async function finish(ceremony, credential) {
      const body = { ceremony: ceremony, credential: credentialJSON(credential) };
      if (next) body.next = next;
      const result = await post("/api/passkey/login/finish", body);
      showStatus(status, "Signed in. One moment…", "ok");
      window.location.assign(result.redirect || "/account");
    }

    async function startAutofill() {
      if (!PublicKeyCredential.isConditionalMediationAvailable) return;
      let available = false;
      try {
        available = await PublicKeyCredential.isConditionalMediationAvailable();
      } catch (e) {
        available = false;
      }
      if (!available) return;
      if (conditional) conditional.abort();
      const controller = new AbortController();
      conditional = controller;
      // Ceremonies expire on the server after five minutes: start a fresh one before that.
      clearTimeout(refresh);
      refresh = setTimeout(startAutofill, 4 * 60 * 1000);
      try {
        const start = await post("/api/passkey/login/start", {});
        const credential = await navigator.credentials.get({
          mediation: "conditional",
          publicKey: requestOptions(start.options.publicKey),
          signal: controller.signal,
        });
        if (controller.signal.aborted || !credential) return;
        clearTimeout(refresh);
        await finish(start.ceremony, credential);
      } catch (error) {
        if (controller.signal.aborted || (error && error.name === "AbortError")) return;
        showStatus(status, describe(error), "error");
        if (error instanceof ServerError && error.code === "ceremony_expired") startAutofill();
      }
    }

    if (button) {
      button.addEventListener("click", async function () {
        if (conditional) {
          conditional.abort();
          conditional = null;
        }
        clearTimeout(refresh);
        button.disabled = true;
        showStatus(status, "Waiting for your passkey…", "info");
        try {
          const start = await post("/api/passkey/login/start", {});
          const credential = await navigator.credentials.get({
            publicKey: requestOptions(start.options.publicKey),
          });
          await finish(start.ceremony, credential);
        } catch (error) {
          showStatus(status, describe(error), "error");
          button.disabled = false;
          startAutofill();
        }
      });
    }
    startAutofill();
  }

  // ---- enrolment (/account) ----

  function setUpRegister(button) {
    const status = document.getElementById("register-status");
    if (!supported() || !navigator.credentials.create) {
      button.disabled = true;
      showStatus(status, "This browser cannot create passkeys.", "error");
      return;
    }
    button.addEventListener("click", async function () {
      button.disabled = true;
      showStatus(status, "Follow your browser's prompts to create a passkey…", "info");
      try {
        const start = await post("/api/passkey/register/start", {});
        const credential = await navigator.credentials.create({
          publicKey: creationOptions(start.options.publicKey),
        });
        const added = await post("/api/passkey/register/finish", {
          ceremony: start.ceremony,
          credential: credentialJSON(credential),
        });
        showStatus(status, "Added “" + added.name + "”.", "ok");
        window.location.assign("/account?done=added");
      } catch (error) {
        showStatus(status, describe(error), "error");
        button.disabled = false;
      }
    });
  }

  function init() {
    const login = document.getElementById("login");
    if (login) setUpLogin(login);
    const register = document.getElementById("passkey-register");
    if (register) setUpRegister(register);
    // OIDC response_mode=form_post: hand the response to the application. The page's button
    // does the same without script.
    const formPost = document.querySelector('form[data-autosubmit="true"]');
    if (formPost) formPost.submit();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
