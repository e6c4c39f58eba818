//go:build js && wasm

package d1batch

import (
	"context"
	"errors"
	"fmt"
	"math"
	"syscall/js"
	"time"
)

// D1 returns the Batcher of a D1 binding (the value of env.DB): each
// statement prepared and bound, then one call to its batch(), which D1
// runs as one transaction in one round trip.
func D1(db js.Value) Batcher {
	return func(ctx context.Context, stmts []Statement) (*Rows, error) {
		arr := js.Global().Get("Array").New(len(stmts))
		for i, s := range stmts {
			args := make([]any, len(s.Args))
			for j, a := range s.Args {
				v, err := jsArg(a)
				if err != nil {
					return nil, fmt.Errorf("statement %d: %w", i, err)
				}
				args[j] = v
			}
			arr.SetIndex(i, db.Call("prepare", s.Query).Call("bind", args...))
		}
		results, err := await(ctx, db.Call("batch", arr))
		if err != nil || len(stmts) == 0 || !stmts[len(stmts)-1].Rows {
			return nil, err
		}
		return rowsOf(results.Index(len(stmts) - 1).Get("results"))
	}
}

// integerKey reports whether JavaScript puts key first among an object's
// keys, whatever the order they were added in (an array index).
func integerKey(key string) bool {
	if key == "" || len(key) > 1 && key[0] == '0' {
		return false
	}
	for i := 0; i < len(key); i++ {
		if key[i] < '0' || key[i] > '9' {
			return false
		}
	}
	return true
}

// rowsOf converts a D1 result's rows, objects keyed by column name in the
// columns' order, as batch() returns them. Two columns of one name would
// be one key, and Scan then finds too few values; a column named by an
// integer would move first: refused.
func rowsOf(results js.Value) (*Rows, error) {
	out := &Rows{}
	n := results.Length()
	if n == 0 {
		return out, nil
	}
	keys := js.Global().Get("Object").Call("keys", results.Index(0))
	out.Columns = make([]string, keys.Length())
	for i := range out.Columns {
		out.Columns[i] = keys.Index(i).String()
		if len(out.Columns) > 1 && integerKey(out.Columns[i]) {
			return nil, fmt.Errorf("d1batch: column %q: name it with AS, batch() rows cannot keep its place", out.Columns[i])
		}
	}
	out.Values = make([][]any, n)
	for r := range n {
		obj := results.Index(r)
		row := make([]any, len(out.Columns))
		for i, c := range out.Columns {
			v, err := goValue(obj.Get(c))
			if err != nil {
				return nil, fmt.Errorf("d1batch: column %s: %w", c, err)
			}
			row[i] = v
		}
		out.Values[r] = row
	}
	return out, nil
}

// goValue converts a D1 value as syumai/workers' driver does.
func goValue(v js.Value) (any, error) {
	switch v.Type() {
	case js.TypeNull, js.TypeUndefined:
		return nil, nil
	case js.TypeNumber:
		f := v.Float()
		if f == math.Trunc(f) && !math.IsInf(f, 0) {
			return int64(f), nil
		}
		return f, nil
	case js.TypeString:
		return v.String(), nil
	case js.TypeBoolean:
		if v.Bool() {
			return int64(1), nil
		}
		return int64(0), nil
	case js.TypeObject:
		src := js.Global().Get("Uint8Array").New(v)
		dst := make([]byte, src.Length())
		js.CopyBytesToGo(dst, src)
		return dst, nil
	}
	return nil, fmt.Errorf("unexpected %s", v.Type())
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
