// Tests of the loader's command table (gt.js) under Node: node --test web/loader/
// The loader runs in a vm context with a small fake window and document;
// what the tracker would get is what q.norm returns, and what q.go hands
// to the tracker's run function.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const src = fs.readFileSync(path.join(__dirname, 'gt.js'), 'utf8');

// load runs gt.js on a page at href with the commands queued before it;
// it returns the queue, the console lines by level and the elements it
// appended (the scripts it loads). extra adds to (or replaces) the
// window's globals, e.g. a Date with a clock of the test's.
function load(queued = [], href = 'https://shop.example/cart', extra = {}) {
  const logs = { warn: [], info: [], log: [] };
  const noop = () => {};
  const appended = [];
  const document = {
    currentScript: { src: 'https://collector.example/gt.js' },
    createElement: (tag) => ({ tag }),
    head: { appendChild: (el) => appended.push(el) },
    addEventListener: noop,
  };
  const window = {
    _gt: queued.slice(),
    document,
    location: new URL(href),
    history: { state: null, replaceState: noop },
    console: {
      warn: (...a) => logs.warn.push(a.join(' ')),
      info: (...a) => logs.info.push(a.join(' ')),
      log: (...a) => logs.log.push(a.join(' ')),
    },
    WebAssembly: {}, fetch: noop, Promise, setTimeout, URL, JSON, Object, Array, Error,
  };
  Object.assign(window, extra);
  window.window = window;
  vm.runInNewContext(src, window);
  return { q: window._gt, logs, window, appended };
}

// Values made in the vm context have its prototypes: compare as JSON.
const plain = (v) => JSON.parse(JSON.stringify(v === undefined ? null : v));

test('Genesys 8.1 forms become the native commands', () => {
  const { q, logs } = load();
  assert.deepStrictEqual(plain(q.norm(['sendSignIn', { userId: 'ann', userHash: 'ab' }])), ['event', 'SignIn', '{"userId":"ann","userHash":"ab"}']);
  assert.deepStrictEqual(plain(q.norm(['sendSignOut'])), ['event', 'SignOut', '{}']);
  assert.deepStrictEqual(plain(q.norm(['sendUserInfo', { userId: 'ann' }])), ['event', 'UserInfo', '{"userId":"ann"}']);
  assert.deepStrictEqual(plain(q.norm(['event', { eventName: 'AddToCart', sku: 'A1', qty: 2 }])), ['event', 'AddToCart', '{"sku":"A1","qty":2}']);
  // 8.5's forms and Visitrack's own.
  assert.deepStrictEqual(plain(q.norm(['event', 'sendSignIn', { userId: 'ann' }])), ['event', 'SignIn', '{"userId":"ann"}']);
  assert.deepStrictEqual(plain(q.norm(['event', 'SignIn', { data: { userId: 'ann' } }])), ['event', 'SignIn', '{"userId":"ann"}']);
  assert.deepStrictEqual(plain(q.norm(['event', 'AddToCart', { data: { sku: 'A1' } }])), ['event', 'AddToCart', '{"sku":"A1"}']);
  assert.deepStrictEqual(plain(q.norm(['event', 'Odd', { data: [1, 2] }])), ['event', 'Odd', '{}']);
  assert.deepStrictEqual(plain(q.norm(['page', { url: 'https://x/#a', title: 5 }])), ['page', 'https://x/#a', '']);
  assert.deepStrictEqual(plain(q.norm(['visitorData', 'update', 'prefs', undefined])), ['visitorData.update', 'prefs', 'null']);
  assert.deepStrictEqual(logs.warn, []);
});

test('bad business events are refused with a warning, their promise rejected', async () => {
  const { q, logs } = load();
  const bad = [
    [{ sku: 'A1' }, /eventName must be a non-empty string/],
    [{ eventName: 7 }, /eventName must be a non-empty string/],
    [{ eventName: '' }, /eventName must be a non-empty string/],
    [null, /an event needs a name/],
  ];
  for (const name of ['VisitStarted', 'PageEntered', 'PageExited', 'VisitEnded', 'SignIn', 'SignOut', 'UserInfo']) {
    bad.push([{ eventName: name, x: 1 }, new RegExp(name + ' is a system event')]);
  }
  for (const [arg, why] of bad) {
    logs.warn.length = 0;
    let err;
    assert.strictEqual(q.norm(['_p', () => {}, (e) => { err = e; }, 'event', arg]), undefined);
    assert.strictEqual(logs.warn.length, 1, JSON.stringify(arg));
    assert.match(logs.warn[0], why);
    assert.match(logs.warn[0], /nothing sent/);
    assert.strictEqual(err.code, 'invalid_event');
  }
});

test('an unknown command warns once per name, and rejects its promise', () => {
  const { q, logs } = load();
  const codes = [];
  for (let i = 0; i < 3; i++) q.norm(['_p', () => {}, (e) => codes.push(e.code), 'sendCart', {}]);
  q.norm(['constructor']);
  q.norm([]);
  assert.deepStrictEqual(codes, ['unknown_command', 'unknown_command', 'unknown_command']);
  assert.strictEqual(logs.warn.filter((w) => /sendCart/.test(w)).length, 1);
  assert.strictEqual(logs.warn.filter((w) => /constructor/.test(w)).length, 1);
});

test('config takes Genesys keys and ignores keys of the wrong type', () => {
  const fetched = [];
  const fetch = (url, opts) => { fetched.push([url, opts.credentials]); return new Promise(() => {}); };
  let { q, logs, appended } = load([], 'https://shop.example/cart', { fetch, DOMParser: function () {} });
  const c = plain(q.norm(['config', {
    httpEndpoint: 'http://gwe.example:9081', httpsEndpoint: 'https://gwe.example:9443',
    disableWebSockets: true, languageCode: 'fr-CA', dslResource: '/dsl.xml', requireConsent: 'yes', visitTimeoutMinutes: 5,
  }]));
  assert.strictEqual(c[0], 'config');
  assert.strictEqual(c[1].collector, 'https://gwe.example:9443'); // the page is https
  assert.strictEqual(c[1].transport, 'http');
  assert.strictEqual(c[1].language, 'fr-CA');
  assert.strictEqual(c[1].visitTimeoutMinutes, 5);
  assert.strictEqual(c[1].requireConsent, undefined);
  assert.strictEqual(logs.warn.length, 1);
  assert.match(logs.warn[0], /requireConsent must be a boolean; ignored/);
  q.norm(['config', { dslResource: '/other.xml' }]);
  // dslResource: the DSL reader is loaded once, for the first (dsl.test.js
  // tests what it does); gt.js fetches nothing itself.
  assert.deepStrictEqual(appended.map((x) => x.src), ['https://collector.example/__WASM_EXEC__', 'https://collector.example/__DSL_JS__']);
  assert.deepStrictEqual(fetched, []);
  assert.deepStrictEqual(logs.info, []);

  // An http page takes httpEndpoint; explicit native keys win.
  ({ q } = load([], 'http://shop.example/'));
  assert.strictEqual(q.norm(['config', { httpEndpoint: 'http://a', httpsEndpoint: 'https://b' }])[1].collector, 'http://a');
  const own = q.norm(['config', { collector: 'https://c', httpEndpoint: 'http://a', transport: 'websocket', disableWebSockets: true }])[1];
  assert.strictEqual(own.collector, 'https://c');
  assert.strictEqual(own.transport, 'websocket');
});

test('answers carry Genesys names; callbacks run from a fresh task', async () => {
  const { q } = load();
  let got;
  const f = q.norm(['getIDs', (ids) => { got = ids; }]);
  f[3]({ visitorId: 'V', visitId: 'W', pageId: 'P' });
  assert.strictEqual(got, undefined, 'called synchronously');
  await new Promise((r) => setTimeout(r, 5));
  assert.deepStrictEqual(plain(got), { visitorId: 'V', visitId: 'W', pageId: 'P', visitID: 'W', pageID: 'P', globalVisitID: 'V' });
  let viaPromise;
  q.norm(['_p', (v) => { viaPromise = v; }, () => {}, 'getIDs'])[3]({ visitorId: 'V', visitId: 'W', pageId: 'P' });
  assert.strictEqual(viaPromise.globalVisitID, 'V');
});

test('q.go replays the queue in order, then takes every push', () => {
  const { q, window } = load([['config', { collector: 'https://c' }], ['nope'], ['sendSignOut']]);
  const seen = [];
  q.go((f) => seen.push(f[0] + ' ' + (f[1] || '')), 'v1');
  window._gt.push(['event', { eventName: 'Click' }], ['stats']);
  // The loader's own offer listener comes first (it keeps the offers that
  // ['offer', id, answer] may answer).
  assert.deepStrictEqual(seen.map(String), ['subscribe.offer ', 'config [object Object]', 'event SignOut', 'event Click', 'stats ']);
  assert.strictEqual(q.length, 0);
  assert.strictEqual(q.tracker, 'v1');
});

test('a command that throws when read is lost alone', () => {
  const { q, window, logs } = load();
  const seen = [];
  q.go((f) => seen.push(f[0] + ' ' + f[1]), 'v1');
  const trap = {};
  Object.defineProperty(trap, 'data', { get() { throw new Error('trap'); } });
  let code;
  window._gt.push(['event', 'Before'], ['_p', () => {}, (e) => { code = e.code; }, 'event', 'Trap', trap], ['event', 'After']);
  assert.deepStrictEqual(seen, ['subscribe.offer ', 'event Before', 'event After']);
  assert.strictEqual(code, 'invalid_command');
  assert.ok(logs.warn.some((w) => /could not be read/.test(w)));
});

test('debug: true logs each command', () => {
  const { q, logs } = load();
  q.norm(['config', { debug: true }]);
  q.norm(['sendSignOut']);
  assert.ok(logs.log.some((l) => /sendSignOut/.test(l)), logs.log.join('\n'));
});

test('consent: a boolean, or Consent Mode v2 analytics_storage', () => {
  const { q, logs } = load();
  assert.deepStrictEqual(plain(q.norm(['consent', true])), ['consent', true, 'api']);
  assert.deepStrictEqual(plain(q.norm(['consent', false])), ['consent', false, 'api']);
  assert.deepStrictEqual(plain(q.norm(['consent', { analytics_storage: 'granted', ad_storage: 'denied' }])), ['consent', true, 'consentMode']);
  assert.deepStrictEqual(plain(q.norm(['consent', { analytics_storage: 'denied', ad_storage: 'granted' }])), ['consent', false, 'consentMode']);
  // As gtag writes it.
  assert.deepStrictEqual(plain(q.norm(['consent', 'update', { analytics_storage: 'granted' }])), ['consent', true, 'consentMode']);
  assert.deepStrictEqual(plain(q.norm(['consent', 'default', { analytics_storage: 'denied' }])), ['consent', false, 'consentMode']);
  // Ad signals alone, or an unknown value, keep the consent as it is.
  assert.deepStrictEqual(plain(q.norm(['consent', { ad_storage: 'granted', ad_user_data: 'granted' }])), ['consent', false, 'keep']);
  assert.deepStrictEqual(plain(q.norm(['consent', { analytics_storage: 'maybe' }])), ['consent', false, 'keep']);
  assert.deepStrictEqual(logs.warn, []);
});

// offerFrame is what the tracker hands an offer listener for a frame: the
// offerId, the channel and the whole frame.
function offerFrame(id, expiresAt) {
  return [id, 'chat', { type: 'notification', kind: 'offer', offerId: id, ruleId: 'r1', channel: 'chat', data: { text: 'Need help?' }, expiresAt }];
}

// started loads gt.js with a clock of the test's and starts it: run
// collects the flat commands; offer(frame) is the tracker delivering an
// offer frame to every offer listener, the loader's own first.
function started(clock, queued = []) {
  const FakeDate = { now: () => clock.now, parse: Date.parse };
  const env = load(queued, 'https://shop.example/cart', { Date: FakeDate });
  const ran = [];
  env.q.go((f) => ran.push(f), 'v1');
  env.ran = ran;
  env.offer = (...args) => { for (const f of ran) if (f[0] === 'subscribe.offer') f[5](...args); };
  return env;
}

test('subscribe offer: every subscriber gets each offer as the page should see it', () => {
  const clock = { now: Date.parse('2026-11-21T10:00:00Z') };
  const got = [], also = [];
  const { window, offer, ran, logs } = started(clock, [['subscribe', 'offer', (o) => got.push(o)]]);
  window.visitrack.offers.onOffer((o) => also.push(o));
  window._gt.push(['subscribe', 'offer', 'not a function']);
  assert.strictEqual(ran.filter((f) => f[0] === 'subscribe.offer').length, 3, 'the loader\'s and two of the page');
  offer(...offerFrame('01KA0000000000000000000001', '2026-11-21T10:00:30Z'));
  const want = { offerId: '01KA0000000000000000000001', ruleId: 'r1', channel: 'chat', data: { text: 'Need help?' }, expiresAt: '2026-11-21T10:00:30Z' };
  assert.deepStrictEqual(plain(got), [want]);
  assert.deepStrictEqual(plain(also), [want]);
  assert.strictEqual(logs.warn.length, 1, 'the bad subscription warns: ' + logs.warn);
});

test('offer answers: an EngagementAccepted or EngagementDeclined event, once, for a live offer', async () => {
  const clock = { now: Date.parse('2026-11-21T10:00:00Z') };
  const { q, offer, logs } = started(clock);
  offer(...offerFrame('01KA0000000000000000000001', '2026-11-21T10:00:30Z'));
  offer(...offerFrame('01KA0000000000000000000002', '2026-11-21T10:00:30Z'));
  assert.deepStrictEqual(plain(q.norm(['offer', '01KA0000000000000000000001', 'accepted'])),
    ['event', 'EngagementAccepted', '{"offerId":"01KA0000000000000000000001"}']);
  // Answered once: a second answer is ignored, quietly.
  assert.strictEqual(q.norm(['offer', '01KA0000000000000000000001', 'declined']), undefined);
  assert.deepStrictEqual(plain(q.norm(['offer', '01KA0000000000000000000002', 'declined'])),
    ['event', 'EngagementDeclined', '{"offerId":"01KA0000000000000000000002"}']);
  assert.deepStrictEqual(logs.warn, []);
});

test('offer answers: unknown or expired offers are ignored, with a warning only in debug', async () => {
  const clock = { now: Date.parse('2026-11-21T10:00:00Z') };
  const { q, window, offer, logs } = started(clock);
  offer(...offerFrame('01KA0000000000000000000001', '2026-11-21T10:00:30Z'));
  offer(...offerFrame('01KA0000000000000000000002', '2026-11-21T10:00:30Z'));
  offer(...offerFrame('01KA0000000000000000000003', '2026-11-21T10:00:30Z'));
  assert.strictEqual(q.norm(['offer', '01KA00000000000000000000ZZ', 'accepted']), undefined);
  assert.strictEqual(q.norm(['offer', 7, 'accepted']), undefined);
  clock.now = Date.parse('2026-11-21T10:00:30Z');
  assert.strictEqual(q.norm(['offer', '01KA0000000000000000000001', 'accepted']), undefined, 'expired');
  assert.deepStrictEqual(logs.warn, [], 'no warning without debug');
  // The promise form says why.
  await assert.rejects(window.visitrack.offers.answer('01KA0000000000000000000002', 'accepted'), (e) => e.code === 'offer_expired');
  await assert.rejects(window.visitrack.offers.answer('01KA00000000000000000000ZZ', 'declined'), (e) => e.code === 'unknown_offer');
  assert.deepStrictEqual(logs.warn, []);
  q.norm(['config', { debug: true }]);
  assert.strictEqual(q.norm(['offer', '01KA0000000000000000000003', 'declined']), undefined);
  assert.strictEqual(logs.warn.length, 1);
  assert.match(logs.warn[0], /offer 01KA0000000000000000000003 has expired/);
});

test('offer answers: a wrong answer is refused with a warning, debug or not', async () => {
  const clock = { now: Date.parse('2026-11-21T10:00:00Z') };
  const { q, window, offer, logs } = started(clock);
  offer(...offerFrame('01KA0000000000000000000001', '2026-11-21T10:00:30Z'));
  for (const bad of ['yes', undefined, true]) {
    assert.strictEqual(q.norm(['offer', '01KA0000000000000000000001', bad]), undefined);
  }
  assert.strictEqual(logs.warn.length, 3);
  assert.match(logs.warn[0], /'accepted' \| 'declined'/);
  await assert.rejects(window.visitrack.offers.answer('01KA0000000000000000000001', 'maybe'), (e) => e.code === 'invalid_offer');
  // Still answerable: a wrong answer does not use the offer up.
  assert.strictEqual(q.norm(['offer', '01KA0000000000000000000001', 'accepted'])[1], 'EngagementAccepted');
});

test('offers kept: at most 32, the oldest out; without expiresAt the collector decides', () => {
  const clock = { now: Date.parse('2026-11-21T10:00:00Z') };
  const { q, offer } = started(clock);
  const id = (i) => '01KA' + String(i).padStart(22, '0');
  for (let i = 0; i < 33; i++) offer(...offerFrame(id(i), '2026-11-21T10:00:30Z'));
  assert.strictEqual(q.norm(['offer', id(0), 'accepted']), undefined, 'the oldest is gone');
  assert.strictEqual(q.norm(['offer', id(1), 'accepted'])[1], 'EngagementAccepted');
  assert.strictEqual(q.norm(['offer', id(32), 'accepted'])[1], 'EngagementAccepted');
  offer(...offerFrame(id(40), undefined));
  clock.now += 365 * 86400e3;
  assert.strictEqual(q.norm(['offer', id(40), 'declined'])[1], 'EngagementDeclined');
});

// gt.js is what every page downloads: GWE's DSL reader (gt-dsl.js) is not
// in it. The budget is for gt.js as make web-assets writes it (hashed
// names and the reader's integrity in place of the placeholders). Before
// the split, gt.js was 25,443 bytes (8,831 gzip).
test('gt.js alone is under its size budget: 18,000 bytes raw, 6,600 gzip', () => {
  const zlib = require('node:zlib');
  const crypto = require('node:crypto');
  const reader = fs.readFileSync(path.join(__dirname, 'gt-dsl.js'));
  const hex = (s) => crypto.createHash('sha256').update(s).digest('hex').slice(0, 12);
  const built = src.replace('__TRACKER__', `tracker.${hex('tracker')}.wasm`).replace('__WASM_EXEC__', `wasm_exec.${hex('exec')}.js`)
    .replace('__DSL_JS__', `gt-dsl.${hex(reader)}.js`).replace('__DSL_SRI__', 'sha384-' + crypto.createHash('sha384').update(reader).digest('base64'));
  assert.doesNotMatch(built, /__[A-Z_]+__/);
  const raw = Buffer.byteLength(built), gz = zlib.gzipSync(built, { level: 9 }).length;
  assert.ok(raw <= 18000, `gt.js is ${raw} bytes, over 18,000`);
  assert.ok(gz <= 6600, `gt.js is ${gz} bytes gzip, over 6,600`);
  assert.doesNotMatch(src, /DOMParser|domain-model|<trigger/, 'the DSL reader is in gt.js');
});

test('without dslResource, gt.js never loads the DSL reader nor fetches anything of the DSL', () => {
  const fetched = [];
  const fetch = (url) => { fetched.push(String(url)); return new Promise(() => {}); };
  const { q, window, appended, logs } = load([['config', { collector: 'https://c', debug: false, languageCode: 'en' }], ['event', 'A']],
    'https://shop.example/', { fetch, DOMParser: function () {} });
  const seen = [];
  q.go((f) => seen.push(f[0] + ' ' + f[1]), 'v1');
  window._gt.push(['config', { transport: 'http' }], ['page', { url: 'https://shop.example/b' }], ['event', 'B']);
  assert.deepStrictEqual(seen, ['subscribe.offer ', 'config [object Object]', 'event A', 'config [object Object]', 'page https://shop.example/b', 'event B']);
  assert.deepStrictEqual(appended.map((x) => x.src), ['https://collector.example/__WASM_EXEC__']);
  assert.deepStrictEqual(fetched, []);
  assert.strictEqual(window._gt.dsl, undefined);
  assert.deepStrictEqual(logs.warn, []);
});

test('with dslResource, gt.js loads the reader once, checked, and hands it the resource', () => {
  const { q, window, appended, logs } = load([['config', { dslResource: '/dsl/domain-model.xml' }]]);
  const seen = [];
  q.go((f) => seen.push(f[0] + ' ' + f[1]), 'v1');
  window._gt.push(['config', { dslResource: '/other.xml' }], ['event', 'While']);
  const reader = appended.filter((x) => /__DSL_JS__$/.test(x.src));
  assert.strictEqual(reader.length, 1);
  assert.strictEqual(reader[0].src, 'https://collector.example/__DSL_JS__');
  assert.strictEqual(reader[0].integrity, '__DSL_SRI__');
  assert.strictEqual(reader[0].crossOrigin, 'anonymous');
  assert.strictEqual(reader[0].async, true);
  // Commands pushed while the reader loads are not held back.
  assert.deepStrictEqual(seen.slice(-1), ['event While']);
  const loaded = [];
  window._gt.dsl = { load: (res) => loaded.push(res) };
  reader[0].onload();
  assert.deepStrictEqual(loaded, ['/dsl/domain-model.xml']);

  // A reader that does not load (blocked, or its integrity does not
  // match): one warning, the page and the tracker unaffected.
  const other = load([['config', { dslResource: '/dsl.xml' }]]);
  other.q.go(() => {}, 'v1');
  other.appended[1].onerror();
  assert.deepStrictEqual(other.logs.warn, ['visitrack: dslResource: the DSL reader (https://collector.example/__DSL_JS__) did not load; ignored']);
  assert.deepStrictEqual(logs.warn, []);
});
