// Visitrack console: "Send a notification" in the visit view. A backend's
// message to the visit's open pages (Genesys's Notification API): POST
// /v1/visits/{visitId}/notifications with a token that has notify:write;
// the answer says how many open pages it reached. Nothing is stored.
(function () {
  'use strict';
  var C = window.vtConsole;

  document.addEventListener('DOMContentLoaded', function () {
    var form = document.getElementById('visit-notify'), out = document.getElementById('visit-notify-result');
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      var visitId = document.getElementById('visit-id').textContent;
      var data;
      try {
        data = JSON.parse(form.elements.data.value || 'null');
      } catch (err) {
        C.fill(out, C.note('The data is not JSON: ' + err.message));
        return;
      }
      C.fill(out, C.loading());
      C.api('/v1/visits/' + encodeURIComponent(visitId) + '/notifications', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ channel: form.elements.channel.value.trim(), data: data })
      }).then(function (r) {
        var n = r.body.delivered;
        C.fill(out, C.h('p', { class: 'note', id: 'visit-notify-delivered', dataset: { delivered: String(n) },
          text: n === 0 ? 'Sent, but no page of this visit is open: nobody got it.' :
            'Delivered to ' + n + ' open page' + (n === 1 ? '' : 's') + '.' }));
      }, function (err) {
        C.fill(out, C.errorBox(err, 'Notifications need a token with notify:write.'));
      });
    });
  });
})();
