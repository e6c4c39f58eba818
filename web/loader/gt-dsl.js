/*! Visitrack's reader of GWE's business events DSL
 * (https://github.com/visitrack/visitrack, docs/engagement-browser.md).
 * gt.js loads it from next to itself only on a page whose config sets
 * dslResource, and calls _gt.dsl.load(dslResource) once it has run: the
 * other pages never download it. dslResource names a domain-model.xml
 * whose <event>s, with their <trigger>s (DOM events on CSS selectors,
 * timers, URL matches, counts), condition, postcondition and <val>s,
 * become business events pushed as ['event', name, {data}] into _gt, the
 * queue the tracker reads. What it holds that Visitrack cannot do is
 * warned of once and left out; the rest works. condition, postcondition
 * and val are JavaScript expressions, as in GWE: they need a policy that
 * lets scripts evaluate code ('unsafe-eval'), or are warned of and left
 * out. */
(function (w, d) {
  'use strict';
  var q = w._gt;
  if (!q || q.dsl) return; // loaded twice, or without gt.js
  // A DSL is a few KB; one larger than this is refused unread, so that a
  // wrong URL (a video, a log) costs the page neither memory nor a parse.
  var maxBytes = 256 * 1024;
  var dslSaid = Object.create(null);
  function dslSay(m) {
    if (dslSaid[m]) return;
    dslSaid[m] = 1;
    if (w.console && console.warn) console.warn('visitrack: dslResource: ' + m + '; ignored');
  }
  function own(o, k) { return Object.prototype.hasOwnProperty.call(o, k); }
  function dslLoad(res) {
    try {
      if (!w.DOMParser) return dslSay('this browser has no DOMParser');
      fetch(new URL(res, w.location.href).href, { credentials: 'same-origin' }).then(function (r) {
        if (!r.ok) throw new Error(res + ' answered HTTP ' + r.status);
        return dslRead(r, res);
      }).then(function (t) {
        var x = new w.DOMParser().parseFromString(t, 'application/xml');
        if (x.getElementsByTagName('parsererror').length) throw new Error(res + ' is not well-formed XML');
        dslRun(dslModel(dslTree(x.documentElement), dslSay), dslEnv());
      })['catch'](function (e) { dslSay(String(e && e.message || e)); });
    } catch (e) { dslSay(String(e && e.message || e)); }
  }
  // dslRead reads the body as text, and refuses one over maxBytes: by its
  // Content-Length before reading, or, sent without one, as soon as it
  // has read that much.
  function dslRead(r, res) {
    var big = new Error(res + ' is larger than ' + maxBytes / 1024 + ' KB, the most a DSL may be');
    if (Number(r.headers.get('content-length')) > maxBytes) throw big;
    if (!r.body || !r.body.getReader || !w.TextDecoder) {
      return r.text().then(function (t) { if (t.length > maxBytes) throw big; return t; });
    }
    var rd = r.body.getReader(), dec = new w.TextDecoder(), t = '', n = 0;
    function next() {
      return rd.read().then(function (c) {
        if (c.done) return t + dec.decode();
        n += c.value.length;
        if (n > maxBytes) { rd.cancel()['catch'](function () {}); throw big; }
        t += dec.decode(c.value, { stream: true });
        return next();
      });
    }
    return next();
  }
  // dslTree turns a parsed XML element into {tag, attrs, kids}, the form
  // the DSL engine reads (and its tests build without a DOM).
  function dslTree(el) {
    var t = { tag: el.nodeName, attrs: {}, kids: [] }, i;
    for (i = 0; i < el.attributes.length; i++) t.attrs[el.attributes[i].name] = el.attributes[i].value;
    for (i = 0; i < el.childNodes.length; i++) if (el.childNodes[i].nodeType === 1) t.kids.push(dslTree(el.childNodes[i]));
    return t;
  }
  function dslAttrs(k, known, say) {
    for (var a in k.attrs) if (own(k.attrs, a) && known.indexOf(a) < 0) say('<' + k.tag + ' ' + a + '> is not supported');
  }
  function dslVals(k, vals, say) {
    if (k.tag !== 'val') return false;
    dslAttrs(k, ['name', 'value'], say);
    if (!k.attrs.name) say('a <val> without a name');
    else vals.push({ name: k.attrs.name, value: k.attrs.value || '' });
    return true;
  }
  // dslModel reads the tree: the events it defines, each {id, name,
  // condition, postcondition, vals, triggers: [{name, on, enter, ms,
  // nomove, selector, url, count, vals}]}. An event with a trigger it
  // cannot follow is left out whole: its triggers must all match.
  function dslModel(root, say) {
    var out = [];
    if (!root || root.tag !== 'properties') { say('the root element is not <properties>'); return out; }
    dslAttrs(root, ['debug'], say);
    root.kids.forEach(function (k) {
      if (k.tag !== 'events') return void say('<' + k.tag + '> in <properties> is not supported');
      k.kids.forEach(function (e) {
        if (e.tag !== 'event') return void say('<' + e.tag + '> in <events> is not supported');
        var a = e.attrs, ev = { id: a.id || a.name, name: a.name, condition: a.condition || '', postcondition: a.postcondition || '', vals: [], triggers: [] }, ok = !!a.name;
        if (!ok) say('an <event> without a name');
        dslAttrs(e, ['id', 'name', 'condition', 'postcondition'], say);
        e.kids.forEach(function (k) {
          if (dslVals(k, ev.vals, say)) return;
          if (k.tag !== 'trigger') return void say('<' + k.tag + '> in <event> is not supported');
          var t = dslTrigger(k, say);
          if (t) ev.triggers.push(t); else ok = false;
        });
        if (ok && ev.triggers.length) out.push(ev);
        else if (a.name) say('event ' + ev.id + ' has no trigger that can work');
      });
    });
    return out;
  }
  function dslTrigger(k, say) {
    var a = k.attrs, act = a.action || '', m = /^timer:(\d+)$/.exec(act), n = 'trigger ' + (a.name || '') + ': ',
      t = { name: a.name || '', selector: a.element || '', url: a.url || '', count: a.count ? Number(a.count) : 1, vals: [] };
    dslAttrs(k, ['name', 'element', 'action', 'type', 'url', 'count'], say);
    k.kids.forEach(function (v) { if (!dslVals(v, t.vals, say)) say('<' + v.tag + '> in <trigger> is not supported'); });
    if (!(t.count >= 1 && t.count % 1 === 0)) return void say(n + 'count ' + a.count + ' is not a whole number of at least 1');
    if (m) {
      if (a.type !== 'timeout' && a.type !== 'nomove') return void say(n + 'a timer needs type timeout or nomove');
      t.ms = Number(m[1]); t.nomove = a.type === 'nomove';
      return t;
    }
    if (!/^[a-z][a-zA-Z]*$/.test(act)) return void say(n + 'action ' + act + ' is not supported');
    t.enter = act === 'enterkey';
    t.on = t.enter ? 'keydown' : act;
    return t;
  }
  // dslRun installs the events on a page through env: on(type, f) listens
  // on the document (capture), after(ms, f) returns a cancel function,
  // href() is the page's URL, matches(target, selector) and valid(selector)
  // read CSS selectors, run(expr, domEvent) evaluates an expression, push(c)
  // is _gt.push. A trigger's count is how many of its DOM events make it
  // match; the event is sent when every trigger has matched, and then
  // starts counting again.
  function dslRun(events, env) {
    events.forEach(function (ev) {
      if (ev.condition && !dslEval(env, ev.condition, null, 'condition of event ' + ev.id)) return;
      for (var i = 0; i < ev.triggers.length; i++) {
        var sel = ev.triggers[i].selector;
        if (sel && !env.valid(sel)) return dslSay('event ' + ev.id + ': element ' + sel + ' is not a CSS selector');
      }
      var left, data;
      function reset() { left = ev.triggers.map(function (t) { return t.count; }); data = {}; }
      reset();
      function hit(i, e) {
        var t = ev.triggers[i];
        if (t.url && !dslURL(t.url, env.href())) return;
        dslData(env, t.vals, e, data);
        left[i] = Math.max(0, left[i] - 1);
        if (left.some(function (n) { return n > 0; })) return;
        var d = data;
        reset();
        if (ev.postcondition && !dslEval(env, ev.postcondition, e, 'postcondition of event ' + ev.id)) return;
        env.push(['event', ev.name, { data: dslData(env, ev.vals, e, d) }]);
      }
      ev.triggers.forEach(function (t, i) {
        if (t.ms === undefined) {
          env.on(t.on, function (e) {
            if ((!t.enter || e.key === 'Enter') && (!t.selector || env.matches(e.target, t.selector))) hit(i, e);
          });
        } else if (!t.nomove) {
          env.after(t.ms, function () { hit(i, null); });
        } else {
          // No pointer move for ms: once per still spell.
          var stop = env.after(t.ms, function () { stop = null; hit(i, null); });
          env.on('mousemove', function () { if (stop) stop(); stop = env.after(t.ms, function () { stop = null; hit(i, null); }); });
        }
      });
    });
  }
  // A trigger's url: the page's URL starts with it, or it is a regular
  // expression that matches the page's URL.
  function dslURL(u, href) {
    if (href.indexOf(u) === 0) return true;
    try { return new RegExp(u).test(href); } catch (e) { return false; }
  }
  function dslEval(env, expr, e, what) {
    try { return env.run(expr.replace(/;\s*$/, ''), e); } catch (x) { dslSay(what + ' failed (' + x + ')'); }
  }
  // dslData adds the vals to data: a text stays a text, an element or a
  // jQuery object gives its text, anything else what JSON makes of it.
  function dslData(env, vals, e, data) {
    vals.forEach(function (v) {
      var x = v.value === '' ? '' : dslEval(env, v.value, e, 'val ' + v.name);
      if (x && x.nodeType) x = x.textContent;
      else if (x && typeof x.text === 'function' && x.jquery) x = x.text();
      if (x !== undefined && typeof x !== 'function') data[v.name] = x;
    });
    return data;
  }
  function dslEnv() {
    return {
      on: function (type, f) { d.addEventListener(type, f, true); },
      after: function (ms, f) { var t = setTimeout(f, ms); return function () { clearTimeout(t); }; },
      href: function () { return w.location.href; },
      valid: function (sel) { try { d.querySelector(sel); return true; } catch (e) { return false; } },
      matches: function (el, sel) { return !!(el && el.closest && el.closest(sel)); },
      run: function (expr, e) { return new Function('event', 'return (' + expr + '\n);').call(w, e); },
      push: function (c) { q.push(c); }
    };
  }
  q.dsl = { tree: dslTree, model: dslModel, run: dslRun, load: dslLoad, maxBytes: maxBytes };
})(window, document);
