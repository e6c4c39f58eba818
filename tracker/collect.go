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
	// One callback follows the request through its two promises, fetch's
	// response and its text, on fulfilment and on rejection alike: stage
	// says where it is (a callback for each would cost the download more).
	var fn js.Func
	stage := 0
	fn = js.FuncOf(func(_ js.Value, args []js.Value) any {
		v := js.Undefined()
		if len(args) > 0 {
			v = args[0]
		}
		stage++
		switch {
		case stage == 1 && boolean(v, "ok"):
			if isObject(try(try(v, "text"), "then", fn, fn)) {
				return nil
			}
		case stage == 2 && v.Type() == js.TypeString:
			if r := parse(v.String()); isObject(r) {
				fn.Release()
				resp := decodeCollectResponse(r)
				b.l.post(func() { done(resp, nil) })
				return nil
			}
		}
		fn.Release()
		fail()
		return nil
	})
	if !isObject(try(try(b.global, "fetch", url, init), "then", fn, fn)) {
		fn.Release()
		fail()
	}
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
