// Two replicas of one deployment on one PostgreSQL database, behind a load
// balancer that sends every ceremony's finish to the other replica than its
// start: a browser enrols a passkey and signs in with it, each ceremony begun
// on one replica and completed on the other (the state travels sealed, and
// its single use is recorded in the database).
//
// The balancer is a few lines of node:http here (nginx in the README does the
// same with round robin); the daemons, PostgreSQL, Chromium and its virtual
// authenticator are the real ones.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { once } from 'node:events';
import { afterEach, test } from 'node:test';

import {
  addVirtualAuthenticator,
  freePort,
  launchBrowser,
  screenshotOnFailure,
  startDaemon,
  startPostgres,
} from './lib/harness.mjs';

let current = null;
screenshotOnFailure(() => current?.page);

afterEach(async (t) => {
  const env = current;
  current = null;
  if (!env) return;
  if (t.passed === false) {
    for (const [name, daemon] of Object.entries(env.replicas ?? {})) {
      process.stderr.write(`# output of replica ${name}:\n${daemon.output().slice(-4000)}\n`);
    }
  }
  await env.browser?.close();
  env.balancer?.close();
  for (const daemon of Object.values(env.replicas ?? {})) await daemon.stop();
  await env.postgres?.stop();
});

/**
 * A reverse proxy on `port` that sends POST …/finish to `finish` and
 * everything else to `start`, recording `[method, path, replica]` of each
 * request in `log`.
 */
async function balancer(port, start, finish, log) {
  const server = http.createServer((req, res) => {
    const [name, to] = req.method === 'POST' && req.url.endsWith('/finish') ? ['B', finish] : ['A', start];
    log.push([req.method, req.url.split('?')[0], name]);
    const upstream = http.request(
      { host: '127.0.0.1', port: to.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', (e) => {
      res.writeHead(502);
      res.end(String(e));
    });
    req.pipe(upstream);
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

test('a passkey enrolled and used across two replicas: each ceremony starts on one and finishes on the other', async () => {
  const env = {};
  current = env;
  env.postgres = await startPostgres();
  const publicPort = await freePort();
  const publicUrl = `http://localhost:${publicPort}`;
  const shared = {
    publicUrl,
    extraArgs: ['--database-url', env.postgres.url],
    env: { LATCHKEY_ENCRYPTION_KEY: randomBytes(32).toString('base64') },
  };
  env.replicas = {};
  env.replicas.A = await startDaemon(shared);
  env.replicas.B = await startDaemon(shared);
  const { A, B } = env.replicas;
  const log = [];
  env.balancer = await balancer(publicPort, A, B, log);

  env.browser = await launchBrowser();
  const { page } = env.browser;
  env.page = page;
  page.setDefaultTimeout(10_000);
  const serverErrors = [];
  page.on('response', (r) => {
    if (r.status() >= 500) serverErrors.push(`${r.status()} from ${r.request().method()} ${r.url()}`);
  });
  const authenticator = await addVirtualAuthenticator(page);

  // Made on A's console, used through the balancer.
  await A.cli(['user', 'create', '--username', 'dana']);
  const { json: code } = await A.cli(['login-code', 'create', 'dana']);
  assert.equal(code.url.startsWith(publicUrl), true, code.url);
  await page.goto(code.url);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL((u) => u.pathname === '/account');

  // Enrolment: started on A, finished on B.
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await page.waitForURL((u) => u.pathname === '/account' && u.search === '?done=added');
  const [credential] = await authenticator.credentials();
  const { json: onB } = await B.cli(['passkey', 'list', 'dana']);
  assert.deepEqual(onB.passkeys.map((p) => p.id), [credential.id], 'B holds the passkey enrolled through it');

  // Sign out, then /login's autofill request signs in at once with the
  // virtual authenticator: the sign-in ceremony, started on A, finished on B.
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await page.waitForURL((u) => u.pathname === '/account' || (u.pathname === '/login' && u.search === '?done=signed_out'));
  await page.waitForURL((u) => u.pathname === '/account');

  const ceremonies = log.filter(([, path]) => path.startsWith('/api/passkey/'));
  assert.deepEqual(
    ceremonies,
    [
      ['POST', '/api/passkey/register/start', 'A'],
      ['POST', '/api/passkey/register/finish', 'B'],
      ['POST', '/api/passkey/login/start', 'A'],
      ['POST', '/api/passkey/login/finish', 'B'],
    ],
    'each ceremony began on A and was completed on B',
  );
  const { json: after } = await A.cli(['passkey', 'list', 'dana']);
  assert.notEqual(after.passkeys[0].last_used_at, null, 'A sees the sign-in B completed');
  assert.deepEqual(serverErrors, []);
});
