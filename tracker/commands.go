//go:build js && wasm

package main

import (
	"syscall/js"

	"github.com/visitrack/visitrack/tracker/agent"
)

// decodeCommand reads one command in the loader's flat form,
// [op, a, b, resolve, reject, fn]. The loader (web/loader/gt.js) holds the
// table of every form a page may push, Visitrack's and Genesys's, checks
// them and translates them into this form, which keeps the WebAssembly
// small: a and b are the op's strings (event name and data as JSON, page
// URL and title, namespace and value as JSON), or a is the checked config
// object, or the consent boolean; resolve and reject settle the command;
// fn hears of visitor data or notifications. Fields another op would read
// are set too, and ignored.
func decodeCommand(v js.Value) agent.Command {
	a, b := v.Index(1), v.Index(2)
	op := jsString(v.Index(0))
	c := agent.Command{Name: jsString(a), Data: jsString(b), Consent: a.Truthy()}
	c.Op = agent.ParseOp(op)
	c.URL, c.Title, c.Namespace, c.Value = c.Name, c.Data, c.Name, c.Data
	if r := v.Index(3); r.Type() == js.TypeFunction {
		c.Reply = promiseReply{r, v.Index(4)}
	}
	if fn := v.Index(5); fn.Type() == js.TypeFunction {
		c.Subscriber, c.Listener = callback{fn}, callback{fn}
	}
	if c.Op == agent.OpConfig {
		c.Config = decodeConfig(a)
	}
	return c
}

// decodeConfig reads the config the loader checked; Genesys's keys are
// translated there (languageCode is language).
func decodeConfig(o js.Value) agent.ConfigPatch {
	var p agent.ConfigPatch
	p.Collector = strPtr(o, "collector")
	p.Transport = strPtr(o, "transport")
	p.CookieDomain = strPtr(o, "cookieDomain")
	p.Cookies = strPtr(o, "cookies")
	p.Language = strPtr(o, "language")
	p.RequireConsent = boolPtr(o, "requireConsent")
	p.RespectGPC = boolPtr(o, "respectGPC")
	p.AutoRecognize = boolPtr(o, "autoRecognize")
	if x := get(o, "visitTimeoutMinutes"); x.Type() == js.TypeNumber {
		f := x.Float()
		p.VisitTimeoutMinutes = &f
	}
	return p
}

func boolPtr(o js.Value, k string) *bool {
	if x := get(o, k); x.Type() == js.TypeBoolean {
		b := x.Bool()
		return &b
	}
	return nil
}

func jsString(v js.Value) string {
	if v.Type() == js.TypeString {
		return v.String()
	}
	return ""
}
