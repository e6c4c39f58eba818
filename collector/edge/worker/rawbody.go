//go:build js && wasm

package main

import (
	"fmt"
	"net/http"
	"os"
	"runtime"
	"sync/atomic"
	"syscall/js"

	"github.com/visitrack/visitrack/collector/edge"
)

// gcEvery is how many requests a kept instance serves between
// collections, and memEvery between reports of its heap.
const (
	gcEvery  = 100
	memEvery = 4096
)

// rawBodyWriter is what syumai/workers' ResponseWriter offers to take a
// whole body as a JavaScript value.
type rawBodyWriter interface {
	WriteRawJSBody(body js.Value)
}

// wholeBodies hands each answer to the Workers runtime as one Uint8Array.
// syumai/workers would otherwise stream it through a ReadableStream whose
// pull and cancel callbacks it never releases: each answer kept about
// 18 KB of Go heap alive for good (measured under wrangler dev: 37 MB per
// 2,000 requests), which a Go instance kept for many requests
// (glue/worker.mjs) cannot afford under the Workers' 128 MB; with whole
// bodies the heap stays flat. The collector's answers are small JSON
// documents; a History API page of 1,000 items is the largest.
//
// It also collects garbage every gcEvery requests: the JavaScript objects
// of a request (Request, Headers) are freed only once the Go values that
// refer to them are collected, and the little Go garbage a request makes
// would otherwise let them pile up between collections.
func wholeBodies(next http.Handler) http.Handler {
	var n atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c := n.Add(1); c%memEvery == 0 {
			// Whether a kept instance holds on to memory shows in
			// `wrangler tail` (and the edge tests read it).
			runtime.GC()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			fmt.Fprintf(os.Stderr, "edge: Go heap %d KB after %d requests\n", m.HeapAlloc>>10, c)
		} else if c%gcEvery == 0 {
			runtime.GC()
		}
		raw, ok := w.(rawBodyWriter)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		buf := edge.NewBufferedResponse(w.Header())
		next.ServeHTTP(buf, r)
		w.WriteHeader(buf.Status)
		if buf.Body.Len() == 0 {
			return
		}
		body := js.Global().Get("Uint8Array").New(buf.Body.Len())
		js.CopyBytesToJS(body, buf.Body.Bytes())
		raw.WriteRawJSBody(body)
	})
}
