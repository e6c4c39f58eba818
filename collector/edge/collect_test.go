package edge_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/visitrack/visitrack/collector/edge"
	"github.com/visitrack/visitrack/collector/edge/d1batch"
	"github.com/visitrack/visitrack/shared/protocol"
)

// collectEnv is a worker's settings for the collect tests.
func collectEnv() map[string]string {
	return map[string]string{
		edge.EnvRecognitionKey: strings.Repeat("c3", 32),
		edge.EnvAllowedOrigins: "http://shop.example",
	}
}

// postCollect sends n events for the visitor and visit of prev (a new
// visitor when prev is nil) and returns the status and the answer.
func postCollect(t *testing.T, url string, prev *protocol.CollectResponse, ids []string) (int, *protocol.CollectResponse, http.Header) {
	t.Helper()
	entropy := ulid.Monotonic(rand.Reader, 0)
	body := map[string]any{"visitorId": ulid.MustNew(ulid.Now(), entropy).String(), "visitId": ""}
	if prev != nil {
		body = map[string]any{"visitorId": prev.VisitorID, "visitorKey": prev.VisitorKey, "visitId": prev.VisitID}
	}
	page := ulid.MustNew(ulid.Now(), entropy).String()
	var events []map[string]any
	for _, id := range ids {
		events = append(events, map[string]any{"eventId": id, "name": "Clicked", "pageId": page,
			"timestamp": time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), "data": map[string]any{}})
	}
	body["events"] = events
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", url+"/v1/collect", bytes.NewReader(b))
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	req.Header.Set("Origin", "http://shop.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out protocol.CollectResponse
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("answer %s: %v", raw, err)
		}
	}
	return resp.StatusCode, &out, resp.Header
}

func newIDs(n int) []string {
	entropy := ulid.Monotonic(rand.Reader, 0)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = ulid.MustNew(ulid.Now(), entropy).String()
	}
	return ids
}

// TestCollectOneBatch: the writes of a /v1/collect on a known visit reach
// the database in one batch, and its events are stored when it answers.
func TestCollectOneBatch(t *testing.T) {
	db, _, url, spy := freshWorkerSpy(t, collectEnv())
	status, first, _ := postCollect(t, url, nil, newIDs(1))
	if status != http.StatusOK {
		t.Fatalf("first collect: %d", status)
	}
	before := spy.count()
	ids := newIDs(3)
	status, second, _ := postCollect(t, url, first, ids)
	if status != http.StatusOK || len(second.Ack.EventIDs) != 3 {
		t.Fatalf("second collect: %d, ack %+v", status, second.Ack)
	}
	if n := spy.count() - before; n != 1 {
		t.Fatalf("the collect sent %d batches, want 1", n)
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM events WHERE event_id IN (?, ?, ?)`, ids[0], ids[1], ids[2]).Scan(&n); err != nil || n != 3 {
		t.Fatalf("%d of the 3 acknowledged events stored (%v)", n, err)
	}
}

// TestCollectCommitFails: when the batch fails, the browser gets a 503 it
// can read (CORS), no ack, and nothing of the batch is stored; sent again,
// the events are stored once.
func TestCollectCommitFails(t *testing.T) {
	db, _, url, spy := freshWorkerSpy(t, collectEnv())
	status, first, _ := postCollect(t, url, nil, newIDs(1))
	if status != http.StatusOK {
		t.Fatalf("first collect: %d", status)
	}
	spy.failWith(errors.New("D1 is away"))
	ids := newIDs(2)
	status, _, hdr := postCollect(t, url, first, ids)
	if status != http.StatusServiceUnavailable || hdr.Get("Access-Control-Allow-Origin") != "http://shop.example" ||
		!strings.HasPrefix(hdr.Get("Content-Type"), "application/problem+json") {
		t.Fatalf("collect with a failing batch: %d %v, want a 503 problem with CORS", status, hdr)
	}
	count := func() int {
		var n int
		if err := db.QueryRowContext(context.Background(), `SELECT count(*) FROM events WHERE event_id IN (?, ?)`, ids[0], ids[1]).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 0 {
		t.Fatalf("%d events stored by a failed batch, want 0", n)
	}
	spy.failWith(nil)
	if status, out, _ := postCollect(t, url, first, ids); status != http.StatusOK || len(out.Ack.EventIDs) != 2 {
		t.Fatalf("resend: %d %+v", status, out.Ack)
	}
	if n := count(); n != 2 {
		t.Fatalf("%d events after the resend, want 2", n)
	}
}

// roundTrips counts what reaches the database as D1 would see it: each
// statement run on its own (a round trip each) and each batch.
type roundTrips struct {
	mu              sync.Mutex
	single, batches int
	log             []string
}

func (c *roundTrips) add(batch bool, what string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if batch {
		c.batches++
	} else {
		c.single++
	}
	c.log = append(c.log, what)
}

func (c *roundTrips) take() (single, batches int, log []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	single, batches, log = c.single, c.batches, c.log
	c.single, c.batches, c.log = 0, 0, nil
	return single, batches, log
}

// countedConn counts the statements that reach the inner connection.
type countedConn struct {
	driver.Conn
	n *roundTrips
}

func firstWords(q string) string {
	return strings.Join(strings.Fields(q)[:min(6, len(strings.Fields(q)))], " ")
}

func (c countedConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	c.n.add(false, firstWords(q))
	return c.Conn.(driver.QueryerContext).QueryContext(ctx, q, args)
}

func (c countedConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	c.n.add(false, firstWords(q))
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, q, args)
}

type countedConnector struct {
	dsnConnector
	n *roundTrips
}

func (c countedConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.dsnConnector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return countedConn{conn, c.n}, nil
}

// keptWorker serves package edge natively on a migrated SQLite file as a
// kept Go instance does: one collector for every request, each collect's
// writes in one batch. It returns the plain database (for looking, and for
// changing rows behind the worker's back as another isolate would), the
// URL, and the count of round trips.
func keptWorker(t *testing.T) (*sql.DB, string, *roundTrips) {
	return keptWorkerLogging(t, io.Discard)
}

// keptWorkerLogging is keptWorker with its warnings and errors logged to
// log.
func keptWorkerLogging(t *testing.T, log io.Writer) (*sql.DB, string, *roundTrips) {
	t.Helper()
	n := &roundTrips{}
	plain, db := openD1(t, func(c dsnConnector) driver.Connector { return countedConnector{c, n} })
	batch := d1batch.SQL(plain)
	env := collectEnv()
	logger := slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelWarn}))
	h, err := edge.New(context.Background(), db, func(k string) string { return env[k] }, logger,
		edge.WithBatcher(func(ctx context.Context, stmts []d1batch.Statement) (*d1batch.Rows, error) {
			n.add(true, fmt.Sprintf("batch of %d", len(stmts)))
			return batch(ctx, stmts)
		}))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	n.take() // the migrations
	return plain, srv.URL, n
}

// TestCollectRoundTrips: a 1-event /v1/collect costs D1 one round trip,
// its batch, once the Go instance has seen the visit: the visit it kept
// is checked inside the batch (store.GuardVisit) rather than read before
// it, and the stats rollup is counted there too (no read of the events
// high water). A first contact reads the browser key first. Each local D1
// call costs the worker about as much as the rest of the request
// (docs/benchmarks.md#the-edge), so a read added to this path shows here first.
func TestCollectRoundTrips(t *testing.T) {
	_, url, n := keptWorker(t)
	status, prev, _ := postCollect(t, url, nil, newIDs(1))
	if status != http.StatusOK {
		t.Fatalf("first collect: %d", status)
	}
	if single, batches, log := n.take(); single != 1 || batches != 1 {
		t.Fatalf("first contact: %d statements on their own and %d batches, want 1 and 1:\n%s",
			single, batches, strings.Join(log, "\n"))
	}
	for i := range 3 {
		status, next, _ := postCollect(t, url, prev, newIDs(1))
		if status != http.StatusOK || len(next.Ack.EventIDs) != 1 || next.VisitID != prev.VisitID {
			t.Fatalf("collect %d: %d, ack %+v, visit %s after %s", i, status, next.Ack, next.VisitID, prev.VisitID)
		}
		if single, batches, log := n.take(); single != 0 || batches != 1 {
			t.Fatalf("collect %d on a known visit: %d statements on their own and %d batches, want 0 and 1:\n%s",
				i, single, batches, strings.Join(log, "\n"))
		}
		prev = next
	}
}

// TestCollectKeptVisitChanged: when the visit a Go instance kept changed
// behind its back (another isolate, the Cron Trigger's sweep, an erasure),
// the collect's batch fails on its guard and the request runs again from
// a fresh read: the events go where a fresh instance would put them, and
// nothing of the refused batch stays.
func TestCollectKeptVisitChanged(t *testing.T) {
	count := func(t *testing.T, db *sql.DB, query string, args ...any) int {
		t.Helper()
		var n int
		if err := db.QueryRow(query, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	t.Run("ended", func(t *testing.T) {
		var log bytes.Buffer
		db, url, n := keptWorkerLogging(t, &log)
		_, prev, _ := postCollect(t, url, nil, newIDs(1))
		if _, err := db.Exec(`UPDATE visits SET ended_at = last_seen_at - 1 WHERE visit_id = ?` /* before the next events: not a late delivery */, prev.VisitID); err != nil {
			t.Fatal(err)
		}
		n.take()
		ids := newIDs(2)
		status, next, _ := postCollect(t, url, prev, ids)
		if status != http.StatusOK || len(next.Ack.EventIDs) != 2 {
			t.Fatalf("collect after the visit ended: %d %+v", status, next.Ack)
		}
		if next.VisitID == prev.VisitID {
			t.Fatalf("the events joined visit %s, which had ended", prev.VisitID)
		}
		if got := count(t, db, `SELECT count(*) FROM events WHERE visit_id = ? AND event_id IN (?, ?)`, next.VisitID, ids[0], ids[1]); got != 2 {
			t.Fatalf("%d of the 2 events in the new visit %s", got, next.VisitID)
		}
		if _, batches, _ := n.take(); batches != 2 {
			t.Fatalf("%d batches, want 2: the guarded one refused, then the one after a fresh read", batches)
		}
		// The refused batch is expected: nothing to warn an operator of.
		if log.Len() > 0 {
			t.Fatalf("the refused batch was logged:\n%s", log.String())
		}
	})
	t.Run("erased", func(t *testing.T) {
		db, url, _ := keptWorker(t)
		_, prev, _ := postCollect(t, url, nil, newIDs(1))
		for _, q := range []string{`DELETE FROM events WHERE visit_id = ?`, `DELETE FROM sessions WHERE visit_id = ?`,
			`DELETE FROM visits WHERE visit_id = ?`} {
			if _, err := db.Exec(q, prev.VisitID); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.Exec(`DELETE FROM visitors WHERE visitor_id = ?`, prev.VisitorID); err != nil {
			t.Fatal(err)
		}
		ids := newIDs(1)
		status, next, _ := postCollect(t, url, prev, ids)
		if status != http.StatusOK || len(next.Ack.EventIDs) != 1 {
			t.Fatalf("collect after the erasure: %d %+v", status, next.Ack)
		}
		if got := count(t, db, `SELECT count(*) FROM events e JOIN visits v ON v.visit_id = e.visit_id
			JOIN visitors r ON r.visitor_id = v.visitor_id WHERE e.event_id = ?`, ids[0]); got != 1 {
			t.Fatalf("the event is stored %d times with its visit and visitor, want once: it went to a visit that is gone", got)
		}
	})
}
