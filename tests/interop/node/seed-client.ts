// The seed's TypeScript client (../../../../shared/seed/websocket-protocol.md, "Client
// Implementation Example"), kept as written there, with only what it takes to run it under Node
// and observe it from a test. Each departure from the seed is marked "interop:".
//
// interop: Node 20 has no global WebSocket; the npm `ws` package provides the same
// onmessage/onclose/onerror interface the seed uses.
import WebSocket from 'ws';
type MessageEvent = WebSocket.MessageEvent;
type CloseEvent = WebSocket.CloseEvent;

export class WebSocketClient {
  private ws!: WebSocket;
  private reconnectAttempts = 0;
  private maxReconnectAttempts = 5;

  // interop: hooks for the test; the seed leaves "Handle different message types" to the reader.
  public onOpen: () => void = () => {};
  public onEnvelope: (message: any) => void = () => {};
  public onEvent: (event: string) => void = () => {};

  constructor(private url: string, private token: string) {
    this.connect();
  }

  // interop: the seed has no send method; a client needs one.
  public send(envelope: object) {
    this.ws.send(JSON.stringify(envelope));
  }

  // interop: stops the client (the seed cannot be stopped); a 1000 close is not reconnected.
  public close() {
    this.ws.close(1000);
  }

  private connect() {
    this.onEvent('connect'); // interop
    this.ws = new WebSocket(`${this.url}?token=${this.token}`);
    this.setupEventHandlers();
  }

  private setupEventHandlers() {
    // interop: the seed assigns the methods unbound (`this.ws.onclose = this.handleClose`), so
    // `this` inside them is the socket and `this.reconnect()` throws a TypeError: they are bound.
    this.ws.onopen = () => this.onOpen(); // interop: the seed has no open handler
    this.ws.onmessage = this.handleMessage.bind(this);
    this.ws.onclose = this.handleClose.bind(this);
    this.ws.onerror = this.handleError.bind(this);
  }

  private handleMessage(event: MessageEvent) {
    const message = JSON.parse(event.data as string);
    // Handle different message types
    this.onEnvelope(message); // interop
  }

  private handleClose(event: CloseEvent) {
    this.onEvent(`close ${event.code}`); // interop
    if (event.code !== 1000) {
      this.reconnect();
    }
  }

  // interop: the seed calls handleError but does not define it; an error is followed by a close,
  // which is where the seed reconnects, so it only reports it.
  private handleError(_event: WebSocket.ErrorEvent) {
    this.onEvent('error');
  }

  private async reconnect() {
    if (this.reconnectAttempts >= this.maxReconnectAttempts) {
      this.onEvent('gave up'); // interop: the seed's throw below is an unhandled rejection
      throw new Error('Max reconnection attempts reached');
    }

    const delay = Math.min(1000 * Math.pow(1.5, this.reconnectAttempts), 30000);
    await new Promise(resolve => setTimeout(resolve, delay));
    this.reconnectAttempts++;
    this.connect();
  }
}
