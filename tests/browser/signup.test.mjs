// Self-service signup in the browser, on the real pages of the real daemon:
// an admin turns on token signup and makes a signup link with the CLI; a new
// person opens the link, fills in the form (first with a mistake the server
// points out), adds a passkey with the CDP virtual authenticator, lands on the
// account page, signs out, and signs in again with the new passkey. Any page
// error (uncaught exception, CSP violation), console error or 5xx fails it.

import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';

import {
  addVirtualAuthenticator,
  launchBrowser,
  pressPasskeyButtonThenAllowPresence,
  screenshotOnFailure,
  startDaemon,
} from './lib/harness.mjs';


let current = null;

screenshotOnFailure(() => current?.page);

afterEach(async (t) => {
  const env = current;
  current = null;
  if (!env) return;
  if (t.passed === false) {
    process.stderr.write(`# latchkeyd output of "${t.name}":\n${env.daemon.output().slice(-6000)}\n`);
    if (env.log.length) process.stderr.write(`# browser log:\n${env.log.join('\n')}\n`);
  }
  await env.browser.close();
  await env.daemon.stop();
});

async function open() {
  const env = { daemon: await startDaemon(), log: [], problems: [], calls: [] };
  current = env;
  env.browser = await launchBrowser({ viewport: { width: 412, height: 915 } });
  const page = env.browser.page;
  env.page = page;
  page.setDefaultTimeout(10_000);
  page.on('pageerror', (e) => env.problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    const line = `${m.type()}: ${m.text()} (${m.location().url})`;
    env.log.push(line);
    if (m.type() === 'error' && !/status of 400/.test(m.text())) env.problems.push(`console ${line}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 500) env.problems.push(`${r.status()} from ${r.request().method()} ${r.url()}`);
  });
  // Records the conditional (autofill) request on /login, to know when it waits.
  await page.exposeBinding('__latchkeyTestRecord', (_source, event) => env.calls.push(event));
  await page.addInitScript(() => {
    const record = window.__latchkeyTestRecord;
    const creds = navigator.credentials;
    const original = creds.get.bind(creds);
    creds.get = function (options) {
      record({ url: location.pathname, mediation: options?.mediation ?? null });
      return original(options);
    };
  });
  env.authenticator = await addVirtualAuthenticator(page);
  env.presence = (enabled) =>
    env.authenticator.cdp.send('WebAuthn.setAutomaticPresenceSimulation', {
      authenticatorId: env.authenticator.id,
      enabled,
    });
  return env;
}

async function waitForPath(page, path, query) {
  await page.waitForURL((u) => u.pathname === path && (query === undefined || u.search === query));
}

async function assertText(locator, re) {
  await locator.waitFor();
  assert.match(await locator.innerText(), re);
}

async function until(fn, what, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('a signup link leads to the form, a first passkey, the account page, and signing in again with that passkey', async () => {
  const env = await open();
  const { daemon, page, authenticator } = env;
  await daemon.cli(['group', 'create', 'newcomers']);
  await daemon.cli(['config', 'set', 'signups.mode', 'token'], { json: false });
  const { json: token } = await daemon.cli(['signup-token', 'create', '--uses', '1', '--group', 'newcomers']);
  assert.match(token.url, new RegExp(`^${daemon.url}/st/[A-Za-z0-9_-]{22}$`));
  await daemon.cli(['user', 'create', '--username', 'taken']);

  // The form; the server refuses a taken username (any case) under its field.
  await page.goto(token.url);
  await assertText(page.getByRole('heading', { level: 1 }), /Create your .* account/);
  await page.getByLabel('Username').fill('TAKEN');
  await page.getByLabel('Email').fill('frida@example.com');
  await page.getByLabel('First name').fill('Frida');
  await page.getByLabel('Last name').fill('Kahlo');
  await page.getByRole('button', { name: 'Create account' }).click();
  await assertText(page.locator('#username-error'), /Username is already taken/);
  assert.equal(await page.getByLabel('Email').inputValue(), 'frida@example.com', 'the form keeps what was typed');
  const { json: unused } = await daemon.cli(['signup-token', 'list']);
  assert.equal(unused.tokens[0].uses, 0, 'a refused signup does not use the link');

  await page.getByLabel('Username').fill('frida');
  await page.getByRole('button', { name: 'Create account' }).click();
  await waitForPath(page, '/signup/passkey');
  await assertText(page.getByRole('heading', { level: 1 }), /Welcome, Frida Kahlo/);
  await assertText(page.getByRole('note'), /login code from an administrator/);
  assert.equal(await page.getByRole('link', { name: 'Skip for now' }).count(), 1);

  // The first passkey, then the account page.
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await waitForPath(page, '/account', '?done=added');
  await assertText(page.getByRole('heading', { level: 1 }), /^Frida Kahlo$/);
  await assertText(page.locator('dl.details'), /frida@example\.com/);
  const [credential, ...others] = await authenticator.credentials();
  assert.equal(others.length, 0);
  assert.equal(credential.userName, 'frida');
  assert.equal(credential.isResidentCredential, true);

  const { json: user } = await daemon.cli(['user', 'show', 'frida']);
  assert.deepEqual(user.groups, ['newcomers']);
  assert.equal(user.passkey_count, 1);
  const { json: after } = await daemon.cli(['signup-token', 'list']);
  assert.deepEqual(after.tokens, [], 'a one-use link is used up');

  // Sign out with the autofill request on /login left pending, then sign in
  // with the button and the new passkey.
  await env.presence(false);
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await waitForPath(page, '/login', '?done=signed_out');
  await until(() => env.calls.some((c) => c.url === '/login' && c.mediation === 'conditional'), 'the autofill request');
  // With presence off nothing can answer the autofill request: still on /login. The button
  // cancels it and asks for a passkey, with presence back on only once it has.
  assert.equal(new URL(page.url()).pathname, '/login');
  await pressPasskeyButtonThenAllowPresence(page, env.presence);
  await waitForPath(page, '/account');
  await assertText(page.getByRole('heading', { level: 1 }), /^Frida Kahlo$/);

  const { json: audit } = await daemon.cli(['audit', 'list', '--user', 'frida']);
  const events = audit.events.map((e) => e.event);
  for (const event of ['user_signed_up', 'signup_sign_in', 'passkey_added', 'passkey_sign_in']) {
    assert.ok(events.includes(event), `${event} in ${events}`);
  }
  const signedUp = audit.events.find((e) => e.event === 'user_signed_up');
  assert.equal(Object.fromEntries(signedUp.details).token, token.id);

  assert.deepEqual(env.problems, [], 'no page errors, console errors or 5xx responses');

  // The used-up link now says so (Chromium logs the 410 as a console error, as it did the
  // refused form's 400 above; both are the pages working as meant).
  const response = await page.goto(token.url);
  assert.equal(response.status(), 410);
  await assertText(page.locator('main'), /already been used/);
  assert.deepEqual(env.problems.filter((p) => !/status of 410/.test(p)), []);
});
