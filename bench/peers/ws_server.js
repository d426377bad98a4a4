// Peer "node-ws": the suite's subset of PROTOCOL.md on Node's `ws`, as a competent Node developer
// writes it: rooms as Map<string, Set<WebSocket>>, the delivered envelope stringified once per
// message and sent to each other member, no per-message compression.
//   node ws_server.js [--port 0]   prints "listening on ws://127.0.0.1:PORT/api/ws"
'use strict';
const { WebSocketServer } = require('ws');

const portArg = process.argv.indexOf('--port');
const port = portArg > 0 ? Number(process.argv[portArg + 1]) : 0;
const rooms = new Map(); // roomId -> { members: Set<WebSocket>, seq }

const wss = new WebSocketServer({ host: '127.0.0.1', port, path: '/api/ws', perMessageDeflate: false,
  backlog: 4096, clientTracking: false });

wss.on('connection', (ws, req) => {
  const token = new URL(req.url, 'http://x').searchParams.get('token') || 'anonymous';
  ws.userId = token;
  ws.rooms = new Set();
  ws.on('message', (data, isBinary) => {
    if (isBinary) return ws.close(1003);
    let env;
    try { env = JSON.parse(data); } catch { return; }
    const p = env && env.payload;
    if (!p || typeof env.type !== 'string' || typeof p.roomId !== 'string') return;
    const now = Date.now();
    const ack = (seq) => ws.send(JSON.stringify({ type: 'messageReceived',
      payload: { messageId: env.messageId, roomId: p.roomId, senderId: ws.userId, timestamp: now, seq },
      timestamp: now, messageId: 's', priority: 2 }));
    if (env.type === 'joinRoom') {
      let room = rooms.get(p.roomId);
      if (!room) rooms.set(p.roomId, room = { members: new Set(), seq: 0 });
      room.members.add(ws);
      ws.rooms.add(p.roomId);
      ack(undefined);
    } else if (env.type === 'message') {
      const room = rooms.get(p.roomId);
      if (!room || !room.members.has(ws)) return;
      const seq = ++room.seq;
      const out = JSON.stringify({ type: 'message', messageId: env.messageId, timestamp: now,
        priority: env.priority ?? 2, payload: { roomId: p.roomId, content: p.content,
          metadata: p.metadata ?? { type: 'text' }, senderId: ws.userId, seq } });
      ack(seq);
      for (const m of room.members) if (m !== ws) m.send(out);
    }
  });
  ws.on('close', () => {
    for (const id of ws.rooms) {
      const room = rooms.get(id);
      if (room) { room.members.delete(ws); if (room.members.size === 0) rooms.delete(id); }
    }
  });
});

wss.on('listening', () => {
  process.stdout.write(`listening on ws://127.0.0.1:${wss.address().port}/api/ws\n`);
});
process.on('SIGTERM', () => process.exit(0));
