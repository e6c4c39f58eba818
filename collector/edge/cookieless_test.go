package edge_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/oklog/ulid/v2"
)

// TestCookielessAtTheEdge: the edge stores of a cookieless visit what the
// native collector stores, no more: over /v1/collect (a kept Go instance,
// whose second collect joins the visit the first opened, its writes in one
// batch) and over a WebSocket whose hello opens the visit, no address
// (CF-Connecting-IP), no
// user agent, no query or fragment of a URL and no path of a referrer
// reach D1; the campaign parsed from the landing URL does.
func TestCookielessAtTheEdge(t *testing.T) {
	const (
		ip      = "198.51.100.71"
		agent   = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.86 Safari/537.36"
		landing = "https://shop.example/landing?email=alice%40example.com&utm_source=news#token-alice"
		ref     = "https://mail.example/inbox/alice?q=alice%40example.com"
		cart    = "https://shop.example/cart?email=alice%40example.com"
	)
	markers := map[string]string{"IP": ip, "user agent": agent, "e-mail": "alice%40example.com",
		"referrer path": "/inbox/alice", "fragment": "token-alice"}
	event := func(name, url, referrer string) map[string]any {
		return map[string]any{"eventId": ulid.Make().String(), "name": name, "pageId": ulid.Make().String(),
			"timestamp": time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), "url": url, "referrer": referrer}
	}

	t.Run("collect", func(t *testing.T) {
		db, url, _ := keptWorker(t)
		for _, events := range [][]map[string]any{
			{event("PageEntered", landing, ref)},
			{event("PageEntered", cart, landing), event("Browse", cart, "")},
		} {
			b, _ := json.Marshal(map[string]any{"cookieless": true, "events": events})
			req, _ := http.NewRequest("POST", url+"/v1/collect", bytes.NewReader(b))
			req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
			req.Header.Set("Origin", "http://shop.example")
			req.Header.Set("User-Agent", agent)
			req.Header.Set("CF-Connecting-IP", ip)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"eventIds"`) {
				t.Fatalf("cookieless collect: %d %s", resp.StatusCode, body)
			}
		}
		checkCookielessRows(t, db, 1, 3, markers)
	})

	t.Run("socket", func(t *testing.T) {
		db, _, url, _ := freshWorkerSpy(t, collectEnv())
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/v1/ws", &websocket.DialOptions{
			Subprotocols: []string{"visitrack.v1"},
			HTTPHeader:   http.Header{"Origin": {"http://shop.example"}, "User-Agent": {agent}, "Cf-Connecting-Ip": {ip}}})
		if err != nil {
			t.Fatal(err)
		}
		defer ws.CloseNow()
		send := func(v any) {
			t.Helper()
			b, _ := json.Marshal(v)
			if err := ws.Write(ctx, websocket.MessageText, b); err != nil {
				t.Fatal(err)
			}
		}
		send(map[string]any{"type": "hello", "cookieless": true, "url": landing, "referrer": ref})
		readFrame(ctx, t, ws, "welcome")
		send(map[string]any{"type": "events", "sentAt": time.Now().UTC().Format(time.RFC3339Nano),
			"events": []map[string]any{event("PageEntered", landing, ref), event("PageEntered", cart, landing)}})
		if ack := readFrame(ctx, t, ws, "ack"); len(ack["eventIds"].([]any)) != 2 {
			t.Fatalf("ack %v: want both events stored", ack)
		}
		checkCookielessRows(t, db, 1, 2, markers)
	})
}

// checkCookielessRows checks that D1 holds visits cookieless visits with
// events events among them, whose landing URL, referrer and campaign are
// what a cookieless visit keeps, and that no column of their rows in
// visits, events and pages holds any of markers.
func checkCookielessRows(t *testing.T, db *sql.DB, visits, events int, markers map[string]string) {
	t.Helper()
	var n, m int
	var landing, referrer, agent, ip, utm string
	if err := db.QueryRow(`SELECT count(*), max(landing_url), max(referrer), max(user_agent), max(ip), max(utm),
		(SELECT count(*) FROM events e JOIN visits c ON c.visit_id = e.visit_id WHERE c.cookieless = 1)
		FROM visits WHERE cookieless = 1`).Scan(&n, &landing, &referrer, &agent, &ip, &utm, &m); err != nil {
		t.Fatal(err)
	}
	if n != visits || m != events {
		t.Fatalf("%d cookieless visits with %d events, want %d with %d", n, m, visits, events)
	}
	if landing != "https://shop.example/landing" || referrer != "https://mail.example/" || agent != "" || ip != "" || utm != `{"source":"news"}` {
		t.Errorf("cookieless visit: landing %q, referrer %q, user agent %q, ip %q, utm %s", landing, referrer, agent, ip, utm)
	}
	var stored strings.Builder
	for _, q := range []string{
		`SELECT * FROM visits WHERE cookieless = 1`,
		`SELECT e.* FROM events e JOIN visits v ON v.visit_id = e.visit_id WHERE v.cookieless = 1`,
		`SELECT p.* FROM pages p JOIN visits v ON v.visit_id = p.visit_id WHERE v.cookieless = 1`,
	} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				fmt.Fprintf(&stored, "%s=%s\n", cols[i], v)
			}
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for what, m := range markers {
		if strings.Contains(stored.String(), m) {
			t.Errorf("D1 holds the cookieless browser's %s %q", what, m)
		}
	}
}
