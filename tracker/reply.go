//go:build js && wasm

package main

import (
	"syscall/js"

	"github.com/visitrack/visitrack/tracker/agent"
)

// promiseReply settles a promise made by the loader's window.visitrack.
type promiseReply struct{ resolve, reject js.Value }

func (r promiseReply) Resolve(v any) {
	if r.resolve.Type() == js.TypeFunction {
		r.resolve.Invoke(toJS(v))
	}
}

func (r promiseReply) Reject(code, message string) {
	if r.reject.Type() == js.TypeFunction {
		e := js.Global().Get("Error").New("visitrack: " + message)
		e.Set("code", code)
		r.reject.Invoke(e)
	}
}

// callbackReply calls a site callback, from a fresh task so that the
// callback's exceptions and its own commands do not reach into the loop.
type callbackFunc struct{ fn js.Value }

func callbackReply(fn js.Value) agent.Reply {
	if fn.Type() != js.TypeFunction {
		return nil
	}
	return callbackFunc{fn}
}

func (c callbackFunc) Resolve(v any)      { later(c.fn, toJS(v)) }
func (c callbackFunc) Reject(_, _ string) {}

// subscriber calls callback(data, version).
type subscriber struct{ fn js.Value }

func (s subscriber) VisitorData(vd agent.VisitorData) {
	later(s.fn, parse(vd.JSON), vd.Version)
}

func later(fn js.Value, args ...any) {
	js.Global().Call("setTimeout", append([]any{fn, 0}, args...)...)
}

// toJS converts the agent's results.
func toJS(v any) any {
	o := js.Global().Get("Object").New()
	switch v := v.(type) {
	case agent.IDs:
		o.Set("visitorId", v.VisitorID)
		o.Set("visitId", v.VisitID)
		o.Set("pageId", v.PageID)
		if v.IdentityID == "" {
			o.Set("identityId", js.Null())
		} else {
			o.Set("identityId", v.IdentityID)
		}
		o.Set("state", v.State)
		o.Set("verified", v.Verified)
		return o
	case agent.VisitorData:
		return parse(v.JSON)
	case string:
		return v
	case agent.Stats:
		o.Set("queued", v.Queued)
		o.Set("dropped", v.Dropped)
		o.Set("transport", v.Transport)
		return o
	}
	return js.Undefined()
}
