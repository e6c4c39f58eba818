//go:build js && wasm

package main

import (
	"syscall/js"

	"github.com/visitrack/visitrack/shared/protocol"
)

// collectError is the one error Post reports; the agent only retries.
// (errors.New would link internal/reflectlite into the tracker.)
type collectError struct{}

func (collectError) Error() string { return "visitrack: collect request failed" }

var errCollect error = collectError{}

// Post sends body with fetch as text/plain, a "simple" cross-origin request
// that needs no CORS preflight. It serves /v1/collect, /v1/cookies and
// /v1/handoff, whose answers decode alike.
func (b *browser) Post(url, body string, done func(*protocol.CollectResponse, error)) {
	fail := func() { b.l.post(func() { done(nil, errCollect) }) }
	// With the collector's cookies, which first-party mode keeps
	// HttpOnly; the collector answers allowed origins with credentials.
	init := parse(`{"method":"POST","credentials":"include","headers":{"Content-Type":"text/plain"}}`)
	init.Set("body", body)
	init.Set("keepalive", len(body) < 60<<10)
	var p js.Value
	if p = try(b.global, "fetch", url, init); !isObject(p) {
		fail()
		return
	}
	then(p, func(resp js.Value) {
		if !boolean(resp, "ok") {
			fail()
			return
		}
		then(resp.Call("text"), func(text js.Value) {
			v := parse(text.String())
			if !isObject(v) {
				fail()
				return
			}
			r := decodeCollectResponse(v)
			b.l.post(func() { done(r, nil) })
		}, fail)
	}, fail)
}

// then attaches callbacks to a promise and releases both once either ran.
func then(p js.Value, ok func(js.Value), fail func()) {
	var onOK, onFail js.Func
	release := func() { onOK.Release(); onFail.Release() }
	onOK = js.FuncOf(func(_ js.Value, args []js.Value) any {
		release()
		v := js.Undefined()
		if len(args) > 0 {
			v = args[0]
		}
		ok(v)
		return nil
	})
	onFail = js.FuncOf(func(js.Value, []js.Value) any {
		release()
		fail()
		return nil
	})
	p.Call("then", onOK, onFail)
}

func decodeCollectResponse(v js.Value) *protocol.CollectResponse {
	r := &protocol.CollectResponse{VisitorID: str(v, "visitorId"), VisitorKey: str(v, "visitorKey"), VisitID: str(v, "visitId"),
		Ack: decodeAck(get(v, "ack")), Cookies: str(v, "cookies"), Token: str(v, "token")}
	if id := get(v, "identity"); isObject(id) {
		i := decodeIdentity(id)
		r.Identity = &i
	}
	if vd := get(v, "visitorData"); isObject(vd) {
		d := decodeVisitorData(vd)
		r.VisitorData = &d
	}
	return r
}
