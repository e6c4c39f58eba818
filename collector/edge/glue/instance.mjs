// Starting a Go instance of app.wasm, for the Worker (worker.mjs) and the
// Durable Object that holds WebSockets (sockets.mjs).
import "./wasm_exec.js";
import { createRuntimeContext, loadModule } from "./runtime.mjs";
import { openVisits } from "./announce.mjs";

let mod;

// syumai/workers' Go code calls this to catch JavaScript exceptions.
globalThis.tryCatch = (fn) => {
  try {
    return { result: fn() };
  } catch (e) {
    return { error: e };
  }
};

// newContext is the runtime context a Go instance runs with: syumai's,
// plus announce (see announce.mjs), which the Go code finds as
// context.announce and calls with the env of the latest event, and with
// it openVisits (the visits of every object's sockets, for /v1/live).
export function newContext(env, ctx, announce) {
  const context = createRuntimeContext({ env, ctx, binding: {} });
  if (announce !== undefined && env.SOCKETS !== undefined) {
    context.announce = (body) => announce(context.env, body);
    context.openVisits = () => openVisits(context.env);
  }
  return context;
}

// start runs a new Go instance on context and resolves once the Go code
// has registered its handlers, or rejects if it exits before that.
export async function start(context) {
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
