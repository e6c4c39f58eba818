//go:build js && wasm

// Command tracker is the Visitrack tracker, compiled to WebAssembly and
// started in the page by the loader gt.js (web/loader). It is only the
// glue between the browser (syscall/js) and the agent package, which holds
// the logic; see docs/tracker.md#commands for the commands it handles.
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

// install starts the agent on the loader's queue window._gt: the loader
// replays the queued commands, then hands over every later push, each
// checked and translated into the flat form decodeCommand reads. Without
// the loader (a page that loads tracker.wasm by itself) there is no
// command to follow, and the tracker does nothing. It also listens to the
// page's life.
func install(l *loop) *agent.Agent {
	g := js.Global()
	q := g.Get("_gt")
	if get(q, "go").Type() != js.TypeFunction {
		return nil
	}
	var defaults agent.ConfigPatch
	if base := str(q, "base"); base != "" {
		defaults.Collector = &base
	}
	a := agent.New(newBrowser(l), defaults)
	q.Call("go", js.FuncOf(func(_ js.Value, args []js.Value) any {
		// Decode now: the page may change its objects after pushing them.
		c := decodeCommand(args[0])
		l.post(func() { a.Push(c) })
		return nil
	}), wire.Version)
	l.post(a.Ready)

	listen(g, "pagehide", func(js.Value) { l.post(a.Leave) })
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
