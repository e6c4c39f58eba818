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
