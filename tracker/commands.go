//go:build js && wasm

package main

import (
	"syscall/js"

	"github.com/visitrack/visitrack/tracker/agent"
)

// decodeCommand reads one _gt command (SPEC section 2). The loader's
// window.visitrack pushes the same commands behind ['_p', resolve, reject],
// whose promise the command settles. ok is false for anything else.
func decodeCommand(v js.Value) (c agent.Command, ok bool) {
	if !isObject(v) || v.Length() == 0 || v.Index(0).Type() != js.TypeString {
		return c, false
	}
	at := 0
	var promise agent.Reply
	if v.Index(0).String() == "_p" {
		promise, at = promiseReply{v.Index(1), v.Index(2)}, 3
	}
	arg := func(i int) js.Value {
		if i+at < v.Length() {
			return v.Index(i + at)
		}
		return js.Undefined()
	}
	if arg(0).Type() != js.TypeString {
		return c, false
	}
	defer func() {
		if promise != nil {
			c.Reply = promise
			if !ok {
				promise.Reject("unknown_command", "not a command")
			}
		}
	}()
	switch arg(0).String() {
	case "config":
		c = agent.Command{Op: agent.OpConfig, Config: decodeConfig(arg(1))}
	case "event":
		if arg(1).Type() != js.TypeString {
			return c, false
		}
		c = eventCommand(arg(1).String(), arg(2))
	case "page":
		c = agent.Command{Op: agent.OpPage, URL: str(arg(1), "url"), Title: str(arg(1), "title")}
	case "consent":
		c = agent.Command{Op: agent.OpConsent, Consent: arg(1).Truthy()}
	case "getIDs":
		c = agent.Command{Op: agent.OpIDs, Reply: callbackReply(arg(1))}
	case "visitorData":
		switch arg(1).String() {
		case "update":
			c = agent.Command{Op: agent.OpUpdate, Namespace: jsString(arg(2)), Value: valueJSON(arg(3))}
		case "subscribe":
			if arg(2).Type() != js.TypeFunction {
				return c, false
			}
			c = agent.Command{Op: agent.OpSubscribe, Subscriber: subscriber{arg(2)}}
		case "get":
			c = agent.Command{Op: agent.OpGetVisitorData, Reply: callbackReply(arg(2))}
		default:
			return c, false
		}
	case "stats":
		c = agent.Command{Op: agent.OpStats}
	case "subscribe":
		return subscribeCommand(arg(1), arg(2))
	case "decorate":
		// The loader wraps the callback: it gets the token and calls back
		// with the URL (web/loader/gt.js).
		q := js.Global().Get("_gt")
		if get(q, "dec").Type() != js.TypeFunction {
			return c, false
		}
		c = agent.Command{Op: agent.OpDecorate, Reply: callbackReply(q.Call("dec", arg(1), arg(2)))}
	default:
		return c, false
	}
	return c, true
}

// eventCommand handles both forms: ['event','SignIn',{data:{…}}] and
// ['event','sendSignIn',{userId,…}].
func eventCommand(name string, opts js.Value) agent.Command {
	wireName, optsAreData := agent.EventName(name)
	data := get(opts, "data")
	if optsAreData {
		data = opts
	}
	return agent.Command{Op: agent.OpEvent, Name: wireName, Data: objectJSON(data)}
}

func decodeConfig(o js.Value) agent.ConfigPatch {
	var p agent.ConfigPatch
	p.Collector = strPtr(o, "collector")
	p.Transport = strPtr(o, "transport")
	p.CookieDomain = strPtr(o, "cookieDomain")
	p.Cookies = strPtr(o, "cookies")
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

// valueJSON encodes a visitor-data value; undefined becomes null.
func valueJSON(v js.Value) string {
	if s := stringify(v); s != "" {
		return s
	}
	return "null"
}
