/*! Visitrack loader (https://github.com/visitrack/visitrack). It keeps
 * window._gt as a queue until the WebAssembly tracker has started, then
 * hands the tracker every queued and later command, checked and
 * translated by its command table (below). Nothing here blocks the
 * page, and a page whose tracker cannot load keeps working: its calls are
 * queued, and window.visitrack's promises reject. */
(function (w, d) {
  'use strict';
  var q = w._gt = w._gt || [];
  if (q.base !== undefined) return; // included twice
  var s = d.currentScript;
  // The tracker's files sit next to this script; the collector defaults to
  // the same place.
  q.base = ((s && s.src) || '').replace(/[?#].*$/, '').replace(/[^\/]*$/, '');
  var perf = w.performance || {};
  function mark(name) { try { perf.mark('visitrack:' + name); } catch (e) { /* old browser */ } }

  // window.visitrack: the same commands, with promises. Usable at once;
  // calls wait in _gt like the rest.
  function call() {
    var cmd = [].slice.call(arguments);
    return new Promise(function (resolve, reject) { q.push(['_p', resolve, reject].concat(cmd)); });
  }
  var api = w.visitrack = w.visitrack || {};
  api.signIn = function (userId, attrs) {
    return call('event', 'SignIn', { data: Object.assign({}, attrs, { userId: userId }) });
  };
  api.signOut = function () { return call('event', 'SignOut'); };
  api.track = function (name, data) { return call('event', name, { data: data || {} }); };
  api.page = function (opts) { return call('page', opts || {}); };
  api.ids = function () { return call('getIDs'); };
  api.stats = function () { return call('stats'); };
  api.consent = function (given) { return call('consent', given); };
  api.onNotification = function (cb) { q.push(['subscribe', 'notification', cb]); };
  // Engagement offers (docs/engagement-browser.md): onOffer(fn) calls fn(offer) for
  // each offer made to this page; answer resolves once the collector has
  // the visitor's answer, and rejects for an offer unknown or expired.
  api.offers = {
    onOffer: function (cb) { q.push(['subscribe', 'offer', cb]); },
    answer: function (id, outcome) { return call('offer', id, outcome); }
  };
  api.visitorData = {
    get: function () { return call('visitorData', 'get'); },
    update: function (ns, value) { return call('visitorData', 'update', ns, value); },
    onChange: function (cb) { q.push(['visitorData', 'subscribe', cb]); }
  };

  // Cross-domain handoff (docs/identity.md#cross-domain-handoff). A token brought from another
  // site as _vt_x leaves the address bar at once (it is single-use, and
  // must not reach the page's URL in history, logs or referrers); the
  // tracker presents it in hello.
  try {
    var here = new URL(w.location.href), tok = here.searchParams.get('_vt_x');
    if (tok !== null) {
      q.handoff = tok.slice(0, 1024);
      here.searchParams['delete']('_vt_x');
      w.history.replaceState(w.history.state, '', here.href);
    }
  } catch (e) { /* no URL or history: the token stays unused */ }
  function once(f) { var n = 0; return function (u) { if (!n++) f(u); }; }
  // ['decorate', url, callback]: the tracker fetches a handoff token and
  // calls what q.dec returns with it ('' for none); callback gets url with
  // _vt_x, or url as it was if no token comes within 1.5 s.
  q.dec = function (url, cb) {
    var f = once(function (u) { if (typeof cb === 'function') cb(u); });
    setTimeout(function () { f(url); }, 1500);
    return function (t) {
      var u = url;
      try { if (t) { u = new URL(url, w.location.href); u.searchParams.set('_vt_x', t); u = u.href; } } catch (e) { u = url; }
      f(u);
    };
  };
  // Links to config's linkDomains get a token when clicked. A plain click
  // waits for it (at most 1.5 s); a click that opens another tab or window
  // goes at once, with the token fetched when the pointer went down.
  function linkDomains() {
    for (var i = 0; i < q.length; i++) {
      var c = q[i];
      if (c && c[0] === 'config' && c[1] && c[1].linkDomains) q.ld = c[1].linkDomains;
    }
    return q.ld || [];
  }
  linkDomains();
  function link(e) {
    var a = e.target && e.target.closest && e.target.closest('a[href]'), ld = linkDomains(), h;
    if (!a) return null;
    h = String(a.hostname).toLowerCase();
    for (var i = 0; i < ld.length; i++) {
      var dm = String(ld[i]).toLowerCase();
      if (h === dm || h.slice(-dm.length - 1) === '.' + dm) return a;
    }
    return null;
  }
  function fresh(a, f) {
    a._vt = 0;
    q.push(['decorate', a.href, function (u) { a.href = u; a._vt = Date.now(); if (f) f(u); }]);
  }
  function early(e) { var a = link(e); if (a && !(a._vt > Date.now() - 60000)) fresh(a); }
  d.addEventListener('pointerdown', early, true);
  d.addEventListener('keydown', function (e) { if (e.key === 'Enter') early(e); }, true);
  d.addEventListener('click', function (e) {
    var a = link(e);
    if (!a || e.defaultPrevented) return;
    var ready = a._vt > Date.now() - 60000;
    a._vt = 0; // a token is used once: the next click fetches another
    if (ready || e.button || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey || (a.target && a.target !== '_self') || a.hasAttribute('download')) return;
    e.preventDefault();
    var go = once(function (u) { w.location.href = u; });
    setTimeout(function () { go(a.href); }, 1600);
    fresh(a, go);
  }, true);

  // The command table: every form a page may push, Visitrack's own and
  // Genesys Web Engagement's (8.1 and 8.5), and what each becomes. The
  // tracker gets only flat commands, [op, a, b, resolve, reject, fn]
  // (tracker/commands.go): op an agent operation; a and b its strings
  // (event name and data as JSON, page URL and title, namespace and value
  // as JSON), or a, for config, the checked native config and, for
  // consent, a boolean (b its source); resolve and reject settle the command (a callback
  // is called from a fresh task); fn hears of changes. Reading and
  // translating the page's values here keeps the WebAssembly small.
  var reserved = /^(VisitStarted|PageEntered|PageExited|VisitEnded|SignIn|SignOut|UserInfo)$/;
  var identity = { sendSignIn: 'SignIn', sendSignOut: 'SignOut', sendUserInfo: 'UserInfo' };
  var commands = {
    config: function (c) { return ['config', config(c[1] || {})]; },
    // ['event', NAME, {data}]; ['event', 'sendSignIn', {userId, ...}]
    // (the options are the data); Genesys 8.1's ['event', {eventName, ...data}].
    event: function (c) {
      var n = c[1], o = c[2] || {}, rest = {}, k;
      if (own(identity, n)) return ['event', identity[n], data(o)];
      if (typeof n === 'string') return ['event', n, data(o.data)];
      if (!n || typeof n !== 'object') return refuse('invalid_event', 'an event needs a name: [\'event\', NAME, {data}] or [\'event\', {eventName, ...data}]');
      if (typeof n.eventName !== 'string' || !n.eventName) return refuse('invalid_event', 'eventName must be a non-empty string');
      if (reserved.test(n.eventName)) return refuse('invalid_event', n.eventName + ' is a system event; a business event may not use its name');
      for (k in n) if (k !== 'eventName' && own(n, k)) rest[k] = n[k];
      return ['event', n.eventName, data(rest)];
    },
    // Genesys 8.1: ['sendSignIn', {userId, ...}], ['sendSignOut'], ['sendUserInfo', {userId}].
    sendSignIn: function (c) { return ['event', 'SignIn', data(c[1])]; },
    sendSignOut: function () { return ['event', 'SignOut', '{}']; },
    sendUserInfo: function (c) { return ['event', 'UserInfo', data(c[1])]; },
    page: function (c) { var o = c[1] || {}; return ['page', text(o.url), text(o.title)]; },
    // ['consent', true|false], or Google Consent Mode v2's
    // ['consent', {analytics_storage: 'granted'|'denied', …}] (also after
    // 'default' or 'update', as gtag writes it): analytics_storage is
    // Visitrack's consent; ad_storage and the other ad signals do not
    // apply to it, and an update without analytics_storage keeps it.
    // b is the source the tracker records (api, consentMode, keep).
    consent: function (c) {
      var m = typeof c[1] === 'string' ? c[2] : c[1], a;
      if (!m || typeof m !== 'object') return ['consent', !!c[1], 'api'];
      a = m.analytics_storage;
      return a === 'granted' || a === 'denied' ? ['consent', a === 'granted', 'consentMode'] : ['consent', false, 'keep'];
    },
    getIDs: function (c) { return callback(['getIDs'], c[1]); },
    stats: function () { return ['stats']; },
    visitorData: function (c) {
      if (c[1] === 'update') return ['visitorData.update', text(c[2]), json(c[3]) || 'null'];
      if (c[1] === 'get') return callback(['visitorData.get'], c[2]);
      if (c[1] === 'subscribe' && typeof c[2] === 'function') return ['visitorData.subscribe', '', '', 0, 0, c[2]];
    },
    subscribe: function (c) {
      var cb = c[2];
      if (c[1] === 'notification' && typeof cb === 'function') {
        return ['subscribe.notification', '', '', 0, 0, function (id, channel, d) { cb({ id: id, channel: channel, data: d }); }];
      }
      if (c[1] === 'offer' && typeof cb === 'function') {
        return ['subscribe.offer', '', '', 0, 0, function (id, channel, f) { cb(offerOf(f)); }];
      }
    },
    // ['offer', offerId, 'accepted' | 'declined']: the visitor's answer to
    // an offer this page was made, sent once as an EngagementAccepted or
    // EngagementDeclined event. An offer unknown here, answered already or
    // past its expiresAt is ignored, with a warning only in debug: a page
    // that answers late is not at fault.
    offer: function (c) {
      var id = c[1], o = c[2], t = typeof id === 'string' && own(offers, id) ? offers[id] : null;
      if (o !== 'accepted' && o !== 'declined') return refuse('invalid_offer', 'an answer is [\'offer\', offerId, \'accepted\' | \'declined\']');
      if (t === null) return refuse('unknown_offer', 'offer ' + String(id) + ' is not one made to this page, or was answered', 1);
      delete offers[id];
      if (!(t > Date.now())) return refuse('offer_expired', 'offer ' + id + ' has expired', 1);
      return ['event', o === 'accepted' ? 'EngagementAccepted' : 'EngagementDeclined', json({ offerId: id })];
    },
    // The tracker resolves with a handoff token; q.dec calls back with the URL.
    decorate: function (c) { return ['decorate', '', '', q.dec(c[1], c[2])]; }
  };
  // Config keys and their types; Genesys's are translated below.
  var configTypes = {
    collector: 'string', transport: 'string', cookieDomain: 'string', cookies: 'string',
    requireConsent: 'boolean', respectGPC: 'boolean', autoRecognize: 'boolean',
    visitTimeoutMinutes: 'number', linkDomains: 'object',
    httpEndpoint: 'string', httpsEndpoint: 'string', disableWebSockets: 'boolean',
    debug: 'boolean', languageCode: 'string', dslResource: 'string'
  };
  function config(o) {
    var out = {}, k;
    for (k in configTypes) {
      if (o[k] === undefined) continue;
      if (typeof o[k] !== configTypes[k] || o[k] === null) warn('config: ' + k + ' must be a ' + configTypes[k] + '; ignored');
      else out[k] = o[k];
    }
    if (out.linkDomains) q.ld = out.linkDomains;
    var ep = w.location && w.location.protocol === 'https:' ? out.httpsEndpoint || out.httpEndpoint : out.httpEndpoint || out.httpsEndpoint;
    if (out.collector === undefined && ep) out.collector = ep;
    if (out.transport === undefined && out.disableWebSockets) out.transport = 'http';
    if (out.languageCode) out.language = out.languageCode;
    if (out.debug !== undefined) q.debug = out.debug;
    if (out.dslResource !== undefined && !dslOn) { dslOn = 1; dslLoad(out.dslResource); }
    return out;
  }

  // GWE's business events DSL (docs/engagement-browser.md): dslResource
  // names a domain-model.xml whose <event>s, with their <trigger>s (DOM
  // events on CSS selectors, timers, URL matches, counts), condition,
  // postcondition and <val>s, become business events pushed as
  // ['event', name, {data}]. What it holds that Visitrack cannot do is
  // warned of once and left out; the rest works. condition, postcondition
  // and val are JavaScript expressions, as in GWE: they need a policy that
  // lets scripts evaluate code ('unsafe-eval'), or are warned of and left out.
  var dslOn, dslSaid = Object.create(null);
  function dslSay(m) { if (!dslSaid[m]) { dslSaid[m] = 1; warn('dslResource: ' + m + '; ignored'); } }
  function dslLoad(res) {
    try {
      if (!w.DOMParser) return dslSay('this browser has no DOMParser');
      fetch(new URL(res, w.location.href).href, { credentials: 'same-origin' }).then(function (r) {
        if (!r.ok) throw new Error(res + ' answered HTTP ' + r.status);
        return r.text();
      }).then(function (t) {
        var x = new w.DOMParser().parseFromString(t, 'application/xml');
        if (x.getElementsByTagName('parsererror').length) throw new Error(res + ' is not well-formed XML');
        dslRun(dslModel(dslTree(x.documentElement), dslSay), dslEnv());
      })['catch'](function (e) { dslSay(String(e && e.message || e)); });
    } catch (e) { dslSay(String(e && e.message || e)); }
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
  q.dsl = { tree: dslTree, model: dslModel, run: dslRun };
  function warn(m) { if (w.console && console.warn) console.warn('visitrack: ' + m); }
  function note(m) { if (w.console && console.info) console.info('visitrack: ' + m); }
  function own(o, k) { return Object.prototype.hasOwnProperty.call(o, k); }
  function text(v) { return typeof v === 'string' ? v : ''; }
  function json(v) { try { return JSON.stringify(v); } catch (e) { /* a cycle */ } }
  // Event data is an object, or {}.
  function data(v) { return (v && typeof v === 'object' && !Array.isArray(v) && json(v)) || '{}'; }
  function callback(f, cb) {
    if (typeof cb === 'function') f[3] = function (v) { setTimeout(function () { cb(v); }, 0); };
    return f;
  }
  var refused;
  // quiet: warn only in debug.
  function refuse(code, m, quiet) { refused = [code, m, quiet]; }
  // The offers made to this page, by offerId: when each expires (ms;
  // Infinity when the frame says not, and the collector decides). Filled
  // by the tracker's first listener (q.go); at most 32, oldest out.
  var offers = Object.create(null), nOffers = 0;
  function seen(id, channel, f) {
    var t = Date.parse(f && f.expiresAt), k;
    if (!own(offers, id) && ++nOffers > 32) for (k in offers) { delete offers[k]; nOffers--; break; }
    offers[id] = isNaN(t) ? Infinity : t;
  }
  // The offer as the page gets it.
  function offerOf(f) {
    f = f || {};
    return { offerId: f.offerId, ruleId: f.ruleId, channel: f.channel, data: f.data === undefined ? null : f.data, expiresAt: f.expiresAt };
  }
  // Answers of getIDs (and of SignIn, SignOut, UserInfo) also carry
  // Genesys's names.
  function ids(v) {
    if (v && v.visitorId) { v.visitID = v.visitId; v.pageID = v.pageId; v.globalVisitID = v.visitorId; }
    return v;
  }
  var unknown = Object.create(null);
  // norm turns one pushed command into the tracker's flat form, or
  // undefined after settling its promise with the reason.
  function norm(c) {
    var res, rej, f, op;
    if (c && c[0] === '_p') { res = c[1]; rej = c[2]; c = [].slice.call(c, 3); }
    op = c && c[0];
    refused = null;
    try {
      f = typeof op === 'string' && own(commands, op) ? commands[op](c) : null;
    } catch (e) {
      // A getter that throws, say: this command is lost, not the others.
      f = null;
      refused = ['invalid_command', 'the command could not be read (' + e + ')'];
    }
    if (!f) {
      // One warning per unknown name: a page pushing it in a loop must
      // not flood the console.
      if (!refused && !unknown[op]) { unknown[op] = 1; warn('unknown command ' + String(op) + ' (or not in a known form); ignored'); }
      if (refused && (!refused[2] || q.debug)) warn(refused[1] + '; nothing sent');
      refused = refused || ['unknown_command', 'not a command'];
      if (rej) { var e = new Error('visitrack: ' + refused[1]); e.code = refused[0]; rej(e); }
      return;
    }
    if (res) { f[3] = res; f[4] = rej; }
    var done = f[3];
    if (typeof done === 'function') f[3] = function (v) { if (q.debug) console.log('visitrack:', op, 'answered', v); done(ids(v)); };
    if (q.debug) console.log('visitrack:', op, [].slice.call(c, 1), '->', f);
    return f;
  }
  q.norm = norm;
  // The tracker calls q.go(run, version) once it runs: the queue is
  // replayed through run in order, and every later push goes to run.
  q.go = function (run, version) {
    var queued = q.splice(0, q.length);
    q.push = function () {
      for (var i = 0; i < arguments.length; i++) { var f = norm(arguments[i]); if (f) run(f); }
      return 0;
    };
    q.tracker = version;
    run(['subscribe.offer', '', '', 0, 0, seen]);
    q.push.apply(q, queued);
  };

  function fail(err) {
    if (q.tracker) return;
    q.failed = String(err && err.message || err);
    if (w.console && console.warn) console.warn('visitrack: the tracker did not load (' + q.failed + '); the page is unaffected');
    function settle(cmd) {
      if (cmd && cmd[0] === '_p') cmd[2](new Error('visitrack: the tracker did not load'));
    }
    q.forEach(settle);
    var push = q.push;
    q.push = function () {
      [].forEach.call(arguments, settle);
      return push.apply(q, arguments);
    };
  }

  if (!w.WebAssembly || !w.fetch || !w.Promise) return fail('no WebAssembly');
  mark('loader');
  var x = d.createElement('script');
  x.src = q.base + '__WASM_EXEC__';
  x.async = true;
  x.onerror = function () { fail('wasm_exec.js'); };
  x.onload = function () {
    try {
      var go = new w.Go();
      var url = q.base + '__TRACKER__';
      var p = WebAssembly.instantiateStreaming
        ? WebAssembly.instantiateStreaming(fetch(url, { credentials: 'omit' }), go.importObject)
        : fetch(url, { credentials: 'omit' }).then(function (r) { return r.arrayBuffer(); })
          .then(function (b) { return WebAssembly.instantiate(b, go.importObject); });
      p.then(function (r) {
        mark('instantiated');
        go.run(r.instance).then(function () { fail('the tracker exited'); }, fail);
      }, fail);
    } catch (e) {
      fail(e);
    }
  };
  (d.head || d.documentElement).appendChild(x);
})(window, document);
