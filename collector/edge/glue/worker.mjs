// The Worker's entry point, in place of the one workers-assets-gen writes
// (`make edge-wasm` copies this file over build/worker.mjs). syumai/workers
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
import "./wasm_exec.js";
import { createRuntimeContext, loadModule } from "./runtime.mjs";

let mod;
let kept; // a promise of the kept instance's runtime context

// syumai/workers' Go code calls this to catch JavaScript exceptions.
globalThis.tryCatch = (fn) => {
  try {
    return { result: fn() };
  } catch (e) {
    return { error: e };
  }
};

// start runs a new Go instance on context and resolves once the Go code
// has registered its handlers, or rejects if it exits before that.
async function start(context) {
  if (mod === undefined) {
    mod = await loadModule();
  }
  const go = new Go();
  let ready;
  const readyPromise = new Promise((resolve) => {
    ready = resolve;
  });
  const instance = new WebAssembly.Instance(mod, {
    ...go.importObject,
    workers: { ready: () => ready() },
  });
  const exited = go.run(instance, context).then(() => {
    throw new Error("the Go program exited before it was ready");
  });
  await Promise.race([readyPromise, exited]);
  context.go = go;
  return context;
}

// keptContext returns the kept instance's context, starting the instance
// when there is none or it exited. Requests that arrive while it starts
// wait for the same start.
async function keptContext(env, ctx) {
  if (kept === undefined) {
    const context = createRuntimeContext({ env, ctx, binding: {} });
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
  return start(createRuntimeContext({ env, ctx, binding: {} }));
}

async function fetch(req, env, ctx) {
  const context = keep(env) ? await keptContext(env, ctx) : await fresh(env, ctx);
  return context.binding.handleRequest(req);
}

async function scheduled(event, env, ctx) {
  const context = await fresh(env, ctx);
  return context.binding.runScheduler(event);
}

export default { fetch, scheduled };
