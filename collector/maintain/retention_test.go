package maintain_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/collector/ingest"
	"github.com/visitrack/visitrack/collector/maintain"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

func TestParseRetention(t *testing.T) {
	for in, want := range map[string]time.Duration{"": 0, "0": 0, "400d": 400 * 24 * time.Hour, "1.5d": 36 * time.Hour, "36h": 36 * time.Hour, "1h": time.Hour} {
		if got, err := maintain.ParseRetention(in); err != nil || got != want {
			t.Errorf("ParseRetention(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for in, msg := range map[string]string{"59m": "at least 1h0m0s", "30s": "at least", "abc": "want a duration", "-3d": "want a duration", "xd": "want a duration"} {
		if _, err := maintain.ParseRetention(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseRetention(%q): %v; want an error with %q", in, err, msg)
		}
	}
}

// seedVisit inserts a visit that ended at ended (nil: still open), with
// two events, a page, a session, metadata and a link to identity.
func seedVisit(t *testing.T, s *store.Store, n int, visitor, identityID string, started time.Time, ended *time.Time) string {
	visit := fmt.Sprintf("01JDVISIT%017d", n)
	var end any
	if ended != nil {
		end = ended.UnixMilli()
	}
	at := started.UnixMilli()
	storetest.Exec(t, s, `INSERT INTO visits (visit_id, visitor_id, identity_id, session_id, started_at, last_seen_at, ended_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		visit, visitor, identityID, visit+"S", at, at, end)
	storetest.Exec(t, s, `INSERT INTO sessions (session_id, visit_id, identity_id, state, verified, started_at) VALUES (?, ?, ?, 'authenticated', 1, ?)`, visit+"S", visit, identityID, at)
	storetest.Exec(t, s, `INSERT INTO pages (page_id, visit_id, entered_at) VALUES (?, ?, ?)`, visit+"P", visit, at)
	for i := range 2 {
		storetest.Exec(t, s, `INSERT INTO events (event_id, visit_id, visitor_id, session_id, page_id, name, category, timestamp, corrected_at, received_at, visit_key)
			VALUES (?, ?, ?, ?, ?, 'Click', 'business', ?, ?, ?, (SELECT visit_key FROM visits WHERE visit_id = ?))`,
			fmt.Sprintf("%sE%d", visit, i), visit, visitor, visit+"S", visit+"P", at, at, at, visit)
	}
	storetest.Exec(t, s, `INSERT INTO visit_metadata (visit_id, version, data, updated_at) VALUES (?, 1, '{"crm":1}', ?)`, visit, at)
	storetest.Exec(t, s, `INSERT INTO visit_identities (visit_id, identity_id, how, verified, linked_at) VALUES (?, ?, 'authenticated', 1, ?)`, visit, identityID, at)
	return visit
}

// TestRetention: visits that ended before now − retention go from every
// table, in batches through the ingest writer; recent and open visits,
// identities, visitors and visitor data stay.
func TestRetention(t *testing.T) {
	s := storetest.New(t)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	signer, err := identity.NewSigner(make([]byte, 32), 0, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	in, err := ingest.New(ingest.Config{Store: s, Signer: signer, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close(context.Background())

	const visitor, ident = "01JDVISITOR0000000000000001", "01JDIDENTITY000000000000001"
	storetest.Exec(t, s, `INSERT INTO visitors (visitor_id, first_seen_at, last_seen_at) VALUES (?, 0, 0)`, visitor)
	storetest.Exec(t, s, `INSERT INTO identities (identity_id, user_id, first_seen_at, last_seen_at) VALUES (?, 'ann@example.com', 0, 0)`, ident)
	storetest.Exec(t, s, `INSERT INTO identity_visitors (identity_id, visitor_id, linked_at) VALUES (?, ?, 0)`, ident, visitor)
	storetest.Exec(t, s, `INSERT INTO visitor_data (subject, version, data, updated_at) VALUES (?, 1, '{"a":{}}', 0)`, "identity:"+ident)

	retain := 400 * 24 * time.Hour
	var old, kept []string
	for i := range 45 { // more than two batches
		started := now.Add(-retain - time.Duration(i+2)*time.Hour)
		ended := started.Add(time.Hour) // ended before the cutoff
		old = append(old, seedVisit(t, s, i, visitor, ident, started, &ended))
	}
	recentStart := now.Add(-retain - 2*time.Hour)
	recentEnd := now.Add(-retain + time.Minute) // started before, ended after the cutoff
	kept = append(kept, seedVisit(t, s, 100, visitor, ident, recentStart, &recentEnd))
	kept = append(kept, seedVisit(t, s, 101, visitor, ident, now.Add(-retain-48*time.Hour), nil)) // still open
	yesterday := now.Add(-24 * time.Hour)
	kept = append(kept, seedVisit(t, s, 102, visitor, ident, yesterday, &yesterday))

	job, err := maintain.Retention(maintain.RetentionConfig{Store: s, Retention: retain, Batch: 20, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	var steps []int
	for {
		n, err := round(s, in, job)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		steps = append(steps, n)
	}
	if fmt.Sprint(steps) != "[20 20 5]" {
		t.Errorf("batches %v; want [20 20 5]", steps)
	}
	tables := map[string]string{"visits": "visit_id", "events": "visit_id", "pages": "visit_id", "sessions": "visit_id",
		"visit_metadata": "visit_id", "visit_identities": "visit_id"}
	for table, col := range tables {
		for _, v := range old {
			if n := storetest.Count(t, s, table, col+" = ?", v); n != 0 {
				t.Errorf("%s keeps %d rows of old visit %s", table, n, v)
			}
		}
		for _, v := range kept {
			if n := storetest.Count(t, s, table, col+" = ?", v); n == 0 {
				t.Errorf("%s lost recent visit %s", table, v)
			}
		}
	}
	for _, table := range []string{"visitors", "identities", "identity_visitors", "visitor_data"} {
		if n := storetest.Count(t, s, table, ""); n != 1 {
			t.Errorf("%s has %d rows; retention must leave it alone", table, n)
		}
	}
	if n := storetest.Count(t, s, "events", ""); n != 2*len(kept) {
		t.Errorf("%d events left; want %d", n, 2*len(kept))
	}
}

// round runs one round of job through in, as the edge's Cron Trigger
// does, and returns what it did.
func round(s *store.Store, in *ingest.Ingester, job maintain.Job) (int, error) {
	r, err := maintain.Start(context.Background(), maintain.Config{Writer: in, Store: s, Once: true}, job)
	if err != nil {
		return 0, err
	}
	return r.Did()[0], nil
}
