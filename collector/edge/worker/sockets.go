//go:build js && wasm

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"syscall/js"

	"github.com/coder/websocket"

	"github.com/visitrack/visitrack/collector/edge"
)

// The Go side of the edge's WebSockets (collector/edge/ws.go): the
// functions the Durable Object (glue/sockets.mjs) calls on this instance's
// binding, and the announcer the glue offers as context.announce.

// runtimeContext is the object the glue ran this instance with.
func runtimeContext() js.Value { return js.Global().Get("context") }

// announcer returns the glue's context.announce as an edge.Announcer, or
// nil when the glue offers none (no Durable Object binding).
func announcer() edge.Announcer {
	fn := runtimeContext().Get("announce")
	if fn.Type() != js.TypeFunction {
		return nil
	}
	return func(ctx context.Context, body []byte) (int, error) {
		v, err := await(ctx, func() js.Value { return fn.Invoke(string(body)) })
		if err != nil {
			return 0, fmt.Errorf("announce to the Durable Objects: %w", err)
		}
		return v.Int(), nil
	}
}

// socketVisits returns the glue's context.openVisits as an
// edge.SocketVisits: the visits of every Durable Object's sockets, as a
// JSON array. The glue offers it whenever it offers announce.
func socketVisits() edge.SocketVisits {
	fn := runtimeContext().Get("openVisits")
	return func(ctx context.Context) ([]string, error) {
		if fn.Type() != js.TypeFunction {
			return nil, errors.New("the glue offers no openVisits")
		}
		v, err := await(ctx, func() js.Value { return fn.Invoke() })
		if err != nil {
			return nil, fmt.Errorf("ask the Durable Objects for their visits: %w", err)
		}
		var ids []string
		if err := json.Unmarshal([]byte(v.String()), &ids); err != nil {
			return nil, fmt.Errorf("the Durable Objects' visits: %w", err)
		}
		return ids, nil
	}
}

// bindSockets offers the Durable Object this instance's sessions:
//
//	wsOpen(request JSON, WebSocket) → Promise<Opened JSON>
//	wsFrame(attachment JSON, WebSocket, string | ArrayBuffer) → Promise<attachment JSON>
//	wsResume(attachment JSON, WebSocket) → Promise<attachment JSON | null>
//	wsClosed(id)
//	wsAnnounce(announcement JSON) → Promise<number>
//
// A rejected wsFrame or wsResume means the socket's session cannot go on.
func bindSockets(s *edge.Sockets) {
	b := runtimeContext().Get("binding")
	b.Set("wsOpen", js.FuncOf(func(_ js.Value, args []js.Value) any {
		info, ws := args[0].String(), args[1]
		return promise(func() (any, error) {
			r, err := upgradeRequest(info)
			if err != nil {
				return nil, err
			}
			out, err := json.Marshal(s.Open(r, jsSocket{ws}))
			return string(out), err
		})
	}))
	b.Set("wsFrame", js.FuncOf(func(_ js.Value, args []js.Value) any {
		att, ws, msg := args[0].String(), args[1], args[2]
		text := msg.Type() == js.TypeString
		var frame []byte
		if text {
			frame = []byte(msg.String())
		} else {
			u := js.Global().Get("Uint8Array").New(msg)
			frame = make([]byte, u.Get("length").Int())
			js.CopyBytesToGo(frame, u)
		}
		return promise(func() (any, error) {
			next, err := s.Frame(context.Background(), []byte(att), jsSocket{ws}, text, frame)
			return string(next), err
		})
	}))
	b.Set("wsResume", js.FuncOf(func(_ js.Value, args []js.Value) any {
		att, ws := args[0].String(), args[1]
		return promise(func() (any, error) {
			next, err := s.Resume(context.Background(), []byte(att), jsSocket{ws})
			if next == nil {
				return nil, err // keep the attachment there is
			}
			return string(next), err
		})
	}))
	b.Set("wsClosed", js.FuncOf(func(_ js.Value, args []js.Value) any {
		id := args[0].String()
		go s.Closed(id)
		return nil
	}))
	b.Set("wsAnnounce", js.FuncOf(func(_ js.Value, args []js.Value) any {
		body := args[0].String()
		return promise(func() (any, error) {
			return s.Announced(context.Background(), []byte(body))
		})
	}))
}

// upgradeRequest rebuilds the upgrade request from what the glue passes:
// {"method","url","headers":[[name, value]…]}.
func upgradeRequest(info string) (*http.Request, error) {
	var in struct {
		Method  string      `json:"method"`
		URL     string      `json:"url"`
		Headers [][2]string `json:"headers"`
	}
	if err := json.Unmarshal([]byte(info), &in); err != nil {
		return nil, fmt.Errorf("the upgrade request: %w", err)
	}
	r, err := http.NewRequest(in.Method, in.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("the upgrade request: %w", err)
	}
	for _, h := range in.Headers {
		r.Header.Add(h[0], h[1])
	}
	return r, nil
}

// jsSocket is a Durable Object's WebSocket.
type jsSocket struct{ ws js.Value }

func (s jsSocket) Write(_ context.Context, _ websocket.MessageType, p []byte) error {
	return catch(func() { s.ws.Call("send", string(p)) })
}

func (s jsSocket) Close(code websocket.StatusCode, reason string) error {
	return catch(func() { s.ws.Call("close", int(code), reason) })
}

// catch turns a JavaScript exception (a socket already closed) into an
// error.
func catch(fn func()) (err error) {
	defer func() {
		if v := recover(); v != nil {
			if e, ok := v.(error); ok {
				err = e
				return
			}
			err = fmt.Errorf("%v", v)
		}
	}()
	fn()
	return nil
}

// promise runs fn in a goroutine and returns a Promise of its result.
func promise(fn func() (any, error)) js.Value {
	var executor js.Func
	executor = js.FuncOf(func(_ js.Value, args []js.Value) any {
		executor.Release()
		resolve, reject := args[0], args[1]
		go func() {
			var v any
			err := catch(func() {
				var err error
				if v, err = fn(); err != nil {
					panic(err)
				}
			})
			if err != nil {
				reject.Invoke(js.Global().Get("Error").New(err.Error()))
				return
			}
			resolve.Invoke(v)
		}()
		return nil
	})
	return js.Global().Get("Promise").New(executor)
}

// await calls start and waits for the Promise it returns.
func await(ctx context.Context, start func() js.Value) (js.Value, error) {
	type result struct {
		v   js.Value
		err error
	}
	done := make(chan result, 1)
	var then, fail js.Func
	then = js.FuncOf(func(_ js.Value, args []js.Value) any {
		done <- result{v: args[0]}
		return nil
	})
	fail = js.FuncOf(func(_ js.Value, args []js.Value) any {
		done <- result{err: errors.New(args[0].Call("toString").String())}
		return nil
	})
	var p js.Value
	if err := catch(func() { p = start() }); err != nil {
		then.Release()
		fail.Release()
		return js.Value{}, err
	}
	p.Call("then", then, fail)
	select {
	case r := <-done:
		then.Release()
		fail.Release()
		return r.v, r.err
	case <-ctx.Done():
		// The callbacks stay: the Promise may still settle.
		return js.Value{}, ctx.Err()
	}
}
