//go:build js && wasm

package main

import (
	"testing"

	"github.com/visitrack/visitrack/shared/protocol"
	"github.com/visitrack/visitrack/tracker/agent"
)

// TestDecorateGlue: ['decorate', url, cb] goes through the loader's
// _gt.dec, which builds the address from the token the agent resolves
// with.
func TestDecorateGlue(t *testing.T) {
	installDOM(t)
	installLoader(t)
	cb := recorder()
	c, ok := decodeForm(t, jsArray(t, `["decorate","https://pay.example/"]`, cb))
	if !ok || c.Op != agent.OpDecorate || c.Reply == nil {
		t.Fatalf("decorate: %+v %v", c, ok)
	}
	c.Reply.Resolve("h1.tok")
	eventually(t, "the callback", func() bool { return len(calls(cb)) == 1 })
	if got := calls(cb)[0].Index(0).String(); got != "https://pay.example/?_vt_x=h1.tok" {
		t.Fatalf("callback got %s", got)
	}

	cfg, _ := decodeForm(t, jsArray(t, `["config",{"cookies":"server"}]`))
	if cfg.Config.Cookies == nil || *cfg.Config.Cookies != "server" {
		t.Fatalf("config cookies %+v", cfg.Config)
	}
}

func TestDecodeCookiesAndHandoff(t *testing.T) {
	m := decodeMessage(parse(`{"type":"handoff","requestId":"h3","token":"h1.a.b"}`))
	if m == nil || m.Handoff.RequestID != "h3" || m.Handoff.Token != "h1.a.b" {
		t.Fatalf("handoff frame %+v", m)
	}
	m = decodeMessage(parse(`{"type":"welcome","visitorId":"V","visitId":"W","state":"anonymous","cookies":"sync","visitorData":{"version":0,"data":{}}}`))
	if m == nil || m.Welcome.Cookies != protocol.CookiesSync {
		t.Fatalf("welcome %+v", m)
	}
	r := decodeCollectResponse(parse(`{"visitorId":"V","visitId":"W","ack":{"eventIds":[],"rejected":[]},"cookies":"server","token":"h1.x.y"}`))
	if r.Cookies != protocol.CookiesServer || r.Token != "h1.x.y" {
		t.Fatalf("collect answer %+v", r)
	}
}
