//go:build js && wasm

package main

import (
	"encoding/json"
	"strings"
	"syscall/js"
	"testing"
	"time"

	"github.com/visitrack/visitrack/shared/protocol"
)

// The glue and the loader under Node: a notification frame of kind
// "offer" calls the callbacks of ['subscribe', 'offer', fn] with the offer
// (and not those of plain notifications), and ['offer', offerId,
// 'accepted'] sends one EngagementAccepted event carrying the offerId; an
// answer to an offer never made sends nothing.
func TestOfferInNode(t *testing.T) {
	installDOM(t)
	socks := fakeSocketClass(t)
	g := js.Global()
	onOffer, onNote := recorder(), recorder()
	q := g.Get("Array").New()
	q.Call("push", jsArray(t, `["config",{"collector":"http://127.0.0.1:9/"}]`))
	q.Call("push", jsArray(t, `["subscribe","offer"]`, onOffer))
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
	expires := time.Now().Add(time.Minute).UTC().Format(time.RFC3339)
	deliver(ws, `{"type":"notification","id":"01KA0000000000000000000009","kind":"offer","offerId":"01KA0000000000000000000001","ruleId":"01KA00000000000000000000R1","channel":"chat","data":{"text":"Need help?"},"expiresAt":"`+expires+`"}`)
	deliver(ws, `{"type":"notification","id":"01KA0000000000000000000002","channel":"chat","data":1}`)
	eventually(t, "the offer and the notification", func() bool { return len(calls(onOffer)) == 1 && len(calls(onNote)) == 1 })
	stringify := func(v js.Value) string { return g.Get("JSON").Call("stringify", v).String() }
	want := `{"offerId":"01KA0000000000000000000001","ruleId":"01KA00000000000000000000R1","channel":"chat","data":{"text":"Need help?"},"expiresAt":"` + expires + `"}`
	if got := stringify(calls(onOffer)[0].Index(0)); got != want {
		t.Errorf("offer callback got %s, want %s", got, want)
	}
	if got := stringify(calls(onNote)[0].Index(0)); !strings.Contains(got, `"id":"01KA0000000000000000000002"`) {
		t.Errorf("notification callback got %s", got)
	}

	// The page settles the events it made at load, so that what follows
	// is the answer alone.
	settled := len(sentFrames(ws))
	gt := g.Get("_gt")
	gt.Call("push", jsArray(t, `["offer","01KA00000000000000000000ZZ","accepted"]`))
	gt.Call("push", jsArray(t, `["offer","01KA0000000000000000000001","accepted"]`))
	gt.Call("push", jsArray(t, `["offer","01KA0000000000000000000001","declined"]`)) // answered already
	answers := func() (out []protocol.Event) {
		for _, f := range sentFrames(ws)[settled:] {
			var b protocol.Events
			if json.Unmarshal([]byte(f), &b) == nil {
				for _, e := range b.Events {
					if strings.HasPrefix(e.Name, "Engagement") {
						out = append(out, e)
					}
				}
			}
		}
		return out
	}
	eventually(t, "the answer", func() bool { return len(answers()) > 0 })
	time.Sleep(50 * time.Millisecond) // room for a wrong second answer to go out
	if answers := answers(); len(answers) != 1 || answers[0].Name != "EngagementAccepted" || string(answers[0].Data) != `{"offerId":"01KA0000000000000000000001"}` {
		t.Errorf("answers sent: %+v", answers)
	}
}
