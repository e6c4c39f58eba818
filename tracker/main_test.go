//go:build js && wasm

package main

// These tests run under Node (make test-tracker): Go's go_js_wasm_exec
// runner, with NODE_OPTIONS=--experimental-websocket for WebSocket. Node
// has no document or localStorage, so the tests install small fakes.

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"syscall/js"
	"testing"
	"time"

	"github.com/visitrack/visitrack/shared/protocol"
	"github.com/visitrack/visitrack/tracker/agent"
	"github.com/visitrack/visitrack/tracker/wire"
)

// fakeDOM is a document with a cookie jar (honouring Max-Age=0), a
// Map-backed localStorage and a location, written in JavaScript: a fake
// made of Go callbacks would nest Go in JavaScript in Go on every cookie
// read, which no browser does and which overflows Node's stack under load.
const fakeDOM = `
const jar = new Map(), store = new Map();
const doc = { title: "Node page", referrer: "" };
Object.defineProperty(doc, "cookie", { configurable: true,
	get() { return [...jar].map(([k, v]) => k + "=" + v).join("; "); },
	set(s) {
		const nv = s.split(";")[0], i = nv.indexOf("=");
		if (s.includes("Max-Age=0")) jar.delete(nv.slice(0, i)); else jar.set(nv.slice(0, i), nv.slice(i + 1));
	} });
g.document = doc;
g.localStorage = {
	getItem(k) { return store.has(k) ? store.get(k) : null; },
	setItem(k, v) { store.set(String(k), String(v)); },
	removeItem(k) { store.delete(k); },
	key(i) { const ks = [...store.keys()]; return i < ks.length ? ks[i] : null; },
	get length() { return store.size; },
};
g.location = { href: "https://shop.example/cart", protocol: "https:" };
return { cookie(name) { return jar.has(name) ? jar.get(name) : ""; }, get size() { return jar.size; } };
`

// cookieJar reads the fake document's cookies.
type cookieJar struct{ v js.Value }

func (j cookieJar) get(name string) string { return j.v.Call("cookie", name).String() }
func (j cookieJar) size() int              { return j.v.Get("size").Int() }

// installDOM installs fakeDOM on the global object until the test ends.
func installDOM(t *testing.T) cookieJar {
	t.Helper()
	g := js.Global()
	jar := g.Get("Function").New("g", fakeDOM).Invoke(g)
	t.Cleanup(func() {
		for _, k := range []string{"document", "localStorage", "location", "_gt", "window", "visitrack"} {
			g.Delete(k)
		}
	})
	return cookieJar{jar}
}

// installLoader runs the real loader, web/loader/gt.js, on the fake
// document of installDOM (which it needs) and the queue in window._gt:
// it keeps the command table the tracker depends on. Its script element
// for wasm_exec.js goes nowhere.
func installLoader(t *testing.T) js.Value {
	t.Helper()
	src, err := os.ReadFile("../web/loader/gt.js")
	if err != nil {
		t.Fatal(err)
	}
	g := js.Global()
	g.Get("Function").New("g", `g.window = g;
const d = g.document;
d.currentScript = { src: "http://127.0.0.1:9/gt.js" };
d.createElement = () => ({});
d.head = { appendChild() {} };
d.addEventListener = () => {};
`+string(src)).Invoke(g)
	return g.Get("_gt")
}

// decodeForm hands a command as a page pushes it to the loader's table,
// and decodes what the loader makes of it; ok is false for a command the
// loader refused.
func decodeForm(t *testing.T, cmd js.Value) (c agent.Command, ok bool) {
	t.Helper()
	f := js.Global().Get("_gt").Call("norm", cmd)
	if !isObject(f) {
		return c, false
	}
	return decodeCommand(f), true
}

// fromTask calls obj[method](args...) from a fresh JavaScript task, as a page
// or a socket would: never from inside a Go call into JavaScript.
func fromTask(obj js.Value, method string, args ...any) {
	js.Global().Get("Function").New("o", "m", "a", "setTimeout(() => o[m](...a), 0)").
		Invoke(obj, method, js.ValueOf(args))
}

// recorder is a JavaScript function that keeps the arguments of its calls.
func recorder() js.Value {
	return js.Global().Get("Function").New("const f = (...a) => { f.calls.push(a) }; f.calls = []; return f").Invoke()
}

// calls returns the argument lists a recorder has seen.
func calls(f js.Value) []js.Value {
	c := f.Get("calls")
	out := make([]js.Value, c.Length())
	for i := range out {
		out[i] = c.Index(i)
	}
	return out
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

// opFields shows the fields of a command that its op reads.
func opFields(c agent.Command) string {
	switch c.Op {
	case agent.OpEvent:
		return c.Op.String() + " " + c.Name + " " + c.Data
	case agent.OpPage:
		return c.Op.String() + " " + c.URL + " " + c.Title
	case agent.OpConsent:
		return c.Op.String() + " " + strconv.FormatBool(c.Consent)
	case agent.OpUpdate:
		return c.Op.String() + " " + c.Namespace + " " + c.Value
	}
	return c.Op.String()
}

// TestDecodeCommandForms: every form of the loader's command table,
// Visitrack's and Genesys's, reaches the agent as the same command.
func TestDecodeCommandForms(t *testing.T) {
	installDOM(t)
	installLoader(t)
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
		{`["consent",true]`, agent.Command{Op: agent.OpConsent, Consent: true, Data: agent.SourceAPI}},
		{`["consent",false]`, agent.Command{Op: agent.OpConsent, Data: agent.SourceAPI}},
		{`["consent",{"analytics_storage":"granted","ad_storage":"denied"}]`, agent.Command{Op: agent.OpConsent, Consent: true, Data: agent.SourceConsentMode}},
		{`["consent","update",{"analytics_storage":"denied"}]`, agent.Command{Op: agent.OpConsent, Data: agent.SourceConsentMode}},
		{`["consent",{"ad_storage":"granted"}]`, agent.Command{Op: agent.OpConsent, Data: agent.SourceKeep}},
		{`["visitorData","update","prefs",{"dark":true}]`, agent.Command{Op: agent.OpUpdate, Namespace: "prefs", Value: `{"dark":true}`}},
		{`["stats"]`, agent.Command{Op: agent.OpStats}},
		// Genesys 8.1's top-level identity commands and its event object.
		{`["sendSignIn",{"userId":"ann","userHash":"ab"}]`, agent.Command{Op: agent.OpEvent, Name: "SignIn", Data: `{"userId":"ann","userHash":"ab"}`}},
		{`["sendSignOut"]`, agent.Command{Op: agent.OpEvent, Name: "SignOut", Data: `{}`}},
		{`["sendUserInfo",{"userId":"ann"}]`, agent.Command{Op: agent.OpEvent, Name: "UserInfo", Data: `{"userId":"ann"}`}},
		{`["event",{"eventName":"AddToCart","sku":"A1","qty":2}]`, agent.Command{Op: agent.OpEvent, Name: "AddToCart", Data: `{"sku":"A1","qty":2}`}},
	}
	for _, c := range cases {
		got, ok := decodeForm(t, jsArray(t, c.cmd))
		if !ok || opFields(got) != opFields(c.want) {
			t.Errorf("%s: got %s (ok %v), want %s", c.cmd, opFields(got), ok, opFields(c.want))
		}
	}

	cfg, ok := decodeForm(t, jsArray(t, `["config",{"collector":"https://c.example/","transport":"http","requireConsent":true,
		"respectGPC":true,"autoRecognize":false,"cookieDomain":"shop.example","visitTimeoutMinutes":0.5}]`))
	p := cfg.Config
	if !ok || *p.Collector != "https://c.example/" || *p.Transport != "http" || !*p.RequireConsent || !*p.RespectGPC ||
		*p.AutoRecognize || *p.CookieDomain != "shop.example" || *p.VisitTimeoutMinutes != 0.5 {
		t.Fatalf("config %+v", p)
	}
	if c, _ := decodeForm(t, jsArray(t, `["config",{}]`)); c.Config.Collector != nil || c.Config.RequireConsent != nil || c.Config.Language != nil {
		t.Fatal("absent config fields were set")
	}
	// Genesys's keys: the endpoint for the page's protocol (https here),
	// the HTTP transport, the visit's language; keys of the wrong type are
	// ignored, the rest of their config applies.
	cfg, ok = decodeForm(t, jsArray(t, `["config",{"httpEndpoint":"http://gwe.example:9081","httpsEndpoint":"https://gwe.example:9443",
		"disableWebSockets":true,"languageCode":"fr-CA","dslResource":"/dsl/domain-model.xml","requireConsent":"yes"}]`))
	p = cfg.Config
	if !ok || p.Collector == nil || *p.Collector != "https://gwe.example:9443" || p.Transport == nil || *p.Transport != "http" ||
		p.Language == nil || *p.Language != "fr-CA" || p.RequireConsent != nil {
		t.Fatalf("Genesys config %+v", p)
	}

	for _, bad := range []string{`[]`, `[1]`, `["nope"]`, `["event"]`, `["visitorData","explode"]`, `{"0":"x"}`, `"event"`,
		`["event",{"sku":"A1"}]`, `["event",{"eventName":7}]`, `["event",{"eventName":""}]`, `["event",{"eventName":"SignIn","userId":"x"}]`,
		`["event",{"eventName":"VisitStarted"}]`, `["event",{"eventName":"PageExited"}]`, `["constructor"]`} {
		if _, ok := decodeForm(t, jsArray(t, bad)); ok {
			t.Errorf("%s decoded", bad)
		}
	}

	// A cyclic object cannot be sent: the event carries {} instead.
	cyc := js.Global().Get("Object").New()
	cyc.Set("self", cyc)
	data := js.Global().Get("Object").New()
	data.Set("data", cyc)
	if c, ok := decodeForm(t, jsArray(t, `["event","Cyclic"]`, data)); !ok || c.Data != "{}" {
		t.Fatalf("cyclic data: %+v", c)
	}
}

func TestBrowserEnv(t *testing.T) {
	jar := installDOM(t)
	b := newBrowser(newLoop())
	b.SetCookie("_vt_vid=01ARYZ6S410000000000000000; Path=/; Max-Age=63072000; SameSite=Lax")
	if !strings.Contains(b.Cookies(), "_vt_vid=01ARYZ6S410000000000000000") || jar.size() != 1 {
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

// TestTimestampIsWire holds the browser's Date.toISOString, which formats
// the events' timestamps, to wire.Timestamp, the protocol's format.
func TestTimestampIsWire(t *testing.T) {
	b := newBrowser(newLoop())
	cases := []int64{0, 1, 999, 1000, 86399999, 86400000, 951782400000 /* 2000-02-29 */, 1795255200123, -1, -86400001, 253402300799999 /* 9999-12-31 */}
	for i := int64(0); i < 500; i++ {
		cases = append(cases, i*8204889600001%4102444800000) // up to 2100
	}
	for _, ms := range cases {
		if got, want := b.Timestamp(ms), wire.Timestamp(ms); got != want {
			t.Fatalf("Timestamp(%d) = %s, want %s", ms, got, want)
		}
	}
}

// fakeSocketClass installs a WebSocket class, in JavaScript, whose
// instances record what is sent; it returns the array of instances.
func fakeSocketClass(t *testing.T) js.Value {
	t.Helper()
	g := js.Global()
	old := g.Get("WebSocket")
	t.Cleanup(func() { g.Set("WebSocket", old) })
	return g.Get("Function").New("g", `
const made = [];
g.WebSocket = function (url, protocol) {
	this.url = url; this.protocol = protocol; this.sent = [];
	this.send = (d) => { this.sent.push(d); };
	this.close = () => { this.closed = true; };
	made.push(this);
};
return made;`).Invoke(g)
}

func sentFrames(ws js.Value) []string {
	var out []string
	s := ws.Get("sent")
	for i := 0; i < s.Length(); i++ {
		out = append(out, s.Index(i).String())
	}
	return out
}

// deliver hands the socket's onmessage a frame, from a JavaScript task.
func deliver(ws js.Value, frame string) {
	ev := js.Global().Get("Object").New()
	ev.Set("data", frame)
	fromTask(ws, "onmessage", ev)
}

// TestTrackerInNode runs the whole tracker (glue and agent) on the event
// loop, with the queue the page filled before it loaded.
func TestTrackerInNode(t *testing.T) {
	jar := installDOM(t)
	socks := fakeSocketClass(t)
	g := js.Global()

	onIDs, onData, onReject, noop := recorder(), recorder(), recorder(), recorder()
	vdSeen := func() []string {
		var seen []string
		for _, a := range calls(onData) {
			seen = append(seen, g.Get("JSON").Call("stringify", a.Index(0)).String()+"@"+strconv.Itoa(a.Index(1).Int()))
		}
		return seen
	}
	q := g.Get("Array").New()
	q.Call("push", jsArray(t, `["config",{"collector":"http://127.0.0.1:9/"}]`))
	q.Call("push", jsArray(t, `["event","sendSignIn",{"userId":"ann@example.com"}]`))
	q.Call("push", jsArray(t, `["visitorData","subscribe"]`, onData))
	g.Set("_gt", q)
	installLoader(t)

	l := newLoop()
	go l.run()
	l.post(func() { install(l) })
	eventually(t, "a WebSocket", func() bool { return socks.Length() == 1 })
	ws := socks.Index(0)
	if ws.Get("url").String() != "ws://127.0.0.1:9/v1/ws?cookies=auto&cookieDomain=" || ws.Get("protocol").String() != protocol.Subprotocol {
		t.Fatalf("dialled %s %s", ws.Get("url"), ws.Get("protocol"))
	}
	if q.Get("tracker").String() == "" || q.Length() != 0 {
		t.Fatal("the queue was not taken over")
	}
	if jar.get("_vt_vid") == "" || jar.get("_vt_visit") == "" {
		t.Fatalf("cookies %s", g.Get("document").Get("cookie"))
	}

	fromTask(ws, "onopen")
	eventually(t, "hello", func() bool { return len(sentFrames(ws)) == 1 })
	var hello protocol.Hello
	if err := json.Unmarshal([]byte(sentFrames(ws)[0]), &hello); err != nil || hello.VisitorID != jar.get("_vt_vid") {
		t.Fatalf("hello %s: %v", sentFrames(ws)[0], err)
	}
	deliver(ws, `{"type":"welcome","visitorId":"`+hello.VisitorID+`","visitorKey":"key-0123456789abcdefghij","visitId":"`+hello.VisitID+`","state":"anonymous","identityId":null,"verified":false,"recognition":null,"visitorData":{"version":1,"data":{"loyalty":{"tier":"gold"}}}}`)
	eventually(t, "events", func() bool { return len(sentFrames(ws)) == 2 })
	if jar.get("_vt_key") != "key-0123456789abcdefghij" {
		t.Fatalf("the welcome's visitorKey is not kept: cookies %s", g.Get("document").Get("cookie"))
	}
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
	fromTask(q, "push", jsArray(t, `["_p"]`, onIDs, noop, "getIDs"))
	eventually(t, "getIDs", func() bool { return len(calls(onIDs)) == 1 })
	ids := calls(onIDs)[0].Index(0)
	if ids.Get("state").String() != "authenticated" || !ids.Get("verified").Bool() || ids.Get("visitorId").String() != hello.VisitorID ||
		ids.Get("identityId").String() != "01KA0000000000000000000002" || ids.Get("pageId").String() == "" {
		t.Fatalf("ids %s", g.Get("JSON").Call("stringify", ids))
	}
	// Genesys's names too.
	if ids.Get("globalVisitID").String() != hello.VisitorID || ids.Get("visitID").String() != ids.Get("visitId").String() ||
		ids.Get("pageID").String() != ids.Get("pageId").String() {
		t.Fatalf("Genesys's names: %s", g.Get("JSON").Call("stringify", ids))
	}
	if jar.get("_vt_uid") != "tok.en" {
		t.Fatalf("token cookie %q", jar.get("_vt_uid"))
	}
	eventually(t, "visitor data callbacks", func() bool { return len(vdSeen()) == 2 })
	if vdSeen()[1] != `{"loyalty":{"tier":"gold"}}@1` {
		t.Fatalf("visitor data %v", vdSeen())
	}

	fromTask(q, "push", jsArray(t, `["_p"]`, noop, onReject, "visitorData", "update", "loyalty", map[string]any{"tier": "x"}))
	eventually(t, "update frame", func() bool { return len(sentFrames(ws)) == 3 })
	var up protocol.VisitorDataUpdate
	json.Unmarshal([]byte(sentFrames(ws)[2]), &up)
	deliver(ws, `{"type":"error","code":"namespace_not_writable","message":"no","requestId":"`+up.RequestID+`"}`)
	eventually(t, "the update's rejection", func() bool { return len(calls(onReject)) == 1 })
	if rejected := calls(onReject)[0].Index(0); rejected.Get("code").String() != protocol.CodeNamespaceNotWritable {
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
	v := js.Global().Get("JSON").Call("parse", `{"visitorId":"V","visitorKey":"K","visitId":"W","ack":{"eventIds":["a","b"],"rejected":[{"eventId":"c","code":"invalid_event","message":"m"}],
		"refused":[{"eventId":"b","code":"blocked_user_id","message":"placeholder"}]},
		"identity":{"state":"recognized","identityId":"I","verified":true,"recognition":null},"visitorData":{"version":3,"data":{"a":1}}}`)
	r := decodeCollectResponse(v)
	if r.VisitorID != "V" || r.VisitorKey != "K" || r.VisitID != "W" || len(r.Ack.EventIDs) != 2 || r.Ack.Rejected[0].Code != "invalid_event" ||
		len(r.Ack.Refused) != 1 || r.Ack.Refused[0].EventID != "b" || r.Ack.Refused[0].Code != protocol.CodeBlockedUserID ||
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
