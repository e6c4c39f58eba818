/*! Visitrack loader (https://github.com/visitrack/visitrack). It keeps
 * window._gt as a queue until the WebAssembly tracker has started, then the
 * tracker replays it and takes every later push. Nothing here blocks the
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
  api.visitorData = {
    get: function () { return call('visitorData', 'get'); },
    update: function (ns, value) { return call('visitorData', 'update', ns, value); },
    onChange: function (cb) { q.push(['visitorData', 'subscribe', cb]); }
  };

  // Cross-domain handoff (SPEC section 7). A token brought from another
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
