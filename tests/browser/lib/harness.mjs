// Browser-test harness: the real `latchkeyd` and `latchkey` binaries, and
// Debian's headless Chromium driven by playwright-core with the CDP WebAuthn
// virtual authenticator.
//
// Environment:
//   LATCHKEYD_BIN  path of latchkeyd (default <repo>/target/debug/latchkeyd,
//                  or $CARGO_TARGET_DIR/debug/latchkeyd)
// The daemon and the CLI run with every other LATCHKEY_* variable removed
// from their environment (the daemon refuses unknown ones).
//   LATCHKEY_BIN   path of latchkey  (default likewise)
//   CHROMIUM_BIN   path of Chromium  (default /usr/bin/chromium)
//   LATCHKEY_TEST_LOG  log filter for the daemon (default "info")
//   LATCHKEY_TEST_POSTGRES_BIN  path of latchkey-test-postgres (default likewise), which
//                  starts a throwaway PostgreSQL for the replica tests

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const SCREENSHOT_DIR = path.join(REPO_ROOT, 'tests/browser/screenshots');

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const POLL_MS = 50;
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;

function binary(envName, name) {
  if (process.env[envName]) return path.resolve(process.env[envName]);
  const target = process.env.CARGO_TARGET_DIR
    ? path.resolve(REPO_ROOT, process.env.CARGO_TARGET_DIR)
    : path.join(REPO_ROOT, 'target');
  return path.join(target, 'debug', name);
}

export const latchkeydBin = () => binary('LATCHKEYD_BIN', 'latchkeyd');
export const latchkeyBin = () => binary('LATCHKEY_BIN', 'latchkey');
const testPostgresBin = () => binary('LATCHKEY_TEST_POSTGRES_BIN', 'latchkey-test-postgres');

/**
 * Starts a throwaway PostgreSQL (the Rust tests' harness, through
 * `latchkey-test-postgres`) and resolves `{url, stop()}`: `url` is an empty
 * database's. The server stops when `stop()` closes the helper's stdin, or
 * when this process ends, however it ends.
 */
export async function startPostgres() {
  const bin = testPostgresBin();
  if (!existsSync(bin)) {
    throw new Error(`latchkey-test-postgres not found at ${bin}: run \`cargo build --bins\``);
  }
  const proc = spawn(bin, [], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  proc.stderr.setEncoding('utf8').on('data', (s) => { output += s; });
  proc.stdout.setEncoding('utf8');
  const url = await new Promise((resolve, reject) => {
    let line = '';
    proc.stdout.on('data', (s) => {
      line += s;
      if (line.includes('\n')) resolve(line.trim());
    });
    proc.on('exit', (code) => reject(new Error(`latchkey-test-postgres exited (${code}):\n${output}`)));
  });
  return {
    url,
    async stop() {
      const done = once(proc, 'exit');
      proc.stdin.end();
      await done;
    },
  };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export async function freePort() {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

/** The daemon's environment: ours without LATCHKEY_* settings, plus `extra`. */
function daemonEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('LATCHKEY_')) env[k] = v;
  }
  return { ...env, LATCHKEY_LOG: process.env.LATCHKEY_TEST_LOG ?? 'info', ...extra };
}

/**
 * Starts `latchkeyd` in a new temp dir on a free port and waits until
 * `/healthz` answers 200 and the admin socket exists. Returns a handle:
 * `{url, listenUrl, port, dir, dataDir, socket, output(), cli(args), stop()}`.
 * `extraArgs` go after the generated flags; `env` is added to the
 * environment. `publicUrl` (default: the URL it listens on) is the URL users
 * reach it at, for replicas behind a load balancer. `prepare(dataDir)`, when given, runs
 * before the daemon starts (to restore or import data into its new data directory).
 */
export async function startDaemon({ extraArgs = [], env = {}, publicUrl, tls, prepare } = {}) {
  const bin = latchkeydBin();
  if (!existsSync(bin)) {
    throw new Error(`latchkeyd not found at ${bin}: run \`cargo build --bins\` or set LATCHKEYD_BIN`);
  }
  let lastError;
  // A port picked by freePort() can be taken before the daemon binds it.
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(bin, extraArgs, env, publicUrl, tls, prepare);
    } catch (e) {
      lastError = e;
      if (!/address already in use|Address in use|os error 98/i.test(String(e.message))) throw e;
    }
  }
  throw lastError;
}

/** With `tls` ({cert, key}: PEM paths) the daemon serves HTTPS itself, at https://localhost:PORT. */
async function startOnce(bin, extraArgs, env, publicUrl, tls, prepare) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'latchkey-browser-'));
  const dataDir = path.join(dir, 'data');
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  if (prepare) await prepare(dataDir);
  const port = await freePort();
  const listenUrl = `${tls ? 'https' : 'http'}://localhost:${port}`;
  // Replicas behind a load balancer share the balancer's URL.
  const url = publicUrl ?? listenUrl;
  const socket = path.join(dataDir, 'latchkey.sock');
  const args = [
    '--listen', `127.0.0.1:${port}`,
    '--public-url', url,
    '--data-dir', dataDir,
    ...(tls ? ['--tls-cert', tls.cert, '--tls-key', tls.key] : []),
    ...extraArgs,
  ];
  // cwd = the temp dir, so a ./latchkey.toml in the repo is never read.
  const proc = spawn(bin, args, { cwd: dir, env: daemonEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout.setEncoding('utf8').on('data', (s) => { output += s; });
  proc.stderr.setEncoding('utf8').on('data', (s) => { output += s; });
  let exited = null;
  proc.on('exit', (code, signal) => { exited = { code, signal }; });

  const daemon = {
    url,
    listenUrl,
    port,
    dir,
    dataDir,
    socket,
    proc,
    /** Everything the daemon printed so far. */
    output: () => output,
    /** Runs `latchkey --socket <socket> …args --json` and parses stdout. */
    cli: (cliArgs, opts) => latchkey(socket, cliArgs, opts),
    /** SIGTERM, wait for exit (bounded), remove the temp dir; returns the exit status. */
    async stop({ keepDir = false } = {}) {
      if (exited === null) {
        proc.kill('SIGTERM');
        const done = once(proc, 'exit');
        let timer;
        const timeout = new Promise((resolve) => {
          timer = setTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS);
        });
        const outcome = await Promise.race([done, timeout]);
        clearTimeout(timer);
        if (outcome === 'timeout') {
          proc.kill('SIGKILL');
          await done;
          throw new Error(`latchkeyd did not stop within ${STOP_TIMEOUT_MS} ms of SIGTERM\n${output}`);
        }
      }
      if (!keepDir) await rm(dir, { recursive: true, force: true });
      return exited;
    },
  };

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (exited !== null) {
      await rm(dir, { recursive: true, force: true });
      throw new Error(`latchkeyd exited before it was ready (${JSON.stringify(exited)}):\n${output}`);
    }
    // Over HTTPS Node's fetch would not trust the test certificate: the start line says
    // the daemon serves.
    if (tls && existsSync(socket) && output.includes(' listening on https://')) return daemon;
    if (!tls && existsSync(socket)) {
      try {
        const res = await fetch(`${listenUrl}/healthz`, { signal: AbortSignal.timeout(1000) });
        if (res.ok) return daemon;
      } catch {
        // not listening yet
      }
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
      throw new Error(`latchkeyd was not ready within ${START_TIMEOUT_MS} ms:\n${output}`);
    }
    await sleep(POLL_MS);
  }
}

/**
 * Runs `latchkey --socket SOCKET ...args` (adding `--json` unless
 * `json: false`). Resolves `{code, stdout, stderr, json}`; throws when the
 * exit status is not 0 unless `allowFailure`.
 */
export async function latchkey(socket, args, { json = true, allowFailure = false, timeoutMs = 15_000 } = {}) {
  const argv = ['--socket', socket, ...args, ...(json && !args.includes('--json') ? ['--json'] : [])];
  const bin = latchkeyBin();
  if (!existsSync(bin)) {
    throw new Error(`latchkey not found at ${bin}: run \`cargo build --bins\` or set LATCHKEY_BIN`);
  }
  const proc = spawn(bin, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: daemonEnv() });
  let stdout = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8').on('data', (s) => { stdout += s; });
  proc.stderr.setEncoding('utf8').on('data', (s) => { stderr += s; });
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  const [code, signal] = await once(proc, 'exit');
  clearTimeout(timer);
  const result = { code, signal, stdout, stderr, json: undefined };
  const what = `latchkey ${argv.join(' ')}`;
  if (code !== 0 && !allowFailure) {
    throw new Error(`${what} exited ${code ?? signal}\nstdout: ${stdout}\nstderr: ${stderr}`);
  }
  if (json && code === 0) {
    try {
      result.json = JSON.parse(stdout);
    } catch (e) {
      throw new Error(`${what} printed no JSON (${e.message})\nstdout: ${stdout}\nstderr: ${stderr}`);
    }
  }
  return result;
}

/**
 * Launches headless Chromium with a fresh profile. Returns
 * `{context, page, close()}`; `page` is the context's first tab.
 */
export async function launchBrowser({ viewport = { width: 1000, height: 800 }, extraArgs = [] } = {}) {
  const executablePath = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    throw new Error(`Chromium not found at ${executablePath}: run scripts/install-test-deps`);
  }
  const profile = await mkdtemp(path.join(os.tmpdir(), 'latchkey-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    chromiumSandbox: false,
    args: [...CHROMIUM_ARGS, ...extraArgs],
    viewport,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    async close() {
      await context.close().catch(() => {});
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Adds a CDP WebAuthn virtual authenticator to `page`'s target: a platform
 * passkey provider (CTAP2, internal transport, resident keys, user
 * verification that succeeds, presence simulated). Returns a handle with
 * `id`, `credentials()`, `removeCredential(id)`, `clearCredentials()`,
 * `setUserVerified(bool)`, `remove()`.
 */
export async function addVirtualAuthenticator(page, options = {}) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      ctap2Version: 'ctap2_1',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
      ...options,
    },
  });
  return {
    id: authenticatorId,
    cdp,
    /**
     * The credentials it holds, as CDP lists them (`credentialId`,
     * `isResidentCredential`, `rpId`, `userHandle`, `signCount`, `userName`,
     * `backupEligibility`, `backupState`, …; note CDP's ids are standard
     * padded base64) plus `id` and `userHandleB64url`: the same bytes in the
     * unpadded base64url that WebAuthn JSON and the daemon use.
     */
    async credentials() {
      const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
      return credentials.map((c) => ({
        ...c,
        id: toB64url(c.credentialId),
        userHandleB64url: c.userHandle === undefined ? undefined : toB64url(c.userHandle),
      }));
    },
    async removeCredential(credentialId) {
      await cdp.send('WebAuthn.removeCredential', { authenticatorId, credentialId });
    },
    async clearCredentials() {
      await cdp.send('WebAuthn.clearCredentials', { authenticatorId });
    },
    async setUserVerified(isUserVerified) {
      await cdp.send('WebAuthn.setUserVerified', { authenticatorId, isUserVerified });
    },
    async remove() {
      await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId });
    },
  };
}

/**
 * On /login, with the page's autofill (conditional) passkey request waiting and the virtual
 * authenticator's presence simulation off: presses "Sign in with a passkey" and turns presence
 * back on for the request the button makes. The button first aborts the autofill request, then
 * starts a new ceremony; that start is held until presence is back on. So the waiting autofill
 * request can never be answered, and the button's request cannot reach the authenticator
 * before the authenticator may answer it: every step waits for an event, none for time.
 * `setPresence(enabled)` switches the simulation.
 */
export async function pressPasskeyButtonThenAllowPresence(page, setPresence) {
  let started;
  const startSeen = new Promise((resolve) => {
    started = resolve;
  });
  let release;
  const released = new Promise((resolve) => {
    release = resolve;
  });
  await page.route(
    '**/api/passkey/login/start',
    async (route) => {
      started();
      await released;
      await route.continue();
    },
    { times: 1 },
  );
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await startSeen;
  await setPresence(true);
  release();
}

/** Standard (padded) base64, as CDP speaks it, to unpadded base64url. */
export function toB64url(b64) {
  return Buffer.from(b64, 'base64').toString('base64url');
}

let warnedNoPassed = false;

function screenshotName(testName) {
  return `${testName.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 120) || 'test'}.png`;
}

/**
 * Registers an `afterEach` hook in the calling test file: when a test has
 * failed, saves a full-page screenshot of `getPage()` (if it returns a live
 * page) to tests/browser/screenshots/<test name>.png. Needs node's
 * `TestContext.passed` (Node ≥ 20.12).
 */
export function screenshotOnFailure(getPage) {
  afterEach(async (t) => {
    if (t.passed === undefined && !warnedNoPassed) {
      warnedNoPassed = true;
      process.stderr.write(`# node ${process.version} has no TestContext.passed: no screenshots on failure\n`);
    }
    if (t.passed !== false) return;
    const page = getPage();
    if (!page || page.isClosed()) return;
    await mkdir(SCREENSHOT_DIR, { recursive: true });
    const file = path.join(SCREENSHOT_DIR, screenshotName(t.name));
    try {
      await page.screenshot({ path: file, fullPage: true, timeout: 5000 });
      process.stderr.write(`# screenshot of the failed test "${t.name}": ${file}\n`);
    } catch (e) {
      process.stderr.write(`# could not save a screenshot for "${t.name}": ${e.message}\n`);
    }
  });
}
