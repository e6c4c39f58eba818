// Tests of GWE's DSL reader (gt-dsl.js, q.dsl, loaded by gt.js only when
// the config sets dslResource) under Node: the engine reads a parsed tree
// ({tag, attrs, kids}, what it makes of the browser's DOMParser) and runs
// on an env the test drives; the last tests run gt.js and the reader
// together, from the config to the events the tracker gets. Node has no
// DOMParser: xmlTree below is a tiny parser, enough for DSL files.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const src = fs.readFileSync(path.join(__dirname, 'gt-dsl.js'), 'utf8');
const loaderSrc = fs.readFileSync(path.join(__dirname, 'gt.js'), 'utf8');

// xmlTree parses elements, attributes, comments and the XML declaration;
// text is dropped, as the DSL has none that counts.
function xmlTree(text) {
  const ent = (s) => s.replace(/&(lt|gt|quot|apos|amp);/g, (_, e) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[e]);
  const re = /<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<\/([\w:-]+)\s*>|<([\w:-]+)((?:\s+[\w:-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/g;
  const root = { kids: [] }, stack = [root];
  let m;
  while ((m = re.exec(text))) {
    if (m[1]) {
      const open = stack.pop();
      if (open.tag !== m[1]) throw new Error(`</${m[1]}> closes <${open.tag}>`);
    } else if (m[2]) {
      const el = { tag: m[2], attrs: {}, kids: [] };
      for (const a of m[3].matchAll(/([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) el.attrs[a[1]] = ent(a[2] !== undefined ? a[2] : a[3]);
      stack[stack.length - 1].kids.push(el);
      if (!m[4]) stack.push(el);
    }
  }
  if (stack.length !== 1) throw new Error('unclosed <' + stack[stack.length - 1].tag + '>');
  return root.kids[0];
}

// engine runs gt-dsl.js in a vm and returns its DSL engine and console.
function engine() {
  const logs = { warn: [], info: [], log: [] };
  const noop = () => {};
  const window = {
    _gt: [],
    document: { addEventListener: noop },
    location: new URL('https://shop.example/'),
    console: { warn: (...a) => logs.warn.push(a.join(' ')), info: (...a) => logs.info.push(a.join(' ')), log: noop },
    fetch: noop, Promise, setTimeout, URL, JSON, Object, Array, Error,
  };
  window.window = window;
  vm.runInNewContext(src, window);
  return { dsl: window._gt.dsl, logs };
}

// page is a fake page for dslRun: listeners by type, timers on a clock of
// the test's, elements as {matches: [selectors], ...}, and expressions
// evaluated by a table of the test's (no eval in the test).
function page(href, exprs = {}) {
  const p = { href, on: {}, timers: [], pushed: [], now: 0 };
  p.env = {
    on: (type, f) => (p.on[type] = p.on[type] || []).push(f),
    after: (ms, f) => { const t = { at: p.now + ms, f }; p.timers.push(t); return () => { t.f = null; }; },
    href: () => p.href,
    valid: (sel) => !/:text|\[\[/.test(sel),
    matches: (el, sel) => !!(el && el.matches.includes(sel)),
    run: (expr, e) => {
      if (!(expr in exprs)) throw new Error('no value for ' + expr);
      return typeof exprs[expr] === 'function' ? exprs[expr](e) : exprs[expr];
    },
    push: (c) => p.pushed.push(JSON.parse(JSON.stringify(c))),
  };
  p.fire = (type, target, extra = {}) => (p.on[type] || []).forEach((f) => f(Object.assign({ type, target }, extra)));
  p.tick = (ms) => {
    p.now += ms;
    for (const t of p.timers.slice()) if (t.f && t.at <= p.now) { const f = t.f; t.f = null; f(); }
  };
  return p;
}

const dslFile = fs.readFileSync(path.join(__dirname, 'testdata', 'domain-model.xml'), 'utf8');

test('the DSL model: the documented elements read, the rest warned of once and left out', () => {
  const { dsl } = engine();
  const said = [];
  const events = dsl.model(xmlTree(dslFile), (m) => said.push(m));
  assert.deepStrictEqual(Array.from(events, (e) => e.id), ['AddToCartEvent', 'SearchEvent', 'SearchKeyDownEvent', 'HelpEvent', 'TimeoutEvent30', 'IdleEvent', 'Categorized']);
  // An element it does not know is left out, not the event around it.
  const add = events[0];
  assert.strictEqual(add.name, 'AddToCart');
  assert.deepStrictEqual(Array.from(add.triggers[0].vals, (v) => v.name), ['productName', 'productSKU']);
  assert.strictEqual(add.triggers[0].on, 'click');
  assert.strictEqual(add.triggers[0].selector, 'img.bdt-addToCart');
  assert.strictEqual(events[2].triggers[0].on, 'keydown');
  assert.strictEqual(events[2].triggers[0].enter, true);
  assert.strictEqual(events[3].triggers[0].count, 3);
  assert.strictEqual(events[4].triggers[0].ms, 30000);
  assert.strictEqual(events[4].postcondition, 'document.hasFocus() === true');
  assert.strictEqual(events[5].triggers[0].nomove, true);
  assert.deepStrictEqual(said, [
    'trigger OddTimerTrigger: a timer needs type timeout or nomove',
    'event OddTimer has no trigger that can work',
    '<category> in <event> is not supported',
  ]);
  // Each said once, however often it appears.
  const twice = [];
  dsl.model(xmlTree('<properties><events><event name="A"><trigger name="t" action="dblclick" element="b" foo="1"/><trigger name="u" action="click" element="i" foo="2"/></event><rules/></events></properties>'), (m) => twice.push(m));
  assert.deepStrictEqual(twice, ['<trigger foo> is not supported', '<trigger foo> is not supported', '<rules> in <events> is not supported']);
});

test('bad DSL files: nothing installed, a clear warning', () => {
  const { dsl } = engine();
  for (const [xml, want] of [
    ['<events/>', 'the root element is not <properties>'],
    ['<properties><events><event><trigger name="t" action="click"/></event></events></properties>', 'an <event> without a name'],
    ['<properties><events><event name="N"><trigger name="t" action="click" count="0"/></event></events></properties>', 'trigger t: count 0 is not a whole number of at least 1'],
    ['<properties><events><event name="N"><trigger name="t" action="timer:soon" type="timeout"/></event></events></properties>', 'trigger t: action timer:soon is not supported'],
  ]) {
    const said = [];
    assert.strictEqual(dsl.model(xmlTree(xml), (m) => said.push(m)).length, 0, xml);
    assert.strictEqual(said[0], want, xml);
  }
});

// The events of the test DSL file on a product page, as the page's
// visitor clicks, searches and waits.
test('the DSL run: DOM events on selectors, vals, enterkey, counts, URLs, timers, postconditions', () => {
  const { dsl, logs } = engine();
  const events = dsl.model(xmlTree(dslFile), () => {});
  let focused = false;
  const p = page('https://shop.example/products/1', {
    "event.target.closest('div.hproduct').querySelector('h3.name a').textContent": (e) => e.target.product,
    "event.target.closest('div.hproduct').querySelector('span.sku')": () => ({ nodeType: 1, textContent: 'SKU-1' }),
    "document.querySelector('input.searchfield').value": 'shoes',
    "document.querySelector('input.searchfield') !== null": true,
    'event.target.value': (e) => e.target.value,
    'document.hasFocus() === true': () => focused,
  });
  dsl.run(events, p.env);

  p.fire('click', { matches: ['img.bdt-addToCart'], product: 'Red shoe' });
  p.fire('click', { matches: ['div.other'] });
  p.fire('click', { matches: ['td#gobutton input'] });
  p.fire('keydown', { matches: ['input.searchfield'], value: 'boots' }, { key: 'a' });
  p.fire('keydown', { matches: ['input.searchfield'], value: 'boots' }, { key: 'Enter' });
  assert.deepStrictEqual(p.pushed, [
    ['event', 'AddToCart', { data: { productName: 'Red shoe', productSKU: 'SKU-1' } }],
    ['event', 'Search', { data: { searchString: 'shoes' } }],
    ['event', 'Search', { data: { searchString: 'boots' } }],
  ]);
  p.pushed.length = 0;

  // url="/help" is a pattern: this page's URL has none, so the trigger
  // does not count; on a help page the third click sends NeedsHelp.
  for (let i = 0; i < 3; i++) p.fire('click', { matches: ['a.help'] });
  assert.deepStrictEqual(p.pushed, []);
  p.href = 'https://shop.example/help/faq';
  p.fire('click', { matches: ['a.help'] });
  p.fire('click', { matches: ['a.help'] });
  assert.deepStrictEqual(p.pushed, []);
  p.fire('click', { matches: ['a.help'] });
  assert.deepStrictEqual(p.pushed, [['event', 'NeedsHelp', { data: {} }]]);
  p.pushed.length = 0;

  // Timers: Idle after 5 s without a mouse move (a move starts it again);
  // Timeout-30 after 30 s, only if its postcondition holds (the page has
  // no focus: nothing sent).
  p.tick(4000);
  p.fire('mousemove', null);
  p.tick(4000);
  assert.deepStrictEqual(p.pushed, []);
  p.tick(1000);
  assert.deepStrictEqual(p.pushed, [['event', 'Idle', { data: {} }]]);
  p.tick(30000);
  assert.deepStrictEqual(p.pushed, [['event', 'Idle', { data: {} }]], 'no focus: no Timeout-30');
  assert.deepStrictEqual(logs.warn, []);

  // With focus, the same DSL on a new page sends Timeout-30.
  focused = true;
  const p2 = page('https://shop.example/', { 'document.hasFocus() === true': () => focused, "document.querySelector('input.searchfield') !== null": false });
  dsl.run(events, p2.env);
  p2.tick(30000);
  assert.deepStrictEqual(p2.pushed.filter((c) => c[1] === 'Timeout-30'), [['event', 'Timeout-30', { data: {} }]]);
  // condition false: SearchKeyDownEvent is not installed.
  p2.fire('keydown', { matches: ['input.searchfield'], value: 'x' }, { key: 'Enter' });
  assert.deepStrictEqual(p2.pushed.filter((c) => c[1] === 'Search'), []);
});

test('the DSL run: a selector or an expression that cannot work is warned of once and left out', () => {
  const { dsl, logs } = engine();
  const events = dsl.model(xmlTree(`<properties><events>
    <event id="Q" name="Query"><trigger name="t" element="input.searchfield:text" action="click"/></event>
    <event id="V" name="Valued"><trigger name="v" element="button" action="click"/><val name="x" value="$('#x').val()"/><val name="y" value="'ok'"/></event>
  </events></properties>`), () => {});
  const p = page('https://shop.example/', { "'ok'": 'ok' });
  dsl.run(events, p.env);
  assert.deepStrictEqual(p.on.click.length, 1, 'only the valid selector listens');
  for (let i = 0; i < 3; i++) p.fire('click', { matches: ['button'] });
  assert.deepStrictEqual(p.pushed, Array(3).fill(['event', 'Valued', { data: { y: 'ok' } }]));
  assert.strictEqual(logs.warn.length, 2, logs.warn.join('\n'));
  assert.match(logs.warn[0], /element input\.searchfield:text is not a CSS selector; ignored/);
  assert.match(logs.warn[1], /val x failed \(Error: no value for \$\('#x'\)\.val\(\)\); ignored/);
});

// pageWithLoader runs gt.js on a product page with commands queued, and
// the tracker started (q.go with a run that records what it gets); the
// DSL reader's script is appended but not run until ready() (the
// network is slow). fetch answers from files, a table of the test's:
// url → Response or a function returning one. DOMParser is xmlTree's, and
// timers only record: the test needs none to fire.
function pageWithLoader(queued, files) {
  const logs = { warn: [], info: [], log: [] };
  const appended = [], listeners = {}, fetched = [], got = [];
  const noop = () => {};
  const product = {
    querySelector: (s) => ({ 'h3.name a': { textContent: 'Red shoe' }, 'span.sku': { nodeType: 1, textContent: 'SKU-1' } })[s] || null,
  };
  const image = { closest: (s) => ({ 'img.bdt-addToCart': image, 'div.hproduct': product })[s] || null };
  const document = {
    currentScript: { src: 'https://collector.example/gt.js' },
    createElement: (tag) => ({ tag }),
    head: { appendChild: (el) => appended.push(el) },
    addEventListener: (type, f) => (listeners[type] = listeners[type] || []).push(f),
    querySelector: () => null,
  };
  function DOMParser() {}
  DOMParser.prototype.parseFromString = (text) => {
    let root;
    try { root = xmlTree(text); } catch (e) { root = null; }
    const dom = (t) => ({ nodeName: t.tag, nodeType: 1, attributes: Object.entries(t.attrs).map(([name, value]) => ({ name, value })), childNodes: t.kids.map(dom) });
    return { documentElement: root ? dom(root) : null, getElementsByTagName: (n) => (n === 'parsererror' && !root ? [{}] : []) };
  };
  const window = {
    _gt: queued.slice(), document, location: new URL('https://shop.example/products/1'),
    history: { state: null, replaceState: noop },
    console: { warn: (...a) => logs.warn.push(a.join(' ')), info: (...a) => logs.info.push(a.join(' ')), log: noop },
    WebAssembly: {}, Promise, URL, JSON, Object, Array, Error, TextDecoder, DOMParser,
    setTimeout: () => 0, clearTimeout: noop,
    fetch: (url, opts) => {
      fetched.push([url, opts.credentials]);
      const f = files[url];
      return Promise.resolve(typeof f === 'function' ? f() : f || new Response('', { status: 404 }));
    },
  };
  window.window = window;
  const ctx = vm.createContext(window);
  vm.runInContext(loaderSrc, ctx);
  window._gt.go((f) => got.push(f[0] === 'event' ? [f[1], JSON.parse(f[2])] : [f[0]]), 'v1');
  const reader = () => appended.find((x) => /__DSL_JS__$/.test(x.src));
  return {
    window, logs, fetched, got, reader,
    ready: () => { vm.runInContext(src, ctx); reader().onload(); return new Promise((r) => setImmediate(r)); },
    click: (target) => (listeners.click || []).forEach((f) => f({ type: 'click', target })),
    image,
  };
}
const dslURL = 'https://shop.example/dsl/domain-model.xml';
const settle = async () => { for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r)); };

test('gt.js and the reader: commands pushed before and while it loads reach the tracker, then the DSL events', async () => {
  const p = pageWithLoader([['config', { dslResource: '/dsl/domain-model.xml' }], ['event', 'Before']], {
    [dslURL]: () => new Response(dslFile, { headers: { 'content-type': 'application/xml' } }),
  });
  assert.ok(p.reader(), 'the reader is loaded');
  p.window._gt.push(['event', 'While', { data: { n: 1 } }]);
  assert.deepStrictEqual(p.fetched, [], 'nothing fetched before the reader runs');
  await p.ready();
  await settle();
  assert.deepStrictEqual(p.fetched, [[dslURL, 'same-origin']]);
  p.click(p.image);
  p.window._gt.push(['event', 'After']);
  assert.deepStrictEqual(p.got, [['subscribe.offer'], ['config'], ['Before', {}], ['While', { n: 1 }],
    ['AddToCart', { productName: 'Red shoe', productSKU: 'SKU-1' }], ['After', {}]]);
  // The test file's unsupported parts, each once.
  assert.deepStrictEqual(p.logs.warn, [
    'visitrack: dslResource: trigger OddTimerTrigger: a timer needs type timeout or nomove; ignored',
    'visitrack: dslResource: event OddTimer has no trigger that can work; ignored',
    'visitrack: dslResource: <category> in <event> is not supported; ignored',
  ]);
});

test('a DSL that is not XML, is huge, or is not there: refused with one clear warning, nothing installed', async () => {
  // A Content-Length over the limit is refused unread (the body here is a
  // good DSL); a body sent without one is read only up to the limit.
  const chunked = () => new Response(new ReadableStream({
    start(c) { for (let i = 0; i < 100; i++) c.enqueue(new TextEncoder().encode('<!-- ' + 'x'.repeat(4000) + ' -->')); c.close(); },
  }));
  for (const [body, want] of [
    [() => new Response('<html><body>Sign in to continue', { headers: { 'content-type': 'text/html' } }), /\/dsl\/domain-model\.xml is not well-formed XML; ignored$/],
    [() => new Response(dslFile, { headers: { 'content-length': '300000' } }), /\/dsl\/domain-model\.xml is larger than 256 KB, the most a DSL may be; ignored$/],
    [chunked, /\/dsl\/domain-model\.xml is larger than 256 KB, the most a DSL may be; ignored$/],
    [undefined, /\/dsl\/domain-model\.xml answered HTTP 404; ignored$/],
  ]) {
    const p = pageWithLoader([['config', { dslResource: '/dsl/domain-model.xml' }]], { [dslURL]: body });
    await p.ready();
    await settle();
    assert.strictEqual(p.logs.warn.length, 1, p.logs.warn.join('\n'));
    assert.match(p.logs.warn[0], /^visitrack: dslResource: /);
    assert.match(p.logs.warn[0], want);
    p.click(p.image);
    assert.deepStrictEqual(p.got, [['subscribe.offer'], ['config']]);
  }
});
