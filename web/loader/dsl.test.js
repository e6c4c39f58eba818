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
