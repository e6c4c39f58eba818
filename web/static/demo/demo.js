// The Visitrack demo shop: a few pages that use the tracker the way a real
// site would, and a panel that shows what the tracker knows. Loaded before
// gt.js so that its config is the first command in the queue.
(function () {
  'use strict';
  var _gt = window._gt = window._gt || [];

  // Settings can be tried from the address bar (?transport=http,
  // ?requireConsent=1, ?visitTimeoutMinutes=1) and stick for the tab.
  var params = new URLSearchParams(location.search);
  var saved = JSON.parse(sessionStorage.getItem('vt-demo-config') || '{}');
  ['transport', 'requireConsent', 'respectGPC', 'visitTimeoutMinutes'].forEach(function (k) {
    if (params.has(k)) saved[k] = params.get(k);
  });
  sessionStorage.setItem('vt-demo-config', JSON.stringify(saved));
  var config = { collector: location.origin };
  if (saved.transport) config.transport = saved.transport;
  if (saved.requireConsent) config.requireConsent = saved.requireConsent === '1' || saved.requireConsent === 'true';
  if (saved.respectGPC) config.respectGPC = saved.respectGPC === '1' || saved.respectGPC === 'true';
  if (saved.visitTimeoutMinutes) config.visitTimeoutMinutes = Number(saved.visitTimeoutMinutes);
  _gt.push(['config', config]);
  // The demo's consent manager: the choice is the site's to remember, and
  // it tells the tracker on every page.
  var choice = sessionStorage.getItem('vt-demo-consent');
  if (config.requireConsent && choice) _gt.push(['consent', choice === 'yes']);

  var products = window.demoProducts = {
    kettle: { name: 'Copper kettle', art: '🫖', price: 49 },
    mug: { name: 'Stoneware mug', art: '☕', price: 14 },
    beans: { name: 'Single-origin beans', art: '🫘', price: 18 },
    grinder: { name: 'Hand grinder', art: '⚙️', price: 65 }
  };
  window.demoCart = {
    get: function () { return JSON.parse(localStorage.getItem('vt-demo-cart') || '[]'); },
    set: function (items) { localStorage.setItem('vt-demo-cart', JSON.stringify(items)); }
  };

  function el(html) {
    var t = document.createElement('template');
    t.innerHTML = html.trim();
    return t.content.firstChild;
  }
  function text(s) { return String(s == null ? '' : s).replace(/[&<>"]/g, function (c) { return '&#' + c.charCodeAt(0) + ';'; }); }
  window.demoText = text;

  // window.visitrack appears when gt.js (async) has run.
  function whenLoaded(fn) {
    if (window.visitrack) fn(); else setTimeout(function () { whenLoaded(fn); }, 20);
  }
  window.whenVisitrack = whenLoaded;

  document.addEventListener('DOMContentLoaded', function () {
    var here = location.pathname.replace(/^\/demo\/?/, '') || 'index.html';
    var links = [['index.html', 'Shop'], ['cart.html', 'Cart'], ['help.html', 'Help'], ['login.html', 'Account'], ['backend.html', 'Backend']];
    document.body.prepend(el('<header class="top"><div class="wrap">' +
      '<a class="logo" href="/demo/">Brew<span>&amp;</span>Co</a><nav>' +
      links.map(function (l) { return '<a href="/demo/' + l[0] + '"' + (l[0] === here ? ' class="here"' : '') + '>' + l[1] + '</a>'; }).join('') +
      '</nav><div class="who" id="vt-who"></div></div></header>'));
    whenLoaded(function () { document.body.append(panel()); });
    if (config.requireConsent && !choice) consentBanner();

    // Any element with data-event sends that business event with its
    // data-* attributes when clicked.
    document.body.addEventListener('click', function (e) {
      var b = e.target.closest('[data-event]');
      if (!b) return;
      var data = Object.assign({}, b.dataset);
      delete data.event;
      var done = b.dataset.done;
      delete data.done;
      whenLoaded(function () {
        visitrack.track(b.dataset.event, data).then(function () {
          if (done) flash(done);
        }, function (err) { flash('Not recorded: ' + err.message, true); });
      });
    });
  });

  window.flash = function flash(msg, bad) {
    var f = document.getElementById('flash');
    if (!f) return;
    f.textContent = msg;
    f.className = 'flash' + (bad ? ' bad' : '');
  };
  var flash = window.flash;

  function consentBanner() {
    var b = el('<div class="card" id="vt-consent" style="position:fixed;top:1rem;right:1rem;max-width:340px;z-index:2">' +
      '<strong>Cookies?</strong><p class="note">This shop measures visits with Visitrack. Nothing is stored or sent until you accept.</p>' +
      '<div class="row"><button id="vt-accept">Accept</button><button class="ghost" id="vt-decline">Decline</button></div></div>');
    function decide(yes) {
      sessionStorage.setItem('vt-demo-consent', yes ? 'yes' : 'no');
      _gt.push(['consent', yes]);
      b.remove();
    }
    b.querySelector('#vt-accept').onclick = function () { decide(true); };
    b.querySelector('#vt-decline').onclick = function () { decide(false); };
    document.body.append(b);
  }

  function panel() {
    var p = el('<aside id="vt-panel" aria-label="What Visitrack knows"><div class="wrap">' +
      '<section><h2>Tracker</h2><dl>' +
      '<dt>state</dt><dd><span class="badge" id="vt-state">loading…</span> <span id="vt-verified"></span></dd>' +
      '<dt>visitorId</dt><dd id="vt-visitorId">–</dd>' +
      '<dt>visitId</dt><dd id="vt-visitId">–</dd>' +
      '<dt>pageId</dt><dd id="vt-pageId">–</dd>' +
      '<dt>identityId</dt><dd id="vt-identityId">–</dd>' +
      '<dt>delivery</dt><dd id="vt-delivery">–</dd>' +
      '</dl></section>' +
      '<section><h2>Visitor data <span id="vt-version"></span></h2><pre id="vt-data">{}</pre>' +
      '<div class="row" style="margin-top:.4rem"><button class="ghost" id="vt-theme">Toggle prefs.theme</button>' +
      '<span id="vt-update-msg" class="note"></span></div></section>' +
      '<section><h2>Notifications</h2><ol id="vt-notes" class="notes"><li class="note">None yet: send one from the ' +
      'console\'s visit view (or POST /v1/visits/{visitId}/notifications).</li></ol></section>' +
      '</div></aside>');
    p.querySelector('#vt-theme').addEventListener('click', function () {
      var msg = document.getElementById('vt-update-msg');
      visitrack.visitorData.get().then(function (d) {
        var theme = d.prefs && d.prefs.theme === 'dark' ? 'light' : 'dark';
        return visitrack.visitorData.update('prefs', { theme: theme });
      }).then(function () { msg.textContent = 'saved'; }, function (err) {
        msg.textContent = err.code === 'namespace_not_writable'
          ? 'prefs is not browser-writable (start the collector with --browser-writable prefs)'
          : err.message;
      });
    });
    // A backend's notification (Genesys's Notification API): shown as text.
    visitrack.onNotification(function (n) {
      var list = p.querySelector('#vt-notes'), first = list.querySelector('.note');
      if (first) first.remove();
      var li = document.createElement('li');
      var ch = document.createElement('strong');
      ch.textContent = n.channel;
      var body = document.createElement('code');
      body.textContent = JSON.stringify(n.data);
      li.append(ch, ' ', body);
      li.dataset.id = n.id;
      list.prepend(li);
      flash('Notification on ' + n.channel);
    });
    visitrack.visitorData.onChange(function (data, version) {
      document.getElementById('vt-data').textContent = JSON.stringify(data, null, 2);
      document.getElementById('vt-version').textContent = 'v' + version;
    });
    refresh();
    setInterval(refresh, 1000);
    return p;
  }

  function refresh() {
    visitrack.ids().then(function (ids) {
      ['visitorId', 'visitId', 'pageId', 'identityId'].forEach(function (k) {
        document.getElementById('vt-' + k).textContent = ids[k] || '–';
      });
      var st = document.getElementById('vt-state');
      st.textContent = ids.state;
      st.className = 'badge ' + ids.state;
      var v = document.getElementById('vt-verified');
      v.textContent = ids.state === 'anonymous' ? '' : ids.verified ? '✓ verified' : '✗ not verified';
      v.className = ids.verified ? 'yes' : 'no';
      var who = document.getElementById('vt-who');
      if (who) who.textContent = ids.state === 'anonymous' ? 'Not signed in' : (localStorage.getItem('vt-demo-user') || 'Signed in') + (ids.state === 'recognized' ? ' (recognized)' : '');
    });
    visitrack.stats().then(function (s) {
      document.getElementById('vt-delivery').textContent = (s.transport || 'connecting') + ', ' + s.queued + ' waiting' + (s.dropped ? ', ' + s.dropped + ' dropped' : '');
    });
  }
})();
