// Email in the browser, on the real pages of the real daemon, with a
// real SMTP server (aiosmtpd, tests/smtp/server.py from tests/.venv): "email
// me a sign-in link" on the alternative page, the mail arrives, its link
// signs in only in the browser that asked, and the account page then adds a
// passkey with the CDP virtual authenticator.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, test } from 'node:test';

import {
  REPO_ROOT,
  addVirtualAuthenticator,
  freePort,
  launchBrowser,
  screenshotOnFailure,
  startDaemon,
} from './lib/harness.mjs';

let current = null;
screenshotOnFailure(() => current?.page);

afterEach(async (t) => {
  const env = current;
  current = null;
  if (!env) return;
  if (t.passed === false && env.daemon) {
    process.stderr.write(`# latchkeyd output of "${t.name}":\n${env.daemon.output().slice(-6000)}\n`);
  }
  for (const b of env.browsers) await b.close();
  await env.daemon?.stop();
  await env.smtp?.stop();
});

/** aiosmtpd on a free loopback port, writing each message as JSON into a temp dir. */
async function startSmtp() {
  const venv = path.join(REPO_ROOT, 'tests/.venv/bin/python3');
  const python = process.env.LATCHKEY_TEST_PYTHON ?? (existsSync(venv) ? venv : 'python3');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'latchkey-smtp-'));
  const port = await freePort();
  const proc = spawn(python, [path.join(REPO_ROOT, 'tests/smtp/server.py'), '--port', String(port), '--dir', dir], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr.setEncoding('utf8').on('data', (s) => { stderr += s; });
  const deadline = Date.now() + 15_000;
  for (;;) {
    const up = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => { socket.end(); resolve(true); });
      socket.on('error', () => resolve(false));
    });
    if (up) break;
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`aiosmtpd did not start (run scripts/install-test-deps):\n${stderr}`);
    }
    await sleep(50);
  }
  return {
    port,
    async messages() {
      const names = (await readdir(dir)).filter((n) => n.endsWith('.json')).sort();
      return Promise.all(names.map(async (n) => JSON.parse(await readFile(path.join(dir, n), 'utf8'))));
    },
    async waitFor(n) {
      const until = Date.now() + 15_000;
      for (;;) {
        const all = await this.messages();
        if (all.length >= n) return all;
        if (Date.now() > until) throw new Error(`expected ${n} messages, got ${all.length}`);
        await sleep(50);
      }
    },
    async stop() {
      proc.kill('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

test('an emailed sign-in link signs in the asking browser, which then adds a passkey', async () => {
  const env = { browsers: [] };
  current = env;
  env.smtp = await startSmtp();
  env.daemon = await startDaemon();
  const { daemon, smtp } = env;
  for (const [key, value] of [
    ['smtp.host', '127.0.0.1'],
    ['smtp.port', String(smtp.port)],
    ['smtp.from', 'Latchkey <id@example.com>'],
    ['smtp.tls', 'none'],
    ['email.one_time_access', 'true'],
  ]) {
    await daemon.cli(['config', 'set', key, value]);
  }
  await daemon.cli(['user', 'create', '--username', 'alice', '--email', 'alice@example.com', '--first-name', 'Alice']);

  const browser = await launchBrowser();
  env.browsers.push(browser);
  const page = browser.page;
  env.page = page;
  page.setDefaultTimeout(10_000);
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  const authenticator = await addVirtualAuthenticator(page);

  await page.goto(`${daemon.url}/login`);
  await page.getByRole('link', { name: /Don.t have access to your passkey/ }).click();
  await page.getByLabel('Email address').fill('alice@example.com');
  await page.getByRole('button', { name: 'Email me a sign-in link' }).click();
  await page.waitForURL((u) => u.pathname === '/login/email');
  assert.match(await page.locator('#email-sent').innerText(), /If an account uses that address/);

  const [mail] = await smtp.waitFor(1);
  assert.deepEqual(mail.rcpt, ['alice@example.com']);
  const link = mail.text.split('\n').map((l) => l.trim()).find((l) => l.includes('/login/email/'));
  assert.ok(link, mail.text);

  // Another browser (its own profile, so no binding cookie) is refused.
  const other = await launchBrowser();
  env.browsers.push(other);
  await other.page.goto(link);
  await other.page.getByRole('button', { name: 'Continue' }).click();
  assert.match(await other.page.locator('#email-error').innerText(), /different browser/);

  // The asking browser signs in and is asked for a passkey; it adds one.
  await page.goto(link);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL((u) => u.pathname === '/account' && u.search === '?done=email_link');
  assert.match(await page.getByRole('status').first().innerText(), /Add a passkey now/);
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await page.waitForURL((u) => u.pathname === '/account' && u.search === '?done=added');
  assert.equal((await authenticator.credentials()).length, 1);
  assert.deepEqual(problems, []);
});
