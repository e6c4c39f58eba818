//go:build js && wasm

package main

import (
	"syscall/js"

	"github.com/visitrack/visitrack/tracker/agent"
	"github.com/visitrack/visitrack/tracker/wire"
)

// browser implements agent.Env with syscall/js.
type browser struct {
	l      *loop
	global js.Value
}

func newBrowser(l *loop) *browser {
	return &browser{l: l, global: js.Global()}
}

func (b *browser) Now() int64 { return int64(b.global.Get("Date").Call("now").Float()) }

func (b *browser) Timestamp(ms int64) string {
	return b.global.Get("Date").New(ms).Call("toISOString").String()
}

// Random fills p from crypto.getRandomValues, which takes at most 64 KiB;
// the agent asks for a few bytes at a time (a ULID's 10, a backoff's 4),
// too few for a buffer to pay for its code.
func (b *browser) Random(p []byte) {
	a := b.global.Get("Uint8Array").New(len(p))
	b.global.Get("crypto").Call("getRandomValues", a)
	js.CopyBytesToGo(p, a)
}

// Reading document.cookie or localStorage throws where they are disabled
// (sandboxed frames, blocked storage). syscall/js turns an exception into a
// panic only for calls, not for Get and Set, so these go through Reflect,
// by try.

func (b *browser) Cookies() string {
	return jsString(try(b.global.Get("Reflect"), "get", b.global.Get("document"), "cookie"))
}

func (b *browser) SetCookie(a string) {
	try(b.global.Get("Reflect"), "set", b.global.Get("document"), "cookie", a)
}

// storage returns localStorage, or undefined where it is unavailable.
func (b *browser) storage() js.Value {
	return try(b.global.Get("Reflect"), "get", b.global, "localStorage")
}

func (b *browser) Load(key string) string { return jsString(try(b.storage(), "getItem", key)) }

// Store may fail when storage is full: the outbox stays in memory.
func (b *browser) Store(key, value string) { try(b.storage(), "setItem", key, value) }

func (b *browser) Remove(key string) { try(b.storage(), "removeItem", key) }

func (b *browser) Keys(prefix string) []string {
	var keys []string
	s := b.storage()
	for i := int64(0); i < num(s, "length"); i++ {
		if k := jsString(try(s, "key", i)); len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			keys = append(keys, k)
		}
	}
	return keys
}

// After uses setTimeout; f runs on the loop. Releasing a js.Func twice
// is harmless, so the timer and cancel both release it.
func (b *browser) After(ms int64, f func()) func() {
	var fn js.Func
	fn = js.FuncOf(func(js.Value, []js.Value) any {
		fn.Release()
		b.l.post(f)
		return nil
	})
	id := b.global.Call("setTimeout", fn, ms)
	return func() {
		b.global.Call("clearTimeout", id)
		fn.Release()
	}
}

func (b *browser) Page() agent.Page {
	g := b.global
	loc, doc, nav := g.Get("location"), g.Get("document"), g.Get("navigator")
	p := agent.Page{
		URL:      str(loc, "href"),
		Title:    str(doc, "title"),
		Referrer: str(doc, "referrer"),
		Language: str(nav, "language"),
		Secure:   str(loc, "protocol") == "https:",
		GPC:      boolean(nav, "globalPrivacyControl"),
		Handoff:  str(g.Get("_gt"), "handoff"), // the loader took it from the address
	}
	if s := g.Get("screen"); isObject(s) {
		p.Screen = string(wire.AppendInt(append(wire.AppendInt(nil, num(s, "width")), 'x'), num(s, "height")))
	}
	// Intl.DateTimeFormat called as a function makes one, as with new.
	p.TimeZone = str(try(try(g.Get("Intl"), "DateTimeFormat"), "resolvedOptions"), "timeZone")
	return p
}

func (b *browser) Beacon(url, body string) bool {
	return try(b.global.Get("navigator"), "sendBeacon", url, body).Truthy()
}
