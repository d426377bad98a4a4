// roomwire web example: a dependency-free browser client for the roomwire protocol
// (docs/protocol.md). Served by `roomwire-server --static examples/web`; it connects to the same
// origin's /api/ws. Every piece of received data is written with textContent, never as HTML.
'use strict';

(() => {
  // ---- options (protocol §6 defaults) ------------------------------------------------------
  const RECONNECT_BASE_MS = 1000;
  const RECONNECT_FACTOR = 1.5;
  const RECONNECT_MAX_MS = 30000;
  const RECONNECT_MAX_ATTEMPTS = 5;
  const OUTBOX_LIMIT = 500;          // unacknowledged requests kept for resending
  const MESSAGES_PER_ROOM = 500;     // rows kept per room panel
  const EVENT_LOG_LIMIT = 100;
  const ERROR_LIMIT = 20;
  const HEALTH_ROOM = 'system:health';
  const HEALTH_METRICS = [
    ['connections', 'connections'],
    ['rooms', 'rooms'],
    ['messagesIn', 'messages in'],
    ['messagesOut', 'messages out'],
    ['messagesDropped', 'dropped'],
    ['uptimeSeconds', 'uptime'],
  ];

  const params = new URLSearchParams(location.search);
  const wsPath = params.get('path') || '/api/ws';

  // ---- DOM helpers ---------------------------------------------------------------------------
  const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null) continue;
      if (k === 'class') node.className = v;
      else if (k === 'text') node.textContent = String(v);
      else node.setAttribute(k, String(v));
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  function clock(ms) {
    const d = new Date(typeof ms === 'number' && Number.isFinite(ms) ? ms : Date.now());
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }
  const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
  const str = (v, fallback = '') => (typeof v === 'string' ? v : fallback);
  const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  function formatProgress(p) {
    return `${Math.round(p * 10) / 10}%`;
  }
  function formatUptime(s) {
    s = Math.max(0, Math.floor(s));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    return h ? `${h}h ${pad(m)}m ${pad(sec)}s` : m ? `${m}m ${pad(sec)}s` : `${sec}s`;
  }

  // messageIds: unique per page load, work without a secure context (no randomUUID needed).
  const idPrefix = (() => {
    const b = new Uint8Array(6);
    crypto.getRandomValues(b);
    return 'web-' + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  })();
  let idCounter = 0;
  const newMessageId = () => `${idPrefix}-${++idCounter}`;

  // ---- state -----------------------------------------------------------------------------------
  const state = {
    token: '',
    userId: '',
    ws: null,
    wanted: false,          // the user wants to be connected
    attempt: 0,             // failed reconnect attempts since the last successful open
    timer: null,
    retryAfterMs: 0,        // the last 4001 retryAfterMs
    rooms: new Map(),       // roomId -> {joined, tab, panel, list, unread}
    reserved: new Set(),    // task:/system: rooms joined from the join box (no chat panel)
    activeRoom: null,
    tasks: new Map(),       // taskId -> {row, ...fields}
    pending: new Map(),     // messageId -> {envelope, kind, ...} not yet answered
  };

  // ---- connection state display ----------------------------------------------------------------
  function setConn(kind, text) {
    const box = $('conn-state');
    box.dataset.state = kind;
    $('conn-text').textContent = text;
    const busy = kind === 'open' || kind === 'connecting' || kind === 'reconnecting';
    $('connect-button').disabled = busy;
    $('token-input').disabled = busy;
    $('disconnect-button').disabled = !busy;
  }

  function showError(code, text, detail) {
    const panel = $('error-panel');
    const list = $('error-list');
    const row = el('li', { 'data-testid': 'error-row', 'data-code': code },
      el('span', { class: 'err-code', text: code }),
      el('span', { class: 'err-text', text }),
      detail ? el('span', { class: 'err-detail', text: detail }) : null,
      el('time', { class: 'err-time', text: clock() }));
    list.prepend(row);
    while (list.children.length > ERROR_LIMIT) list.lastElementChild.remove();
    panel.hidden = false;
  }
  $('error-clear').addEventListener('click', () => {
    $('error-list').replaceChildren();
    $('error-panel').hidden = true;
  });

  let eventCount = 0;
  function logEvent(dir, type, summary) {
    const list = $('event-list');
    eventCount += 1;
    $('event-count').textContent = String(eventCount);
    list.prepend(el('li', { 'data-testid': 'event-row', 'data-type': type, 'data-dir': dir },
      el('time', { text: clock() }),
      el('span', { class: `dir dir-${dir}`, text: dir === 'in' ? '←' : dir === 'out' ? '→' : '•' }),
      el('span', { class: 'etype', text: type }),
      summary ? el('span', { class: 'muted', text: summary }) : null));
    while (list.children.length > EVENT_LOG_LIMIT) list.lastElementChild.remove();
  }

  // ---- sending -------------------------------------------------------------------------------
  function isOpen() {
    return state.ws !== null && state.ws.readyState === WebSocket.OPEN;
  }
  function transmit(envelope) {
    if (!isOpen()) return false;
    state.ws.send(JSON.stringify(envelope));
    logEvent('out', envelope.type, envelope.payload.roomId || envelope.payload.taskId || '');
    return true;
  }
  // Sends a request and remembers it until the server answers (messageReceived or error). While
  // disconnected it waits in the outbox and goes out, with the same messageId, after reconnecting.
  function request(type, payload, extra) {
    const envelope = { type, payload, timestamp: Date.now(), messageId: newMessageId() };
    if (state.pending.size >= OUTBOX_LIMIT) {
      showError('outbox', `outbox full (${OUTBOX_LIMIT} unacknowledged requests); ${type} not sent`);
      return null;
    }
    state.pending.set(envelope.messageId, { envelope, ...extra });
    transmit(envelope);
    return envelope;
  }

  // ---- connecting ----------------------------------------------------------------------------
  function wsUrl(token) {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${scheme}//${location.host}${wsPath}?token=${encodeURIComponent(token)}`;
  }

  function connect() {
    clearTimeout(state.timer);
    state.timer = null;
    const attemptText = state.attempt > 0
      ? `reconnecting (attempt ${state.attempt}/${RECONNECT_MAX_ATTEMPTS})…` : 'connecting…';
    setConn(state.attempt > 0 ? 'reconnecting' : 'connecting', attemptText);
    let ws;
    try {
      ws = new WebSocket(wsUrl(state.token));
    } catch (e) {
      showError('client', `cannot open WebSocket: ${e && e.message ? e.message : e}`);
      state.wanted = false;
      setConn('failed', 'failed');
      return;
    }
    state.ws = ws;
    let opened = false;
    ws.onopen = () => {
      if (state.ws !== ws) return;
      opened = true;
      state.attempt = 0;
      state.retryAfterMs = 0;
      state.userId = state.token; // demo authenticator: the token is the userId
      setConn('open', `connected as ${state.userId}`);
      logEvent('sys', 'open', wsUrl(state.token).replace(/token=[^&]*/, 'token=…'));
      resync();
    };
    ws.onmessage = (ev) => {
      if (state.ws !== ws) return;
      handleFrame(ev.data);
    };
    ws.onerror = () => { /* the close event that follows carries the code */ };
    ws.onclose = (ev) => {
      if (state.ws !== ws) return;
      state.ws = null;
      onClosed(ev.code, ev.reason, opened);
    };
  }

  // After every (re)connect: join system:health and every room again, then resend what was not
  // acknowledged (same messageId; the server answers repeats without delivering them again).
  function resync() {
    for (const [id, p] of state.pending) {
      if (p.kind === 'join' || p.kind === 'leave') state.pending.delete(id);
    }
    request('joinRoom', { roomId: HEALTH_ROOM }, { kind: 'join', roomId: HEALTH_ROOM, silent: true });
    for (const roomId of state.reserved) request('joinRoom', { roomId }, { kind: 'join', roomId });
    for (const [roomId, room] of state.rooms) {
      setRoomJoined(room, false);
      request('joinRoom', { roomId }, { kind: 'join', roomId });
    }
    for (const p of state.pending.values()) {
      if (p.kind !== 'join') transmit(p.envelope);
    }
  }

  function onClosed(code, reason, opened) {
    const why = reason ? `${code} ${reason}` : String(code);
    logEvent('sys', 'close', why);
    for (const room of state.rooms.values()) setRoomJoined(room, false);
    if (!state.wanted) {
      setConn('closed', 'disconnected');
      return;
    }
    if (code === 1000) {
      state.wanted = false;
      setConn('closed', `closed by server (${why})`);
      return;
    }
    if (code === 4000) {
      state.wanted = false;
      showError('4000', 'invalid authentication: the server refused the token',
        'use 1-64 characters A-Z a-z 0-9 _ . -');
      setConn('failed', 'authentication failed (4000)');
      return;
    }
    if (opened && code !== 1001) showError(String(code), `connection closed${reason ? ': ' + reason : ''}`);
    if (state.attempt >= RECONNECT_MAX_ATTEMPTS) {
      state.wanted = false;
      showError('reconnect', `gave up after ${RECONNECT_MAX_ATTEMPTS} reconnect attempts`);
      setConn('failed', 'gave up reconnecting');
      return;
    }
    let delay = Math.min(RECONNECT_BASE_MS * Math.pow(RECONNECT_FACTOR, state.attempt), RECONNECT_MAX_MS);
    if (code === 4001) delay = Math.max(delay, state.retryAfterMs);
    state.attempt += 1;
    setConn('reconnecting', `closed (${code}); reconnecting in ${(delay / 1000).toFixed(1)} s ` +
      `(attempt ${state.attempt}/${RECONNECT_MAX_ATTEMPTS})`);
    state.timer = setTimeout(connect, delay);
  }

  function startConnection(token) {
    token = token.trim();
    if (!token) return;
    state.token = token;
    state.wanted = true;
    state.attempt = 0;
    $('token-input').value = token;
    document.title = `${token} — roomwire`;
    connect();
  }

  function stopConnection() {
    state.wanted = false;
    clearTimeout(state.timer);
    state.timer = null;
    if (state.ws) {
      state.ws.close(1000, 'bye');
    } else {
      setConn('closed', 'disconnected');
    }
  }

  // ---- receiving -----------------------------------------------------------------------------
  function handleFrame(data) {
    let env;
    try {
      env = JSON.parse(data);
    } catch {
      showError('client', 'received a frame that is not JSON');
      return;
    }
    if (!isObject(env) || typeof env.type !== 'string') {
      showError('client', 'received a frame that is not an envelope');
      return;
    }
    const payload = isObject(env.payload) ? env.payload : {};
    switch (env.type) {
      case 'message': onMessage(env, payload); break;
      case 'messageReceived': onAck(env, payload); break;
      case 'error': onErrorEnvelope(env, payload); break;
      case 'taskAssign': onTaskAssign(env, payload); break;
      case 'taskUpdate': onTaskUpdate(env, payload); break;
      case 'healthUpdate': onHealth(env, payload); break;
      default:
        // custom types registered by the host application: shown in the log only
        logEvent('in', env.type, 'unhandled type');
        return;
    }
    if (env.type !== 'healthUpdate') {
      logEvent('in', env.type, str(payload.roomId) || str(payload.taskId) || str(payload.code));
    }
  }

  function onAck(env, p) {
    const id = str(p.messageId);
    const req = state.pending.get(id);
    if (!req) return; // an answer to a request of an earlier page, or already answered
    state.pending.delete(id);
    const ts = num(p.timestamp) ?? num(env.timestamp);
    switch (req.kind) {
      case 'join': {
        const room = state.rooms.get(req.roomId);
        if (room) setRoomJoined(room, true);
        break;
      }
      case 'message': {
        const row = document.querySelector(`[data-testid="message"][data-message-id="${CSS.escape(id)}"]`);
        if (row) {
          row.dataset.state = 'acked';
          const seq = num(p.seq);
          if (seq !== null) setRowSeq(row, seq);
          row.querySelector('.msg-time').textContent = clock(ts);
          row.querySelector('.msg-status').textContent = seq !== null ? `✓ #${seq}` : '✓';
          row.querySelector('.msg-status').title = 'acknowledged by the server';
        }
        break;
      }
      case 'assign':
        upsertTask(req.envelope.payload.taskId, {
          assigneeId: req.envelope.payload.assigneeId,
          assignerId: state.userId,
          priority: req.envelope.payload.priority,
          status: 'assigned', progress: 0, metadata: {}, by: state.userId, at: ts,
        });
        break;
      case 'update':
        upsertTask(req.envelope.payload.taskId, {
          status: req.envelope.payload.status,
          progress: req.envelope.payload.progress,
          metadata: req.envelope.payload.metadata,
          by: state.userId, at: ts,
        });
        break;
      default:
        break;
    }
  }

  function onErrorEnvelope(env, p) {
    const code = str(p.code, '?');
    const details = isObject(p.details) ? p.details : {};
    const id = str(details.messageId);
    const req = id ? state.pending.get(id) : undefined;
    if (req) state.pending.delete(id);
    if (code === '4001' && num(details.retryAfterMs) !== null) state.retryAfterMs = details.retryAfterMs;

    const bits = [];
    if (typeof details.type === 'string') bits.push(`type ${details.type}`);
    if (typeof details.path === 'string' && details.path) bits.push(`at ${details.path}`);
    if (typeof details.reason === 'string') bits.push(details.reason);
    if (num(details.retryAfterMs) !== null) bits.push(`retry after ${details.retryAfterMs} ms`);
    showError(code, str(p.message, 'error'), bits.join(' · '));

    if (!req) return;
    if (req.kind === 'join' && req.roomId !== HEALTH_ROOM) {
      state.reserved.delete(req.roomId);
      removeRoom(req.roomId);
    } else if (req.kind === 'message') {
      const row = document.querySelector(`[data-testid="message"][data-message-id="${CSS.escape(id)}"]`);
      if (row) {
        row.dataset.state = 'failed';
        row.querySelector('.msg-status').textContent = `✗ ${code}`;
        row.querySelector('.msg-status').title = str(p.message);
      }
    }
  }

  // ---- rooms and chat --------------------------------------------------------------------------
  function ensureRoom(roomId) {
    let room = state.rooms.get(roomId);
    if (room) return room;
    const tab = el('button', {
      type: 'button', class: 'tab', role: 'tab', 'data-testid': 'room-tab', 'data-room': roomId,
      'data-joined': 'false',
    }, el('span', { class: 'tab-name', text: `# ${roomId}` }),
    el('span', { class: 'unread', 'data-testid': 'room-unread', hidden: '' }));
    const close = el('span', { class: 'tab-close', role: 'button', title: `leave ${roomId}`,
      'aria-label': `leave ${roomId}`, 'data-testid': 'room-leave', text: '×' });
    tab.append(close);
    const panel = document.getElementById('room-panel-template').content.firstElementChild.cloneNode(true);
    panel.dataset.room = roomId;
    panel.hidden = true;
    const list = panel.querySelector('[data-testid="message-list"]');
    list.append(el('li', { class: 'sys-line', text: `You joined #${roomId}.` }));
    room = { roomId, joined: false, tab, panel, list, unread: 0 };

    tab.addEventListener('click', (ev) => {
      if (ev.target === close) {
        leaveRoom(roomId);
      } else {
        activateRoom(roomId);
      }
    });
    panel.querySelector('[data-testid="send-form"]').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const input = panel.querySelector('[data-testid="send-input"]');
      if (sendChat(roomId, input.value)) input.value = '';
      input.focus();
    });
    $('room-tabs').append(tab);
    $('room-panels').append(panel);
    $('rooms-empty').hidden = true;
    state.rooms.set(roomId, room);
    return room;
  }

  function setRoomJoined(room, joined) {
    room.joined = joined;
    room.tab.dataset.joined = String(joined);
    room.panel.dataset.joined = String(joined);
  }

  function activateRoom(roomId) {
    state.activeRoom = roomId;
    for (const room of state.rooms.values()) {
      const active = room.roomId === roomId;
      room.tab.setAttribute('aria-selected', String(active));
      room.panel.hidden = !active;
      if (active) {
        room.unread = 0;
        const badge = room.tab.querySelector('.unread');
        badge.hidden = true;
        badge.textContent = '';
        room.list.scrollTop = room.list.scrollHeight;
      }
    }
  }

  function joinRoom(roomId) {
    roomId = roomId.trim();
    if (!roomId) return;
    if (roomId.startsWith('system:') || roomId.startsWith('task:')) {
      // reserved rooms carry no chat; join them without a chat panel
      if (roomId === HEALTH_ROOM || state.reserved.has(roomId)) return;
      state.reserved.add(roomId);
      request('joinRoom', { roomId }, { kind: 'join', roomId });
      return;
    }
    const fresh = !state.rooms.has(roomId);
    ensureRoom(roomId);
    activateRoom(roomId);
    if (fresh) request('joinRoom', { roomId }, { kind: 'join', roomId });
  }

  function leaveRoom(roomId) {
    if (!state.rooms.has(roomId)) return;
    request('leaveRoom', { roomId }, { kind: 'leave', roomId });
    removeRoom(roomId);
  }

  function removeRoom(roomId) {
    const room = state.rooms.get(roomId);
    if (!room) return;
    room.tab.remove();
    room.panel.remove();
    state.rooms.delete(roomId);
    if (state.activeRoom === roomId) {
      const next = state.rooms.keys().next();
      state.activeRoom = null;
      if (!next.done) activateRoom(next.value);
    }
    $('rooms-empty').hidden = state.rooms.size > 0;
  }

  function messageRow({ messageId, senderId, content, ts, seq, mine, metadata }) {
    const kind = isObject(metadata) ? str(metadata.type, 'text') : 'text';
    const body = el('div', { class: 'msg-body', 'data-testid': 'message-text' });
    body.textContent = content;
    if (kind === 'file' && typeof metadata.fileUrl === 'string') {
      // only http(s) links are made clickable; everything else is shown as text
      let href = null;
      try {
        const u = new URL(metadata.fileUrl);
        if (u.protocol === 'http:' || u.protocol === 'https:') href = u.href;
      } catch { /* not a URL */ }
      const name = str(metadata.fileName) || metadata.fileUrl;
      const file = href
        ? el('a', { href, target: '_blank', rel: 'noopener noreferrer', class: 'file', text: `📎 ${name}` })
        : el('span', { class: 'file', text: `📎 ${name}` });
      body.append(el('br'), file);
    }
    const row = el('li', {
      class: `msg${mine ? ' mine' : ''}${kind !== 'text' ? ` kind-${kind}` : ''}`,
      'data-testid': 'message', 'data-message-id': messageId, 'data-sender': senderId,
      'data-state': mine ? 'pending' : 'delivered',
    },
    el('div', { class: 'msg-head' },
      el('span', { class: 'msg-sender', 'data-testid': 'message-sender', text: mine ? `${senderId} (you)` : senderId }),
      el('time', { class: 'msg-time', 'data-testid': 'message-time', text: clock(ts) }),
      el('span', { class: 'msg-status', 'data-testid': 'message-status',
        text: mine ? '… sending' : (seq !== null ? `#${seq}` : '') })),
    body);
    if (seq !== null) setRowSeq(row, seq);
    return row;
  }

  function setRowSeq(row, seq) {
    row.dataset.seq = String(seq);
    const list = row.parentElement;
    if (!list) return;
    // keep rows in seq order: move the row before the first row with a larger seq
    for (let n = list.firstElementChild; n; n = n.nextElementSibling) {
      if (n !== row && n.dataset.seq !== undefined && Number(n.dataset.seq) > seq) {
        if (row.nextElementSibling !== n) list.insertBefore(row, n);
        return;
      }
    }
  }

  function appendRow(room, row) {
    const seq = row.dataset.seq !== undefined ? Number(row.dataset.seq) : null;
    const stick = room.list.scrollHeight - room.list.scrollTop - room.list.clientHeight < 40;
    room.list.append(row);
    if (seq !== null) setRowSeq(row, seq);
    while (room.list.children.length > MESSAGES_PER_ROOM) room.list.firstElementChild.remove();
    if (stick || row.classList.contains('mine')) room.list.scrollTop = room.list.scrollHeight;
  }

  function sendChat(roomId, text) {
    if (!text.trim()) return false;
    const room = state.rooms.get(roomId);
    if (!room) return false;
    const env = request('message', { roomId, content: text, metadata: { type: 'text' } },
      { kind: 'message', roomId });
    if (!env) return false;
    appendRow(room, messageRow({
      messageId: env.messageId, senderId: state.userId || state.token, content: text,
      ts: env.timestamp, seq: null, mine: true, metadata: env.payload.metadata,
    }));
    return true;
  }

  function onMessage(env, p) {
    const roomId = str(p.roomId);
    if (!roomId) return;
    const room = state.rooms.get(roomId) || ensureRoom(roomId);
    if (!state.activeRoom) activateRoom(roomId);
    const id = str(env.messageId);
    if (id && room.list.querySelector(`[data-testid="message"][data-message-id="${CSS.escape(id)}"]`)) {
      return; // already shown (our own session, or a repeat)
    }
    const senderId = str(p.senderId, '?');
    appendRow(room, messageRow({
      messageId: id, senderId, content: str(p.content), ts: num(env.timestamp),
      seq: num(p.seq), mine: false, metadata: p.metadata,
    }));
    if (state.activeRoom !== roomId) {
      room.unread += 1;
      const badge = room.tab.querySelector('.unread');
      badge.textContent = String(room.unread);
      badge.hidden = false;
    }
  }

  // ---- tasks -----------------------------------------------------------------------------------
  function upsertTask(taskId, fields) {
    if (typeof taskId !== 'string' || !taskId) return;
    let t = state.tasks.get(taskId);
    if (!t) {
      const bar = el('progress', {
        max: '100', value: '0', 'data-testid': 'task-progress', 'aria-valuemin': '0',
        'aria-valuemax': '100', 'aria-valuenow': '0', 'aria-label': `progress of ${taskId}`,
      });
      const row = el('li', { class: 'task', 'data-testid': 'task-row', 'data-task-id': taskId },
        el('div', { class: 'task-head' },
          el('span', { class: 'task-id', 'data-testid': 'task-id', text: taskId }),
          el('span', { class: 'badge task-status', 'data-testid': 'task-status' }),
          el('span', { class: 'task-pct', 'data-testid': 'task-percent' })),
        el('div', { class: 'bar-wrap' }, bar),
        el('div', { class: 'task-meta muted small', 'data-testid': 'task-meta' }));
      row.addEventListener('click', () => {
        $('update-task-id').value = taskId;
        $('update-progress').focus();
      });
      row.title = 'click to update this task';
      t = { taskId, row, bar, progress: 0, status: 'assigned', metadata: {} };
      state.tasks.set(taskId, t);
      $('task-list').prepend(row);
      $('tasks-empty').hidden = true;
      document.getElementById('known-tasks').append(el('option', { value: taskId }));
    }
    for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== null) t[k] = v;

    const progress = Math.min(100, Math.max(0, num(t.progress) ?? 0));
    t.bar.value = progress;
    t.bar.setAttribute('value', String(progress));
    t.bar.setAttribute('aria-valuenow', String(progress));
    t.row.dataset.progress = String(progress);
    t.row.dataset.status = String(t.status);
    t.row.querySelector('.task-status').textContent = String(t.status);
    t.row.querySelector('.task-status').dataset.status = String(t.status);
    t.row.querySelector('.task-pct').textContent = formatProgress(progress);

    const meta = [];
    if (t.assigneeId) meta.push(`assignee ${t.assigneeId}`);
    if (t.assignerId) meta.push(`by ${t.assignerId}`);
    if (num(t.priority) !== null) meta.push(`priority ${t.priority}`);
    if (isObject(t.metadata)) {
      for (const [k, v] of Object.entries(t.metadata).slice(0, 4)) {
        meta.push(`${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
      }
    }
    if (t.by) meta.push(`updated ${clock(t.at)} by ${t.by}`);
    t.row.querySelector('.task-meta').textContent = meta.join(' · ');
    t.row.classList.remove('flash');
    void t.row.offsetWidth; // restart the highlight animation
    t.row.classList.add('flash');
  }

  function onTaskAssign(env, p) {
    upsertTask(str(p.taskId), {
      assigneeId: str(p.assigneeId), assignerId: str(p.assignerId), priority: num(p.priority),
      status: 'assigned', progress: 0, metadata: {}, by: str(p.assignerId), at: num(env.timestamp),
    });
  }

  function onTaskUpdate(env, p) {
    upsertTask(str(p.taskId), {
      status: str(p.status, '?'), progress: num(p.progress) ?? 0,
      metadata: isObject(p.metadata) ? p.metadata : {}, by: str(p.senderId), at: num(env.timestamp),
    });
  }

  // ---- health ----------------------------------------------------------------------------------
  function onHealth(env, p) {
    const status = str(p.status, 'unknown');
    const badge = $('health-status');
    badge.textContent = status;
    badge.dataset.status = status;
    const metrics = isObject(p.metrics) ? p.metrics : {};
    const dl = $('health-metrics');
    dl.replaceChildren();
    const known = new Set();
    const add = (key, label, value) => {
      dl.append(el('div', { class: 'metric', 'data-testid': 'health-metric', 'data-metric': key },
        el('dt', { text: label }), el('dd', { text: value })));
    };
    for (const [key, label] of HEALTH_METRICS) {
      known.add(key);
      if (!(key in metrics)) continue;
      const v = metrics[key];
      add(key, label, key === 'uptimeSeconds' && num(v) !== null ? formatUptime(v) : String(v));
    }
    for (const [key, v] of Object.entries(metrics)) {
      if (!known.has(key)) add(key, key, typeof v === 'object' ? JSON.stringify(v) : String(v));
    }
    $('health-updated').textContent = `Last healthUpdate at ${clock(num(env.timestamp))} (priority ${
      num(env.priority) ?? '?'}).`;
  }

  // ---- wiring ----------------------------------------------------------------------------------
  $('connect-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    startConnection($('token-input').value);
  });
  $('disconnect-button').addEventListener('click', stopConnection);
  $('join-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const input = $('join-input');
    joinRoom(input.value);
    input.value = '';
  });
  $('assign-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const taskId = $('assign-task-id').value.trim();
    const assigneeId = $('assign-assignee').value.trim();
    if (!taskId || !assigneeId) return;
    const priority = Number($('assign-priority').value);
    request('taskAssign', { taskId, assigneeId, priority }, { kind: 'assign', taskId });
    $('update-task-id').value = taskId;
  });
  $('update-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const taskId = $('update-task-id').value.trim();
    const status = $('update-status').value.trim();
    const progress = Number($('update-progress').value);
    if (!taskId || !status || !Number.isFinite(progress)) return;
    const step = $('update-step').value.trim();
    const payload = { taskId, status, progress };
    if (step) payload.metadata = { step };
    request('taskUpdate', payload, { kind: 'update', taskId });
  });

  setConn('idle', 'not connected');
  const initial = params.get('token') || params.get('user');
  if (initial) startConnection(initial);
  else $('token-input').focus();
})();
