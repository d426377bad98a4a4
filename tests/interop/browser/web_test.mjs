#!/usr/bin/env node
// Browser interop test: the dependency-free page in examples/web, served by roomwire-server
// --static, driven in headless Chromium by playwright-core. Two pages (alice, bob) chat in
// "lobby", alice assigns a task to bob, bob reports progress 30 then 80, both see the health
// panel fill, an invalid request shows a server error, and after a server restart both pages
// reconnect and rejoin.
//
//   node tests/interop/browser/web_test.mjs --server build/dev/apps/roomwire-server/roomwire-server \
//        --static examples/web --out build/dev/web-screenshots [--chromium /usr/bin/chromium]
//
// Exit 0 on success; non-zero with a "FAIL:" line on standard error otherwise.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { once } from 'node:events';
import { accessSync, constants as fsConstants, mkdtempSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { suiteLog } from '../suite_log.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'package.json'));
const { chromium } = require('playwright-core');

const GLOBAL_TIMEOUT_MS = 60_000;
const STEP_TIMEOUT_MS = 15_000;

// ---- arguments ------------------------------------------------------------------------------
function parseArgs(argv) {
  const opts = { chromium: '/usr/bin/chromium' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--server') opts.server = next();
    else if (a === '--static') opts.static = next();
    else if (a === '--out') opts.out = next();
    else if (a === '--chromium') opts.chromium = next();
    else usage(`unknown argument ${a}`);
  }
  if (!opts.server || !opts.static || !opts.out) usage('--server, --static and --out are required');
  try { accessSync(opts.server, fsConstants.X_OK); } catch { usage(`--server ${opts.server} is not an executable file`); }
  try { accessSync(path.join(opts.static, 'index.html'), fsConstants.R_OK); } catch { usage(`--static ${opts.static} has no index.html`); }
  return opts;
}
function usage(msg) {
  console.error(`web_test: ${msg}\nusage: node web_test.mjs --server PATH --static DIR --out DIR [--chromium PATH]`);
  process.exit(2);
}
const opts = parseArgs(process.argv.slice(2));

// ---- helpers -----------------------------------------------------------------------------------
class TestFailure extends Error {}
const fail = (msg) => { throw new TestFailure(msg); };
function log(msg) { console.log(`[web_test] ${msg}`); }

// Waits (auto-polling in the page, no sleeps) until fn(arg) is truthy; fails with `what`.
async function until(page, what, fn, arg) {
  try {
    return await page.waitForFunction(fn, arg, { timeout: STEP_TIMEOUT_MS });
  } catch (e) {
    const snapshot = await page.evaluate(() => ({
      conn: document.querySelector('[data-testid="conn-text"]')?.textContent,
      errors: [...document.querySelectorAll('[data-testid="error-row"]')].map((r) => r.textContent),
    })).catch(() => ({}));
    const shot = path.resolve(opts.out, `web-${page.__name}-failure.png`);
    await page.screenshot({ path: shot }).catch(() => {});
    fail(`${page.__name}: timed out waiting for ${what} (${String(e.message).split('\n')[0]}); ` +
      `page state: ${JSON.stringify(snapshot)}; page errors: ${JSON.stringify(pageErrors)}; screenshot ${shot}`);
  }
}
const tid = (id, extra = '') => `[data-testid="${id}"]${extra}`;

// ---- the server ----------------------------------------------------------------------------------
const servers = new Set();
async function startServer(port) {
  const args = ['--host', '127.0.0.1', '--port', String(port), '--static', opts.static,
    '--health-interval-ms', '200', '--log-level', 'debug'];
  const child = spawn(opts.server, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  servers.add(child);
  child.stderrText = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => {
    child.stderrText = (child.stderrText + d).slice(-8000);
    suiteLog('roomwire-server', d);
  });
  child.exited = once(child, 'exit');
  child.on('exit', () => servers.delete(child));
  const lines = readline.createInterface({ input: child.stdout });
  const first = await Promise.race([
    once(lines, 'line').then(([l]) => l),
    child.exited.then(([code, sig]) => fail(`roomwire-server exited (${code ?? sig}) before listening: ${child.stderrText.trim()}`)),
    once(child, 'error').then(([e]) => fail(`cannot start ${opts.server}: ${e.message}`)),
  ]);
  child.stdout.resume();
  const m = /^listening on ws:\/\/127\.0\.0\.1:(\d+)(\/\S*)$/.exec(first);
  if (!m) fail(`unexpected first line from roomwire-server: ${JSON.stringify(first)}`);
  child.port = Number(m[1]);
  child.wsPath = m[2];
  return child;
}
async function stopServer(child, signal = 'SIGTERM') {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 8000);
  const [code] = await child.exited;
  clearTimeout(timer);
  return code;
}

// ---- the test ------------------------------------------------------------------------------------
let context = null;
let userDataDir = null;
const pageErrors = [];

async function run() {
  mkdirSync(opts.out, { recursive: true });
  let server = await startServer(0);
  const base = `http://127.0.0.1:${server.port}`;
  log(`server on ${base} (ws path ${server.wsPath})`);

  // Static files come with their content types.
  for (const [file, type] of [['/', 'text/html'], ['/app.js', 'text/javascript'], ['/style.css', 'text/css']]) {
    const r = await fetch(base + file);
    if (r.status !== 200) fail(`GET ${file}: HTTP ${r.status}`);
    const ct = r.headers.get('content-type') || '';
    if (!ct.startsWith(type)) fail(`GET ${file}: content-type ${JSON.stringify(ct)}, expected ${type}`);
    await r.arrayBuffer();
  }

  userDataDir = mkdtempSync(path.join(tmpdir(), 'roomwire-web-test-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: opts.chromium,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1200, height: 800 },
    deviceScaleFactor: 1,
    timeout: 30_000,
  });

  const external = [];
  async function openPage(name) {
    const page = await context.newPage();
    page.__name = name;
    page.on('pageerror', (e) => pageErrors.push(`${name}: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(`${name} console: ${m.text()}`); });
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.protocol !== 'data:' && u.host !== `127.0.0.1:${server.port}`) external.push(r.url());
    });
    await page.goto(`${base}/?token=${name}`, { timeout: STEP_TIMEOUT_MS });
    await until(page, 'connection open', () =>
      document.querySelector('[data-testid="conn-state"]')?.dataset.state === 'open');
    return page;
  }
  const alice = await openPage('alice');
  const bob = await openPage('bob');
  log('both pages connected');

  // Both join "lobby" through the join box.
  for (const page of [alice, bob]) {
    await page.fill(tid('join-input'), 'lobby');
    await page.click(tid('join-button'));
    await until(page, 'lobby joined', () =>
      document.querySelector('[data-testid="room-tab"][data-room="lobby"]')?.dataset.joined === 'true');
  }
  log('both joined lobby');

  // alice -> bob: the text arrives verbatim (markup stays text), with sender and seq.
  const hello = 'Hi Bob! The <b>build</b> is yours — ✓ & "quotes"';
  await alice.fill(`${tid('room-panel', '[data-room="lobby"]')} ${tid('send-input')}`, hello);
  await alice.click(`${tid('room-panel', '[data-room="lobby"]')} ${tid('send-button')}`);
  await until(bob, 'alice\'s message in bob\'s lobby', (text) =>
    [...document.querySelectorAll('[data-testid="room-panel"][data-room="lobby"] [data-testid="message"]')]
      .some((r) => r.dataset.sender === 'alice' && r.querySelector('[data-testid="message-text"]').textContent === text), hello);
  await until(alice, 'alice\'s own message acknowledged', () =>
    document.querySelector('[data-testid="message"][data-sender="alice"]')?.dataset.state === 'acked');
  const bobRow = await bob.evaluate(() => {
    const r = document.querySelector('[data-testid="message"][data-sender="alice"]');
    return { seq: r.dataset.seq, html: r.querySelector('[data-testid="message-text"]').innerHTML,
      bold: r.querySelectorAll('b').length, sender: r.querySelector('[data-testid="message-sender"]').textContent };
  });
  const aliceRow = await alice.evaluate(() => {
    const r = document.querySelector('[data-testid="message"][data-sender="alice"]');
    return { seq: r.dataset.seq, status: r.querySelector('[data-testid="message-status"]').textContent };
  });
  if (bobRow.bold !== 0 || !bobRow.html.includes('&lt;b&gt;')) fail(`message text was not escaped: ${bobRow.html}`);
  if (bobRow.sender !== 'alice') fail(`bob sees sender ${JSON.stringify(bobRow.sender)}`);
  if (!bobRow.seq || bobRow.seq !== aliceRow.seq) fail(`seq differs: bob ${bobRow.seq}, alice's ack ${aliceRow.seq}`);
  log(`chat ok (seq ${bobRow.seq}, alice's row "${aliceRow.status}")`);

  // bob answers; alice sees it.
  const reply = 'On it — starting now.';
  await bob.fill(`${tid('room-panel', '[data-room="lobby"]')} ${tid('send-input')}`, reply);
  await bob.press(`${tid('room-panel', '[data-room="lobby"]')} ${tid('send-input')}`, 'Enter');
  await until(alice, 'bob\'s reply in alice\'s lobby', (text) =>
    [...document.querySelectorAll('[data-testid="message"][data-sender="bob"] [data-testid="message-text"]')]
      .some((n) => n.textContent === text), reply);

  // alice assigns a task to bob.
  const taskId = 'build-1432';
  await alice.fill(tid('assign-task-id'), taskId);
  await alice.fill(tid('assign-assignee'), 'bob');
  await alice.selectOption(tid('assign-priority'), '1');
  await alice.click(tid('assign-button'));
  const taskRow = (id) => `[data-testid="task-row"][data-task-id="${id}"]`;
  await until(bob, 'the task in bob\'s list', (sel) => {
    const r = document.querySelector(sel);
    return r && r.dataset.status === 'assigned' && r.querySelector('progress').value === 0 &&
      r.querySelector('[data-testid="task-meta"]').textContent.includes('by alice');
  }, taskRow(taskId));
  await until(alice, 'the task in alice\'s list', (sel) => document.querySelector(sel), taskRow(taskId));
  log('task assigned to bob');

  // bob reports progress 30, then 80; alice's bar follows.
  const barState = (sel) => {
    const bar = document.querySelector(sel + ' [data-testid="task-progress"]');
    return bar && { value: bar.value, now: bar.getAttribute('aria-valuenow'),
      status: document.querySelector(sel).dataset.status };
  };
  for (const [progress, status, step] of [[30, 'running', 'compile'], [80, 'running', 'link']]) {
    await bob.click(taskRow(taskId)); // fills the update form's task id
    await bob.fill(tid('update-status'), status);
    await bob.fill(tid('update-progress'), String(progress));
    await bob.fill(tid('update-step'), step);
    await bob.click(tid('update-button'));
    await until(alice, `alice's progress bar at ${progress}`, ([sel, p]) => {
      const bar = document.querySelector(sel + ' [data-testid="task-progress"]');
      return bar && bar.value === p && bar.getAttribute('aria-valuenow') === String(p);
    }, [taskRow(taskId), progress]);
    await until(bob, `bob's own bar at ${progress} (acknowledged)`, ([sel, p]) =>
      document.querySelector(sel + ' [data-testid="task-progress"]')?.value === p, [taskRow(taskId), progress]);
    log(`progress ${progress}: alice sees ${JSON.stringify(await alice.evaluate(barState, taskRow(taskId)))}`);
  }

  // The other way round: bob assigns a task to alice, alice finishes it; bob's bar reaches 100.
  const notes = 'release-notes';
  await bob.fill(tid('assign-task-id'), notes);
  await bob.fill(tid('assign-assignee'), 'alice');
  await bob.click(tid('assign-button'));
  await until(alice, 'bob\'s task in alice\'s list', (sel) =>
    document.querySelector(sel)?.dataset.status === 'assigned', taskRow(notes));
  await alice.click(taskRow(notes));
  await alice.fill(tid('update-status'), 'done');
  await alice.fill(tid('update-progress'), '100');
  await alice.click(tid('update-button'));
  await until(bob, 'bob\'s bar for alice\'s task at 100, done', (sel) => {
    const r = document.querySelector(sel);
    return r && r.dataset.status === 'done' && r.querySelector('progress').value === 100;
  }, taskRow(notes));
  await alice.fill(`${tid('room-panel', '[data-room="lobby"]')} ${tid('send-input')}`, 'Release notes are done, over to you.');
  await alice.press(`${tid('room-panel', '[data-room="lobby"]')} ${tid('send-input')}`, 'Enter');
  await until(bob, 'alice\'s second message', () =>
    document.querySelectorAll('[data-testid="message"][data-sender="alice"]').length === 2);
  log('bob -> alice task done at 100');

  // The health panel fills from system:health.
  for (const page of [alice, bob]) {
    await until(page, 'a health status with metrics', () => {
      const s = document.querySelector('[data-testid="health-status"]')?.dataset.status;
      return ['ok', 'degraded', 'draining'].includes(s) &&
        document.querySelector('[data-testid="health-metric"][data-metric="connections"] dd')?.textContent !== '';
    });
  }
  const health = await alice.evaluate(() => ({
    status: document.querySelector('[data-testid="health-status"]').textContent,
    metrics: Object.fromEntries([...document.querySelectorAll('[data-testid="health-metric"]')]
      .map((m) => [m.dataset.metric, m.querySelector('dd').textContent])),
  }));
  for (const k of ['connections', 'rooms', 'messagesIn', 'messagesOut', 'messagesDropped', 'uptimeSeconds']) {
    if (!(k in health.metrics)) fail(`health panel lacks metric ${k}: ${JSON.stringify(health)}`);
  }
  log(`health: ${JSON.stringify(health)}`);

  // An invalid request shows the server's error envelope (code and reason) in the page.
  await alice.evaluate(() => { document.querySelector('[data-testid="update-form"]').noValidate = true; });
  await alice.fill(tid('update-task-id'), taskId);
  await alice.fill(tid('update-progress'), '150');
  await alice.fill(tid('update-step'), '');
  await alice.click(tid('update-button'));
  await until(alice, 'error 4002 shown', () =>
    [...document.querySelectorAll('[data-testid="error-row"][data-code="4002"]')]
      .some((r) => r.textContent.includes('/payload/progress')));
  const errText = await alice.innerText(tid('error-row', '[data-code="4002"]'));
  log(`error shown: ${errText.replace(/\s+/g, ' ').trim()}`);
  await alice.click(tid('error-clear'));
  await alice.fill(tid('update-progress'), '');
  await alice.waitForSelector(tid('error-panel'), { state: 'hidden', timeout: STEP_TIMEOUT_MS });
  // the bar kept its value
  const kept = await alice.evaluate(barState, taskRow(taskId));
  if (kept.value !== 80) fail(`a refused update changed the bar: ${JSON.stringify(kept)}`);

  // Screenshots.
  const shots = [];
  for (const page of [alice, bob]) {
    await page.evaluate(() => document.activeElement?.blur());
    const file = path.resolve(opts.out, `web-${page.__name}.png`);
    await page.screenshot({ path: file });
    shots.push(file);
  }

  // Restart the server on the same port: both pages reconnect (§6 back-off) and rejoin lobby.
  const port = server.port;
  const code = await stopServer(server, 'SIGTERM');
  if (code !== 0) fail(`roomwire-server exited ${code} on SIGTERM: ${server.stderrText.trim()}`);
  for (const page of [alice, bob]) {
    await until(page, 'the page noticing the restart', () =>
      document.querySelector('[data-testid="conn-state"]')?.dataset.state !== 'open' ||
      document.querySelector('[data-testid="room-tab"][data-room="lobby"]')?.dataset.joined === 'false');
  }
  server = await startServer(port);
  for (const page of [alice, bob]) {
    await until(page, 'reconnected and lobby rejoined', () =>
      document.querySelector('[data-testid="conn-state"]')?.dataset.state === 'open' &&
      document.querySelector('[data-testid="room-tab"][data-room="lobby"]')?.dataset.joined === 'true');
  }
  const again = 'back after the restart';
  await alice.fill(`${tid('room-panel', '[data-room="lobby"]')} ${tid('send-input')}`, again);
  await alice.click(`${tid('room-panel', '[data-room="lobby"]')} ${tid('send-button')}`);
  await until(bob, 'a message after the restart', (text) =>
    [...document.querySelectorAll('[data-testid="message"][data-sender="alice"] [data-testid="message-text"]')]
      .some((n) => n.textContent === text), again);
  log('reconnected after a server restart, lobby rejoined, chat works');

  if (external.length) fail(`the page requested other origins: ${external.join(', ')}`);
  const relevant = pageErrors.filter((e) => !/WebSocket connection to .* failed|ERR_CONNECTION_REFUSED/.test(e));
  if (relevant.length) fail(`page errors: ${relevant.join(' | ')}`);

  await stopServer(server, 'SIGTERM');
  for (const f of shots) console.log(`screenshot: ${f} (${statSync(f).size} bytes)`);
}

async function cleanup() {
  if (context) await context.close().catch(() => {});
  context = null;
  for (const s of [...servers]) await stopServer(s, 'SIGKILL').catch(() => {});
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  userDataDir = null;
}

let timer;
const timeout = new Promise((_, reject) => {
  timer = setTimeout(() => reject(new TestFailure(`global timeout of ${GLOBAL_TIMEOUT_MS / 1000} s exceeded`)),
    GLOBAL_TIMEOUT_MS);
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => { cleanup().finally(() => process.exit(130)); });
}

let exitCode = 0;
try {
  await Promise.race([run(), timeout]);
  console.log('PASS: web example (chat, tasks, progress, health, errors, reconnect) in Chromium');
} catch (e) {
  exitCode = 1;
  console.error(`FAIL: ${e instanceof TestFailure ? e.message : (e && e.stack) || e}`);
  for (const s of servers) if (s.stderrText) console.error(`server stderr (tail):\n${s.stderrText.trim()}`);
} finally {
  clearTimeout(timer);
  await cleanup();
}
process.exit(exitCode);
