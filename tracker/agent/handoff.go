package agent

import (
	"github.com/visitrack/visitrack/shared/protocol"
	"github.com/visitrack/visitrack/tracker/wire"
)

// The cross-domain handoff (docs/identity.md#cross-domain-handoff). ['decorate', url, callback]
// calls back with url carrying a fresh handoff token as _vt_x; the
// loader's link listener uses it for links to the linkDomains. The agent
// only fetches the token: it resolves OpDecorate with the token (a
// string, "" for none), and the loader builds the address with the
// browser's URL object and calls back with the URL as it was if no token
// comes in time (web/loader/gt.js), which keeps the tracker small. On the
// other site the loader takes _vt_x out of the address bar, and the agent
// presents it once, in hello or the first /v1/collect (Page.Handoff).

// decorate handles OpDecorate: a handoff frame on the WebSocket, whose
// answer resolves c.Reply (kept with the events' replies, under its
// requestId), or else POST /v1/handoff.
func (a *Agent) decorate(c Command) {
	if !a.active {
		resolve(c.Reply, "")
		return
	}
	if a.welcomed {
		a.nextReq++
		id := "h" + string(wire.AppendInt(nil, a.nextReq))
		a.replies[id] = c.Reply
		a.sock.Send(wire.Handoff(id))
		return
	}
	rec, recognize := a.recognition()
	body := wire.Collect(a.visitorID, a.key, a.visitID, rec, recognize, 0, "", nil, "", "", "", "")
	a.env.Post(a.cfg.Collector+"/v1/handoff", body, func(r *protocol.CollectResponse, err error) {
		tok := ""
		if err == nil {
			tok = r.Token
		}
		resolve(c.Reply, tok)
	})
}

// onHandoff settles a decoration with the collector's token.
func (a *Agent) onHandoff(h *protocol.Handoff) {
	if r := a.replies[h.RequestID]; r != nil {
		delete(a.replies, h.RequestID)
		r.Resolve(h.Token)
	}
}
