// Sockets is the Durable Object that holds the edge's WebSockets
// (collector/edge/ws.go; README "Edge build"). It is thin: it accepts each
// socket with the hibernation API (state.acceptWebSocket) and hands every
// frame to a Go instance of its own, the same app.wasm, whose hub applies
// the native collector's rules and answers on the socket. The socket's
// attachment keeps the id of its Go session.
//
// If the object was evicted (hibernation) or its Go instance exited, the
// Go sessions are gone while the sockets stay: such a socket is closed
// with 1011, and the tracker connects again and says hello to a new
// session. So a new Go instance first closes every socket it did not
// accept.
import { newContext, start } from "./instance.mjs";
import { announce } from "./announce.mjs";

const lost = "the collector lost this connection's state; connect again";

export class Sockets {
  constructor(state, env) {
    this.state = state;
    this.env = env;
    this.instance = undefined; // a promise of the Go instance's context
    this.chains = new Map(); // socket id → the promise of its last frame
    this.waiting = new Map(); // socket id → the timer that closes it without hello
  }

  // go returns the running Go instance's context, starting one when there
  // is none or it exited.
  async go() {
    if (this.instance !== undefined) {
      const context = await this.instance.catch(() => undefined);
      if (context !== undefined && !context.go.exited) {
        return context;
      }
    }
    for (const ws of this.state.getWebSockets()) {
      closeQuietly(ws, 1011, lost);
    }
    const context = newContext(this.env, this.state, announce);
    context.keepInstance = true;
    context.socketsObject = true; // the Go code serves sockets (worker/sockets.go)
    this.instance = start(context);
    return this.instance;
  }

  // running returns the Go instance's context if it runs, without starting
  // one: a frame of a socket that no instance of this object accepted.
  async running() {
    if (this.instance === undefined) {
      return undefined;
    }
    const context = await this.instance.catch(() => undefined);
    return context !== undefined && !context.go.exited ? context : undefined;
  }

  async fetch(req) {
    const url = new URL(req.url);
    if (url.pathname === "/announce" && req.method === "POST") {
      const context = await this.running();
      if (context === undefined || typeof context.binding.wsAnnounce !== "function") {
        // No Go session here, and no need to start an instance to learn
        // that: sockets this object still holds belong to a lost one.
        // They connect again, and their welcome carries the change.
        for (const ws of this.state.getWebSockets()) {
          closeQuietly(ws, 1011, lost);
        }
        return new Response("0");
      }
      return new Response(String(await context.binding.wsAnnounce(await req.text())));
    }
    const context = await this.go();
    if (typeof context.binding.wsOpen !== "function") {
      // The Go code could not start the collector: its answer says why.
      return context.binding.handleRequest(req);
    }
    const [client, server] = Object.values(new WebSocketPair());
    const info = JSON.stringify({ method: req.method, url: req.url, headers: [...req.headers] });
    const opened = JSON.parse(await context.binding.wsOpen(info, server));
    const headers = new Headers(opened.header);
    if (!opened.id && !opened.closeCode) {
      return new Response(opened.body || null, { status: opened.status, headers });
    }
    this.state.acceptWebSocket(server);
    server.serializeAttachment({ id: opened.id || "" });
    if (opened.protocol) {
      headers.set("Sec-WebSocket-Protocol", opened.protocol);
    }
    if (opened.closeCode) {
      server.close(opened.closeCode, opened.closeReason);
    } else if (opened.helloTimeout) {
      // Kept only until the first frame: a timer holds the object in
      // memory, so a socket that never speaks must not hold it long.
      const id = opened.id;
      this.waiting.set(id, setTimeout(() => {
        this.waiting.delete(id);
        closeQuietly(server, 1008, opened.helloClose);
        this.forget(server);
      }, opened.helloTimeout));
    }
    return new Response(null, { status: 101, webSocket: client, headers });
  }

  // Frames of one socket go to Go one at a time, in order.
  async webSocketMessage(ws, message) {
    const id = idOf(ws);
    this.stopWaiting(id);
    const previous = this.chains.get(id) || Promise.resolve();
    const next = previous.then(() => this.frame(ws, id, message));
    const settled = next.catch(() => {});
    this.chains.set(id, settled);
    settled.then(() => {
      if (this.chains.get(id) === settled) {
        this.chains.delete(id);
      }
    });
    return next;
  }

  async frame(ws, id, message) {
    const context = await this.running();
    let known = false;
    if (context !== undefined && id) {
      try {
        known = await context.binding.wsFrame(id, message);
      } catch (e) {
        console.error("edge: a WebSocket frame failed:", e);
      }
    }
    if (!known) {
      closeQuietly(ws, 1011, lost);
    }
  }

  async webSocketClose(ws, code, reason, wasClean) {
    await this.forget(ws);
    closeQuietly(ws, 1000, "");
  }

  async webSocketError(ws, error) {
    await this.forget(ws);
  }

  stopWaiting(id) {
    const timer = this.waiting.get(id);
    if (timer !== undefined) {
      clearTimeout(timer);
      this.waiting.delete(id);
    }
  }

  async forget(ws) {
    const id = idOf(ws);
    this.stopWaiting(id);
    const context = await this.running();
    if (context !== undefined && id && typeof context.binding.wsClosed === "function") {
      context.binding.wsClosed(id);
    }
  }
}

function idOf(ws) {
  const a = ws.deserializeAttachment();
  return a && typeof a.id === "string" ? a.id : "";
}

function closeQuietly(ws, code, reason) {
  try {
    ws.close(code, reason);
  } catch {
    // already closed
  }
}
