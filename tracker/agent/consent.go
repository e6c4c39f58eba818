package agent

import (
	"github.com/visitrack/visitrack/shared/protocol"
	"github.com/visitrack/visitrack/tracker/wire"
)

// Sources of a consent change, the "source" of ConsentChanged: the
// site's consent call, Google Consent Mode's analytics_storage, or Global
// Privacy Control. SourceKeep is a Consent Mode update that says nothing
// of analytics_storage (ad_storage, ad_user_data, …, which Visitrack does
// not use): the consent stays as it is.
const (
	SourceAPI         = "api"
	SourceConsentMode = "consentMode"
	SourceGPC         = "gpc"
	SourceKeep        = "keep"
)

// consentMark is the localStorage item saying that the visitor's grant
// was recorded (a ConsentChanged granted went out): a site's consent
// manager repeats its answer on every page, and only a change is an event.
// A withdrawal removes it with the rest of the storage.
const consentMark = "_vt_cs"

// consentState is the consent the tracker states in hello and
// /v1/collect, so that the collector need not guess it from Sec-GPC.
func (a *Agent) consentState() string {
	switch {
	case a.consent == 1:
		return protocol.ConsentGranted
	case a.consent == -1 || a.gpc():
		return protocol.ConsentDenied
	}
	return protocol.ConsentUnset
}

// consentData is ConsentChanged's data; its values need no escaping.
func consentData(state, source string) string {
	return `{"state":"` + state + `","source":"` + source + `"}`
}

// noteGrant records a grant as a ConsentChanged event of the visit once
// the tracker may send, unless it was recorded already.
func (a *Agent) noteGrant() {
	if a.consent != 1 || !a.active || a.env.Load(consentMark) != "" {
		return
	}
	a.env.Store(consentMark, "1")
	a.emit(protocol.EventConsentChanged, consentData(protocol.ConsentGranted, a.source), nil, nil)
}

// sendWithdrawal records the withdrawal in the visit before its ids and
// cookies go: a ConsentChanged denied, by beacon with the visit's ids, as
// the page will keep nothing to send it again. Consent must be withheld
// already, so that the request states it.
func (a *Agent) sendWithdrawal(source string) {
	a.env.Remove(consentMark)
	now := a.env.Now()
	a.beaconEvents([]string{wire.Event(&protocol.Event{EventID: a.ids.New(now), Name: protocol.EventConsentChanged,
		Timestamp: a.env.Timestamp(now), PageID: a.pageID}, consentData(protocol.ConsentDenied, source))})
}
