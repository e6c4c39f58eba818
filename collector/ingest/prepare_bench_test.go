package ingest

import (
	"encoding/json"
	"testing"
	"time"
)

// BenchmarkPrepare is the part of the ingest path that runs on the
// caller's goroutine: decoding and validating a batch of 5 events as a
// tracker sends them (4 business events and a PageExited), with sentAt.
// It reports events/s of one core.
func BenchmarkPrepare(b *testing.B) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	in := &Ingester{now: func() time.Time { return now }}
	const ts = "2026-11-21T09:59:59.900Z"
	events := []json.RawMessage{
		json.RawMessage(`{"eventId":"01JD3Z8Q5N0000000000000000","name":"Click","timestamp":"` + ts + `","pageId":"01JD3Z8Q5N000000000000000P","url":"https://shop.example/p/1","data":{"button":"buy","n":1}}`),
		json.RawMessage(`{"eventId":"01JD3Z8Q5N0000000000000001","name":"Click","timestamp":"` + ts + `","pageId":"01JD3Z8Q5N000000000000000P","url":"https://shop.example/p/1","data":{"button":"buy","n":2.5e3}}`),
		json.RawMessage(`{"eventId":"01JD3Z8Q5N0000000000000002","name":"AddToCart","timestamp":"` + ts + `","pageId":"01JD3Z8Q5N000000000000000P","url":"https://shop.example/p/1","data":{"sku":"B-42","qty":1,"price":19.99}}`),
		json.RawMessage(`{"eventId":"01JD3Z8Q5N0000000000000003","name":"Search","timestamp":"` + ts + `","pageId":"01JD3Z8Q5N000000000000000P","url":"https://shop.example/p/1","data":{"q":"red shoes \"size 42\""}}`),
		json.RawMessage(`{"eventId":"01JD3Z8Q5N0000000000000004","name":"PageExited","timestamp":"` + ts + `","pageId":"01JD3Z8Q5N000000000000000P","url":"https://shop.example/p/1","data":{"durationMs":15000}}`),
	}
	c := Client{VisitorID: "01JD3Z8Q5N000000000000000V", VisitID: "01JD3Z8Q5N000000000000000W"}
	b.ReportAllocs()
	for b.Loop() {
		j := in.prepare(c, "2026-11-21T10:00:00.000Z", events)
		if len(j.events) != len(events) {
			b.Fatalf("rejected %+v", j.rejected)
		}
	}
	b.ReportMetric(float64(b.N*len(events))/b.Elapsed().Seconds(), "events/s")
}
