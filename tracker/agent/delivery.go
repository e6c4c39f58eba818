package agent

import (
	"github.com/visitrack/visitrack/shared/protocol"
	"github.com/visitrack/visitrack/tracker/wire"
)

// frameBytes keeps an events frame well under the collector's 1 MiB limit.
const frameBytes = protocol.MaxBatchBytes - 4096

// connect opens the WebSocket unless the transport is HTTP only.
func (a *Agent) connect() {
	if !a.active || a.sock != nil || a.cfg.Transport == TransportHTTP {
		return
	}
	if a.retry != nil {
		a.retry()
		a.retry = nil
	}
	a.sockGen++
	gen := a.sockGen
	current := func() bool { return gen == a.sockGen }
	a.sock = a.env.Dial(wsURL(a.cfg.Collector)+a.wsQuery(), SocketEvents{
		Open: func() {
			if current() {
				a.onOpen()
			}
		},
		Message: func(m *Message) {
			if current() {
				a.onMessage(m)
			}
		},
		Close: func(code int) {
			if current() {
				a.onClose(code)
			}
		},
	})
	if a.sock == nil { // no WebSocket in this browser
		a.sockGen++
		a.useHTTP = a.cfg.Transport == TransportAuto
		a.scheduleFlush()
	}
}

// disconnect closes the WebSocket and forgets it; its late callbacks are
// ignored.
func (a *Agent) disconnect() {
	a.sockGen++
	if a.sock != nil {
		a.sock.Close()
		a.sock = nil
	}
	if a.retry != nil {
		a.retry()
		a.retry = nil
	}
	a.welcomed, a.sent = false, nil
}

// reconnect starts a new conversation, for a new visit.
func (a *Agent) reconnect() {
	if a.sock == nil && a.retry == nil {
		return
	}
	a.disconnect()
	a.connect()
}

func (a *Agent) onOpen() {
	rec, recognize := a.recognition()
	a.tokenSent = rec != ""
	h := protocol.Hello{VisitorID: a.visitorID, VisitorKey: a.key, VisitID: a.visitID,
		VisitorDataVersion: a.vd.Version, URL: a.page.URL, Referrer: a.page.Referrer, Handoff: a.handoff,
		Consent: a.consentState()}
	if rec != "" {
		h.Recognition, h.Recognize = &rec, &recognize
	}
	a.sock.Send(wire.Hello(&h))
}

func (a *Agent) onClose(code int) {
	if code == protocol.CloseTryAgainLater {
		// The collector asked to wait: the backoff keeps growing across
		// reconnections until a batch is acknowledged again.
		a.throttled = true
	}
	a.sock = nil
	a.welcomed, a.sent = false, nil
	if !a.active {
		return
	}
	if a.cfg.Transport == TransportAuto {
		a.useHTTP = true
		a.scheduleFlush()
	}
	a.retry = a.env.After(a.bo.Next(), func() {
		a.retry = nil
		a.connect()
	})
}

func (a *Agent) onMessage(m *Message) {
	switch m.Type {
	case protocol.TypeWelcome:
		a.onWelcome(&m.Welcome)
	case protocol.TypeAck:
		a.onAck(&m.Ack)
	case protocol.TypeIdentity:
		if a.srv {
			a.postCookies(m.Identity.Recognition, "", a.identityShifted)
		}
		a.onIdentity(&m.Identity, a.tokenSent)
	case protocol.TypeVisitorData:
		a.onVisitorData(&m.VisitorData, m.RequestID)
	case protocol.TypeError:
		a.onError(&m.Error)
	case protocol.TypeNotification:
		a.notes.deliver(&m.Notification)
	case TypeOffer:
		a.offers.deliver(&m.Notification)
	case protocol.TypeHandoff:
		a.onHandoff(&m.Handoff)
	}
}

func (a *Agent) onWelcome(w *protocol.Welcome) {
	a.setServerCookies(w.Cookies != "")
	a.adoptIDs(w.VisitorID, w.VisitorKey, w.VisitID)
	a.setIdentity(w.State, w.IdentityID, w.Verified)
	a.applyRecognition(w.Recognition, a.tokenSent)
	a.handoff = ""
	if w.Cookies == protocol.CookiesSync {
		a.postCookies(w.Recognition, w.VisitorKey, nil)
	}
	a.applyVisitorData(w.VisitorData)
	a.welcomed, a.useHTTP = true, false
	a.sent = map[string]bool{}
	if !a.throttled {
		a.bo.Reset()
	}
	for _, u := range a.updates {
		u.sent = false
	}
	a.flush()
}

// adoptIDs takes the ids the collector settled on, and the browser key
// that proves the visitorId (a new visitor comes with a new one); events
// made for the visit under its old id move with it.
func (a *Agent) adoptIDs(visitorID, key, visitID string) {
	changed := false
	if protocol.IsULID(visitorID) && visitorID != a.visitorID {
		a.visitorID, changed = visitorID, true
	}
	if key != "" && key != a.key {
		a.key, changed = key, true
	}
	if protocol.IsULID(visitID) && visitID != a.visitID {
		a.ob.Rebind(a.visitID, visitID, a.visitorID)
		a.visitID, changed = visitID, true
	}
	if changed && a.active {
		a.writeIDCookies(a.env.Now())
		a.persist()
	}
}

func (a *Agent) setIdentity(state string, identityID *string, verified bool) {
	if state != "" {
		a.state = state
	}
	a.identityID = ""
	if identityID != nil {
		a.identityID = *identityID
	}
	a.verified = verified
}

func (a *Agent) onIdentity(id *protocol.Identity, presented bool) {
	before, token := a.state+a.identityID, a.token
	wasVerified := a.verified
	a.setIdentity(id.State, id.IdentityID, id.Verified)
	// An identity change always carries the token to keep: null after
	// SignOut, or for a claim, means no token.
	a.applyRecognition(id.Recognition, presented || a.token != "")
	if !a.srv && (before != a.state+a.identityID || wasVerified != a.verified || token != a.token) {
		a.identityShifted() // first-party mode: once the cookie is set (onMessage)
	}
	a.resolveIdentityWaiters()
}

// identityWait bounds how long an acknowledged identity event waits for
// its identity frame: none comes when the identity did not change.
const identityWait = 1000

func (a *Agent) awaitIdentity(r Reply) {
	a.identityWaiters = append(a.identityWaiters, r)
	if a.identityTimer == nil {
		a.identityTimer = a.env.After(identityWait, func() {
			a.identityTimer = nil
			a.resolveIdentityWaiters()
		})
	}
}

func (a *Agent) resolveIdentityWaiters() {
	if a.identityTimer != nil {
		a.identityTimer()
		a.identityTimer = nil
	}
	w := a.identityWaiters
	a.identityWaiters = nil
	for _, r := range w {
		r.Resolve(a.IDs())
	}
}

func (a *Agent) onAck(ack *protocol.Ack) {
	ids := append([]string(nil), ack.EventIDs...)
	for _, r := range ack.Rejected {
		ids = append(ids, r.EventID)
	}
	a.ob.Remove(ids...)
	for _, id := range ids {
		delete(a.sent, id)
	}
	if a.throttled {
		a.throttled = false
		a.bo.Reset()
	}
	a.persist()
	// A refused event is stored but did nothing (a SignIn of a placeholder
	// userId): the call that made it fails, saying why.
	for _, rej := range append(ack.Refused, ack.Rejected...) {
		if r := a.replies[rej.EventID]; r != nil {
			delete(a.replies, rej.EventID)
			delete(a.identityEvents, rej.EventID)
			r.Reject(rej.Code, rej.Message)
		}
	}
	for _, id := range ack.EventIDs {
		r := a.replies[id]
		if r == nil {
			continue
		}
		delete(a.replies, id)
		if a.identityEvents[id] && a.welcomed {
			delete(a.identityEvents, id)
			a.awaitIdentity(r)
			continue
		}
		r.Resolve(a.IDs())
	}
}

func (a *Agent) applyVisitorData(v protocol.VisitorDataView) {
	data := string(v.Data)
	if v.Data.IsNull() {
		data = "{}"
	}
	if v.Version == a.vd.Version && data == a.visitorData().JSON {
		return
	}
	a.vd = VisitorData{Version: v.Version, JSON: data}
	for _, s := range a.subs {
		s.VisitorData(a.vd)
	}
}

func (a *Agent) onVisitorData(v *protocol.VisitorDataView, requestID string) {
	a.applyVisitorData(*v)
	// The collector answers a successful update with the new document;
	// frames come in order, so without a requestId it answers the oldest.
	for i, u := range a.updates {
		if u.sent && (requestID == "" || requestID == u.id) {
			a.updates = append(a.updates[:i], a.updates[i+1:]...)
			resolve(u.reply, a.visitorData())
			return
		}
	}
}

func (a *Agent) onError(e *protocol.Error) {
	for i, u := range a.updates {
		if e.RequestID != "" && u.id == e.RequestID {
			a.updates = append(a.updates[:i], a.updates[i+1:]...)
			reject(u.reply, e.Code, e.Message)
			return
		}
	}
}

// update handles ['visitorData','update',ns,value]: only the WebSocket
// carries it.
func (a *Agent) update(c Command) {
	switch {
	case a.consent == -1:
		reject(c.Reply, CodeConsentRefused, "the visitor refused consent")
		return
	case !protocol.ValidNamespace(c.Namespace):
		reject(c.Reply, protocol.CodeInvalidVisitorData, "namespace names match ^[a-z][a-z0-9_]{0,63}$")
		return
	case a.cfg.Transport == TransportHTTP:
		reject(c.Reply, CodeWebSocketRequired, "visitor data is written over the WebSocket transport only")
		return
	}
	a.nextReq++
	a.updates = append(a.updates, &update{id: "r" + string(wire.AppendInt(nil, a.nextReq)), ns: c.Namespace, value: c.Value, reply: c.Reply})
	a.flush()
}

func (a *Agent) scheduleFlush() {
	if a.flushing != nil || !a.active {
		return
	}
	a.flushing = a.env.After(0, func() {
		a.flushing = nil
		a.flush()
	})
}

// flush sends what waits: on the WebSocket once welcomed, otherwise (auto
// transport while it is down, or HTTP only) by POST /v1/collect. Events of
// an earlier visit always go by HTTP, which names their visit.
func (a *Agent) flush() {
	if !a.active || a.followTabs() {
		return
	}
	if a.flushing != nil {
		a.flushing()
		a.flushing = nil
	}
	entries := a.ob.Entries()
	if a.welcomed {
		var batch []string
		size := 0
		for _, e := range entries {
			if e.VisitID != a.visitID || a.sent[e.ID] {
				continue
			}
			if len(batch) == protocol.MaxBatchEvents || size+len(e.JSON) > frameBytes {
				a.sock.Send(wire.Events(a.env.Timestamp(a.env.Now()), batch))
				batch, size = nil, 0
			}
			batch = append(batch, e.JSON)
			size += len(e.JSON) + 1
			a.sent[e.ID] = true
		}
		if len(batch) > 0 {
			a.sock.Send(wire.Events(a.env.Timestamp(a.env.Now()), batch))
		}
		for _, u := range a.updates {
			if !u.sent {
				u.sent = true
				a.sock.Send(wire.VisitorDataUpdate(u.id, u.ns, u.value))
			}
		}
	}
	if a.posting || a.postRetry != nil {
		return
	}
	overHTTP := !a.welcomed && (a.useHTTP || a.cfg.Transport == TransportHTTP)
	for _, e := range entries {
		if e.VisitID != a.visitID || overHTTP {
			a.post(e.VisitID)
			return
		}
	}
}

// post sends the waiting events of one visit by HTTP, one request at a
// time.
func (a *Agent) post(visitID string) {
	var batch []string
	var visitorID string
	size := 0
	for _, e := range a.ob.Entries() {
		if e.VisitID != visitID {
			continue
		}
		if len(batch) == protocol.MaxBatchEvents || size+len(e.JSON) > frameBytes {
			break
		}
		visitorID = e.VisitorID
		batch = append(batch, e.JSON)
		size += len(e.JSON) + 1
	}
	// Only the current visit is recognized: an older one's events (a
	// beacon resent by this page) are late deliveries that change nothing.
	// The token goes with them all the same: an ended visit that was
	// verified takes them only from a browser that proves its identity.
	current := visitID == a.visitID
	rec, recognize := a.recognition()
	recognize = recognize && current
	key := ""
	if visitorID == a.visitorID {
		key = a.key // the key proves the current visitor only
	}
	body := wire.Collect(visitorID, key, visitID, rec, recognize, a.vd.Version, a.env.Timestamp(a.env.Now()), batch, a.askServer(), a.cfg.CookieDomain, a.handoff, a.consentState())
	a.posting = true
	a.env.Post(a.cfg.Collector+"/v1/collect", body, func(resp *protocol.CollectResponse, err error) {
		a.posting = false
		if !a.active {
			return
		}
		if err != nil {
			a.postRetry = a.env.After(a.postBo.Next(), func() {
				a.postRetry = nil
				a.flush()
			})
			return
		}
		a.postBo.Reset()
		a.handoff = ""
		a.setServerCookies(resp.Cookies != "")
		if current {
			a.adoptIDs(resp.VisitorID, resp.VisitorKey, resp.VisitID)
			if resp.Identity != nil {
				a.onIdentity(resp.Identity, rec != "")
			}
			if resp.VisitorData != nil {
				a.applyVisitorData(*resp.VisitorData)
			}
		}
		before := a.ob.Len()
		a.onAck(&resp.Ack)
		if a.ob.Len() == before {
			// Nothing acknowledged: do not hammer the collector.
			a.postRetry = a.env.After(a.postBo.Next(), func() {
				a.postRetry = nil
				a.flush()
			})
			return
		}
		a.scheduleFlush()
	})
}
