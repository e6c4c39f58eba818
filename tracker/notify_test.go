//go:build js && wasm

package main

import (
	"encoding/json"
	"syscall/js"
	"testing"

	"github.com/visitrack/visitrack/shared/protocol"
)

// The glue under Node: ['subscribe', 'notification', callback] queued
// before the tracker loads calls back with {id, channel, data} for each
// notification frame, data as a JavaScript value; other subscribe forms
// are not commands.
func TestNotificationCallbackInNode(t *testing.T) {
	installDOM(t)
	socks := fakeSocketClass(t)
	g := js.Global()
	onNote := recorder()
	q := g.Get("Array").New()
	q.Call("push", jsArray(t, `["config",{"collector":"http://127.0.0.1:9/"}]`))
	q.Call("push", jsArray(t, `["subscribe","notification"]`, onNote))
	g.Set("_gt", q)
	installLoader(t)

	l := newLoop()
	go l.run()
	l.post(func() { install(l) })
	eventually(t, "a WebSocket", func() bool { return socks.Length() == 1 })
	ws := socks.Index(0)
	fromTask(ws, "onopen")
	eventually(t, "hello", func() bool { return len(sentFrames(ws)) == 1 })
	var hello protocol.Hello
	if err := json.Unmarshal([]byte(sentFrames(ws)[0]), &hello); err != nil {
		t.Fatal(err)
	}
	deliver(ws, `{"type":"welcome","visitorId":"`+hello.VisitorID+`","visitId":"`+hello.VisitID+`","state":"anonymous","identityId":null,"verified":false,"recognition":null,"visitorData":{"version":0,"data":{}}}`)
	deliver(ws, `{"type":"notification","id":"01KA0000000000000000000001","channel":"chat","data":{"text":"An agent can help","n":[1,2]}}`)
	deliver(ws, `{"type":"notification","id":"01KA0000000000000000000002","channel":"offer","data":null}`)
	eventually(t, "two notifications", func() bool { return len(calls(onNote)) == 2 })
	first, second := calls(onNote)[0].Index(0), calls(onNote)[1].Index(0)
	stringify := func(v js.Value) string { return g.Get("JSON").Call("stringify", v).String() }
	if got := stringify(first); got != `{"id":"01KA0000000000000000000001","channel":"chat","data":{"text":"An agent can help","n":[1,2]}}` {
		t.Errorf("first callback got %s", got)
	}
	if got := stringify(second); got != `{"id":"01KA0000000000000000000002","channel":"offer","data":null}` {
		t.Errorf("second callback got %s", got)
	}

	for _, bad := range []string{`["subscribe"]`, `["subscribe","notification"]`, `["subscribe","visitorData"]`} {
		extra := []any{}
		if bad == `["subscribe","visitorData"]` {
			extra = append(extra, recorder())
		}
		if _, ok := decodeForm(t, jsArray(t, bad, extra...)); ok {
			t.Errorf("%s decoded", bad)
		}
	}
}
