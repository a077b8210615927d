// What a user does with passkeys in the browser, on the real pages of the real
// daemon: a login code from the CLI, adding a passkey, signing in with the
// button and with autofill (conditional mediation), renaming and removing a
// passkey, the first-admin setup link, and wrong or reused login codes.
//
// Each test starts its own daemon and its own browser (fresh profile), and
// adds a CDP virtual authenticator (CTAP2, internal transport, resident keys,
// user verification, presence simulated) to the tab.
//
// What Chromium does with conditional mediation here (checked by hand with
// this Chromium, and relied on below):
// - A `navigator.credentials.get({mediation: "conditional"})` made while the
//   virtual authenticator holds a discoverable credential for the RP and
//   automatic presence simulation is on resolves at once, with that
//   credential: headless Chromium shows no autofill list, and nothing needs to
//   be focused or clicked. So the autofill test just loads /login and checks
//   that the page signs in on its own, through a call with mediation
//   "conditional" (recorded by a wrapper around navigator.credentials.get).
// - With presence simulation off, the conditional request stays pending, even
//   when the username field is focused (and turning simulation back on does
//   not complete it). That is what a real autofill request does until the
//   user picks a passkey, so the button test uses it: the autofill request is
//   pending when the user presses "Sign in with a passkey".
// - With no matching credential, the virtual authenticator rejects a modal
//   get at once with NotAllowedError (a real browser would show its dialog).

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, test } from 'node:test';

import {
  addVirtualAuthenticator,
  launchBrowser,
  pressPasskeyButtonThenAllowPresence,
  screenshotOnFailure,
  startDaemon,
} from './lib/harness.mjs';

const PHONE = { width: 412, height: 915 };
const DESKTOP = { width: 1280, height: 800 };

/** The AAGUID of CDP's virtual authenticator. */
const VIRTUAL_AAGUID = '01020304-0506-0708-0102-030405060708';

/** The running test's daemon, browser and page (one test at a time in this file). */
let current = null;

// Registered before the teardown below, so it runs first, while the page is open.
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

/**
 * Starts a daemon (unless one is given) and a browser with a virtual
 * authenticator, and watches the page: a page error (uncaught exception, CSP
 * violation), a console error, or a 5xx response is a problem that
 * `assertClean()` reports, except console errors matching `allowConsole`.
 */
async function open({ viewport = DESKTOP, daemon } = {}) {
  const env = { daemon: daemon ?? (await startDaemon()), log: [], problems: [], calls: [], allowed: [] };
  current = env;
  env.browser = await launchBrowser({ viewport });
  const page = env.browser.page;
  env.page = page;
  page.setDefaultTimeout(10_000);
  page.on('pageerror', (e) => env.problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    const line = `${m.type()}: ${m.text()} (${m.location().url})`;
    env.log.push(line);
    if (m.type() === 'error' && !env.allowed.some((re) => re.test(m.text()))) env.problems.push(`console ${line}`);
  });
  env.navigations = [];
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) env.navigations.push(new URL(frame.url()));
  });
  page.on('response', (r) => {
    if (r.status() >= 500) env.problems.push(`${r.status()} from ${r.request().method()} ${r.url()}`);
  });
  // Records every WebAuthn call the page makes (and how it ended), across
  // navigations, without changing what the page gets.
  await page.exposeBinding('__latchkeyTestRecord', (_source, event) => env.calls.push(event));
  await page.addInitScript(() => {
    const record = window.__latchkeyTestRecord;
    const creds = navigator.credentials;
    for (const method of ['get', 'create']) {
      const original = creds[method].bind(creds);
      creds[method] = function (options) {
        const call = { method, mediation: options?.mediation ?? null, url: location.pathname, outcome: 'pending' };
        const id = Math.random().toString(36).slice(2);
        record({ id, ...call });
        const promise = original(options);
        promise.then(
          (credential) => record({ id, outcome: 'resolved', credentialId: credential?.id ?? null }),
          (error) => record({ id, outcome: 'rejected', error: error?.name ?? String(error) }),
        );
        return promise;
      };
    }
  });
  env.authenticator = await addVirtualAuthenticator(page);
  env.allowConsole = (re) => env.allowed.push(re);
  /** The WebAuthn calls so far, each with its latest outcome. */
  env.webauthnCalls = () => {
    const byId = new Map();
    for (const { id, ...rest } of env.calls) byId.set(id, { ...byId.get(id), ...rest });
    return [...byId.values()];
  };
  env.assertClean = () => assert.deepEqual(env.problems, [], 'no page errors, console errors or 5xx responses');
  env.presence = (enabled) =>
    env.authenticator.cdp.send('WebAuthn.setAutomaticPresenceSimulation', {
      authenticatorId: env.authenticator.id,
      enabled,
    });
  return env;
}

/**
 * With BROWSER_TEST_SHOTS=DIR, saves a full-page screenshot DIR/NAME.png (for
 * looking at the pages, at the width the test uses); otherwise does nothing.
 */
async function shot(page, name) {
  const dir = process.env.BROWSER_TEST_SHOTS;
  if (!dir) return;
  await mkdir(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
}

/** Waits for `page` to be at `path` (exactly; query optional unless given). */
async function waitForPath(page, path, query) {
  await page.waitForURL((u) => u.pathname === path && (query === undefined || u.search === query));
}

/** Polls `fn` until it returns a truthy value (or times out). */
async function until(fn, what, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Creates a user with the CLI and a login code for them; returns `{user, code}`. */
async function userWithCode(daemon, username, extra = []) {
  const { json: user } = await daemon.cli(['user', 'create', '--username', username, ...extra]);
  const { json: code } = await daemon.cli(['login-code', 'create', username]);
  return { user, code };
}

/** Opens a login-code link and presses Continue; ends on /account. */
async function signInWithLink(page, code) {
  await page.goto(code.url);
  await page.getByRole('button', { name: 'Continue' }).click();
  await waitForPath(page, '/account');
}

/** On /account: presses "Add a passkey" and waits for the page to confirm it. */
async function addPasskey(page) {
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await waitForPath(page, '/account', '?done=added');
  await assertText(page.getByRole('status').first(), /Passkey added/);
}

async function signOut(page) {
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await waitForPath(page, '/login', '?done=signed_out');
}

async function assertText(locator, re) {
  await locator.waitFor();
  assert.match(await locator.innerText(), re);
}

/** The passkey rows on the account page: `[{name, meta, badge}]`. */
async function passkeyRows(page) {
  return page.locator('ul.passkeys > li').evaluateAll((items) =>
    items.map((li) => ({
      name: li.querySelector('.passkey-name')?.textContent.trim(),
      badge: li.querySelector('.badge')?.textContent.trim(),
      meta: li.querySelector('.small')?.textContent.replace(/\s+/g, ' ').trim(),
    })));
}

/**
 * Signs out and leaves /login's autofill request pending: with presence
 * simulation off the virtual authenticator cannot answer it, as a real one
 * waits for the user to pick a passkey. Simulation stays off until
 * `signInWithTheButton` has the page abort that request. Returns a getter of
 * the autofill request's record.
 */
async function signOutWithAutofillPending(env) {
  const { page } = env;
  const before = env.webauthnCalls().length;
  await env.presence(false);
  await signOut(page);
  const autofill = () => env.webauthnCalls().slice(before).find((c) => c.url === '/login' && c.mediation === 'conditional');
  await until(autofill, 'the autofill request on /login');
  assert.equal(autofill().outcome, 'pending', 'the autofill request waits while no passkey is picked');
  return autofill;
}

/**
 * The passkey button on /login, with the autofill request left pending by
 * `signOutWithAutofillPending`: the page cancels that request (it never
 * resolved: nothing signed in while it waited) and asks for a passkey, which
 * signs in.
 */
async function signInWithTheButton(env, autofill) {
  const { page } = env;
  assert.equal(new URL(page.url()).pathname, '/login', 'nothing signed in while the autofill request waits');
  await pressPasskeyButtonThenAllowPresence(page, env.presence);
  await waitForPath(page, '/account');
  assert.equal(autofill().outcome, 'rejected', 'the button cancelled the autofill request');
  assert.equal(autofill().error, 'AbortError');
}

const NO_PASSKEY_BANNER = /Add a passkey to this account/;

test('a login-code link leads to the account page, which asks for a passkey; the passkey signs in with the button', async () => {
  const env = await open({ viewport: PHONE });
  const { daemon, page, authenticator } = env;
  const { user, code } = await userWithCode(daemon, 'carol', ['--first-name', 'Carol', '--last-name', 'Jones', '--email', 'carol@example.com']);
  assert.equal(code.url, `${daemon.url}/lc/${code.code}`);

  // The link shows the code, filled in, and signs in only on Continue.
  await page.goto(code.url);
  await assertText(page.getByRole('heading', { level: 1 }), /Sign in with a login code/);
  assert.equal(await page.getByLabel('Login code').inputValue(), code.code);
  await shot(page, 'phone-lc-link');
  await page.getByRole('button', { name: 'Continue' }).click();
  await waitForPath(page, '/account');

  // The account page asks for a passkey.
  await assertText(page.getByRole('note'), NO_PASSKEY_BANNER);
  await shot(page, 'phone-account-no-passkey');
  await assertText(page.getByRole('heading', { level: 1 }), /^Carol Jones$/);
  await assertText(page.locator('dl.details'), /carol@example\.com/);
  await assertText(page.locator('section', { has: page.getByRole('heading', { name: 'Passkeys' }) }), /You have no passkeys yet/);

  await addPasskey(page);
  assert.equal(await page.getByRole('note').count(), 0, 'the add-a-passkey banner is gone');
  const rows = await passkeyRows(page);
  assert.equal(rows.length, 1);
  assert.equal(rows[0].name, 'Passkey', 'an authenticator with an unknown AAGUID gets the generic name');
  assert.equal(rows[0].badge, 'Device-bound', 'the virtual authenticator sets neither BE nor BS');
  assert.match(rows[0].meta, /^Added \d{4}-\d\d-\d\d \d\d:\d\d UTC · Last used never$/);
  await shot(page, 'phone-account-passkey-added');

  // The authenticator holds a discoverable credential for this RP and user,
  // and the daemon has the same credential.
  const [credential, ...others] = await authenticator.credentials();
  assert.equal(others.length, 0);
  assert.equal(credential.rpId, 'localhost');
  assert.equal(credential.isResidentCredential, true);
  assert.equal(credential.userName, 'carol');
  const { json: listed } = await daemon.cli(['passkey', 'list', 'carol']);
  assert.equal(listed.passkeys.length, 1);
  assert.equal(listed.passkeys[0].id, credential.id);
  assert.equal(listed.passkeys[0].aaguid, VIRTUAL_AAGUID);
  assert.equal(listed.passkeys[0].last_used_at, null);

  // Sign out with the autofill request left pending, as a real one waits
  // for the user to pick a passkey.
  const autofill = await signOutWithAutofillPending(env);
  await assertText(page.getByRole('status').first(), /You have signed out\./);
  await shot(page, 'phone-login-signed-out');
  // What real browsers need before they offer passkeys in the field's
  // autofill (the virtual authenticator does not look at it).
  assert.equal(await page.getByLabel('Username').getAttribute('autocomplete'), 'username webauthn');

  // The button: the page cancels its autofill request and asks for a passkey.
  await signInWithTheButton(env, autofill);
  const onLogin = env.webauthnCalls().filter((c) => c.url === '/login');
  assert.deepEqual(
    onLogin.map((c) => [c.method, c.mediation, c.outcome, c.error ?? c.credentialId]),
    [
      ['get', 'conditional', 'rejected', 'AbortError'],
      ['get', null, 'resolved', credential.id],
    ],
    'the autofill request was aborted and the modal request signed in',
  );
  await assertText(page.getByRole('heading', { level: 1 }), /^Carol Jones$/);
  assert.match((await passkeyRows(page))[0].meta, /Last used \d{4}-\d\d-\d\d/);
  const { json: after } = await daemon.cli(['passkey', 'list', 'carol']);
  assert.notEqual(after.passkeys[0].last_used_at, null);
  const { json: shown } = await daemon.cli(['user', 'show', 'carol']);
  assert.equal(shown.id, user.id);
  assert.equal(shown.passkey_count, 1);
  env.assertClean();
});

test('passkey autofill (conditional mediation) signs in on /login without pressing anything', async () => {
  const env = await open({ viewport: DESKTOP });
  const { daemon, page, authenticator } = env;
  const { code } = await userWithCode(daemon, 'dave');
  await signInWithLink(page, code);
  await addPasskey(page);
  const [credential] = await authenticator.credentials();

  // Sign out: /login loads, makes its autofill request, and Chromium answers
  // it with the passkey: the page signs in with no click and no focus.
  const navigationsBefore = env.navigations.length;
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await until(() => env.navigations.slice(navigationsBefore).some((u) => u.pathname === '/account'), 'back on /account');
  assert.deepEqual(
    env.navigations.slice(navigationsBefore).map((u) => u.pathname + u.search),
    ['/login?done=signed_out', '/account'],
  );
  const onLogin = env.webauthnCalls().filter((c) => c.url === '/login');
  assert.deepEqual(
    onLogin.map((c) => [c.method, c.mediation, c.outcome, c.credentialId]),
    [['get', 'conditional', 'resolved', credential.id]],
    'exactly one WebAuthn call on /login: the conditional (autofill) request, which signed in',
  );
  await assertText(page.getByRole('heading', { level: 1 }), /^dave$/);

  const { json: audit } = await daemon.cli(['audit', 'list', '--user', 'dave']);
  const [latest] = audit.events;
  assert.equal(latest.event, 'passkey_sign_in', 'the audit log records the passkey sign-in');
  assert.deepEqual(Object.fromEntries(latest.details).passkey, credential.id);
  assert.match(latest.user_agent, /HeadlessChrome/);
  env.assertClean();
});

test('a passkey is renamed and removed on the account page; removing the last one warns first', async () => {
  const env = await open({ viewport: PHONE });
  const { daemon, page, authenticator } = env;
  const { code } = await userWithCode(daemon, 'erin');
  await signInWithLink(page, code);
  await addPasskey(page);
  const [credential] = await authenticator.credentials();

  // Rename: the form is folded under "Rename", filled with the current name.
  const nameField = page.getByLabel('New name for Passkey');
  assert.equal(await nameField.isVisible(), false);
  await page.getByText('Rename', { exact: true }).click();
  assert.equal(await nameField.inputValue(), 'Passkey');
  await shot(page, 'phone-account-rename-open');
  await nameField.fill('  Work laptop  ');
  await page.getByRole('button', { name: 'Save' }).click();
  await waitForPath(page, '/account', '?done=renamed');
  await assertText(page.getByRole('status').first(), /Passkey renamed\./);
  assert.deepEqual((await passkeyRows(page)).map((r) => r.name), ['Work laptop']);
  let { json: listed } = await daemon.cli(['passkey', 'list', 'erin']);
  assert.deepEqual(listed.passkeys.map((p) => [p.id, p.name]), [[credential.id, 'Work laptop']]);

  // Remove: a confirm page that warns this is the last passkey; Cancel keeps it.
  await page.getByRole('link', { name: 'Remove' }).click();
  await waitForPath(page, `/account/passkeys/${credential.id}/delete`);
  await assertText(page.getByRole('heading', { level: 1 }), /^Remove “Work laptop”\?$/);
  await assertText(page.getByRole('alert'), /This is your only passkey\..*login code from an administrator/s);
  await shot(page, 'phone-remove-last-passkey');
  await page.getByRole('link', { name: 'Cancel' }).click();
  await waitForPath(page, '/account', '');
  assert.equal((await passkeyRows(page)).length, 1, 'Cancel removed nothing');

  await page.getByRole('link', { name: 'Remove' }).click();
  await page.getByRole('button', { name: 'Remove passkey' }).click();
  await waitForPath(page, '/account', '?done=removed');
  await assertText(page.getByRole('status').first(), /Passkey removed\./);
  await assertText(page.getByRole('note'), NO_PASSKEY_BANNER);
  await assertText(page.locator('section', { has: page.getByRole('heading', { name: 'Passkeys' }) }), /You have no passkeys yet/);
  ({ json: listed } = await daemon.cli(['passkey', 'list', 'erin']));
  assert.deepEqual(listed.passkeys, []);

  // The credential is still on the device, but it no longer signs in: the
  // autofill request on /login is refused with a message, and no session.
  assert.equal((await authenticator.credentials()).length, 1);
  env.allowConsole(/status of 401/);
  await signOut(page);
  await assertText(page.locator('#login-status.error'), /^This passkey was not accepted\. It may have been removed from your account/);
  await shot(page, 'phone-login-removed-passkey');
  assert.equal(new URL(page.url()).pathname, '/login');
  await page.goto(`${daemon.url}/account`);
  assert.equal(new URL(page.url()).pathname, '/login', 'no session');
  const [failed] = (await daemon.cli(['audit', 'list'])).json.events;
  assert.equal(failed.event, 'sign_in_failed');
  assert.deepEqual(failed.details, [['reason', 'unknown_credential']]);
  env.assertClean();
});

test('first admin: the setup link the daemon prints creates an admin, who adds a passkey and signs in with it', async () => {
  const daemon = await startDaemon();
  const env = await open({ viewport: DESKTOP, daemon });
  const { page, authenticator } = env;

  const link = daemon.output().match(/open (http:\/\/localhost:\d+\/setup\/\S+) to create the first admin/)?.[1];
  assert.ok(link, `the daemon prints a setup link:\n${daemon.output()}`);
  await page.goto(link);
  await assertText(page.getByRole('heading', { level: 1 }), /Welcome to Latchkey/);
  await shot(page, 'desktop-setup');
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Email').fill('admin@example.com');
  await page.getByLabel('First name').fill('Ada');
  await page.getByLabel('Last name').fill('Admin');
  await page.getByRole('button', { name: 'Create administrator' }).click();
  await waitForPath(page, '/account', '?done=welcome');
  await assertText(page.getByRole('status').first(), /Your administrator account is ready\. Add a passkey/);
  await assertText(page.getByRole('note'), NO_PASSKEY_BANNER);
  await assertText(page.locator('dl.details'), /Role\s+Administrator/);
  await shot(page, 'desktop-account-welcome');

  await addPasskey(page);
  const [credential] = await authenticator.credentials();
  assert.equal(credential.userName, 'admin');

  await signInWithTheButton(env, await signOutWithAutofillPending(env));
  await assertText(page.getByRole('heading', { level: 1 }), /^Ada Admin$/);

  const { json: admin } = await daemon.cli(['user', 'show', 'admin']);
  assert.equal(admin.is_admin, true);
  assert.equal(admin.passkey_count, 1);
  assert.equal(admin.email, 'admin@example.com');

  // The link worked once.
  env.allowConsole(/status of 404/);
  const again = await page.goto(link);
  assert.equal(again.status(), 404);
  await assertText(page.locator('#error-message'), /invalid or has already been used/);
  await shot(page, 'desktop-setup-link-used');
  env.assertClean();
});

test('login codes: wrong and malformed codes get a clear message, a code is case-insensitive, and a used code fails the second time', async () => {
  const env = await open({ viewport: PHONE });
  const { daemon, page, browser } = env;
  env.allowConsole(/status of 40[01]/);
  const { code } = await userWithCode(daemon, 'frank');

  // From the sign-in page to code entry.
  await page.goto(`${daemon.url}/login`);
  await page.getByRole('link', { name: "Don't have access to your passkey?" }).click();
  await waitForPath(page, '/login/alternative');

  const submit = async (typed) => {
    await page.getByLabel('Login code').fill(typed);
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/lc'),
      page.getByRole('button', { name: 'Continue' }).click(),
    ]);
    await page.waitForLoadState();
    return response.status();
  };
  const codeError = () => page.locator('#lc-error').innerText();

  // A wrong code (well-formed) and a malformed one: the same clear message, no session.
  await shot(page, 'phone-alternative');
  assert.equal(await submit('ABCD-EFGH-JKMN-PQRS'), 401);
  assert.equal(await codeError(), 'This code is invalid or has expired.');
  await shot(page, 'phone-lc-wrong-code');
  assert.equal(await page.getByLabel('Login code').inputValue(), 'ABCD-EFGH-JKMN-PQRS', 'what was typed stays in the field');
  assert.equal(await submit('not a code!'), 401);
  assert.equal(await codeError(), 'This code is invalid or has expired.');
  await page.goto(`${daemon.url}/account`);
  assert.equal(new URL(page.url()).pathname, '/login', 'no session: /account sends to sign-in');

  // The real code, typed in lower case without dashes.
  await page.goto(`${daemon.url}/lc`);
  assert.equal(await submit(code.code.toLowerCase().replace(/-/g, '')), 303);
  await waitForPath(page, '/account');
  await assertText(page.getByRole('heading', { level: 1 }), /^frank$/);

  // The same link again, in a browser without that session: refused.
  await browser.context.clearCookies();
  await page.goto(code.url);
  assert.equal(await page.getByLabel('Login code').inputValue(), code.code);
  assert.equal(await submit(code.code), 401);
  assert.equal(await codeError(), 'This code is invalid or has expired.');
  await page.goto(`${daemon.url}/account`);
  assert.equal(new URL(page.url()).pathname, '/login');

  // Audit: three refused attempts (a used code is gone, so it counts as
  // unknown), each with the browser's IP and user agent, and one sign-in.
  const { events } = (await daemon.cli(['audit', 'list'])).json;
  const refusals = events.filter((e) => e.event === 'sign_in_failed');
  assert.deepEqual(refusals.map((e) => Object.fromEntries(e.details).reason), ['unknown_code', 'unknown_code', 'unknown_code']);
  for (const e of refusals) {
    assert.equal(e.ip, '127.0.0.1');
    assert.match(e.user_agent, /HeadlessChrome/);
  }
  assert.deepEqual(events.filter((e) => e.event === 'login_code_sign_in').map((e) => e.subject), ['frank']);
  env.assertClean();
});
