// Sockets is the Durable Object that holds the edge's WebSockets
// (collector/edge/ws.go; docs/edge.md#websockets-through-a-durable-object). It is thin: it accepts each
// socket with the hibernation API (state.acceptWebSocket) and hands every
// frame to a Go instance of its own, the same app.wasm, whose hub applies
// the native collector's rules and answers on the socket. The socket's
// attachment (serializeAttachment) keeps what Go gives it after each
// frame: its session's id and state.
//
// An idle object is evicted while its sockets stay open (hibernation):
// the next event starts a new Go instance, which resumes a socket's
// session from its attachment on its next frame, or before an
// announcement that concerns it (its subject or visit). A socket whose
// session cannot be resumed (no hello yet, first-party cookie mode) is
// closed with 1011, and the tracker connects again.
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
      return new Response(String(await this.announced(await req.text())));
    }
    if (url.pathname === "/visits" && req.method === "GET") {
      return Response.json(this.visits());
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

  // visits are the visits of this object's welcomed sockets, from their
  // attachments: no Go instance needed, even after an eviction.
  visits() {
    const out = [];
    for (const ws of this.state.getWebSockets()) {
      const st = stateOf(ws);
      if (st !== undefined && typeof st.vt === "string" && st.vt !== "") {
        out.push(st.vt);
      }
    }
    return out;
  }

  // announced hands an announcement to Go once the sessions of the
  // sockets it concerns are held (resumed after an eviction). An object
  // without sockets answers at once, without a Go instance.
  async announced(body) {
    const sockets = this.state.getWebSockets();
    if (sockets.length === 0) {
      return 0;
    }
    const context = await this.go();
    if (typeof context.binding.wsAnnounce !== "function") {
      return 0; // the Go code could not start the collector
    }
    const a = JSON.parse(body);
    for (const ws of sockets) {
      const st = stateOf(ws);
      if (st !== undefined && ((a.key && st.s === a.key) || (a.visitId && st.vt === a.visitId))) {
        // Not behind the socket's frames: a frame's own write may be
        // what is announced. Go resumes a session once only.
        await this.resume(ws, context);
      }
    }
    return context.binding.wsAnnounce(body);
  }

  async resume(ws, context) {
    try {
      const attachment = await context.binding.wsResume(JSON.stringify(ws.deserializeAttachment()), ws);
      if (attachment !== null && attachment !== undefined) {
        keep(ws, attachment);
      }
    } catch (e) {
      console.error("edge: resuming a WebSocket failed:", e);
      closeQuietly(ws, 1011, lost);
    }
  }

  // Frames of one socket go to Go one at a time, in order.
  async webSocketMessage(ws, message) {
    this.stopWaiting(idOf(ws));
    return this.inOrder(ws, () => this.frame(ws, message));
  }

  // inOrder runs fn after what runs for the socket already.
  inOrder(ws, fn) {
    const id = idOf(ws);
    const previous = this.chains.get(id) || Promise.resolve();
    const next = previous.then(fn);
    const settled = next.catch(() => {});
    this.chains.set(id, settled);
    settled.then(() => {
      if (this.chains.get(id) === settled) {
        this.chains.delete(id);
      }
    });
    return next;
  }

  async frame(ws, message) {
    const context = await this.go();
    if (typeof context.binding.wsFrame !== "function") {
      closeQuietly(ws, 1011, lost); // the Go code could not start the collector
      return;
    }
    try {
      keep(ws, await context.binding.wsFrame(JSON.stringify(ws.deserializeAttachment()), ws, message));
    } catch (e) {
      // No session to go on with: the tracker connects again.
      console.error("edge: a WebSocket frame:", e);
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

// keep stores the attachment Go returned (JSON).
function keep(ws, attachment) {
  ws.serializeAttachment(JSON.parse(attachment));
}

// stateOf is the session state in a socket's attachment, if any.
function stateOf(ws) {
  const a = ws.deserializeAttachment();
  return a && a.state ? a.state : undefined;
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
