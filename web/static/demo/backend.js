// The demo's "backend" tab: plays the CRM, the signature system, the
// browser and the campaign tracker of the Unblu visitor-data example, one
// step at a time, against the collector's REST API (docs/api.md). The
// visitor-data panel of demo.js shows each version as the tracker
// receives it.
(function () {
  'use strict';

  var crmFirst = {
    customer_segment: 'corporate',
    talking_points: ['loans', 'forex', 'export_finance'],
    campaigns: ['forex', 'cash_mgmt']
  };
  var signature = { digital_signature_waiver: true };
  var campaign = { id: 'cash_mgmt', completed: true };
  var crmMoved = { campaigns: ['forex'], follow_up_meetings: ['cash_mgmt'] };

  // The three documents of the example.
  var first = { crm_integration: crmFirst, digital_signature: signature };
  var second = { crm_integration: crmFirst, digital_signature: signature, campaign: campaign };
  var third = {
    crm_integration: {
      customer_segment: 'corporate',
      talking_points: ['loans', 'forex', 'export_finance'],
      campaigns: ['forex'],
      follow_up_meetings: ['cash_mgmt']
    },
    digital_signature: signature
  };

  var steps = [
    { who: 'CRM', what: 'PATCH …/visitor-data/crm_integration (merge patch)', expect: { crm_integration: crmFirst },
      run: function () { return api('PATCH', '/crm_integration', crmFirst); } },
    { who: 'Signature system', what: 'PATCH …/visitor-data/digital_signature', expect: first,
      run: function () { return api('PATCH', '/digital_signature', signature); } },
    { who: 'Browser', what: "_gt.push(['visitorData', 'update', 'campaign', {…}])", expect: second,
      run: function () {
        return visitrack.visitorData.update('campaign', campaign).then(function () {
          return 'the tracker wrote campaign over its own connection';
        }, function (err) {
          if (err.code === 'namespace_not_writable') {
            throw new Error('campaign is not browser-writable: start the collector with --browser-writable campaign');
          }
          throw err;
        });
      } },
    { who: 'Campaign tracker', what: 'DELETE …/visitor-data/campaign', expect: first,
      run: function () { return api('DELETE', '/campaign'); } },
    { who: 'CRM', what: 'GET …/crm_integration, then PATCH it with If-Match', expect: third,
      run: function () {
        return request('GET', '/crm_integration').then(function (r) {
          return api('PATCH', '/crm_integration', crmMoved, r.etag);
        });
      } }
  ];
  var done = 0;

  function $(id) { return document.getElementById(id); }
  function token() { return sessionStorage.getItem('vt-demo-token') || ''; }

  // subject is the REST path of this browser's visitor data.
  function subject() {
    return visitrack.ids().then(function (ids) {
      var path = ids.identityId && ids.verified ? '/v1/identities/' + ids.identityId : '/v1/visitors/' + ids.visitorId;
      $('subject').textContent = path.slice(4);
      return path + '/visitor-data';
    });
  }

  // request calls the REST API and resolves with {status, etag, body}, or
  // rejects with the problem's detail.
  function request(method, suffix, body, ifMatch) {
    if (!token()) return Promise.reject(new Error('paste an API token first'));
    return subject().then(function (path) {
      var headers = { Authorization: 'Bearer ' + token() };
      if (body !== undefined) headers['Content-Type'] = method === 'PATCH' ? 'application/merge-patch+json' : 'application/json';
      if (ifMatch) headers['If-Match'] = ifMatch;
      return fetch(path + suffix, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body) });
    }).then(function (res) {
      return res.text().then(function (text) {
        var out = { status: res.status, etag: res.headers.get('ETag'), body: text ? JSON.parse(text) : null };
        if (!res.ok) throw new Error(res.status + ' ' + (out.body && out.body.detail || res.statusText));
        return out;
      });
    });
  }

  function api(method, suffix, body, ifMatch) {
    return request(method, suffix, body, ifMatch).then(function (r) {
      return method + ' → ' + r.status + (r.etag ? ', ETag ' + r.etag : '') + (r.body ? '\n' + JSON.stringify(r.body, null, 2) : '');
    });
  }

  // canonical compares documents regardless of key order.
  function canonical(v) {
    if (Array.isArray(v)) return '[' + v.map(canonical).join(',') + ']';
    if (v && typeof v === 'object') {
      return '{' + Object.keys(v).sort().map(function (k) { return JSON.stringify(k) + ':' + canonical(v[k]); }).join(',') + '}';
    }
    return JSON.stringify(v);
  }

  function render() {
    $('steps').innerHTML = steps.map(function (s, i) {
      var mark = i < done ? '✓ ' : i === done ? '→ ' : '';
      return '<li>' + mark + '<strong>' + demoText(s.who) + '</strong>: <code>' + demoText(s.what) + '</code></li>';
    }).join('');
    $('next').disabled = done >= steps.length;
    $('all').disabled = done >= steps.length;
  }

  function playNext() {
    if (done >= steps.length) return Promise.resolve();
    var step = steps[done];
    $('expected').textContent = JSON.stringify(step.expect, null, 2);
    return step.run().then(function (answer) {
      $('answer').textContent = answer;
      return request('GET', '');
    }).then(function (r) {
      var same = canonical(r.body.data) === canonical(step.expect);
      done++;
      render();
      flash('Step ' + done + ' done: version ' + r.body.version +
        (same ? ', the document is as expected.' : '; the document differs from the example (other namespaces, such as prefs, are kept).'), !same);
    }).catch(function (err) { flash(err.message, true); throw err; });
  }

  function playAll() {
    if (done >= steps.length) return;
    playNext().then(function () { setTimeout(playAll, 1200); }, function () {});
  }

  function reset() {
    var gone = ['crm_integration', 'digital_signature', 'campaign'].map(function (ns) {
      return request('DELETE', '/' + ns).catch(function (err) {
        if (!/^404/.test(err.message)) throw err;
      });
    });
    Promise.all(gone).then(function () {
      done = 0;
      render();
      $('expected').textContent = '{}';
      $('answer').textContent = '–';
      flash('The three namespaces are gone; play again.');
    }, function (err) { flash(err.message, true); });
  }

  // follow reads GET /v1/stream with fetch (EventSource cannot send an
  // Authorization header) and shows its events.
  function follow() {
    if (!token()) { flash('paste an API token first', true); return; }
    $('follow').disabled = true;
    fetch('/v1/stream?types=visitorData', { headers: { Authorization: 'Bearer ' + token() } }).then(function (res) {
      if (!res.ok) throw new Error('stream: HTTP ' + res.status);
      var reader = res.body.getReader();
      var decoder = new TextDecoder();
      var buf = '';
      function pump() {
        return reader.read().then(function (r) {
          if (r.done) throw new Error('the stream ended');
          buf += decoder.decode(r.value, { stream: true });
          var parts = buf.split('\n\n');
          buf = parts.pop();
          parts.forEach(function (block) {
            var ev = '', data = '';
            block.split('\n').forEach(function (line) {
              if (line.indexOf('event: ') === 0) ev = line.slice(7);
              if (line.indexOf('data: ') === 0) data += line.slice(6);
            });
            if (!ev) return;
            var m = JSON.parse(data);
            var line = new Date().toLocaleTimeString() + '  ' + ev + '  ' + (m.subject || '') + ' v' + m.version + '  ' + JSON.stringify(m.data) + '\n';
            var feed = $('feed');
            feed.textContent = (line + feed.textContent).split('\n').slice(0, 40).join('\n');
          });
          return pump();
        });
      }
      return pump();
    }).catch(function (err) {
      $('follow').disabled = false;
      flash(err.message, true);
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    $('token').value = token();
    $('token-state').textContent = token() ? 'token set' : '';
    $('token-form').addEventListener('submit', function (e) {
      e.preventDefault();
      sessionStorage.setItem('vt-demo-token', $('token').value.trim());
      $('token-state').textContent = token() ? 'token set' : 'no token';
    });
    $('next').addEventListener('click', function () { playNext().catch(function () {}); });
    $('all').addEventListener('click', playAll);
    $('reset').addEventListener('click', reset);
    $('follow').addEventListener('click', follow);
    render();
    whenVisitrack(function () { subject(); });
  });
})();
