//go:build browser

package browsertest

import (
	"context"
	"strings"
	"testing"
)

// checkEngineContract checks Engine.Eval's contract in a started engine,
// so that a story failing in one engine is the tracker's doing, not a
// driver that reads values or errors differently: values come back as
// JSON, promises are awaited, undefined is null, and a throw or a
// rejection is an error that carries the page's message.
func checkEngineContract(t *testing.T, eng Engine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), storyWait)
	defer cancel()
	for _, c := range []struct{ expr, want string }{
		{`1 + 1`, `2`},
		{`undefined`, `null`},
		{`'a"b'`, `"a\"b"`},
		{`Promise.resolve({ok: [true, null]})`, `{"ok":[true,null]}`},
		{`new Promise(r => setTimeout(() => r('later'), 50))`, `"later"`},
	} {
		got, err := eng.Eval(ctx, c.expr)
		if err != nil || got != c.want {
			t.Fatalf("%s: Eval(%s) = %s, %v; want %s", eng.Name(), c.expr, got, err, c.want)
		}
	}
	for _, c := range []struct{ expr, msg string }{
		{`Promise.reject(new Error('rejected-here'))`, "rejected-here"},
		{`(() => { throw new Error('thrown-here') })()`, "thrown-here"},
	} {
		got, err := eng.Eval(ctx, c.expr)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Fatalf("%s: Eval(%s) = %s, %v; want an error with %q", eng.Name(), c.expr, got, err, c.msg)
		}
	}
}
