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

  // GWE's business events DSL (docs/engagement-browser.md): its reader,
  // gt-dsl.js, is loaded from next to this script only when the config
  // sets dslResource, so that the other pages never download it. Its name
  // carries its content hash and its integrity is checked (make web-assets
  // writes both in), so that the script a page runs is the one the
  // collector shipped with this gt.js. Commands pushed meanwhile queue
  // and run as ever; the reader only adds the DSL's events.
  var dslOn;
  function dslLoad(res) {
    var x = d.createElement('script');
    x.src = q.base + '__DSL_JS__';
    x.async = true;
    x.crossOrigin = 'anonymous';
    x.integrity = '__DSL_SRI__';
    x.onerror = function () { warn('dslResource: the DSL reader (' + x.src + ') did not load; ignored'); };
    x.onload = function () { if (q.dsl) q.dsl.load(res); };
    (d.head || d.documentElement).appendChild(x);
  }
  function warn(m) { if (w.console && console.warn) console.warn('visitrack: ' + m); }
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
