// Peer "socket.io": the suite's subset of PROTOCOL.md on Socket.IO rooms, as a Socket.IO
// developer writes it: the envelope travels as the argument of one event ("m"), rooms are
// Socket.IO rooms, delivery is socket.to(room).emit (encoded once by the adapter per broadcast).
// WebSocket transport only (the load generator speaks Engine.IO 4 over WebSocket).
//   node socketio_server.js [--port 0]
//   prints "listening on ws://127.0.0.1:PORT/socket.io/?EIO=4&transport=websocket"
'use strict';
const http = require('http');
const { Server } = require('socket.io');

const portArg = process.argv.indexOf('--port');
const port = portArg > 0 ? Number(process.argv[portArg + 1]) : 0;
const seqs = new Map(); // roomId -> last seq

const httpServer = http.createServer();
const io = new Server(httpServer, { transports: ['websocket'], perMessageDeflate: false,
  serveClient: false, maxHttpBufferSize: 1e7 });

io.on('connection', (socket) => {
  const userId = socket.handshake.query.token || 'anonymous';
  socket.on('m', (env) => {
    const p = env && env.payload;
    if (!p || typeof env.type !== 'string' || typeof p.roomId !== 'string') return;
    const now = Date.now();
    const ack = (seq) => socket.emit('m', { type: 'messageReceived',
      payload: { messageId: env.messageId, roomId: p.roomId, senderId: userId, timestamp: now, seq },
      timestamp: now, messageId: 's', priority: 2 });
    if (env.type === 'joinRoom') {
      socket.join(p.roomId);
      ack(undefined);
    } else if (env.type === 'message') {
      if (!socket.rooms.has(p.roomId)) return;
      const seq = (seqs.get(p.roomId) || 0) + 1;
      seqs.set(p.roomId, seq);
      ack(seq);
      socket.to(p.roomId).emit('m', { type: 'message', messageId: env.messageId, timestamp: now,
        priority: env.priority ?? 2, payload: { roomId: p.roomId, content: p.content,
          metadata: p.metadata ?? { type: 'text' }, senderId: userId, seq } });
    }
  });
});

httpServer.listen(port, '127.0.0.1', 4096, () => {
  process.stdout.write(`listening on ws://127.0.0.1:${httpServer.address().port}` +
    '/socket.io/?EIO=4&transport=websocket\n');
});
process.on('SIGTERM', () => process.exit(0));
