// The seed's TypeScript WebSocketClient (seed-client.ts), on Node with the npm `ws` package,
// against roomwire-server: the message flow of the contract (join, chat, task assignment and
// progress), then the server is killed and restarted on the same port and the client comes back
// by its own back-off (1000 ms, then 1500 ms, ...), rejoins and chats again.
//
// Usage: node seed_client_test.mjs --server PATH/TO/roomwire-server
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { suiteLog } from '../suite_log.mjs';

const here = path.dirname(new URL(import.meta.url).pathname);
const require = createRequire(import.meta.url);
let ts;
try {
  ts = require('typescript');
} catch {
  console.error('npm packages missing in tests/interop/node_modules: run scripts/install-deps');
  process.exit(1);
}
const serverPath = process.argv[process.argv.indexOf('--server') + 1];
if (!process.argv.includes('--server') || !serverPath) {
  console.error('usage: node seed_client_test.mjs --server PATH/TO/roomwire-server');
  process.exit(2);
}

const deadline = setTimeout(() => fail(new Error('timed out after 60 s')), 60_000);
const servers = new Set();
const clients = [];
const scratch = mkdtempSync(path.join(tmpdir(), 'roomwire-seed-'));

function cleanup() {
  clearTimeout(deadline);
  for (const c of clients) c.close();
  for (const s of servers) s.kill('SIGKILL');
  rmSync(scratch, { recursive: true, force: true });
}
function fail(err) {
  console.error(`FAIL: ${err.stack || err}`);
  cleanup();
  process.exit(1);
}
process.on('unhandledRejection', fail);

// TypeScript -> JavaScript, as `tsc` would emit it (no type check: the seed is an example that
// relies on DOM typings); the `ws` import is pointed at this suite's node_modules.
async function loadSeedClient() {
  const source = readFileSync(path.join(here, 'seed-client.ts'), 'utf8');
  const out = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2020 },
    reportDiagnostics: true,
  });
  assert.equal(out.diagnostics.length, 0, 'seed-client.ts transpiles without errors');
  const wsUrl = import.meta.resolve('ws');
  const js = out.outputText.replace(/from ['"]ws['"]/, `from '${wsUrl}'`);
  const file = path.join(scratch, 'seed-client.mjs');
  writeFileSync(file, js);
  return (await import(file)).WebSocketClient;
}

// roomwire-server on 127.0.0.1; resolves with its process and URL once it listens.
async function startServer(port) {
  const proc = spawn(serverPath, ['--host', '127.0.0.1', '--port', String(port), '--log-level', 'debug'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  servers.add(proc);
  proc.on('exit', () => servers.delete(proc));
  let log = '';
  proc.stderr.on('data', d => { log += d; suiteLog('roomwire-server', String(d)); });
  const [line] = await Promise.race([
    once(createInterface({ input: proc.stdout }), 'line'),
    once(proc, 'exit').then(() => { throw new Error(`roomwire-server exited: ${log}`); }),
  ]);
  const m = /^listening on (ws:\/\/127\.0\.0\.1:(\d+)\/api\/ws)$/.exec(line);
  assert.ok(m, `listening line: ${line}`);
  return { proc, url: m[1], port: Number(m[2]) };
}

// A seed client plus what the test observes of it: envelopes in arrival order, events with the
// time they happened, and waiters for either.
function observe(client, name) {
  const o = { client, name, envelopes: [], events: [], waiters: [] };
  const check = () => { o.waiters = o.waiters.filter(w => !w()); };
  client.onEnvelope = env => { o.envelopes.push(env); check(); };
  client.onEvent = ev => { o.events.push({ ev, at: performance.now() }); check(); };
  client.onOpen = () => { o.events.push({ ev: 'open', at: performance.now() }); check(); };
  o.until = (pred, what) => new Promise(resolve => {
    const w = () => { const v = pred(o); if (v) resolve(v); return !!v; };
    if (!w()) o.waiters.push(w);
  }).then(v => { console.log(`  ${name}: ${what}`); return v; });
  o.answer = mid => o.until(x => x.envelopes.find(e =>
    (e.type === 'messageReceived' && e.payload.messageId === mid) ||
    (e.type === 'error' && e.payload.details?.messageId === mid)), `answer to ${mid}`);
  o.count = ev => o.events.filter(e => e.ev === ev).length;
  clients.push(client);
  return o;
}

let ids = 0;
function request(o, type, payload, extra = {}) {
  const messageId = `${o.name}-${++ids}`;
  o.client.send({ type, payload, messageId, timestamp: Date.now(), priority: 2, ...extra });
  return o.answer(messageId);
}
const ok = env => { assert.equal(env.type, 'messageReceived', JSON.stringify(env)); return env; };

async function main() {
  const WebSocketClient = await loadSeedClient();
  let server = await startServer(0);
  console.log(`server at ${server.url}`);

  const alice = observe(new WebSocketClient(server.url, 'alice'), 'alice');
  const bob = observe(new WebSocketClient(server.url, 'bob'), 'bob');
  await alice.until(o => o.count('open') === 1, 'connected');
  await bob.until(o => o.count('open') === 1, 'connected');

  // Chat
  ok(await request(alice, 'joinRoom', { roomId: 'lobby' }));
  ok(await request(bob, 'joinRoom', { roomId: 'lobby' }));
  const ack = ok(await request(alice, 'message', { roomId: 'lobby', content: 'hello from the seed client' }));
  assert.equal(ack.payload.seq, 1);
  const got = await bob.until(o => o.envelopes.find(e => e.type === 'message'), 'message');
  assert.equal(got.payload.content, 'hello from the seed client');
  assert.equal(got.payload.senderId, 'alice');
  assert.equal(got.payload.seq, 1);
  assert.deepEqual(got.payload.metadata, { type: 'text' });

  // Task assignment and progress
  ok(await request(alice, 'taskAssign', { taskId: 'seed-task', assigneeId: 'bob' }));
  const assigned = await bob.until(o => o.envelopes.find(e => e.type === 'taskAssign'), 'taskAssign');
  assert.equal(assigned.payload.assignerId, 'alice');
  for (const progress of [25, 75, 100]) {
    ok(await request(bob, 'taskUpdate', { taskId: 'seed-task', status: progress < 100 ? 'running' : 'done', progress }));
    const upd = await alice.until(o => o.envelopes.find(e => e.type === 'taskUpdate' && e.payload.progress === progress),
      `taskUpdate ${progress}%`);
    assert.equal(upd.payload.senderId, 'bob');
  }

  // Errors reach the client as envelopes, the connection stays open
  const err = await request(alice, 'message', { roomId: 'lobby', content: 'x' }, { priority: 9 });
  assert.equal(err.type, 'error');
  assert.equal(err.payload.code, '4002');
  assert.equal(err.payload.details.path, '/priority');

  // The server dies without a close handshake (1006); the seed client's own back-off brings it
  // back. Restart only after each client's first reconnect attempt has failed, so that the
  // second delay (1500 ms) is exercised too.
  const port = server.port;
  server.proc.kill('SIGKILL');
  await once(server.proc, 'exit');
  for (const o of [alice, bob]) {
    await o.until(x => x.count('close 1006') >= 2, 'first reconnect attempt refused');
  }
  server = await startServer(port);
  for (const o of [alice, bob]) {
    await o.until(x => x.count('open') === 2, 'reconnected');
    // (the first connect happens in the constructor, before the hooks exist)
    const connects = o.events.filter(e => e.ev === 'connect').map(e => e.at);
    assert.equal(connects.length, 2);
    const closes = o.events.filter(e => e.ev === 'close 1006').map(e => e.at);
    const delays = [connects[0] - closes[0], connects[1] - closes[1]];
    console.log(`  ${o.name}: reconnect delays ${delays.map(d => d.toFixed(0)).join(', ')} ms`);
    assert.ok(delays[0] >= 990 && delays[0] < 2000, `first delay 1000 ms (late timers allowed): ${delays[0]}`);
    assert.ok(delays[1] >= 1490 && delays[1] < 3000, `second delay 1500 ms (late timers allowed): ${delays[1]}`);
  }

  // The seed has no rejoin of its own: the application rejoins, and chat works again.
  ok(await request(alice, 'joinRoom', { roomId: 'lobby' }));
  ok(await request(bob, 'joinRoom', { roomId: 'lobby' }));
  const before = bob.envelopes.length;
  const ack2 = ok(await request(alice, 'message', { roomId: 'lobby', content: 'after the restart' }));
  assert.equal(ack2.payload.seq, 1, 'a fresh server starts the room at seq 1');
  const again = await bob.until(o => o.envelopes.slice(before).find(e => e.type === 'message'), 'message after restart');
  assert.equal(again.payload.content, 'after the restart');

  // A normal close is not reconnected.
  for (const o of [alice, bob]) {
    o.client.close();
    await o.until(x => x.count('close 1000') === 1, 'closed with 1000');
  }
  clients.length = 0;

  server.proc.kill('SIGTERM');
  const [code] = await once(server.proc, 'exit');
  assert.equal(code, 0, 'roomwire-server exits 0 on SIGTERM');
  assert.equal(alice.count('connect') + bob.count('connect'), 4, 'no reconnect after 1000');
  console.log('PASS: seed TypeScript client interoperates with roomwire-server');
  cleanup();
  process.exit(0);
}

main().catch(fail);
