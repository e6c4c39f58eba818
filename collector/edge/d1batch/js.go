//go:build js && wasm

package d1batch

import (
	"context"
	"errors"
	"fmt"
	"syscall/js"
	"time"
)

// D1 returns the Batcher of a D1 binding (the value of env.DB): each
// statement prepared and bound, then one call to its batch(), which D1
// runs as one transaction in one round trip.
func D1(db js.Value) Batcher {
	return func(ctx context.Context, stmts []Statement) error {
		arr := js.Global().Get("Array").New(len(stmts))
		for i, s := range stmts {
			args := make([]any, len(s.Args))
			for j, a := range s.Args {
				v, err := jsArg(a)
				if err != nil {
					return fmt.Errorf("statement %d: %w", i, err)
				}
				args[j] = v
			}
			arr.SetIndex(i, db.Call("prepare", s.Query).Call("bind", args...))
		}
		_, err := await(ctx, db.Call("batch", arr))
		return err
	}
}

// jsArg converts a driver value to what D1's bind() takes. Booleans
// become 0 and 1, as SQLite stores them.
func jsArg(v any) (any, error) {
	switch v := v.(type) {
	case nil, string, int64, float64:
		return v, nil
	case bool:
		if v {
			return 1, nil
		}
		return 0, nil
	case []byte:
		dst := js.Global().Get("Uint8Array").New(len(v))
		js.CopyBytesToJS(dst, v)
		return dst, nil
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano), nil
	}
	return nil, fmt.Errorf("d1batch: cannot bind a %T", v)
}

// await waits for a JavaScript promise.
func await(ctx context.Context, p js.Value) (js.Value, error) {
	type outcome struct {
		v   js.Value
		err error
	}
	ch := make(chan outcome, 1)
	then := js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- outcome{v: args[0]}
		return nil
	})
	catch := js.FuncOf(func(_ js.Value, args []js.Value) any {
		msg := "rejected"
		if len(args) > 0 && args[0].Type() == js.TypeObject && args[0].Get("message").Type() == js.TypeString {
			msg = args[0].Get("message").String()
		} else if len(args) > 0 {
			msg = js.Global().Get("String").Invoke(args[0]).String()
		}
		ch <- outcome{err: errors.New(msg)}
		return nil
	})
	p.Call("then", then, catch)
	select {
	case o := <-ch:
		then.Release()
		catch.Release()
		return o.v, o.err
	case <-ctx.Done():
		// The callbacks stay: the promise may still settle and call one.
		return js.Value{}, ctx.Err()
	}
}
