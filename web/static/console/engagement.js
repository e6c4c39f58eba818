// The console's Engagement page (docs/engagement-browser.md): the rules
// with their figures (offered, accepted, declined, timed out, goal
// reached), the offers made in the last hour, and a form that tries a rule
// against a past visit (a dry run: nothing is offered; the page says when
// the rule would have offered, or why not, moment by moment). A collector
// without the engagement endpoints answers 404: the page says so and
// stays usable; the dry run form is disabled until there is a rule to try,
// and for good if the collector has no dry run.
//
// Rule names, channels and event data come from operators and visitors:
// they are put in the page with textContent only (console.js's helpers).
(function () {
  'use strict';

  var C = window.vtConsole, h = C.h, fill = C.fill;
  var HOUR = 3600 * 1000;
  var st = { seq: 0, noDryRun: false };

  function $(id) { return document.getElementById(id); }
  function missing(err) { return err && (err.status === 404 || err.status === 405 || err.status === 501); }
  function figure(n) { return typeof n === 'number' ? String(n) : '–'; }

  function load() {
    var seq = ++st.seq;
    fill($('eg-rules'), C.loading());
    fill($('eg-offers'), C.loading());
    var rules = C.api('/v1/engagement/rules').then(function (r) {
      var items = (r.body && (r.body.items || r.body.rules)) || [];
      return Promise.all(items.map(function (rule) {
        return C.api('/v1/engagement/rules/' + encodeURIComponent(rule.id) + '/stats').then(function (s) { return s.body || {}; }, function () { return {}; });
      })).then(function (stats) {
        if (seq !== st.seq) return;
        showRules(items, stats);
      });
    }).catch(function (err) {
      if (seq !== st.seq) return;
      fill($('eg-rules'), missing(err) ? h('p', { class: 'note', id: 'eg-no-rules', text: 'This collector has no engagement rules (' + err.status + ' on GET /v1/engagement/rules).' })
        : C.errorBox(err, 'The Engagement page needs a token with engagement:read.'));
      showRules(null);
    });
    var since = new Date(Date.now() - HOUR).toISOString();
    var offers = C.api('/v1/events?' + new URLSearchParams({ name: 'EngagementOffered', since: since, limit: '100' })).then(function (r) {
      if (seq === st.seq) showOffers((r.body && r.body.items) || []);
    }, function (err) {
      if (seq !== st.seq) return;
      fill($('eg-offers'), missing(err) ? C.note('No offers: this collector has no engagement events.') : C.errorBox(err, 'Offers need a token with history:read.'));
    });
    return Promise.all([rules, offers]);
  }

  function showRules(items, stats) {
    var sel = $('eg-dry-rule');
    sel.replaceChildren();
    if (items) {
      fill($('eg-rules'), items.length ? C.table(['Rule', 'Id', 'Version', 'Offered', 'Accepted', 'Declined', 'Timed out', 'Goal reached'],
        items.map(function (rule, i) {
          var s = stats[i] || {};
          return h('tr', { dataset: { rule: rule.id } },
            h('td', { text: rule.name || '' }), h('td', { class: 'id', text: rule.id }), h('td', { text: figure(rule.version) }),
            ['offered', 'accepted', 'declined', 'timedOut', 'goalReached'].map(function (k) { return h('td', { dataset: { figure: k }, text: figure(s[k]) }); }));
        })) : C.note('No rules yet.'));
      items.forEach(function (rule) { sel.append(h('option', { value: rule.id, text: rule.name || rule.id })); });
    }
    var off = st.noDryRun || !sel.options.length;
    Array.prototype.forEach.call($('eg-dry').elements, function (e) { e.disabled = off; });
    if (st.noDryRun) return;
    fill($('eg-dry-result'), off ? h('p', { class: 'note', id: 'eg-dry-note', text: 'The dry run needs a rule to try: there is none on this collector.' }) : null);
  }

  function showOffers(items) {
    fill($('eg-offers'), items.length ? C.table(['When', 'Visit', 'Rule', 'Channel', 'Offer'], items.map(function (e) {
      var d = e.data || {};
      return h('tr', { class: 'eg-offer' }, h('td', null, C.time(e.timestamp || e.receivedAt)), h('td', null, C.idLink('visit', e.visitId)),
        h('td', { text: d.ruleId || '' }), h('td', { text: d.channel || '' }), h('td', { class: 'id', text: d.offerId || '' }));
    })) : h('p', { class: 'note', id: 'eg-no-offers', text: 'No offers in the last hour.' }));
  }

  function dryRun(e) {
    e.preventDefault();
    var rule = $('eg-dry-rule').value, visit = $('eg-dry-visit').value.trim(), out = $('eg-dry-result');
    if (!rule || !visit) { fill(out, C.note('Choose a rule and give a visit id.')); return; }
    fill(out, C.loading());
    C.api('/v1/engagement/rules/' + encodeURIComponent(rule) + '/dry-run?' + new URLSearchParams({ visitId: visit }), { method: 'POST' }).then(function (r) {
      showDryRun(out, r.body || {});
    }, function (err) {
      // A 404 that names the visit or the rule is an answer; any other
      // means the collector has no such endpoint.
      if (err.status === 405 || err.status === 501 || (err.status === 404 && !/\b(visit|rule)\b/i.test(err.detail || ''))) {
        st.noDryRun = true;
        Array.prototype.forEach.call($('eg-dry').elements, function (x) { x.disabled = true; });
        fill(out, h('p', { class: 'note', id: 'eg-dry-note', text: 'This collector has no dry run (' + err.status + ').' }));
        return;
      }
      fill(out, C.errorBox(err, 'A dry run needs a token with engagement:read.'));
    });
  }

  // showDryRun says in a sentence when the rule would have offered (or
  // that it would not have), then lists each moment the engine would have
  // checked it with the outcome and, when it did not offer, the rule's
  // field that decided (a JSON pointer) and why.
  function showDryRun(out, r) {
    var f = r.firstOffer, cands = r.candidates || [];
    var summary = f ? h('p', { id: 'eg-dry-summary', class: 'eg-dry-yes' }, 'Would have offered ' + (r.offers > 1 ? r.offers + ' times, first ' : '') + 'at ', C.time(f.at),
      ' on ' + (f.url || f.pageId || 'the page') + (f.trigger === 'dwell' ? ' (dwell reached)' : ' (event ' + f.event + ' ' + f.eventId + ')') + '.')
      : h('p', { id: 'eg-dry-summary', class: 'eg-dry-no', text: 'Would not have offered: ' + (cands.length ? cands.length + ' moment' + (cands.length > 1 ? 's' : '') + ' checked, none held.' : 'no event of the ' + r.events + ' replayed could make the rule true.') });
    var rows = cands.map(function (c) {
      return h('tr', { class: 'eg-dry-cand', dataset: { outcome: c.outcome } }, h('td', null, C.time(c.at)), h('td', { text: c.trigger === 'dwell' ? 'dwell' : (c.event || '') }),
        h('td', { text: c.url || '' }), h('td', { text: c.outcome }), h('td', { text: c.pointer || '' }), h('td', { text: c.reason || '' }));
    });
    if (r.omittedCandidates) rows.push(h('tr', null, h('td', { colspan: '6', text: r.omittedCandidates + ' more not listed.' })));
    fill(out, [summary, cands.length ? C.table(['When', 'Trigger', 'Page', 'Outcome', 'Rule field', 'Why'], rows) : null,
      h('details', null, h('summary', { text: 'The answer as JSON' }), h('pre', { class: 'json', id: 'eg-dry-answer', text: JSON.stringify(r, null, 2) }))]);
  }

  C.views.engagement = {
    show: function () { load(); },
    hide: function () { st.seq++; },
    reset: function () { st.noDryRun = false; }
  };

  document.addEventListener('DOMContentLoaded', function () {
    $('eg-dry').addEventListener('submit', dryRun);
    $('eg-refresh').addEventListener('click', load);
    showRules(null);
  });
})();
