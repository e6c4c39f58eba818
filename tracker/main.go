//go:build js && wasm

// Command tracker is the Visitrack tracker, compiled to WebAssembly and
// started in the page by the loader gt.js (web/loader). It is only the
// glue between the browser (syscall/js) and the agent package, which holds
// the logic; see SPEC section 2 for the commands it handles.
//
// Every import is chosen by its size: no encoding/json, fmt, time,
// strconv or net/http. JSON goes through the browser's JSON object.
package main

import (
	"syscall/js"

	"github.com/visitrack/visitrack/tracker/agent"
	"github.com/visitrack/visitrack/tracker/wire"
)

func main() {
	l := newLoop()
	l.post(func() { install(l) })
	l.run()
}

// install takes over window._gt: it replays the queued commands, then
// handles every later push, and listens to the page's life.
func install(l *loop) *agent.Agent {
	g := js.Global()
	q := g.Get("_gt")
	if !isObject(q) {
		q = g.Get("Array").New()
		g.Set("_gt", q)
	}
	var defaults agent.ConfigPatch
	if base := str(q, "base"); base != "" {
		defaults.Collector = &base
	}
	a := agent.New(newBrowser(l), defaults)

	n := q.Length()
	for i := 0; i < n; i++ {
		if c, ok := decodeCommand(q.Index(i)); ok {
			a.Push(c)
		}
	}
	q.Set("length", 0)
	q.Set("push", js.FuncOf(func(_ js.Value, args []js.Value) any {
		// Decode now: the page may change its objects after pushing them.
		for _, arg := range args {
			if c, ok := decodeCommand(arg); ok {
				l.post(func() { a.Push(c) })
			}
		}
		return 0
	}))
	q.Set("tracker", wire.Version)
	a.Ready()

	listen(g, "pagehide", func(js.Value) { l.post(a.PageHide) })
	listen(g, "pageshow", func(e js.Value) {
		if boolean(e, "persisted") {
			l.post(a.PageShow)
		}
	})
	if doc := g.Get("document"); isObject(doc) {
		listen(doc, "visibilitychange", func(js.Value) {
			if str(doc, "visibilityState") == "hidden" {
				l.post(a.PageHide)
			}
		})
	}
	return a
}

func listen(target js.Value, event string, f func(js.Value)) {
	if get(target, "addEventListener").Type() != js.TypeFunction {
		return
	}
	target.Call("addEventListener", event, js.FuncOf(func(_ js.Value, args []js.Value) any {
		e := js.Undefined()
		if len(args) > 0 {
			e = args[0]
		}
		f(e)
		return nil
	}))
}
