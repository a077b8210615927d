// A relying party built on openid-client 6 (a certified OpenID Connect RP library) signs a
// user in through Latchkey in headless Chromium: discovery → authorization URL (PKCE S256,
// state, nonce) → the browser opens it → passkey sign-in with the virtual authenticator →
// consent page → the RP's callback (a node http server on loopback) →
// authorizationCodeGrant (which checks state, RFC 9207 iss, the ID token's signature and
// alg against discovery, nonce) → userinfo → refresh → introspection, revocation and
// RP-initiated logout.
//
// The passkey is enrolled first the way a user does it: a login code from the CLI, then
// "Add a passkey" on the account page; then the user signs out.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import { after, before, test } from 'node:test';

import * as client from 'openid-client';

import { addVirtualAuthenticator, launchBrowser, screenshotOnFailure, startDaemon } from './lib/harness.mjs';

let daemon;
let browser;
let page;
let authenticator;
let rp; // { server, port, redirectUri, logoutUri, callbacks: URL[] , waitForCallback() }

/** A tiny RP back end: records every request to /callback and /signed-out. */
async function startRp() {
  const hits = [];
  const waiters = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, `http://localhost:${server.address().port}`);
    hits.push(url);
    for (const w of waiters.splice(0)) w(url);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>RP</title><h1 id="rp">RP got ${url.pathname}</h1>`);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  return {
    server,
    port,
    redirectUri: `http://localhost:${port}/callback`,
    logoutUri: `http://localhost:${port}/signed-out`,
    hits,
    /** The next request the RP receives (or one already received on `path`). */
    next(path) {
      const seen = hits.find((u) => u.pathname === path);
      if (seen) {
        hits.splice(hits.indexOf(seen), 1);
        return Promise.resolve(seen);
      }
      return new Promise((resolve) => {
        const check = (u) => {
          if (u.pathname === path) {
            hits.splice(hits.indexOf(u), 1);
            resolve(u);
          } else {
            waiters.push(check);
          }
        };
        waiters.push(check);
      });
    },
  };
}

before(async () => {
  daemon = await startDaemon();
  rp = await startRp();
  browser = await launchBrowser();
  page = browser.page;
});

after(async () => {
  await browser?.close();
  rp?.server.close();
  if (daemon) {
    const status = await daemon.stop();
    assert.equal(status.code, 0, `latchkeyd exit status after SIGTERM: ${JSON.stringify(status)}\n${daemon.output()}`);
  }
});

screenshotOnFailure(() => page);

test('a user enrols a passkey after signing in with a login code', async () => {
  await daemon.cli(['user', 'create', '--username', 'alice', '--email', 'alice@example.com',
    '--first-name', 'Alice', '--last-name', 'Example']);
  const { json: lc } = await daemon.cli(['login-code', 'create', 'alice']);
  await page.goto(`${daemon.url}/lc/${lc.code}`);
  authenticator = await addVirtualAuthenticator(page);
  await page.locator('form button[type=submit], form input[type=submit]').first().click();
  await page.waitForURL(/\/account/);
  await page.locator('#passkey-register').click();
  await page.waitForURL(/done=added/);
  assert.equal((await authenticator.credentials()).length, 1);
  // Sign out: the OIDC flow starts signed out. The sign-in page we land on would sign
  // straight back in through conditional UI (the virtual authenticator answers at once), so
  // user presence is switched off until the page is gone.
  await presence(false);
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await page.waitForURL(/\/login/);
  await page.goto('about:blank');
  await presence(true);
});

/** Whether the virtual authenticator confirms user presence by itself. */
async function presence(enabled) {
  await authenticator.cdp.send('WebAuthn.setAutomaticPresenceSimulation', {
    authenticatorId: authenticator.id,
    enabled,
  });
}

let config;
let tokens;
let claims;


test('openid-client: discovery, passkey sign-in, consent, code grant, userinfo, refresh', async () => {
  assert.ok(authenticator, 'the passkey was enrolled');
  const { json: created } = await daemon.cli(['client', 'create', '--name', 'Node RP',
    '--redirect-uri', rp.redirectUri, '--logout-uri', rp.logoutUri]);
  assert.ok(created.client_secret, 'a confidential client has a secret, shown once');

  // Discovery over plain http (allowed explicitly: openid-client refuses it otherwise).
  config = await client.discovery(new URL(daemon.url), created.client_id, created.client_secret,
    client.ClientSecretBasic(created.client_secret), { execute: [client.allowInsecureRequests] });
  const meta = config.serverMetadata();
  assert.equal(meta.issuer, daemon.url);
  assert.equal(meta.authorization_response_iss_parameter_supported, true);
  assert.ok(meta.code_challenge_methods_supported.includes('S256'));

  const codeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const authUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: rp.redirectUri,
    scope: 'openid profile email offline_access',
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });

  // Not signed in: the sign-in page, with the way back. The page may sign in by itself
  // (conditional UI: the browser offers the passkey in the username field's autofill and
  // the virtual authenticator accepts at once), or wait for the passkey button.
  const visited = [];
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) visited.push(new URL(frame.url()));
  });
  const callback = rp.next('/callback');
  await page.goto(authUrl.href);
  const allow = page.getByRole('button', { name: 'Allow', exact: true });
  try {
    await allow.waitFor({ timeout: 3000 });
  } catch {
    await page.locator('#passkey-login').click();
    await allow.waitFor({ timeout: 10_000 });
  }
  const login = visited.find((u) => u.pathname === '/login');
  assert.ok(login, `went through the sign-in page: ${visited.map(String)}`);
  assert.match(login.searchParams.get('next') ?? '', /^\/authorize\?/);

  // The consent page names the app and the scopes; allow.
  assert.match(await page.locator('body').innerText(), /Node RP/);
  await allow.click();
  const callbackUrl = await callback;
  assert.equal(callbackUrl.searchParams.get('iss'), daemon.url, 'RFC 9207 iss');
  await page.waitForURL(/\/callback/);

  // The library checks state, iss, PKCE, the ID token (signature against the JWKS, alg
  // against discovery, aud, exp, nonce).
  tokens = await client.authorizationCodeGrant(config, callbackUrl, {
    pkceCodeVerifier: codeVerifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  assert.equal(tokens.token_type.toLowerCase(), 'bearer');
  assert.ok(tokens.refresh_token, 'offline_access gives a refresh token');
  claims = tokens.claims();
  assert.equal(claims.iss, daemon.url);
  assert.equal(claims.aud, created.client_id);
  assert.equal(claims.email, 'alice@example.com');
  assert.equal(claims.preferred_username, 'alice');
  assert.equal(typeof claims.auth_time, 'number');
  assert.equal(typeof claims.sid, 'string');
  assert.ok(Array.isArray(claims.amr) && claims.amr.includes('hwk'), `passkey amr: ${claims.amr}`);

  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  assert.equal(info.sub, claims.sub);
  assert.equal(info.email, 'alice@example.com');

  // Refresh: new tokens; the old refresh token is spent.
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
  assert.notEqual(refreshed.access_token, tokens.access_token);
  const info2 = await client.fetchUserInfo(config, refreshed.access_token, claims.sub);
  assert.equal(info2.sub, claims.sub);
  // Reusing the rotated-out refresh token fails and revokes the whole family: the new
  // refresh token and the grant's access tokens too.
  await assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token),
    (e) => e.error === 'invalid_grant');
  await assert.rejects(client.refreshTokenGrant(config, refreshed.refresh_token),
    (e) => e.error === 'invalid_grant');
  const dead = await client.tokenIntrospection(config, refreshed.access_token);
  assert.equal(dead.active, false);
});

test('openid-client: a pushed authorization request (PAR, RFC 9126)', async () => {
  assert.ok(claims, 'the code flow ran');
  assert.equal(config.serverMetadata().pushed_authorization_request_endpoint, `${daemon.url}/par`);
  const codeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  // The library pushes the request (client authentication, as at /token) and builds the
  // front-channel URL from the request_uri it gets back.
  const authUrl = await client.buildAuthorizationUrlWithPAR(config, {
    redirect_uri: rp.redirectUri,
    scope: 'openid profile email',
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  assert.deepEqual([...authUrl.searchParams.keys()].sort(), ['client_id', 'request_uri']);
  const callback = rp.next('/callback');
  await page.goto(authUrl.href);
  const pushed = await client.authorizationCodeGrant(config, await callback, {
    pkceCodeVerifier: codeVerifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  assert.equal(pushed.claims().sub, claims.sub);
  assert.equal(pushed.claims().preferred_username, 'alice');
});

/** Another authorization in the signed-in browser (consent is remembered: no page). */
async function authorizeAgain() {
  const codeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const authUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: rp.redirectUri,
    scope: 'openid profile email offline_access',
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
  });
  const callback = rp.next('/callback');
  await page.goto(authUrl.href);
  return client.authorizationCodeGrant(config, await callback, {
    pkceCodeVerifier: codeVerifier,
    expectedState: state,
  });
}

test('openid-client: introspection, revocation and RP-initiated logout', async () => {
  assert.ok(claims, 'the code flow ran');
  tokens = await authorizeAgain();
  const active = await client.tokenIntrospection(config, tokens.access_token);
  assert.equal(active.active, true);
  assert.equal(active.sub, claims.sub);

  await client.tokenRevocation(config, tokens.access_token);
  const inactive = await client.tokenIntrospection(config, tokens.access_token);
  assert.equal(inactive.active, false);

  const again = await authorizeAgain();
  const logoutState = client.randomState();
  const endSession = client.buildEndSessionUrl(config, {
    id_token_hint: again.id_token,
    post_logout_redirect_uri: rp.logoutUri,
    state: logoutState,
  });
  const signedOut = rp.next('/signed-out');
  await page.goto(endSession.href);
  const back = await signedOut;
  assert.equal(back.searchParams.get('state'), logoutState);
  const after = await client.tokenIntrospection(config, again.access_token);
  assert.equal(after.active, false, 'logout ended the client\'s tokens for the session');
  await page.goto(`${daemon.url}/account`);
  await page.waitForURL(/\/login/);
});
