// The Visitrack operator console: visits, visitors, identities, their
// visitor data and internal metadata, and the live change feed, all
// through the REST API (docs/api.md) with a bearer token that stays in
// this tab's sessionStorage. The overview (overview.js) registers itself
// in window.vtConsole.views and uses the helpers exported there.
//
// Everything shown comes from visitors' browsers (titles, URLs, event
// data) and is untrusted: elements are built with createElement and
// textContent only, never innerHTML.
(function () {
  'use strict';

  var TOKEN_KEY = 'vt-console-token';
  var ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/i;

  // ---- small DOM helpers ------------------------------------------------

  function $(id) { return document.getElementById(id); }

  // h builds an element. props: class, text, on<event>, dataset, or any
  // attribute (set with setAttribute, never parsed as HTML). Children are
  // nodes or strings (appended as text).
  function h(tag, props) {
    var e = document.createElement(tag);
    if (props) {
      Object.keys(props).forEach(function (k) {
        var v = props[k];
        if (v == null || v === false) return;
        if (k === 'class') e.className = v;
        else if (k === 'text') e.textContent = String(v);
        else if (k === 'dataset') Object.assign(e.dataset, v);
        else if (k.slice(0, 2) === 'on') e.addEventListener(k.slice(2), v);
        else e.setAttribute(k, v === true ? '' : String(v));
      });
    }
    for (var i = 2; i < arguments.length; i++) add(e, arguments[i]);
    return e;
  }
  function add(parent, kid) {
    if (kid == null || kid === false) return;
    if (Array.isArray(kid)) { kid.forEach(function (k) { add(parent, k); }); return; }
    parent.append(kid instanceof Node ? kid : String(kid));
  }
  function fill(el, kids) {
    el.replaceChildren();
    add(el, kids);
    return el;
  }

  function pad(n, w) { return String(n).padStart(w || 2, '0'); }
  // time shows an RFC 3339 time in local time; the exact UTC value is its
  // tooltip.
  function time(iso) {
    if (!iso) return h('span', { class: 'muted', text: '–' });
    var d = new Date(iso);
    if (isNaN(d)) return h('span', { text: iso });
    var s = d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' +
      pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds()) + '.' + pad(d.getMilliseconds(), 3);
    return h('time', { datetime: iso, title: iso, text: s });
  }
  function duration(ms) {
    if (ms == null) return '–';
    return ms < 1000 ? ms + ' ms' : (ms / 1000).toFixed(1) + ' s';
  }
  function json(v, pretty) {
    return h('code', { class: 'json', text: JSON.stringify(v, null, pretty ? 2 : 0) });
  }
  function pre(v) { return h('pre', { class: 'json', text: JSON.stringify(v, null, 2) }); }
  function text(s) { return s == null || s === '' ? h('span', { class: 'muted', text: '–' }) : h('span', { text: s }); }
  function idLink(kind, id) {
    if (!id) return h('span', { class: 'muted', text: '–' });
    return h('a', { class: 'id', href: '#/' + kind + '/' + encodeURIComponent(id), dataset: { [kind]: id }, text: id });
  }
  function stateBadge(state, verified) {
    return h('span', null, h('span', { class: 'state ' + state, text: state }),
      state === 'anonymous' ? null : h('span', { class: verified ? 'yes' : 'no', text: verified ? ' ✓ verified' : ' ✗ unverified' }));
  }
  function table(headers, rows) {
    return h('table', { class: 'data' },
      h('thead', null, h('tr', null, headers.map(function (c) { return h('th', { text: c }); }))),
      h('tbody', null, rows));
  }
  function fields(pairs) {
    return h('dl', { class: 'fields' }, pairs.map(function (p) { return [h('dt', { text: p[0] }), h('dd', null, p[1])]; }));
  }
  function note(msg) { return h('p', { class: 'note', text: msg }); }
  function loading() { return note('Loading…'); }

  // ---- the token and the REST API ---------------------------------------

  function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }

  function ApiError(status, code, detail, title) {
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.title = title;
    this.message = (status ? status + ' ' + title + ': ' : '') + detail;
  }
  ApiError.prototype = Object.create(Error.prototype);

  // api calls the REST API and resolves with {status, etag, body}; it
  // rejects with an ApiError built from the problem+json answer.
  function api(path, opt) {
    opt = opt || {};
    var tok = token();
    if (!tok) return Promise.reject(new ApiError(0, 'no_token', 'Paste an API token above first.', ''));
    var headers = Object.assign({ Authorization: 'Bearer ' + tok, Accept: 'application/json' }, opt.headers || {});
    return fetch(path, { method: opt.method || 'GET', headers: headers, body: opt.body, cache: 'no-store', signal: opt.signal })
      .catch(function (err) {
        if (err.name === 'AbortError') throw err;
        throw new ApiError(0, 'network', 'the collector did not answer (' + err.message + ')', '');
      })
      .then(function (res) {
        if (tok !== token()) throw new ApiError(0, 'stale', 'the token changed', ''); // a late answer
        if (!res.ok) return problem(res).then(function (e) { throw e; });
        authAccepted();
        return res.text().then(function (t) {
          return { status: res.status, etag: res.headers.get('ETag'), body: t ? JSON.parse(t) : null };
        });
      });
  }

  // problem reads an RFC 9457 problem answer into an ApiError, and reports
  // a refused token (401) at the token form.
  function problem(res) {
    return res.text().then(function (t) {
      var p = {};
      try { p = JSON.parse(t) || {}; } catch (e) { p = { detail: t }; }
      var err = new ApiError(res.status, p.code || '', p.detail || res.statusText, p.title || res.statusText);
      if (res.status === 401) authRefused(err);
      else authAccepted();
      return err;
    });
  }

  // errorBox explains a failed call where its answer would have been.
  function errorBox(err, what) {
    var msg;
    if (err.status === 401) {
      msg = '401 Unauthorized: the collector does not know this token (' + err.detail + '). Paste a valid token above.';
    } else if (err.status === 403) {
      msg = '403 Forbidden: ' + err.detail + '.' + (what ? ' ' + what : '');
    } else if (err.status === 404) {
      msg = '404 Not found: ' + err.detail;
    } else if (err.status) {
      msg = err.status + ' ' + err.title + ': ' + err.detail;
    } else {
      msg = err.detail || err.message;
    }
    return h('div', { class: 'flash bad', dataset: { status: err.status || 0 }, text: msg });
  }

  var authState = '';
  function authRefused(err) {
    authState = 'refused';
    $('auth').dataset.auth = 'refused';
    fill($('auth-msg'), h('div', { class: 'flash bad', id: 'auth-error', dataset: { status: 401 },
      text: '401 Unauthorized: the collector refused this token (' + err.detail +
        '). Check that you pasted the whole token, and that it was not revoked (bin/collector token list).' }));
    $('token-state').textContent = 'refused';
  }
  function authAccepted() {
    if (authState === 'accepted') return;
    authState = 'accepted';
    $('auth').dataset.auth = 'accepted';
    $('auth-msg').replaceChildren();
    $('token-state').textContent = 'token accepted';
  }

  // ---- routing ------------------------------------------------------------

  // Routes: #/overview (the default), #/visits, #/visit/ID, #/lookup,
  // #/visitor/ID, #/identity/ID, #/user/USERID, #/live, #/engagement. Each view keeps its
  // state while another shows; views registered in vtConsole.views (the
  // overview) are told when they show and hide.
  var current = { view: '', arg: '' };
  var views = {};
  function route() {
    var parts = location.hash.replace(/^#\/?/, '').split('/');
    var name = parts[0] || 'overview', arg = decodeURIComponent(parts.slice(1).join('/'));
    var view = { overview: 'overview', visits: 'visits', visit: 'visit', lookup: 'lookup', visitor: 'lookup', identity: 'lookup', user: 'lookup', live: 'live', engagement: 'engagement' }[name] || 'overview';
    document.querySelectorAll('.view').forEach(function (s) { s.classList.toggle('hidden', s.id !== 'view-' + view); });
    document.querySelectorAll('#nav a').forEach(function (a) {
      var v = a.dataset.view;
      a.classList.toggle('here', v === view || (v === 'visits' && view === 'visit'));
    });
    Object.keys(views).forEach(function (v) { if (v === view) views[v].show(); else views[v].hide(); });
    var same = current.view === name && current.arg === arg;
    current = { view: name, arg: arg };
    if (!token()) return;
    switch (name) {
      case 'visit': if (!same || !visitShown) showVisit(arg); break;
      case 'visitor': if (!same) showVisitor(arg); break;
      case 'identity': if (!same) showIdentity(arg); break;
      case 'user': if (!same) showUser(arg); break;
      case 'visits': if (!visits.loaded) loadVisits(); break;
    }
  }
  // go shows hash, again if it is showing: a lookup repeated is a refresh.
  function go(hash) {
    if (location.hash !== hash) { location.hash = hash; return; }
    current = { view: '', arg: '' };
    route();
  }

  // ---- visits -------------------------------------------------------------

  // visits is the list's state: the filters, the cursors of the pages
  // before this one (the API pages forward only), and this page's.
  var visits = { loaded: false, filter: {}, back: [], cursor: '', next: null, seq: 0 };

  function visitQuery(f, cursor) {
    var q = new URLSearchParams();
    ['visitorId', 'identityId', 'state', 'since', 'until', 'limit'].forEach(function (k) { if (f[k]) q.set(k, f[k]); });
    if (cursor) q.set('cursor', cursor);
    return q.toString();
  }

  function readFilters() {
    var form = $('visit-filters'), f = {};
    ['visitorId', 'identityId', 'state', 'limit'].forEach(function (k) { f[k] = form.elements[k].value.trim(); });
    ['since', 'until'].forEach(function (k) {
      var v = form.elements[k].value;
      if (v) {
        var d = new Date(v); // datetime-local: the browser's time zone
        f[k] = isNaN(d) ? v : d.toISOString();
      }
    });
    return f;
  }

  function loadVisits() {
    var seq = ++visits.seq, box = $('visits');
    visits.loaded = true;
    if (!box.firstChild) fill(box, loading());
    $('visits-where').textContent = describeFilter(visits.filter);
    return api('/v1/visits?' + visitQuery(visits.filter, visits.cursor)).then(function (r) {
      if (seq !== visits.seq) return;
      visits.next = r.body.nextCursor;
      fill(box, r.body.items.length ? visitsTable(r.body.items) : note('No visits match.'));
      pager();
    }, function (err) {
      if (seq !== visits.seq) return;
      visits.next = null;
      fill(box, errorBox(err, 'Listing visits needs history:read.'));
      pager();
    });
  }
  function pager() {
    $('visits-page').textContent = 'page ' + (visits.back.length + 1);
    $('visits-prev').disabled = visits.back.length === 0;
    $('visits-first').disabled = visits.back.length === 0;
    $('visits-next').disabled = !visits.next;
  }
  function describeFilter(f) {
    var parts = [];
    Object.keys(f).forEach(function (k) { if (f[k] && k !== 'limit') parts.push(k + ' ' + f[k]); });
    return parts.length ? '(' + parts.join(', ') + ')' : '(newest first)';
  }

  function visitsTable(items) {
    return table(['Started', 'Visit', 'State', 'Visitor', 'Identity', 'Landing page', 'Pages', 'Events', 'Last seen', 'Ended'],
      items.map(function (v) {
        return h('tr', { dataset: { visitId: v.visitId } },
          h('td', null, time(v.startedAt)),
          h('td', null, idLink('visit', v.visitId)),
          h('td', null, stateBadge(v.state, v.verified)),
          h('td', null, idLink('visitor', v.visitorId)),
          h('td', null, idLink('identity', v.identityId)),
          h('td', { class: 'url' }, text(v.landingUrl)),
          h('td', { class: 'num', text: v.pageCount }),
          h('td', { class: 'num', text: v.eventCount }),
          h('td', null, time(v.lastSeenAt)),
          h('td', null, time(v.endedAt)));
      }));
  }

  // ---- one visit ----------------------------------------------------------

  var visitSeq = 0, visitShown = '';

  function showVisit(id) {
    var seq = ++visitSeq;
    visitShown = id;
    $('visit-id').textContent = id;
    var boxes = ['visit-fields', 'visit-metadata', 'visit-identities', 'visit-sessions', 'visit-pages', 'visit-events'];
    if (!ULID.test(id)) {
      boxes.forEach(function (b) { $(b).replaceChildren(); });
      fill($('visit-fields'), errorBox(new ApiError(0, '', 'A visit id is a ULID: 26 letters and digits.', '')));
      return;
    }
    boxes.forEach(function (b) { fill($(b), loading()); });
    var base = '/v1/visits/' + encodeURIComponent(id);
    function into(box, promise, render, what) {
      promise.then(function (r) {
        if (seq === visitSeq) fill($(box), render(r));
      }, function (err) {
        if (seq === visitSeq) fill($(box), errorBox(err, what));
      });
    }
    into('visit-fields', api(base), function (r) { return visitFields(r.body); }, 'Reading visits needs history:read.');
    into('visit-metadata', api(base + '/metadata'), metadataView,
      'Internal metadata is shown only to tokens with metadata:read.');
    into('visit-identities', api(base + '/identities'), function (r) {
      return r.body.items.length ? table(['Identity', 'User id', 'How', 'Verified', 'Linked'], r.body.items.map(function (l) {
        return h('tr', null, h('td', null, idLink('identity', l.identityId)), h('td', null, text(l.userId)),
          h('td', { text: l.how }), h('td', { class: l.verified ? 'yes' : 'no', text: l.verified ? 'yes' : 'no' }),
          h('td', null, time(l.linkedAt)));
      })) : note('No identity is linked to this visit: it stayed anonymous.');
    });
    pagedInto('visit-sessions', base + '/sessions', seq, ['Session', 'State', 'Identity', 'Started', 'Ended'], function (s) {
      return h('tr', null, h('td', { class: 'id', text: s.sessionId }), h('td', null, stateBadge(s.state, s.verified)),
        h('td', null, idLink('identity', s.identityId)), h('td', null, time(s.startedAt)), h('td', null, time(s.endedAt)));
    }, 'No sessions.');
    pagedInto('visit-pages', base + '/pages', seq, ['Entered', 'Title', 'URL', 'Exited', 'Time on page', 'Page id'], function (p) {
      return h('tr', null, h('td', null, time(p.enteredAt)), h('td', null, text(p.title)), h('td', { class: 'url' }, text(p.url)),
        h('td', null, time(p.exitedAt)), h('td', { class: 'num', text: duration(p.durationMs) }), h('td', { class: 'id', text: p.pageId }));
    }, 'No pages.');
    pagedInto('visit-events', base + '/events', seq, ['Time', 'Name', 'Category', 'Page', 'Data', 'Event id'], function (e) {
      return h('tr', { dataset: { name: e.name } },
        h('td', null, time(e.correctedAt)),
        h('td', null, h('strong', { class: 'event-name', text: e.name })),
        h('td', { text: e.category }),
        h('td', { class: 'url' }, pageCell(e)),
        h('td', null, json(e.data)),
        h('td', { class: 'id', text: e.eventId }));
    }, 'No events.');
  }

  // pageCell shows where an event happened: the title and URL it carries
  // (PageEntered, VisitStarted), else its page id.
  function pageCell(e) {
    if (!e.title && !e.url) return h('span', { class: 'id muted', text: e.pageId || '–' });
    return [e.title ? h('div', { text: e.title }) : null, e.url ? h('div', { class: 'muted', text: e.url }) : null];
  }

  // pagedInto lists path into box, 200 rows at a time with "Load more".
  function pagedInto(box, path, seq, headers, row, empty) {
    var tbody = null, more = h('button', { type: 'button', class: 'ghost hidden', text: 'Load more' }), cursor = '';
    function load() {
      more.disabled = true;
      api(path + '?limit=200' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : '')).then(function (r) {
        if (seq !== visitSeq) return;
        if (!tbody) {
          if (!r.body.items.length) { fill($(box), note(empty)); return; }
          var t = table(headers, []);
          tbody = t.querySelector('tbody');
          fill($(box), [t, more]);
        }
        add(tbody, r.body.items.map(row));
        cursor = r.body.nextCursor;
        more.disabled = false;
        more.classList.toggle('hidden', !cursor);
      }, function (err) {
        if (seq !== visitSeq) return;
        if (!tbody) fill($(box), errorBox(err, 'Reading visits needs history:read.'));
        else { more.disabled = false; $(box).append(errorBox(err)); }
      });
    }
    more.addEventListener('click', load);
    load();
  }

  function visitFields(v) {
    return fields([
      ['Visit id', h('code', { text: v.visitId })],
      ['State', stateBadge(v.state, v.verified)],
      ['Visitor', idLink('visitor', v.visitorId)],
      ['Identity', idLink('identity', v.identityId)],
      ['Session', h('code', { text: v.sessionId || '–' })],
      ['Started', time(v.startedAt)],
      ['Last seen', time(v.lastSeenAt)],
      ['Ended', v.endedAt ? time(v.endedAt) : h('span', { text: 'not yet (the visit is open)' })],
      ['Landing URL', text(v.landingUrl)],
      ['Referrer', text(v.referrer)],
      ['User agent', text(v.userAgent)],
      ['Pages', String(v.pageCount)],
      ['Events', String(v.eventCount)]
    ]);
  }

  function metadataView(r) {
    var m = r.body;
    return [
      fields([
        ['Version', h('span', { id: 'metadata-version', text: m.version + (r.etag ? '  (ETag ' + r.etag + ')' : '') })],
        ['Updated', m.updatedAt ? time(m.updatedAt) : h('span', { text: 'never written' })]
      ]),
      h('pre', { class: 'json', id: 'metadata-data', text: JSON.stringify(m.data, null, 2) }),
      note('Only operators and backends see this object; it never goes to a browser. Backends write it with PUT or PATCH /v1/visits/{visitId}/metadata (metadata:write).')
    ];
  }

  // ---- visitors and identities -------------------------------------------

  var lookupSeq = 0;

  function badID(kind, id) {
    if (ULID.test(id)) return false;
    fill($('lookup-result'), errorBox(new ApiError(0, '', 'A ' + kind + ' id is a ULID: 26 letters and digits, not "' + id + '".', '')));
    return true;
  }

  function showVisitor(id) {
    $('lookup-visitor').elements.id.value = id;
    if (badID('visitor', id)) return;
    var seq = ++lookupSeq;
    var vd = h('div', null, loading()), list = h('div', null, loading());
    fill($('lookup-result'), [
      h('h2', null, 'Visitor ', h('code', { text: id })),
      exportButton('/v1/visitors/' + encodeURIComponent(id) + '/export', 'visitrack-visitor-' + id + '.ndjson'),
      h('div', { class: 'card' }, h('h3', { text: 'Visitor data' }), vd),
      h('div', { class: 'card' }, h('h3', { text: 'Visits' }), list)
    ]);
    visitorData(vd, '/v1/visitors/' + encodeURIComponent(id), seq,
      'An anonymous visitor keeps its own visitor data; at a verified sign-in it is merged into the identity\'s.');
    visitList(list, '/v1/visits?visitorId=' + encodeURIComponent(id), seq);
  }

  // exportButton downloads everything stored about a person (path, an
  // .../export endpoint) as an NDJSON file. The file is offered only when
  // its last line says the export is complete, so that a cut-off
  // transfer is never saved as if it were the whole.
  function exportButton(path, filename) {
    var note = h('span', { class: 'muted' });
    var btn = h('button', { type: 'button', class: 'ghost', text: 'Export' });
    btn.addEventListener('click', function () {
      var tok = token();
      if (!tok) { note.textContent = 'Paste an API token above first.'; return; }
      btn.disabled = true;
      note.textContent = 'Exporting…';
      fetch(path, { headers: { Authorization: 'Bearer ' + tok }, cache: 'no-store' })
        .then(function (res) {
          if (!res.ok) return problem(res).then(function (e) { throw e; });
          return res.text();
        })
        .then(function (t) {
          var lines = t.replace(/\n+$/, '').split('\n'), end = {};
          try { end = JSON.parse(lines[lines.length - 1]); } catch (e) { end = {}; }
          if (end.type !== 'end' || end.complete !== true) throw new Error('the export was cut off; try again');
          var a = h('a', { href: URL.createObjectURL(new Blob([t], { type: 'application/x-ndjson' })), download: filename });
          document.body.appendChild(a);
          a.click();
          a.remove();
          setTimeout(function () { URL.revokeObjectURL(a.href); }, 60000);
          note.textContent = 'Saved ' + filename + ': ' + (lines.length - 2) + ' records.';
        })
        .catch(function (err) {
          note.textContent = 'Export failed: ' + (err.detail || err.message) +
            (err.status === 403 ? ' The export needs a token with subject:export.' : '');
        })
        .then(function () { btn.disabled = false; });
    });
    return h('div', { class: 'row' }, btn, ' ', note);
  }

  function showIdentity(id) {
    $('lookup-identity').elements.id.value = id;
    if (badID('identity', id)) return;
    var seq = ++lookupSeq;
    var info = h('div', null, loading()), vd = h('div', null, loading()), list = h('div', null, loading());
    fill($('lookup-result'), [
      h('h2', null, 'Identity ', h('code', { text: id })),
      exportButton('/v1/identities/' + encodeURIComponent(id) + '/export', 'visitrack-identity-' + id + '.ndjson'),
      h('div', { class: 'card' }, info),
      h('div', { class: 'card' }, h('h3', { text: 'Visitor data' }), vd),
      h('div', { class: 'card' }, h('h3', { text: 'Visits (stitched anonymous visits included)' }), list)
    ]);
    var base = '/v1/identities/' + encodeURIComponent(id);
    api(base).then(function (r) {
      if (seq !== lookupSeq) return;
      var i = r.body;
      fill(info, fields([
        ['User id', text(i.userId)],
        ['First seen', time(i.firstSeenAt)],
        ['Last seen', time(i.lastSeenAt)],
        ['Visitors', (i.visitorIds || []).length ? (i.visitorIds || []).map(function (v) { return [idLink('visitor', v), ' ']; }) : text('')],
        ['Attributes', pre(i.attributes == null ? {} : i.attributes)]
      ]));
    }, function (err) { if (seq === lookupSeq) fill(info, errorBox(err, 'Reading identities needs history:read.')); });
    visitorData(vd, base, seq, 'Sent to this person\'s browsers only when their identity is verified.');
    visitList(list, base + '/visits', seq);
  }

  function showUser(userId) {
    $('lookup-user').elements.userId.value = userId;
    var seq = ++lookupSeq, list = h('div', null, loading());
    fill($('lookup-result'), [h('h2', null, 'Identities of user id ', h('code', { text: userId })), h('div', { class: 'card' }, list)]);
    api('/v1/identities?limit=100&userId=' + encodeURIComponent(userId)).then(function (r) {
      if (seq !== lookupSeq) return;
      fill(list, r.body.items.length ? table(['Identity', 'User id', 'First seen', 'Last seen', 'Visitors'], r.body.items.map(function (i) {
        return h('tr', null, h('td', null, idLink('identity', i.identityId)), h('td', null, text(i.userId)),
          h('td', null, time(i.firstSeenAt)), h('td', null, time(i.lastSeenAt)), h('td', { class: 'num', text: (i.visitorIds || []).length }));
      })) : note('No identity has this user id (the match is exact).'));
    }, function (err) { if (seq === lookupSeq) fill(list, errorBox(err, 'Reading identities needs history:read.')); });
  }

  // visitorData shows a subject's document, its version and ETag.
  function visitorData(box, subject, seq, about) {
    var path = subject + '/visitor-data';
    function load() {
      api(path).then(function (r) {
        if (seq !== lookupSeq) return;
        fill(box, [
          fields([
            ['Version', h('span', { class: 'vd-version', text: String(r.body.version) })],
            ['ETag', h('code', { text: r.etag || '–' })],
            ['Path', h('code', { text: path })]
          ]),
          h('pre', { class: 'json vd-data', text: JSON.stringify(r.body.data, null, 2) }),
          h('div', { class: 'row' }, h('button', { type: 'button', class: 'ghost', text: 'Refresh', onclick: load }),
            h('span', { class: 'note', text: r.body.version === 0 ? 'Nothing was ever written. ' + about : about }))
        ]);
      }, function (err) {
        if (seq === lookupSeq) fill(box, errorBox(err, 'Visitor data needs visitordata:read.'));
      });
    }
    load();
  }

  // visitList shows a list of visits with forward and back paging.
  function visitList(box, path, seq) {
    var back = [], cursor = '';
    function load() {
      api(path + (path.indexOf('?') < 0 ? '?' : '&') + 'limit=50' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : '')).then(function (r) {
        if (seq !== lookupSeq) return;
        var next = r.body.nextCursor;
        var nav = h('div', { class: 'row' },
          h('button', { type: 'button', class: 'ghost', text: '← Newer', disabled: back.length === 0, onclick: function () { cursor = back.pop(); load(); } }),
          h('span', { class: 'note', text: 'page ' + (back.length + 1) }),
          h('button', { type: 'button', class: 'ghost', text: 'Older →', disabled: !next, onclick: function () { back.push(cursor); cursor = next; load(); } }));
        fill(box, r.body.items.length ? [visitsTable(r.body.items), nav] : note('No visits.'));
      }, function (err) {
        if (seq === lookupSeq) fill(box, errorBox(err, 'Listing visits needs history:read.'));
      });
    }
    load();
  }

  // ---- the live feed --------------------------------------------------------

  var MAX_ROWS = 500;
  var live = { ctrl: null, following: false, paused: false, pending: [], dropped: 0, retry: 2000, timer: 0, rows: 0 };

  function liveStatus(msg, cls) {
    var s = $('live-status');
    s.textContent = msg;
    s.className = 'note ' + (cls || '');
    s.dataset.state = cls || '';
  }

  function liveButtons() {
    $('live-follow').textContent = live.following ? 'Stop' : 'Follow';
    $('live-pause').disabled = !live.following && !live.paused;
    $('live-pause').textContent = live.paused ? 'Resume' + (live.pending.length ? ' (' + live.pending.length + ' new)' : '') : 'Pause';
    $('live-dot').classList.toggle('hidden', !live.following);
    $('live-events').disabled = $('live-vd').disabled = live.following;
  }

  // follow reads GET /v1/stream with fetch and a stream reader:
  // EventSource cannot send an Authorization header. It reconnects after
  // the feed ends a stream (a reset, a restart), but not after 401 or 403.
  function follow() {
    if (live.ctrl) return;
    if (!token()) { liveStatus('Paste an API token above first.', 'bad'); return; }
    var ev = $('live-events').checked, vd = $('live-vd').checked;
    if (!ev && !vd) { liveStatus('Choose events, visitor-data changes, or both.', 'bad'); return; }
    var types = ev && vd ? '' : '?types=' + (ev ? 'event' : 'visitorData');
    live.following = true;
    clearTimeout(live.timer);
    var ctrl = live.ctrl = new AbortController();
    liveButtons();
    liveStatus('connecting…', 'wait');
    fetch('/v1/stream' + types, { headers: { Authorization: 'Bearer ' + token(), Accept: 'text/event-stream' }, cache: 'no-store', signal: ctrl.signal })
      .then(function (res) {
        if (!res.ok) {
          return problem(res).then(function (err) {
            if (err.status === 401 || err.status === 403) {
              stopFollowing();
              liveStatus(errorBox(err, 'The feed needs history:read (events) or visitordata:read (visitor data).').textContent, 'bad');
              return;
            }
            throw err;
          });
        }
        authAccepted();
        live.retry = 2000;
        liveStatus(live.paused ? 'connected, paused' : 'connected', 'ok');
        return readEvents(res.body.getReader(), ctrl);
      })
      .then(function () {
        if (live.ctrl === ctrl) throw new Error('the collector ended the stream');
      })
      .catch(function (err) {
        if (ctrl.signal.aborted || live.ctrl !== ctrl) return;
        live.ctrl = null;
        var wait = live.retry;
        live.retry = Math.min(live.retry * 2, 30000);
        liveStatus('disconnected (' + (err.detail || err.message) + '); reconnecting in ' + Math.round(wait / 1000) + ' s', 'bad');
        live.timer = setTimeout(function () { if (live.following) { live.following = false; follow(); } }, wait);
      });
  }

  function stopFollowing() {
    live.following = false;
    clearTimeout(live.timer);
    if (live.ctrl) { var c = live.ctrl; live.ctrl = null; c.abort(); }
    liveButtons();
    liveStatus('not following');
  }

  // readEvents parses text/event-stream (WHATWG HTML, server-sent events)
  // until the stream ends.
  function readEvents(reader, ctrl) {
    var decoder = new TextDecoder(), buf = '', type = '', data = [];
    function line(l) {
      if (l === '') {
        if (data.length) message(type || 'message', data.join('\n'));
        type = '';
        data = [];
        return;
      }
      if (l[0] === ':') return; // a comment: the keep-alive pings
      var i = l.indexOf(':'), field = i < 0 ? l : l.slice(0, i), value = i < 0 ? '' : l.slice(i + 1);
      if (value[0] === ' ') value = value.slice(1);
      if (field === 'event') type = value;
      else if (field === 'data') data.push(value);
      else if (field === 'retry' && /^\d+$/.test(value)) live.retry = Math.max(500, Number(value));
    }
    function pump() {
      return reader.read().then(function (r) {
        if (live.ctrl !== ctrl) { reader.cancel(); return; }
        if (r.done) return;
        buf += decoder.decode(r.value, { stream: true });
        var lines = buf.split(/\r\n|\r|\n/);
        buf = lines.pop();
        lines.forEach(line);
        return pump();
      });
    }
    return pump();
  }

  function message(type, data) {
    var m;
    if (type === 'reset') {
      try { m = JSON.parse(data); } catch (e) { m = data; }
      queue({ kind: 'reset', reason: String(m), at: new Date() });
      return;
    }
    if (type !== 'event' && type !== 'visitorData') return;
    try { m = JSON.parse(data); } catch (e) { return; }
    queue({ kind: type, m: m, at: new Date() });
  }

  function queue(item) {
    if (live.paused) {
      live.pending.push(item);
      if (live.pending.length > MAX_ROWS) { live.pending.shift(); live.dropped++; }
      liveButtons();
      liveStatus('paused: ' + live.pending.length + ' new' + (live.dropped ? ' (' + live.dropped + ' older ones dropped)' : ''), 'wait');
      return;
    }
    show(item);
  }

  function show(item) {
    var tbody = $('live-feed'), m = item.m, row;
    var at = h('td', null, time(item.at.toISOString()));
    if (item.kind === 'event') {
      row = h('tr', { class: 'ev', dataset: { kind: 'event', eventId: m.eventId, visitId: m.visitId } }, at,
        h('td', null, h('span', { class: 'kind', text: 'event' })),
        h('td', null, h('strong', { class: 'event-name', text: m.name }), ' ', h('span', { class: 'muted', text: m.category }),
          m.title || m.url ? h('div', { class: 'url' }, text(m.title || m.url)) : null),
        h('td', { class: 'ids' }, h('div', null, 'visit ', idLink('visit', m.visitId)), h('div', null, 'visitor ', idLink('visitor', m.visitorId)),
          m.identityId ? h('div', null, 'identity ', idLink('identity', m.identityId)) : null),
        h('td', null, json(m.data)));
    } else if (item.kind === 'visitorData') {
      var subj = m.identityId ? ['identity ', idLink('identity', m.identityId)] : ['visitor ', idLink('visitor', m.visitorId)];
      row = h('tr', { class: 'vd', dataset: { kind: 'visitorData', subject: m.subject } }, at,
        h('td', null, h('span', { class: 'kind vd', text: 'visitor data' })),
        h('td', null, h('strong', { text: 'version ' + m.version })),
        h('td', { class: 'ids' }, h('div', null, subj)),
        h('td', null, json(m.data)));
    } else {
      row = h('tr', { class: 'reset' }, at, h('td', null, h('span', { class: 'kind', text: 'reset' })),
        h('td', { colspan: 3, text: 'The collector ended the stream: ' + item.reason +
          '. Reconnecting; changes until then are not replayed (the REST API has them).' }));
    }
    tbody.prepend(row);
    live.rows++;
    while (tbody.rows.length > MAX_ROWS) tbody.lastElementChild.remove();
    $('live-empty').classList.add('hidden');
  }

  function togglePause() {
    live.paused = !live.paused;
    if (!live.paused) {
      var items = live.pending;
      live.pending = [];
      live.dropped = 0;
      items.forEach(show);
      liveStatus(live.following ? (live.ctrl ? 'connected' : 'reconnecting…') : 'not following', live.ctrl ? 'ok' : '');
    } else {
      liveStatus('paused: new changes are kept and shown on resume', 'wait');
    }
    liveButtons();
  }

  // ---- wiring -------------------------------------------------------------

  function useToken(t) {
    if (t) sessionStorage.setItem(TOKEN_KEY, t); else sessionStorage.removeItem(TOKEN_KEY);
    authState = '';
    delete $('auth').dataset.auth;
    $('auth-msg').replaceChildren();
    $('token-state').textContent = t ? 'checking…' : 'no token';
    // Start afresh: what was shown came with the other token.
    visits.loaded = false;
    visitShown = '';
    current = { view: '', arg: '' };
    Object.keys(views).forEach(function (v) { views[v].reset(); });
    if (live.following) { stopFollowing(); }
    if (!t) {
      fill($('visits'), note('Paste an API token above to list visits.'));
      route();
      return;
    }
    // Any answer but 401 means that the collector knows the token: a probe
    // that needs no particular view. 403 (a token without history:read) is
    // still a known token.
    api('/v1/visits?limit=1').catch(function () {});
    route();
  }

  // The helpers the overview (overview.js, loaded after this file) builds
  // on. A view registers {show, hide, reset} in views: show when its route
  // shows (also without a token: it says what is missing), hide when
  // another does, reset when the token changes.
  window.vtConsole = {
    h: h, add: add, fill: fill, note: note, loading: loading, text: text, time: time,
    idLink: idLink, stateBadge: stateBadge, table: table, api: api, token: token,
    errorBox: errorBox, views: views
  };

  document.addEventListener('DOMContentLoaded', function () {
    $('token').value = token();
    $('token-form').addEventListener('submit', function (e) {
      e.preventDefault();
      useToken($('token').value.trim());
    });
    $('token-forget').addEventListener('click', function () {
      $('token').value = '';
      useToken('');
    });

    var form = $('visit-filters');
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      visits.filter = readFilters();
      visits.back = [];
      visits.cursor = '';
      loadVisits();
      if (location.hash !== '#/visits') location.hash = '#/visits';
    });
    $('visit-filters-clear').addEventListener('click', function () {
      form.reset();
      form.requestSubmit();
    });
    $('visits-next').addEventListener('click', function () {
      if (!visits.next) return;
      visits.back.push(visits.cursor);
      visits.cursor = visits.next;
      loadVisits();
    });
    $('visits-prev').addEventListener('click', function () {
      if (!visits.back.length) return;
      visits.cursor = visits.back.pop();
      loadVisits();
    });
    $('visits-first').addEventListener('click', function () {
      visits.back = [];
      visits.cursor = '';
      loadVisits();
    });
    $('visits-refresh').addEventListener('click', loadVisits);
    $('visit-refresh').addEventListener('click', function () { if (current.view === 'visit') showVisit(current.arg); });

    $('lookup-visitor').addEventListener('submit', function (e) {
      e.preventDefault();
      go('#/visitor/' + encodeURIComponent(e.target.elements.id.value.trim()));
    });
    $('lookup-identity').addEventListener('submit', function (e) {
      e.preventDefault();
      go('#/identity/' + encodeURIComponent(e.target.elements.id.value.trim()));
    });
    $('lookup-user').addEventListener('submit', function (e) {
      e.preventDefault();
      go('#/user/' + encodeURIComponent(e.target.elements.userId.value.trim()));
    });

    $('live-follow').addEventListener('click', function () { if (live.following) stopFollowing(); else follow(); });
    $('live-pause').addEventListener('click', togglePause);
    $('live-clear').addEventListener('click', function () {
      $('live-feed').replaceChildren();
      live.pending = [];
      live.dropped = 0;
      liveButtons();
      $('live-empty').classList.remove('hidden');
    });

    window.addEventListener('hashchange', route);
    liveButtons();
    if (token()) {
      $('token-state').textContent = 'checking…';
      api('/v1/visits?limit=1').catch(function () {});
    } else {
      $('token-state').textContent = 'no token';
      fill($('visits'), note('Paste an API token above to list visits.'));
    }
    route();
    document.body.dataset.ready = '1';
  });
})();
