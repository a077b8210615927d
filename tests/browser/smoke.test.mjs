// Smoke test of the harness: the real daemon and CLI, headless Chromium, and
// the CDP virtual authenticator. The passkey flows build on these pieces.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { addVirtualAuthenticator, launchBrowser, screenshotOnFailure, startDaemon } from './lib/harness.mjs';

let daemon;
let browser;
let page;

before(async () => {
  daemon = await startDaemon();
  browser = await launchBrowser();
  page = browser.page;
});

after(async () => {
  await browser?.close();
  if (daemon) {
    const status = await daemon.stop();
    assert.equal(status.code, 0, `latchkeyd exit status after SIGTERM: ${JSON.stringify(status)}\n${daemon.output()}`);
  }
});

screenshotOnFailure(() => page);

test('the CLI creates a user through the daemon socket', async () => {
  const { json: user } = await daemon.cli(['user', 'create', '--username', 'alice']);
  assert.equal(user.username, 'alice');
  assert.equal(typeof user.id, 'string');
  assert.equal(user.disabled, false);
  assert.equal(user.is_admin, false);

  const { json: shown } = await daemon.cli(['user', 'show', 'alice']);
  assert.equal(shown.id, user.id);

  const dup = await daemon.cli(['user', 'create', '--username', 'alice'], { allowFailure: true });
  assert.notEqual(dup.code, 0, 'a second alice is refused');
  assert.match(dup.stderr, /\S/, 'with a message on stderr');
});

test('Chromium reaches /healthz', async () => {
  const res = await page.goto(`${daemon.url}/healthz`);
  assert.equal(res.status(), 200);
  assert.equal((await res.json()).status, 'ok');
  assert.match(await page.locator('body').innerText(), /"status":\s*"ok"/);
});

test('the virtual authenticator is a user-verifying platform authenticator', async () => {
  await page.goto(`${daemon.url}/healthz`);
  const authenticator = await addVirtualAuthenticator(page);
  try {
    const has = await page.evaluate(() => typeof window.PublicKeyCredential === 'function');
    assert.ok(has, 'PublicKeyCredential exists on a localhost page');
    const uvpa = await page.evaluate(() =>
      PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable());
    assert.equal(uvpa, true);
    const conditional = await page.evaluate(() =>
      PublicKeyCredential.isConditionalMediationAvailable?.() ?? false);
    assert.equal(conditional, true, 'conditional UI (passkey autofill) is available');
    assert.deepEqual(await authenticator.credentials(), []);
  } finally {
    await authenticator.remove();
  }
});

test('the virtual authenticator makes a resident credential and signs in without a username', async () => {
  await page.goto(`${daemon.url}/healthz`);
  const authenticator = await addVirtualAuthenticator(page);
  try {
    const out = await page.evaluate(async () => {
      const rnd = (n) => crypto.getRandomValues(new Uint8Array(n));
      const userId = rnd(16);
      const created = await navigator.credentials.create({
        publicKey: {
          rp: { id: 'localhost', name: 'Latchkey' },
          user: { id: userId, name: 'alice', displayName: 'Alice' },
          challenge: rnd(32),
          pubKeyCredParams: [{ type: 'public-key', alg: -7 }],
          authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'required' },
          extensions: { credProps: true },
        },
      });
      const got = await navigator.credentials.get({
        publicKey: { challenge: rnd(32), rpId: 'localhost', allowCredentials: [], userVerification: 'required' },
      });
      const b64url = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
      return { created: created.toJSON(), got: got.toJSON(), userId: b64url(userId) };
    });
    assert.deepEqual(out.created.clientExtensionResults, { credProps: { rk: true } });
    assert.equal(out.got.id, out.created.id, 'the discoverable credential was found');
    assert.equal(out.got.response.userHandle, out.userId);

    const [cred, ...rest] = await authenticator.credentials();
    assert.equal(rest.length, 0);
    assert.equal(cred.id, out.created.id);
    assert.equal(cred.rpId, 'localhost');
    assert.equal(cred.isResidentCredential, true);
    assert.equal(cred.userHandleB64url, out.userId);
  } finally {
    await authenticator.remove();
  }
});
