// The Worker's entry point, in place of the one workers-assets-gen writes
// (`make edge-wasm` copies the glue's files into build/). syumai/workers
// starts a fresh Go instance for every event, which costs the Go runtime's
// start and the collector's set-up each time; this one keeps the instance
// it started for the requests that follow in the same isolate, as
// VISITRACK_GO_INSTANCE = "isolate" (the default) says. "request" restores
// a fresh instance per request. Cron events always get a fresh instance:
// syumai/workers ends the program when a scheduled task fails, which must
// not take the requests in flight with it.
//
// A kept instance that exits (a panic the Go code did not catch) is
// replaced on the next request.
//
// WebSocket upgrades of /v1/ws go to a Durable Object (sockets.mjs) when
// the SOCKETS binding exists (wrangler.jsonc); without it the Go code
// answers them 501.
import { newContext, start } from "./instance.mjs";
import { announce, shardFor } from "./announce.mjs";

export { Sockets } from "./sockets.mjs";

let kept; // a promise of the kept instance's runtime context

// keptContext returns the kept instance's context, starting the instance
// when there is none or it exited. Requests that arrive while it starts
// wait for the same start.
async function keptContext(env, ctx) {
  if (kept === undefined) {
    const context = newContext(env, ctx, announce);
    context.keepInstance = true;
    kept = start(context).catch((e) => {
      kept = undefined;
      throw e;
    });
  }
  const context = await kept;
  if (context.go.exited) {
    kept = undefined;
    return keptContext(env, ctx);
  }
  // The bindings are the isolate's; the execution context is the latest
  // request's (the Go code never calls waitUntil).
  context.env = env;
  context.ctx = ctx;
  return context;
}

function keep(env) {
  return (env.VISITRACK_GO_INSTANCE || "isolate") !== "request";
}

async function fresh(env, ctx) {
  return start(newContext(env, ctx, announce));
}

async function fetch(req, env, ctx) {
  if (env.SOCKETS !== undefined && new URL(req.url).pathname === "/v1/ws" &&
      (req.headers.get("Upgrade") || "").toLowerCase() === "websocket") {
    return shardFor(env, req).fetch(req);
  }
  const context = keep(env) ? await keptContext(env, ctx) : await fresh(env, ctx);
  return context.binding.handleRequest(req);
}

async function scheduled(event, env, ctx) {
  const context = await fresh(env, ctx);
  return context.binding.runScheduler(event);
}

export default { fetch, scheduled };
