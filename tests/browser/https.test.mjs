// Built-in HTTPS in Chromium: latchkeyd serves TLS itself with a certificate made at test
// time, which this Chromium trusts by its public key (--ignore-certificate-errors-spki-list:
// that one key only, not every error). A login code signs in over https, the session cookie
// is __Host- and Secure, a passkey is added at the https origin, and after signing out the
// passkey signs in again.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, test } from 'node:test';

import {
  addVirtualAuthenticator,
  launchBrowser,
  pressPasskeyButtonThenAllowPresence,
  screenshotOnFailure,
  startDaemon,
} from './lib/harness.mjs';

let current = null;
screenshotOnFailure(() => current?.browser?.page);

afterEach(async (t) => {
  const env = current;
  current = null;
  if (!env) return;
  if (t.passed === false && env.daemon) {
    process.stderr.write(`# latchkeyd output of "${t.name}":\n${env.daemon.output().slice(-6000)}\n`);
  }
  await env.browser?.close();
  await env.daemon?.stop();
  await rm(env.certDir, { recursive: true, force: true });
});

/** A self-signed certificate for localhost, and the base64 SHA-256 of its public key. */
async function certificate() {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'latchkey-cert-'));
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', '/CN=latchkey browser test', '-addext', 'subjectAltName=DNS:localhost',
    '-keyout', key, '-out', cert,
  ], { stdio: 'ignore' });
  const spki = execFileSync('sh', ['-c',
    `openssl x509 -in '${cert}' -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`,
  ]).toString().trim();
  return { dir, cert, key, spki };
}

async function waitForPath(page, pathname, search = '') {
  await page.waitForURL((url) => url.pathname === pathname && url.search === search);
}

test('over built-in HTTPS a login code signs in with __Host- Secure cookies, and a passkey added there signs in', async () => {
  const tls = await certificate();
  current = { certDir: tls.dir };
  const daemon = await startDaemon({ tls });
  current.daemon = daemon;
  assert.match(daemon.url, /^https:\/\/localhost:\d+$/);
  const browser = await launchBrowser({ extraArgs: [`--ignore-certificate-errors-spki-list=${tls.spki}`] });
  current.browser = browser;
  const { page, context } = browser;
  page.setDefaultTimeout(10_000);
  const authenticator = await addVirtualAuthenticator(page);
  const setPresence = (enabled) =>
    authenticator.cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId: authenticator.id, enabled });

  await daemon.cli(['user', 'create', '--username', 'dana', '--email', 'dana@example.com']);
  const { json: code } = await daemon.cli(['login-code', 'create', 'dana']);
  assert.ok(code.url.startsWith(`${daemon.url}/lc/`), code.url);
  await page.goto(code.url);
  await page.getByRole('button', { name: 'Continue' }).click();
  await waitForPath(page, '/account');
  const session = (await context.cookies(daemon.url)).find((c) => c.name === '__Host-latchkey_session');
  assert.ok(session, 'a __Host- session cookie');
  assert.equal(session.secure, true);
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Lax');

  // A passkey for the https origin, then signing out and in with it.
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await waitForPath(page, '/account', '?done=added');
  const [credential] = await authenticator.credentials();
  assert.equal(credential.rpId, 'localhost');
  await setPresence(false);
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await waitForPath(page, '/login', '?done=signed_out');
  await pressPasskeyButtonThenAllowPresence(page, setPresence);
  await waitForPath(page, '/account');
  const { json: listed } = await daemon.cli(['passkey', 'list', 'dana']);
  assert.notEqual(listed.passkeys[0].last_used_at, null, 'the passkey signed in');
});
