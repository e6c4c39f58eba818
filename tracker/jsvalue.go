//go:build js && wasm

package main

import "syscall/js"

// Helpers that read JavaScript values defensively: a page may hand the
// tracker anything, and a JavaScript exception must never stop it.

// try is target[method](args...), or undefined when target has no such
// method or the call throws (syscall/js turns the exception into a
// panic). One recovery serves every guarded call: a closure at each
// would cost the download more.
func try(target js.Value, method string, args ...any) (r js.Value) {
	defer func() { recover() }()
	return target.Call(method, args...)
}

func isObject(v js.Value) bool { return v.Type() == js.TypeObject }

// get is v[k], or undefined when v is not an object.
func get(v js.Value, k string) js.Value {
	if v.Type() != js.TypeObject && v.Type() != js.TypeFunction {
		return js.Undefined()
	}
	return v.Get(k)
}

func str(v js.Value, k string) string {
	if x := get(v, k); x.Type() == js.TypeString {
		return x.String()
	}
	return ""
}

func strPtr(v js.Value, k string) *string {
	if x := get(v, k); x.Type() == js.TypeString {
		s := x.String()
		return &s
	}
	return nil
}

func boolean(v js.Value, k string) bool {
	x := get(v, k)
	return x.Type() == js.TypeBoolean && x.Bool()
}

func num(v js.Value, k string) int64 {
	if x := get(v, k); x.Type() == js.TypeNumber {
		return int64(x.Float())
	}
	return 0
}

func strs(v js.Value, k string) []string {
	x := get(v, k)
	if !isObject(x) {
		return nil
	}
	n := x.Length()
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		if e := x.Index(i); e.Type() == js.TypeString {
			out = append(out, e.String())
		}
	}
	return out
}

// stringify returns JSON.stringify(v), or "" for undefined, functions and
// values it cannot encode (cycles).
func stringify(v js.Value) string {
	if v.Type() == js.TypeUndefined || v.Type() == js.TypeFunction {
		return ""
	}
	return jsString(try(js.Global().Get("JSON"), "stringify", v))
}

// parse is JSON.parse(s), or undefined when s is not JSON.
func parse(s string) js.Value { return try(js.Global().Get("JSON"), "parse", s) }
