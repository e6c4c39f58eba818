//go:build js && wasm

package main

// These tests run under Node (make test-tracker): Go's go_js_wasm_exec
// runner, with NODE_OPTIONS=--experimental-websocket for WebSocket. Node
// has no document or localStorage, so the tests install small fakes.

import (
	"encoding/json"
	"strconv"
	"strings"
	"syscall/js"
	"testing"
	"time"

	"github.com/visitrack/visitrack/shared/protocol"
	"github.com/visitrack/visitrack/tracker/agent"
)

// installDOM gives Node a document with a cookie jar (honouring Max-Age=0)
// and a Map-backed localStorage, and returns the jar.
func installDOM(t *testing.T) map[string]string {
	t.Helper()
	g := js.Global()
	jar := map[string]string{}
	doc := g.Get("Object").New()
	desc := g.Get("Object").New()
	desc.Set("configurable", true)
	desc.Set("get", js.FuncOf(func(js.Value, []js.Value) any {
		var parts []string
		for k, v := range jar {
			parts = append(parts, k+"="+v)
		}
		return strings.Join(parts, "; ")
	}))
	desc.Set("set", js.FuncOf(func(_ js.Value, args []js.Value) any {
		s := args[0].String()
		nv, _, _ := strings.Cut(s, ";")
		name, value, _ := strings.Cut(nv, "=")
		if strings.Contains(s, "Max-Age=0") {
			delete(jar, name)
		} else {
			jar[name] = value
		}
		return nil
	}))
	g.Get("Object").Call("defineProperty", doc, "cookie", desc)
	doc.Set("title", "Node page")
	doc.Set("referrer", "")
	g.Set("document", doc)

	store := map[string]string{}
	var keys []string
	ls := g.Get("Object").New()
	ls.Set("getItem", js.FuncOf(func(_ js.Value, a []js.Value) any {
		if v, ok := store[a[0].String()]; ok {
			return v
		}
		return js.Null()
	}))
	ls.Set("setItem", js.FuncOf(func(_ js.Value, a []js.Value) any {
		k := a[0].String()
		if _, ok := store[k]; !ok {
			keys = append(keys, k)
		}
		store[k] = a[1].String()
		ls.Set("length", len(keys))
		return nil
	}))
	ls.Set("removeItem", js.FuncOf(func(_ js.Value, a []js.Value) any {
		k := a[0].String()
		delete(store, k)
		for i, x := range keys {
			if x == k {
				keys = append(keys[:i], keys[i+1:]...)
				break
			}
		}
		ls.Set("length", len(keys))
		return nil
	}))
	ls.Set("key", js.FuncOf(func(_ js.Value, a []js.Value) any {
		if i := a[0].Int(); i < len(keys) {
			return keys[i]
		}
		return js.Null()
	}))
	ls.Set("length", 0)
	g.Set("localStorage", ls)
	loc := g.Get("Object").New()
	loc.Set("href", "https://shop.example/cart")
	loc.Set("protocol", "https:")
	g.Set("location", loc)
	t.Cleanup(func() {
		for _, k := range []string{"document", "localStorage", "location", "_gt"} {
			g.Delete(k)
		}
	})
	return jar
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 400; i++ {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// jsArray builds a JavaScript array from JSON text plus trailing values.
func jsArray(t *testing.T, jsonText string, extra ...any) js.Value {
	t.Helper()
	a := js.Global().Get("JSON").Call("parse", jsonText)
	for _, x := range extra {
		a.Call("push", x)
	}
	return a
}

func TestDecodeCommandForms(t *testing.T) {
	cases := []struct {
		cmd  string
		want agent.Command
	}{
		{`["event","SignIn",{"data":{"userId":"ann","userHash":"ab"}}]`, agent.Command{Op: agent.OpEvent, Name: "SignIn", Data: `{"userId":"ann","userHash":"ab"}`}},
		{`["event","sendSignIn",{"userId":"ann","plan":"pro"}]`, agent.Command{Op: agent.OpEvent, Name: "SignIn", Data: `{"userId":"ann","plan":"pro"}`}},
		{`["event","SignOut"]`, agent.Command{Op: agent.OpEvent, Name: "SignOut", Data: `{}`}},
		{`["event","sendSignOut"]`, agent.Command{Op: agent.OpEvent, Name: "SignOut", Data: `{}`}},
		{`["event","UserInfo",{"data":{"userId":"ann"}}]`, agent.Command{Op: agent.OpEvent, Name: "UserInfo", Data: `{"userId":"ann"}`}},
		{`["event","sendUserInfo",{"userId":"ann"}]`, agent.Command{Op: agent.OpEvent, Name: "UserInfo", Data: `{"userId":"ann"}`}},
		{`["event","AddToCart",{"data":{"sku":"A1","qty":2}}]`, agent.Command{Op: agent.OpEvent, Name: "AddToCart", Data: `{"sku":"A1","qty":2}`}},
		{`["event","Odd",{"data":[1,2]}]`, agent.Command{Op: agent.OpEvent, Name: "Odd", Data: `{}`}},
		{`["page",{"url":"https://x/#a","title":"A"}]`, agent.Command{Op: agent.OpPage, URL: "https://x/#a", Title: "A"}},
		{`["page"]`, agent.Command{Op: agent.OpPage}},
		{`["consent",true]`, agent.Command{Op: agent.OpConsent, Consent: true}},
		{`["consent",false]`, agent.Command{Op: agent.OpConsent}},
		{`["visitorData","update","prefs",{"dark":true}]`, agent.Command{Op: agent.OpUpdate, Namespace: "prefs", Value: `{"dark":true}`}},
		{`["stats"]`, agent.Command{Op: agent.OpStats}},
	}
	for _, c := range cases {
		got, ok := decodeCommand(jsArray(t, c.cmd))
		if !ok || got.Op != c.want.Op || got.Name != c.want.Name || got.Data != c.want.Data || got.URL != c.want.URL ||
			got.Title != c.want.Title || got.Consent != c.want.Consent || got.Namespace != c.want.Namespace || got.Value != c.want.Value {
			t.Errorf("%s: got %+v (ok %v), want %+v", c.cmd, got, ok, c.want)
		}
	}

	cfg, ok := decodeCommand(jsArray(t, `["config",{"collector":"https://c.example/","transport":"http","requireConsent":true,
		"respectGPC":true,"autoRecognize":false,"cookieDomain":"shop.example","visitTimeoutMinutes":0.5}]`))
	p := cfg.Config
	if !ok || *p.Collector != "https://c.example/" || *p.Transport != "http" || !*p.RequireConsent || !*p.RespectGPC ||
		*p.AutoRecognize || *p.CookieDomain != "shop.example" || *p.VisitTimeoutMinutes != 0.5 {
		t.Fatalf("config %+v", p)
	}
	if c, _ := decodeCommand(jsArray(t, `["config",{}]`)); c.Config.Collector != nil || c.Config.RequireConsent != nil {
		t.Fatal("absent config fields were set")
	}

	for _, bad := range []string{`[]`, `[1]`, `["nope"]`, `["event"]`, `["visitorData","explode"]`, `{"0":"x"}`, `"event"`} {
		if _, ok := decodeCommand(jsArray(t, bad)); ok {
			t.Errorf("%s decoded", bad)
		}
	}

	// A cyclic object cannot be sent: the event carries {} instead.
	cyc := js.Global().Get("Object").New()
	cyc.Set("self", cyc)
	data := js.Global().Get("Object").New()
	data.Set("data", cyc)
	if c, ok := decodeCommand(jsArray(t, `["event","Cyclic"]`, data)); !ok || c.Data != "{}" {
		t.Fatalf("cyclic data: %+v", c)
	}
}

func TestBrowserEnv(t *testing.T) {
	jar := installDOM(t)
	b := newBrowser(newLoop())
	b.SetCookie("_vt_vid=01ARYZ6S410000000000000000; Path=/; Max-Age=63072000; SameSite=Lax")
	if !strings.Contains(b.Cookies(), "_vt_vid=01ARYZ6S410000000000000000") || len(jar) != 1 {
		t.Fatalf("cookies %q", b.Cookies())
	}
	b.Store("_vt_ob.a", "x")
	b.Store("_vt_ob.b", "y")
	b.Store("other", "z")
	if got := b.Keys("_vt_ob."); len(got) != 2 || b.Load("_vt_ob.b") != "y" || b.Load("missing") != "" {
		t.Fatalf("keys %v", got)
	}
	b.Remove("_vt_ob.a")
	if got := b.Keys("_vt_ob."); len(got) != 1 || got[0] != "_vt_ob.b" {
		t.Fatalf("after Remove: %v", got)
	}
	var r1, r2 [300]byte
	b.Random(r1[:])
	b.Random(r2[:])
	if r1 == r2 || r1 == [300]byte{} {
		t.Fatal("random bytes repeat or are zero")
	}
	if now := b.Now(); now < 1.7e12 {
		t.Fatalf("Now %d", now)
	}
	p := b.Page()
	if p.URL != "https://shop.example/cart" || !p.Secure || p.Title != "Node page" || p.TimeZone == "" {
		t.Fatalf("page %+v", p)
	}

	// Storage that throws (a sandboxed iframe) is no storage, not a crash.
	// The getter is JSON.parse, which throws on undefined: it must be a
	// JavaScript function, as a Go callback cannot throw.
	js.Global().Get("Object").Call("defineProperty", js.Global(), "localStorage", map[string]any{
		"configurable": true,
		"get":          js.Global().Get("JSON").Get("parse"),
	})
	b.Store("k", "v")
	if b.Load("k") != "" || len(b.Keys("")) != 0 {
		t.Fatal("throwing storage")
	}
}

// fakeSocketClass installs a WebSocket constructor that records instances.
func fakeSocketClass(t *testing.T) *[]js.Value {
	t.Helper()
	var made []js.Value
	old := js.Global().Get("WebSocket")
	ctor := js.FuncOf(func(this js.Value, args []js.Value) any {
		this.Set("url", args[0])
		this.Set("protocol", args[1])
		sent := js.Global().Get("Array").New()
		this.Set("sent", sent)
		this.Set("send", js.FuncOf(func(_ js.Value, a []js.Value) any { sent.Call("push", a[0]); return nil }))
		this.Set("close", js.FuncOf(func(js.Value, []js.Value) any { this.Set("closed", true); return nil }))
		made = append(made, this)
		return nil
	})
	js.Global().Set("WebSocket", ctor)
	t.Cleanup(func() { js.Global().Set("WebSocket", old) })
	return &made
}

func sentFrames(ws js.Value) []string {
	var out []string
	s := ws.Get("sent")
	for i := 0; i < s.Length(); i++ {
		out = append(out, s.Index(i).String())
	}
	return out
}

func deliver(ws js.Value, frame string) {
	ev := js.Global().Get("Object").New()
	ev.Set("data", frame)
	ws.Get("onmessage").Invoke(ev)
}

// TestTrackerInNode runs the whole tracker (glue and agent) on the event
// loop, with the queue the page filled before it loaded.
func TestTrackerInNode(t *testing.T) {
	jar := installDOM(t)
	socks := fakeSocketClass(t)
	g := js.Global()

	var ids js.Value
	resolved := false
	onIDs := js.FuncOf(func(_ js.Value, a []js.Value) any { ids, resolved = a[0], true; return nil })
	var vdSeen []string
	onData := js.FuncOf(func(_ js.Value, a []js.Value) any {
		vdSeen = append(vdSeen, g.Get("JSON").Call("stringify", a[0]).String()+"@"+strconv.Itoa(a[1].Int()))
		return nil
	})
	var rejected js.Value
	onReject := js.FuncOf(func(_ js.Value, a []js.Value) any { rejected = a[0]; return nil })
	noop := js.FuncOf(func(js.Value, []js.Value) any { return nil })
	q := g.Get("Array").New()
	q.Call("push", jsArray(t, `["config",{"collector":"http://127.0.0.1:9/"}]`))
	q.Call("push", jsArray(t, `["event","sendSignIn",{"userId":"ann@example.com"}]`))
	q.Call("push", jsArray(t, `["visitorData","subscribe"]`, onData))
	g.Set("_gt", q)

	l := newLoop()
	go l.run()
	l.post(func() { install(l) })
	eventually(t, "a WebSocket", func() bool { return len(*socks) == 1 })
	ws := (*socks)[0]
	if ws.Get("url").String() != "ws://127.0.0.1:9/v1/ws" || ws.Get("protocol").String() != protocol.Subprotocol {
		t.Fatalf("dialled %s %s", ws.Get("url"), ws.Get("protocol"))
	}
	if q.Get("tracker").String() == "" || q.Length() != 0 {
		t.Fatal("the queue was not taken over")
	}
	if jar["_vt_vid"] == "" || jar["_vt_visit"] == "" {
		t.Fatalf("cookies %v", jar)
	}

	ws.Get("onopen").Invoke(js.Undefined())
	eventually(t, "hello", func() bool { return len(sentFrames(ws)) == 1 })
	var hello protocol.Hello
	if err := json.Unmarshal([]byte(sentFrames(ws)[0]), &hello); err != nil || hello.VisitorID != jar["_vt_vid"] {
		t.Fatalf("hello %s: %v", sentFrames(ws)[0], err)
	}
	deliver(ws, `{"type":"welcome","visitorId":"`+hello.VisitorID+`","visitId":"`+hello.VisitID+`","state":"anonymous","identityId":null,"verified":false,"recognition":null,"visitorData":{"version":1,"data":{"loyalty":{"tier":"gold"}}}}`)
	eventually(t, "events", func() bool { return len(sentFrames(ws)) == 2 })
	var frame protocol.Events
	if err := json.Unmarshal([]byte(sentFrames(ws)[1]), &frame); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range frame.Events {
		names = append(names, e.Name)
	}
	if strings.Join(names, ",") != "VisitStarted,PageEntered,SignIn" || string(frame.Events[2].Data) != `{"userId":"ann@example.com"}` {
		t.Fatalf("events %v %s", names, frame.Events[2].Data)
	}

	// Commands pushed after the start, with the loader's promise form.
	deliver(ws, `{"type":"identity","state":"authenticated","identityId":"01KA0000000000000000000002","verified":true,"recognition":"tok.en"}`)
	q.Call("push", jsArray(t, `["_p"]`, onIDs, noop, "getIDs"))
	eventually(t, "getIDs", func() bool { return resolved })
	if ids.Get("state").String() != "authenticated" || !ids.Get("verified").Bool() || ids.Get("visitorId").String() != hello.VisitorID {
		t.Fatalf("ids %s", g.Get("JSON").Call("stringify", ids))
	}
	if jar["_vt_uid"] != "tok.en" {
		t.Fatalf("token cookie %q", jar["_vt_uid"])
	}
	eventually(t, "visitor data callbacks "+strings.Join(vdSeen, "|"), func() bool { return len(vdSeen) == 2 })
	if vdSeen[1] != `{"loyalty":{"tier":"gold"}}@1` {
		t.Fatalf("visitor data %v", vdSeen)
	}

	q.Call("push", jsArray(t, `["_p"]`, noop, onReject, "visitorData", "update", "loyalty", map[string]any{"tier": "x"}))
	eventually(t, "update frame", func() bool { return len(sentFrames(ws)) == 3 })
	var up protocol.VisitorDataUpdate
	json.Unmarshal([]byte(sentFrames(ws)[2]), &up)
	deliver(ws, `{"type":"error","code":"namespace_not_writable","message":"no","requestId":"`+up.RequestID+`"}`)
	eventually(t, "the update's rejection", func() bool { return !rejected.IsUndefined() })
	if rejected.Get("code").String() != protocol.CodeNamespaceNotWritable {
		t.Fatalf("rejection %v", rejected)
	}

	// Unacknowledged events wait in localStorage for the next page.
	if n := len(newBrowser(l).Keys("_vt_ob.")); n != 1 {
		t.Fatalf("%d stored outboxes", n)
	}
	var acked []string
	for _, e := range frame.Events {
		acked = append(acked, `"`+e.EventID+`"`)
	}
	deliver(ws, `{"type":"ack","eventIds":[`+strings.Join(acked, ",")+`],"rejected":[]}`)
	eventually(t, "the outbox to empty", func() bool { return len(newBrowser(l).Keys("_vt_ob.")) == 0 })
}

// TestRealWebSocketRefused uses Node's own WebSocket: a refused connection
// reaches the agent as a close, and the tracker falls back to fetch.
func TestRealWebSocketRefused(t *testing.T) {
	if js.Global().Get("WebSocket").Type() != js.TypeFunction {
		t.Fatal("no WebSocket in Node: run with NODE_OPTIONS=--experimental-websocket")
	}
	installDOM(t)
	l := newLoop()
	go l.run()
	b := newBrowser(l)
	closed := make(chan int, 1)
	l.post(func() {
		b.Dial("ws://127.0.0.1:9/v1/ws", agent.SocketEvents{
			Open:    func() { t.Error("opened") },
			Message: func(*agent.Message) {},
			Close:   func(code int) { closed <- code },
		})
	})
	select {
	case code := <-closed:
		if code != 1006 {
			t.Fatalf("close code %d", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no close event")
	}

	// And fetch to the same dead port fails into the agent's error path.
	errs := make(chan error, 1)
	l.post(func() {
		b.Post("http://127.0.0.1:9/v1/collect", "{}", func(_ *protocol.CollectResponse, err error) { errs <- err })
	})
	select {
	case err := <-errs:
		if err == nil {
			t.Fatal("no error from a dead collector")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("fetch never settled")
	}
}

func TestDecodeCollectResponse(t *testing.T) {
	v := js.Global().Get("JSON").Call("parse", `{"visitorId":"V","visitId":"W","ack":{"eventIds":["a","b"],"rejected":[{"eventId":"c","code":"invalid_event","message":"m"}]},
		"identity":{"state":"recognized","identityId":"I","verified":true,"recognition":null},"visitorData":{"version":3,"data":{"a":1}}}`)
	r := decodeCollectResponse(v)
	if r.VisitorID != "V" || r.VisitID != "W" || len(r.Ack.EventIDs) != 2 || r.Ack.Rejected[0].Code != "invalid_event" ||
		r.Identity == nil || r.Identity.Recognition != nil || *r.Identity.IdentityID != "I" || r.VisitorData.Version != 3 || string(r.VisitorData.Data) != `{"a":1}` {
		t.Fatalf("%+v", r)
	}
	if m := decodeMessage(js.Global().Get("JSON").Call("parse", `{"type":"mystery"}`)); m != nil {
		t.Fatal("unknown frame decoded")
	}
	if m := decodeMessage(parse("not json")); m != nil {
		t.Fatal("garbage decoded")
	}
}
