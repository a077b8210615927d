// What an admin restores still signs people in: a user enrols a passkey and an app is
// registered on one daemon; `latchkey backup` and `latchkey export` are taken; that daemon
// goes. A daemon started on the backup (`latchkeyd restore`), then another on the bundle
// imported into PostgreSQL (`latchkeyd import`), each with only the key file kept apart,
// signs the same user in with the same passkey (Chromium's virtual authenticator) to the
// same app, an openid-client 6 relying party: discovery, code flow with PKCE, consent, the
// ID token checked against the new daemon's JWKS.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';

import * as client from 'openid-client';

import {
  addVirtualAuthenticator,
  latchkeydBin,
  launchBrowser,
  screenshotOnFailure,
  startDaemon,
  startPostgres,
} from './lib/harness.mjs';

let page;
const cleanup = [];
screenshotOnFailure(() => page);

after(async () => {
  for (const step of cleanup.reverse()) await step();
});

/** Runs `latchkeyd ARGS` (an offline subcommand) and resolves its stdout; rejects on failure. */
function latchkeyd(args) {
  return new Promise((resolve, reject) => {
    execFile(latchkeydBin(), args, { timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`latchkeyd ${args.join(' ')}: ${error.message}\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}

/** An app's callback on loopback: resolves the next request to /callback. */
async function startRp() {
  let waiting = null;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, `http://localhost:${server.address().port}`);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>RP</title><h1>signed in</h1>');
    if (url.pathname === '/callback' && waiting) waiting(url);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  return {
    redirectUri: `http://localhost:${port}/callback`,
    next: () => new Promise((resolve) => { waiting = resolve; }),
    close: () => server.close(),
  };
}

/** openid-client signs alice in through `daemon` with her passkey; returns the ID token's claims. */
async function signInWithPasskey(daemon, rp, app) {
  const config = await client.discovery(new URL(daemon.url), app.client_id, app.client_secret,
    client.ClientSecretBasic(app.client_secret), { execute: [client.allowInsecureRequests] });
  const codeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const authUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: rp.redirectUri,
    scope: 'openid profile email',
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  const callback = rp.next();
  await page.goto(authUrl.href);
  // The sign-in page may sign in by itself (conditional UI answered by the virtual
  // authenticator), or wait for the passkey button. Consent is asked the first time only.
  const allow = page.getByRole('button', { name: 'Allow', exact: true });
  const passkey = page.locator('#passkey-login');
  const arrived = callback.then((url) => ({ url }));
  // Resolves `name` once `locator` shows; never, when it does not (no stray rejection).
  const shows = (locator, name, timeout = 20_000) =>
    locator.waitFor({ timeout }).then(() => name, () => new Promise(() => {}));
  let step = await Promise.race([arrived, shows(allow, 'allow'), shows(passkey, 'passkey')]);
  if (step === 'passkey') {
    // Give conditional UI a moment to sign in by itself before pressing the button.
    step = await Promise.race([arrived, shows(allow, 'allow', 3000), sleep(3000).then(() => 'press')]);
    if (step === 'press') {
      await passkey.click();
      step = await Promise.race([arrived, shows(allow, 'allow')]);
    }
  }
  const asked = step === 'allow';
  if (asked) await allow.click();
  const tokens = await client.authorizationCodeGrant(config, (await arrived).url, {
    pkceCodeVerifier: codeVerifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  assert.equal(claims.iss, daemon.url);
  assert.equal(claims.preferred_username, 'alice');
  assert.equal(claims.email, 'alice@example.com');
  assert.ok(claims.amr.includes('hwk'), `a passkey sign-in: ${claims.amr}`);
  return { claims, asked };
}

test('a passkey user signs in to an openid-client app after a restore and after an import', async () => {
  const keep = await mkdtemp(path.join(os.tmpdir(), 'latchkey-restore-'));
  cleanup.push(() => rm(keep, { recursive: true, force: true }));
  const rp = await startRp();
  cleanup.push(() => rp.close());
  const browser = await launchBrowser();
  cleanup.push(() => browser.close());
  page = browser.page;

  const first = await startDaemon();
  cleanup.push(() => first.stop());
  await first.cli(['user', 'create', '--username', 'alice', '--email', 'alice@example.com']);
  const { json: code } = await first.cli(['login-code', 'create', 'alice']);
  await page.goto(`${first.url}/lc/${code.code}`);
  const authenticator = await addVirtualAuthenticator(page);
  await page.locator('form button[type=submit], form input[type=submit]').first().click();
  await page.waitForURL(/\/account/);
  await page.locator('#passkey-register').click();
  await page.waitForURL(/done=added/);
  assert.equal((await authenticator.credentials()).length, 1);
  const { json: app } = await first.cli(['client', 'create', '--name', 'Restored RP',
    '--redirect-uri', rp.redirectUri]);
  // Forget the login code's session: each sign-in below is a passkey's.
  await page.context().clearCookies();
  const before = await signInWithPasskey(first, rp, app);
  assert.equal(before.asked, true, 'consent is asked the first time');

  const backup = path.join(keep, 'latchkey.backup');
  const bundle = path.join(keep, 'latchkey-export.jsonl');
  const key = path.join(keep, 'secret.key');
  await first.cli(['backup', '--out', backup]);
  await first.cli(['export', '--out', bundle]);
  await copyFile(path.join(first.dataDir, 'secret.key'), key);
  await first.stop();
  // Signed in on the first daemon only: its session cookie means nothing to the next ones.
  await page.context().clearCookies();

  const restored = await startDaemon({
    async prepare(dataDir) {
      await latchkeyd(['restore', '--from', backup, '--data-dir', dataDir]);
      await copyFile(key, path.join(dataDir, 'secret.key'));
    },
  });
  cleanup.push(() => restored.stop());
  const afterRestore = await signInWithPasskey(restored, rp, app);
  assert.equal(afterRestore.claims.sub, before.claims.sub, 'the same subject for the app');
  assert.equal(afterRestore.asked, false, 'the consent was restored');
  await restored.stop();
  await page.context().clearCookies();

  const postgres = await startPostgres();
  cleanup.push(() => postgres.stop());
  let imported = false;
  const onPostgres = await startDaemon({
    extraArgs: ['--database-url', postgres.url],
    async prepare(dataDir) {
      // A retried start (its port taken meanwhile) finds the data already there.
      if (!imported) {
        const report = await latchkeyd(['import', '--from', bundle, '--database-url', postgres.url]);
        assert.match(report, /verified: the target exports back as the bundle/);
        imported = true;
      }
      await copyFile(key, path.join(dataDir, 'secret.key'));
    },
  });
  cleanup.push(() => onPostgres.stop());
  const afterImport = await signInWithPasskey(onPostgres, rp, app);
  assert.equal(afterImport.claims.sub, before.claims.sub, 'the same subject for the app');
  assert.equal(afterImport.asked, false, 'the consent was imported');
});
