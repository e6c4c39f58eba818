// Which Durable Object holds a WebSocket, and how announcements reach
// them all (collector/edge/ws.go). Sockets are spread over
// VISITRACK_WS_SHARDS objects (1 by default) by the client's address, so
// that one address's sockets share one hub; a visitor-data change, an
// erasure or a notification goes to every object, each of which pushes it
// to the sockets entitled to it.

const maxShards = 32;

// shards is the number of Durable Objects sockets are spread over. The Go
// side refuses a value outside 1..32 (edge.LoadSettings).
export function shards(env) {
  const n = Number.parseInt(env.VISITRACK_WS_SHARDS || "1", 10);
  return Number.isInteger(n) && n >= 1 && n <= maxShards ? n : 1;
}

function stub(env, i) {
  return env.SOCKETS.get(env.SOCKETS.idFromName("sockets-" + i));
}

// FNV-1a of the client's address: the shard of a new socket.
export function shardFor(env, req) {
  const n = shards(env);
  const ip = req.headers.get("CF-Connecting-IP") || "";
  let h = 0x811c9dc5;
  for (let i = 0; i < ip.length; i++) {
    h = Math.imul(h ^ ip.charCodeAt(i), 0x01000193) >>> 0;
  }
  return stub(env, h % n);
}

// announce sends body (JSON) to every Durable Object and resolves to the
// sum of their answers (the pages a notification reached) once all took
// it.
export async function announce(env, body) {
  const answers = await Promise.all(
    Array.from({ length: shards(env) }, (_, i) =>
      stub(env, i).fetch("https://sockets.internal/announce", { method: "POST", body }),
    ),
  );
  let delivered = 0;
  for (const r of answers) {
    const text = await r.text();
    if (!r.ok) {
      throw new Error(`announce: a Durable Object answered ${r.status}: ${text}`);
    }
    delivered += Number(text) || 0;
  }
  return delivered;
}

// openVisits asks every Durable Object for the visits of its sockets and
// resolves to them all, as a JSON array (for /v1/live).
export async function openVisits(env) {
  const answers = await Promise.all(
    Array.from({ length: shards(env) }, (_, i) => stub(env, i).fetch("https://sockets.internal/visits")),
  );
  const visits = [];
  for (const r of answers) {
    const text = await r.text();
    if (!r.ok) {
      throw new Error(`open visits: a Durable Object answered ${r.status}: ${text}`);
    }
    visits.push(...JSON.parse(text));
  }
  return JSON.stringify(visits);
}
