//go:build js && wasm

package main

import (
	"syscall/js"

	"github.com/visitrack/visitrack/shared/protocol"
	"github.com/visitrack/visitrack/tracker/agent"
)

// socket wraps the browser's WebSocket; its events are posted to the loop.
type socket struct {
	ws   js.Value
	fns  [len(socketHandlers)]js.Func
	done bool
}

// socketHandlers are the WebSocket's event handlers, in the order of the
// kinds Dial's handler tells apart.
var socketHandlers = [...]string{"onopen", "onmessage", "onclose", "onerror"}

// Dial opens a WebSocket, or returns nil where there is none or the URL is
// refused.
func (b *browser) Dial(url string, ev agent.SocketEvents) agent.Socket {
	s := &socket{ws: try(b.global.Get("Reflect"), "construct", b.global.Get("WebSocket"), []any{url, protocol.Subprotocol})}
	if !isObject(s.ws) {
		return nil
	}
	// One function literal for the four handlers, told apart by kind: a
	// literal for each would cost the download more.
	for kind, h := range socketHandlers {
		s.fns[kind] = js.FuncOf(func(_ js.Value, args []js.Value) any {
			s.event(b, ev, kind, args)
			return nil
		})
		s.ws.Set(h, s.fns[kind])
	}
	return s
}

// event handles the WebSocket's event of the given kind (an index of
// socketHandlers).
func (s *socket) event(b *browser, ev agent.SocketEvents, kind int, args []js.Value) {
	e := js.Undefined()
	if len(args) > 0 {
		e = args[0]
	}
	switch kind {
	case 0:
		b.l.post(ev.Open)
	case 1:
		if d := get(e, "data"); d.Type() == js.TypeString {
			text := d.String()
			b.l.post(func() {
				if m := decodeMessage(parse(text)); m != nil {
					ev.Message(m)
				}
			})
		}
	default:
		// Browsers follow an error with close; Node 20's WebSocket
		// does not when the connection is refused. Either way the
		// socket is finished.
		if s.done {
			return
		}
		code := 1006
		if kind == 2 {
			code = int(num(e, "code"))
		}
		s.detach()
		if kind != 2 {
			try(s.ws, "close")
		}
		b.l.post(func() { ev.Close(code) })
	}
}

func (s *socket) Send(text string) {
	if !s.done {
		try(s.ws, "send", text)
	}
}

// Close closes the socket without telling the agent, which asked for it.
func (s *socket) Close() {
	if s.done {
		return
	}
	s.detach()
	try(s.ws, "close", 1000)
}

func (s *socket) detach() {
	if s.done {
		return
	}
	s.done = true
	for _, h := range socketHandlers {
		s.ws.Set(h, js.Null())
	}
	for _, fn := range s.fns {
		fn.Release()
	}
}

// decodeMessage reads a parsed frame from the collector; nil for anything
// that is not one.
func decodeMessage(v js.Value) *agent.Message {
	m := &agent.Message{Type: str(v, "type")}
	switch m.Type {
	case protocol.TypeWelcome:
		m.Welcome = protocol.Welcome{Type: m.Type, VisitorID: str(v, "visitorId"), VisitorKey: str(v, "visitorKey"), VisitID: str(v, "visitId"),
			State: str(v, "state"), IdentityID: strPtr(v, "identityId"), Verified: boolean(v, "verified"),
			Recognition: strPtr(v, "recognition"), VisitorData: decodeVisitorData(get(v, "visitorData")),
			Cookies: str(v, "cookies")}
	case protocol.TypeAck:
		m.Ack = decodeAck(v)
	case protocol.TypeIdentity:
		m.Identity = decodeIdentity(v)
	case protocol.TypeVisitorData:
		m.VisitorData = decodeVisitorData(v)
		m.RequestID = str(v, "requestId")
	case protocol.TypeHandoff:
		m.Handoff = protocol.Handoff{RequestID: str(v, "requestId"), Token: str(v, "token")}
	case protocol.TypeError:
		m.Error = protocol.Error{Type: m.Type, Code: str(v, "code"), Message: str(v, "message"), RequestID: str(v, "requestId")}
	case protocol.TypeNotification:
		m.Notification = decodeNotification(v)
		if str(v, "kind") == agent.TypeOffer {
			// An engagement offer: the loader reads the frame itself.
			m.Type = agent.TypeOffer
			m.Notification.ID = str(v, "offerId")
			m.Notification.Data = protocol.RawJSON(stringify(v))
		}
	default:
		return nil
	}
	return m
}

func decodeAck(v js.Value) protocol.Ack {
	return protocol.Ack{EventIDs: strs(v, "eventIds"), Rejected: rejections(v, "rejected"), Refused: rejections(v, "refused")}
}

// rejections reads the list of rejections named key, if any.
func rejections(v js.Value, key string) []protocol.Rejection {
	var out []protocol.Rejection
	if r := get(v, key); isObject(r) {
		for i := 0; i < r.Length(); i++ {
			e := r.Index(i)
			out = append(out, protocol.Rejection{EventID: str(e, "eventId"), Code: str(e, "code"), Message: str(e, "message")})
		}
	}
	return out
}

func decodeIdentity(v js.Value) protocol.Identity {
	return protocol.Identity{State: str(v, "state"), IdentityID: strPtr(v, "identityId"),
		Verified: boolean(v, "verified"), Recognition: strPtr(v, "recognition")}
}

func decodeVisitorData(v js.Value) protocol.VisitorDataView {
	vd := protocol.VisitorDataView{Version: num(v, "version")}
	if d := get(v, "data"); isObject(d) {
		vd.Data = protocol.RawJSON(stringify(d))
	}
	return vd
}
