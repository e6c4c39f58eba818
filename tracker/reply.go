//go:build js && wasm

package main

import (
	"syscall/js"

	"github.com/visitrack/visitrack/shared/protocol"
	"github.com/visitrack/visitrack/tracker/agent"
	"github.com/visitrack/visitrack/tracker/wire"
)

// promiseReply settles a command: the loader's functions settle the
// promise of window.visitrack, or call the page's callback from a fresh
// task, and add Genesys's names to the ids.
type promiseReply struct{ resolve, reject js.Value }

func (r promiseReply) Resolve(v any) {
	r.resolve.Invoke(toJS(v))
}

func (r promiseReply) Reject(code, message string) {
	if r.reject.Type() == js.TypeFunction {
		e := js.Global().Get("Error").New("visitrack: " + message)
		e.Set("code", code)
		r.reject.Invoke(e)
	}
}

// callback is the loader's function that tells the page of visitor data,
// fn(data, version), or of a notification, fn(id, channel, data); it is
// called from a fresh task, as every site callback is.
type callback struct{ fn js.Value }

func (s callback) VisitorData(vd agent.VisitorData) {
	later(s.fn, parse(vd.JSON), vd.Version)
}

func (s callback) Notification(n *protocol.Notification) {
	later(s.fn, n.ID, n.Channel, parse(string(n.Data)))
}

func later(fn js.Value, args ...any) {
	js.Global().Call("setTimeout", append([]any{fn, 0}, args...)...)
}

// toJS converts the agent's results, as JSON the browser parses.
func toJS(v any) any {
	var o wire.Object
	switch v := v.(type) {
	case agent.IDs:
		o.Str("visitorId", v.VisitorID)
		o.Str("visitId", v.VisitID)
		o.Str("pageId", v.PageID)
		o.Nullable("identityId", v.IdentityID)
		o.Str("state", v.State)
		o.Raw("verified", jsonBool(v.Verified))
	case agent.VisitorData:
		return parse(v.JSON)
	case string:
		return v
	case agent.Stats:
		o.Int("queued", int64(v.Queued))
		o.Int("dropped", v.Dropped)
		o.Str("transport", v.Transport)
	default:
		return js.Undefined()
	}
	return parse(o.Done())
}

func jsonBool(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
