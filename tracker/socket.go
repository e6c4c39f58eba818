//go:build js && wasm

package main

import (
	"syscall/js"

	"github.com/visitrack/visitrack/shared/protocol"
	"github.com/visitrack/visitrack/tracker/agent"
)

// socket wraps the browser's WebSocket; its events are posted to the loop.
type socket struct {
	ws    js.Value
	funcs []js.Func
	done  bool
}

var socketHandlers = []string{"onopen", "onmessage", "onclose", "onerror"}

// Dial opens a WebSocket, or returns nil where there is none or the URL is
// refused.
func (b *browser) Dial(url string, ev agent.SocketEvents) agent.Socket {
	ctor := b.global.Get("WebSocket")
	if ctor.Type() != js.TypeFunction {
		return nil
	}
	s := &socket{}
	if !catch(func() { s.ws = ctor.New(url, protocol.Subprotocol) }) {
		return nil
	}
	on := func(name string, f func(js.Value)) {
		fn := js.FuncOf(func(_ js.Value, args []js.Value) any {
			e := js.Undefined()
			if len(args) > 0 {
				e = args[0]
			}
			f(e)
			return nil
		})
		s.funcs = append(s.funcs, fn)
		s.ws.Set(name, fn)
	}
	on("onopen", func(js.Value) { b.l.post(ev.Open) })
	on("onmessage", func(e js.Value) {
		if d := get(e, "data"); d.Type() == js.TypeString {
			text := d.String()
			b.l.post(func() {
				if m := decodeMessage(parse(text)); m != nil {
					ev.Message(m)
				}
			})
		}
	})
	closed := func(code int) {
		if s.done {
			return
		}
		s.detach()
		b.l.post(func() { ev.Close(code) })
	}
	on("onclose", func(e js.Value) { closed(int(num(e, "code"))) })
	// Browsers follow an error with close; Node 20's WebSocket does not
	// when the connection is refused. Either way the socket is finished.
	on("onerror", func(js.Value) {
		closed(1006)
		catch(func() { s.ws.Call("close") })
	})
	return s
}

func (s *socket) Send(text string) {
	if !s.done {
		catch(func() { s.ws.Call("send", text) })
	}
}

// Close closes the socket without telling the agent, which asked for it.
func (s *socket) Close() {
	if s.done {
		return
	}
	s.detach()
	catch(func() { s.ws.Call("close", 1000) })
}

func (s *socket) detach() {
	if s.done {
		return
	}
	s.done = true
	for _, h := range socketHandlers {
		s.ws.Set(h, js.Null())
	}
	for _, fn := range s.funcs {
		fn.Release()
	}
	s.funcs = nil
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
