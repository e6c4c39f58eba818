// The console's overview (docs/stats.md#the-operator-console): the summary of a period, a
// chart of visits by the state they reached (uPlot, vendored), the top
// pages, referrers, campaigns, browsers, devices and countries, and the
// visits going on now, refreshed every 5 seconds. It reads GET
// /v1/stats/summary, /v1/stats/timeseries, /v1/stats/breakdown and
// /v1/live with the pasted token (scope stats:read).
//
// Page URLs, titles, referrers and campaign names come from visitors'
// browsers: they are put in the page with textContent only (the helpers
// of console.js), never parsed as HTML.
(function () {
  'use strict';

  var C = window.vtConsole, h = C.h, fill = C.fill;
  var HOUR = 3600 * 1000, DAY = 24 * HOUR;
  // Each period's bucket width: hours up to a week, days beyond.
  var PERIODS = {
    '24h': { ms: DAY, interval: 'hour', label: 'the last 24 hours, by hour' },
    '7d': { ms: 7 * DAY, interval: 'hour', label: 'the last 7 days, by hour' },
    '30d': { ms: 30 * DAY, interval: 'day', label: 'the last 30 days, by day' }
  };
  var STATES = ['anonymous', 'recognized', 'authenticated'];
  var COLORS = { anonymous: '#98a2b3', recognized: '#dc6803', authenticated: '#079455' };
  var LIVE_EVERY = 5000, STATS_EVERY = 60000, BREAKDOWN_ROWS = 8, LIVE_ROWS = 50;

  var st = { period: '24h', bots: false, shown: false, raw: null, seq: 0, liveSeq: 0, liveTimer: 0, statsTimer: 0, chart: null, resize: null };

  function $(id) { return document.getElementById(id); }

  var integer = new Intl.NumberFormat('en');
  function num(n) { return integer.format(n); }
  function percent(part, whole) { return whole ? (100 * part / whole).toFixed(1) + ' %' : '–'; }
  function seconds(s) {
    s = Math.round(s);
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' m ' + String(s % 60).padStart(2, '0') + ' s';
    return Math.floor(s / 3600) + ' h ' + String(Math.floor(s % 3600 / 60)).padStart(2, '0') + ' m';
  }
  function ago(iso) {
    var s = Math.max(0, Math.round((Date.now() - new Date(iso)) / 1000));
    return s < 60 ? s + ' s ago' : s < 3600 ? Math.floor(s / 60) + ' min ago' : Math.floor(s / 3600) + ' h ago';
  }
  var regions = typeof Intl.DisplayNames === 'function' ? new Intl.DisplayNames(['en'], { type: 'region' }) : null;
  function country(code) {
    try { return regions && /^[A-Z]{2}$/.test(code) ? regions.of(code) : code; } catch (e) { return code; }
  }

  // ---- what the period and the toggles ask for ----------------------------

  function range() {
    var until = new Date(), since = new Date(until - PERIODS[st.period].ms);
    return { since: since.toISOString(), until: until.toISOString() };
  }
  function query(r, extra) {
    var q = new URLSearchParams({ since: r.since, until: r.until, bots: st.bots ? 'include' : 'exclude' });
    Object.keys(extra || {}).forEach(function (k) { q.set(k, extra[k]); });
    return q.toString();
  }

  // ---- the stats: summary, chart and breakdowns ---------------------------

  function loadStats() {
    var seq = ++st.seq, r = range(), p = PERIODS[st.period];
    $('ov-range').textContent = '(' + p.label + (st.bots ? ', bots included' : '') + ')';
    $('ov-msg').replaceChildren();
    var summary = C.api('/v1/stats/summary?' + query(r)).then(function (res) {
      if (seq === st.seq) showSummary(res.body);
    });
    var series = Promise.all(STATES.map(function (state) {
      return C.api('/v1/stats/timeseries?' + query(r, { metric: 'visits', interval: p.interval, state: state }));
    })).then(function (rs) {
      if (seq === st.seq) showChart(rs.map(function (res) { return res.body.points; }));
    });
    var lists = Array.prototype.map.call(document.querySelectorAll('#view-overview .breakdown'), function (box) {
      var dim = box.dataset.dimension;
      return C.api('/v1/stats/breakdown?' + query(r, { dimension: dim, limit: BREAKDOWN_ROWS })).then(function (res) {
        if (seq === st.seq) fill(box, breakdown(dim, res.body.items));
      });
    });
    return Promise.all([summary, series].concat(lists)).then(function () {
      if (seq === st.seq) $('view-overview').dataset.loaded = String(seq);
    }, function (err) {
      if (seq === st.seq && err.code !== 'stale') fill($('ov-msg'), C.errorBox(err, 'The overview needs stats:read (history:read and admin also allow it).'));
    });
  }

  function stat(name, value, sub) {
    document.querySelector('#ov-kpis [data-stat="' + name + '"]').textContent = value;
    var s = document.querySelector('#ov-kpis [data-sub="' + name + '"]');
    if (s && sub != null) s.textContent = sub;
  }

  function showSummary(s) {
    var identified = s.states.recognized + s.states.authenticated;
    stat('visits', num(s.visits), st.bots ? num(s.bots) + ' by bots, included' : num(s.bots) + ' by bots, left out');
    stat('visitors', num(s.visitors), s.visitors ? (s.visits / s.visitors).toFixed(1) + ' visits each' : '');
    stat('pageviews', num(s.pageviews), s.visits ? (s.pageviews / s.visits).toFixed(1) + ' a visit' : '');
    stat('bounceRate', s.visits ? percent(s.bounceRate, 1) : '–');
    stat('avgVisit', s.visits ? seconds(s.avgVisitSeconds) : '–');
    stat('identified', percent(identified, s.visits),
      num(s.states.recognized) + ' recognized, ' + num(s.states.authenticated) + ' authenticated');
    stat('verified', num(s.verified), s.visits ? percent(s.verified, s.visits) + ' of visits' : '');
  }

  // showChart draws the visits of each bucket as a bar stacked by state:
  // authenticated at the bottom, then recognized, then anonymous. uPlot
  // draws series in order, so series i is drawn as the sum of states i..2
  // (the tallest first) and the legend shows each state's own count.
  function showChart(points) {
    var xs = points[0].map(function (p) { return Date.parse(p.t) / 1000; });
    var raw = points.map(function (ps) { return ps.map(function (p) { return p.value; }); });
    var stacked = raw.map(function (vs, i) {
      return vs.map(function (v, j) { var sum = 0; for (var k = i; k < raw.length; k++) sum += raw[k][j]; return sum; });
    });
    var data = [xs].concat(stacked);
    fill($('ov-totals'), STATES.map(function (state, i) {
      var total = raw[i].reduce(function (a, b) { return a + b; }, 0);
      return h('span', { class: 'total', dataset: { state: state } },
        h('span', { class: 'swatch ' + state }), state + ' ', h('strong', { text: num(total) }));
    }));
    $('ov-chart-note').textContent = PERIODS[st.period].interval === 'day' ? 'visits a day' : 'visits an hour';
    st.raw = raw;
    if (typeof window.uPlot !== 'function') {
      fill($('ov-chart'), C.note('The chart library did not load.'));
      return;
    }
    if (st.chart) { st.chart.setData(data); return; }
    var box = $('ov-chart');
    box.replaceChildren();
    var bars = window.uPlot.paths.bars({ size: [0.7, 40], gap: 1 });
    st.chart = new window.uPlot({
      width: chartWidth(), height: chartHeight(),
      cursor: { points: { show: false } },
      legend: { live: true },
      scales: { y: { range: function (u, min, max) { return [0, Math.max(4, Math.ceil(max * 1.1))]; } } },
      axes: [
        { stroke: '#667085', grid: { stroke: '#f2f4f7' }, ticks: { stroke: '#e4e7ec' } },
        { stroke: '#667085', grid: { stroke: '#f2f4f7' }, ticks: { show: false }, size: 44,
          values: function (u, vals) { return vals.map(function (v) { return Number.isInteger(v) ? num(v) : ''; }); } }
      ],
      series: [{ label: 'time' }].concat(STATES.map(function (state, i) {
        return { label: state, stroke: COLORS[state], fill: COLORS[state], width: 0, paths: bars,
          points: { show: false },
          value: function (u, v, si, idx) { return idx == null || !st.raw ? '–' : num(st.raw[i][idx]); } };
      }))
    }, data, box);
    if (!st.resize && typeof ResizeObserver === 'function') {
      st.resize = new ResizeObserver(function () {
        if (st.chart && st.shown) st.chart.setSize({ width: chartWidth(), height: chartHeight() });
      });
      st.resize.observe(box);
    }
  }
  function chartWidth() { return Math.max(200, $('ov-chart').clientWidth); }
  function chartHeight() { return window.innerWidth < 600 ? 200 : 260; }

  // breakdown is a table of the largest values, each with a bar as wide as
  // its share of the largest.
  function breakdown(dim, items) {
    if (!items.length) return C.note('Nothing in this period.');
    var max = items[0].count;
    return h('table', { class: 'data bars' }, h('tbody', null, items.map(function (it) {
      var bar = h('span', { class: 'bar' });
      bar.style.width = (100 * it.count / max).toFixed(1) + '%';
      return h('tr', { dataset: { value: it.value } },
        h('td', { class: 'label' }, bar, label(dim, it.value)),
        h('td', { class: 'num', text: num(it.count) }));
    })));
  }

  // label shows a breakdown value for people: a page without its origin,
  // a referrer's host and path, a country's name; the whole value is the
  // tooltip. An empty value says what it means.
  function label(dim, v) {
    if (v === '') {
      var none = { referrer: '(direct or none)', utmCampaign: '(no campaign)', country: '(unknown)', page: '(no URL)' }[dim] || '(unknown)';
      return h('span', { class: 'value muted', text: none });
    }
    var shown = v;
    if (dim === 'page' || dim === 'referrer') {
      try {
        var u = new URL(v);
        shown = dim === 'page' ? u.pathname + u.search : u.host + (u.pathname === '/' ? '' : u.pathname);
      } catch (e) { /* not a URL: shown as sent */ }
    } else if (dim === 'country') {
      shown = country(v) + (country(v) === v ? '' : ' (' + v + ')');
    } else if (dim === 'deviceType') {
      shown = v.charAt(0).toUpperCase() + v.slice(1);
    }
    return h('span', { class: 'value', title: v, text: shown });
  }

  // ---- the visits going on now ----------------------------------------------

  function loadLive() {
    var seq = ++st.liveSeq;
    return C.api('/v1/live?limit=' + LIVE_ROWS).then(function (res) {
      if (seq !== st.liveSeq || !st.shown) return;
      $('ov-live-count').textContent = num(res.body.count);
      fill($('ov-live'), res.body.visits.length ? liveTable(res.body.visits) : C.note('Nobody is on the site right now.'));
      $('ov-live').dataset.updated = String(seq);
    }, function (err) {
      if (seq === st.liveSeq && err.code !== 'stale') fill($('ov-live'), C.errorBox(err, 'The live list needs stats:read.'));
    });
  }

  function liveTable(visits) {
    return h('table', { class: 'data live' },
      h('thead', null, h('tr', null, ['Page', 'State', 'Who', 'Browser', 'Device', 'Country', 'Last seen'].map(function (c, i) {
        return h('th', { class: i > 2 ? 'wide-only' : null, text: c });
      }))),
      h('tbody', null, visits.map(function (v) {
        var page = h('a', { class: 'page', href: '#/visit/' + encodeURIComponent(v.visitId), dataset: { visit: v.visitId } },
          h('span', { class: 'title', text: v.title || v.url || v.visitId }));
        var who = v.identityId
          ? h('a', { class: 'id', href: '#/identity/' + encodeURIComponent(v.identityId), dataset: { identity: v.identityId },
            title: v.userId || v.identityId, text: v.userId || 'identity ' + v.identityId.slice(-6) })
          : h('span', { class: 'muted', text: 'visitor …' + v.visitorId.slice(-6) });
        return h('tr', { dataset: { visitId: v.visitId } },
          h('td', { class: 'url' }, page, v.title && v.url ? h('div', { class: 'muted small', text: v.url }) : null),
          h('td', null, C.stateBadge(v.state, v.verified)),
          h('td', null, who),
          h('td', { class: 'wide-only', text: v.browser || '–' }),
          h('td', { class: 'wide-only', text: v.deviceType || '–' }),
          h('td', { class: 'wide-only', text: v.country ? country(v.country) : '–' }),
          h('td', { class: 'wide-only' }, h('time', { datetime: v.lastSeenAt, title: v.lastSeenAt, text: ago(v.lastSeenAt) })));
      })));
  }

  // ---- showing, hiding, timers ----------------------------------------------

  function tick() {
    clearTimeout(st.liveTimer);
    if (!st.shown || !C.token()) return;
    if (!document.hidden) loadLive();
    st.liveTimer = setTimeout(tick, LIVE_EVERY);
  }
  function statsTick() {
    clearTimeout(st.statsTimer);
    if (!st.shown || !C.token()) return;
    if (!document.hidden) loadStats();
    st.statsTimer = setTimeout(statsTick, STATS_EVERY);
  }

  function show() {
    var was = st.shown;
    st.shown = true;
    if (!C.token()) {
      fill($('ov-msg'), C.note('Paste an API token above to see the overview.'));
      return;
    }
    if (was) return;
    statsTick();
    tick();
  }
  function hide() {
    st.shown = false;
    clearTimeout(st.liveTimer);
    clearTimeout(st.statsTimer);
  }
  // reset forgets what the last token showed.
  function reset() {
    hide();
    st.seq++;
    st.liveSeq++;
    document.querySelectorAll('#ov-kpis [data-stat]').forEach(function (e) { e.textContent = '–'; });
    document.querySelectorAll('#ov-kpis [data-sub]').forEach(function (e) { e.textContent = ''; });
    document.querySelectorAll('#view-overview .breakdown').forEach(function (e) { e.replaceChildren(); });
    ['ov-live', 'ov-totals', 'ov-msg'].forEach(function (id) { $(id).replaceChildren(); });
    $('ov-live-count').textContent = '–';
    delete $('view-overview').dataset.loaded;
    if (st.chart) { st.chart.destroy(); st.chart = null; }
  }

  function choose(period) {
    st.period = period;
    document.querySelectorAll('#ov-period button').forEach(function (b) {
      b.setAttribute('aria-pressed', String(b.dataset.period === period));
    });
    if (st.shown) statsTick();
  }

  C.views.overview = { show: show, hide: hide, reset: reset };

  document.addEventListener('DOMContentLoaded', function () {
    document.querySelectorAll('#ov-period button').forEach(function (b) {
      b.addEventListener('click', function () { choose(b.dataset.period); });
    });
    $('ov-bots').addEventListener('change', function (e) {
      st.bots = e.target.checked;
      if (st.shown) statsTick();
    });
    $('ov-refresh').addEventListener('click', function () { if (st.shown) { statsTick(); tick(); } });
    document.addEventListener('visibilitychange', function () {
      if (!document.hidden && st.shown) { statsTick(); tick(); }
    });
  });
})();
