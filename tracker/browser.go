//go:build js && wasm

package main

import (
	"syscall/js"

	"github.com/visitrack/visitrack/tracker/agent"
)

// browser implements agent.Env with syscall/js.
type browser struct {
	l      *loop
	global js.Value
	rnd    []byte // unused random bytes from getRandomValues
	rndBuf js.Value
}

func newBrowser(l *loop) *browser {
	return &browser{l: l, global: js.Global()}
}

func (b *browser) Now() int64 { return int64(b.global.Get("Date").Call("now").Float()) }

// Random fills p from crypto.getRandomValues, 256 bytes at a time.
func (b *browser) Random(p []byte) {
	for len(p) > 0 {
		if len(b.rnd) == 0 {
			if b.rndBuf.IsUndefined() {
				b.rndBuf = b.global.Get("Uint8Array").New(256)
			}
			b.global.Get("crypto").Call("getRandomValues", b.rndBuf)
			b.rnd = make([]byte, 256)
			js.CopyBytesToGo(b.rnd, b.rndBuf)
		}
		n := copy(p, b.rnd)
		b.rnd, p = b.rnd[n:], p[n:]
	}
}

// Reading document.cookie or localStorage throws where they are disabled
// (sandboxed frames, blocked storage). syscall/js turns an exception into a
// panic only for calls, not for Get and Set, so these go through Reflect.

func (b *browser) Cookies() string {
	var s string
	catch(func() {
		if d := b.global.Get("document"); isObject(d) {
			if c := b.global.Get("Reflect").Call("get", d, "cookie"); c.Type() == js.TypeString {
				s = c.String()
			}
		}
	})
	return s
}

func (b *browser) SetCookie(a string) {
	catch(func() {
		if d := b.global.Get("document"); isObject(d) {
			b.global.Get("Reflect").Call("set", d, "cookie", a)
		}
	})
}

// storage returns localStorage, or undefined where it is unavailable.
func (b *browser) storage() js.Value {
	s := js.Undefined()
	catch(func() { s = b.global.Get("Reflect").Call("get", b.global, "localStorage") })
	return s
}

func (b *browser) Load(key string) string {
	var v string
	catch(func() {
		if s := b.storage(); isObject(s) {
			if x := s.Call("getItem", key); x.Type() == js.TypeString {
				v = x.String()
			}
		}
	})
	return v
}

func (b *browser) Store(key, value string) {
	catch(func() {
		if s := b.storage(); isObject(s) {
			s.Call("setItem", key, value) // throws when full: the outbox stays in memory
		}
	})
}

func (b *browser) Remove(key string) {
	catch(func() {
		if s := b.storage(); isObject(s) {
			s.Call("removeItem", key)
		}
	})
}

func (b *browser) Keys(prefix string) []string {
	var keys []string
	catch(func() {
		s := b.storage()
		if !isObject(s) {
			return
		}
		n := s.Get("length").Int()
		for i := 0; i < n; i++ {
			if k := s.Call("key", i); k.Type() == js.TypeString {
				if ks := k.String(); len(ks) >= len(prefix) && ks[:len(prefix)] == prefix {
					keys = append(keys, ks)
				}
			}
		}
	})
	return keys
}

// After uses setTimeout; f runs on the loop.
func (b *browser) After(ms int64, f func()) func() {
	var fn js.Func
	released := false
	release := func() {
		if !released {
			released = true
			fn.Release()
		}
	}
	fn = js.FuncOf(func(js.Value, []js.Value) any {
		release()
		b.l.post(f)
		return nil
	})
	id := b.global.Call("setTimeout", fn, ms)
	return func() {
		b.global.Call("clearTimeout", id)
		release()
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
		p.Screen = itoa(num(s, "width")) + "x" + itoa(num(s, "height"))
	}
	catch(func() {
		p.TimeZone = str(g.Get("Intl").Get("DateTimeFormat").New().Call("resolvedOptions"), "timeZone")
	})
	return p
}

func (b *browser) Beacon(url, body string) bool {
	ok := false
	catch(func() {
		if nav := b.global.Get("navigator"); get(nav, "sendBeacon").Type() == js.TypeFunction {
			ok = nav.Call("sendBeacon", url, body).Bool()
		}
	})
	return ok
}

func itoa(v int64) string {
	if v == 0 {
		return "0"
	}
	var buf [20]byte
	i := len(buf)
	neg := v < 0
	if neg {
		v = -v
	}
	for v > 0 {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	if neg {
		i--
		buf[i] = '-'
	}
	return string(buf[i:])
}
