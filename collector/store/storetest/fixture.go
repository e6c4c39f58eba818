package storetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/store"
)

// Fixture is a small, complete history that read-side tests share:
//
//	browser A: V1 anonymous (later stitched to Alice), V2 where Alice signs
//	           in (two sessions), V3 recognized as Alice (verified)
//	browser B: V4 anonymous, never linked
//	browser C: V5 recognized as Bob by a bare claim (unverified)
//
// Times are offsets from T0; events in corrected-time order are
// E1 E2 E3 E8 E4 E5 E6 E7 E9, visits newest first V5 V3 V2 V4 V1.
type Fixture struct {
	T0 time.Time

	VisitorA, VisitorB, VisitorC string
	Alice, Bob                   string // identity ids
	AliceUser, BobUser           string // their userIds

	V1, V2, V3, V4, V5 string
	S1, S2a, S2b, S3   string
	S4, S5             string
	P1, P2, P3, P4     string
	E1, E2, E3, E4, E5 string
	E6, E7, E8, E9     string
}

// ID returns a deterministic ULID for kind (1..9) and n. The ids of one
// kind sort in n order.
func ID(kind, n int) string { return fmt.Sprintf("01JD%02d%020d", kind, n) }

// Seed stores the Fixture's history in s, with plain SQL.
func Seed(t testing.TB, s *store.Store) *Fixture {
	t.Helper()
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	ptr := func(v time.Time) *time.Time { return &v }
	str := func(v string) *string { return &v }
	f := &Fixture{
		T0:       t0,
		VisitorA: ID(1, 1), VisitorB: ID(1, 2), VisitorC: ID(1, 3),
		Alice: ID(6, 1), Bob: ID(6, 2),
		AliceUser: "alice@example.com", BobUser: "bob@example.com",
		V1: ID(2, 1), V2: ID(2, 2), V3: ID(2, 3), V4: ID(2, 4), V5: ID(2, 5),
		S1: ID(3, 1), S2a: ID(3, 2), S2b: ID(3, 3), S3: ID(3, 4), S4: ID(3, 5), S5: ID(3, 6),
		P1: ID(4, 1), P2: ID(4, 2), P3: ID(4, 3), P4: ID(4, 4),
		E1: ID(5, 1), E2: ID(5, 2), E3: ID(5, 3), E4: ID(5, 4), E5: ID(5, 5),
		E6: ID(5, 6), E7: ID(5, 7), E8: ID(5, 8), E9: ID(5, 9),
	}

	InsertVisitor(t, s, f.VisitorA, at(0))
	InsertVisitor(t, s, f.VisitorB, at(30*time.Minute))
	InsertVisitor(t, s, f.VisitorC, at(3*time.Hour))
	InsertIdentity(t, s, &collector.Identity{IdentityID: f.Alice, UserID: f.AliceUser,
		Attributes: json.RawMessage(`{"plan":"gold"}`), FirstSeenAt: at(time.Hour), LastSeenAt: at(2 * time.Hour),
		VisitorIDs: []string{f.VisitorA}})
	InsertIdentity(t, s, &collector.Identity{IdentityID: f.Bob, UserID: f.BobUser,
		FirstSeenAt: at(3 * time.Hour), LastSeenAt: at(3 * time.Hour)})

	// V1: anonymous; visits.last_seen_at lags behind its last event (E3).
	InsertVisit(t, s, &collector.Visit{VisitID: f.V1, VisitorID: f.VisitorA, SessionID: f.S1, State: "anonymous",
		StartedAt: at(0), LastSeenAt: at(time.Minute), EndedAt: ptr(at(33 * time.Minute)),
		LandingURL: "https://shop.example/", Referrer: "https://search.example/", UserAgent: "UA-1"})
	InsertSession(t, s, &collector.Session{SessionID: f.S1, VisitID: f.V1, State: "anonymous", StartedAt: at(0), EndedAt: ptr(at(33 * time.Minute))})
	dur := int64(120000)
	InsertPage(t, s, &collector.Page{PageID: f.P1, VisitID: f.V1, URL: "https://shop.example/", Title: "Shop",
		Referrer: "https://search.example/", EnteredAt: at(0), ExitedAt: ptr(at(2 * time.Minute)), DurationMS: &dur})
	InsertPage(t, s, &collector.Page{PageID: f.P2, VisitID: f.V1, URL: "https://shop.example/cart", Title: "Cart",
		Referrer: "https://shop.example/", EnteredAt: at(2 * time.Minute)})
	ev := func(id, visit, visitor, session string, identity *string, pg, name, cat string, d time.Duration, data string) {
		InsertEvent(t, s, &collector.Event{EventID: id, VisitID: visit, VisitorID: visitor, SessionID: session,
			IdentityID: identity, PageID: pg, Name: name, Category: cat,
			Timestamp: at(d - time.Second), CorrectedAt: at(d), ReceivedAt: at(d + time.Second),
			URL: "https://shop.example/", Data: json.RawMessage(data)})
	}
	ev(f.E1, f.V1, f.VisitorA, f.S1, nil, f.P1, "VisitStarted", "system", 0, `{"language":"en"}`)
	ev(f.E2, f.V1, f.VisitorA, f.S1, nil, f.P1, "PageEntered", "system", time.Millisecond, `{}`)
	ev(f.E3, f.V1, f.VisitorA, f.S1, nil, f.P2, "AddToCart", "business", 3*time.Minute, `{"sku":"A1"}`)
	LinkVisit(t, s, f.V1, &collector.VisitIdentity{IdentityID: f.Alice, How: collector.LinkStitched, Verified: true, LinkedAt: at(65 * time.Minute)})

	// V2: Alice signs in; the anonymous session S2a ends, S2b starts.
	InsertVisit(t, s, &collector.Visit{VisitID: f.V2, VisitorID: f.VisitorA, IdentityID: str(f.Alice), SessionID: f.S2b,
		State: "authenticated", Verified: true, StartedAt: at(time.Hour), LastSeenAt: at(70 * time.Minute),
		LandingURL: "https://shop.example/login", UserAgent: "UA-1"})
	InsertSession(t, s, &collector.Session{SessionID: f.S2a, VisitID: f.V2, State: "anonymous", StartedAt: at(time.Hour), EndedAt: ptr(at(65 * time.Minute))})
	InsertSession(t, s, &collector.Session{SessionID: f.S2b, VisitID: f.V2, IdentityID: str(f.Alice), State: "authenticated", Verified: true, StartedAt: at(65 * time.Minute)})
	InsertPage(t, s, &collector.Page{PageID: f.P3, VisitID: f.V2, URL: "https://shop.example/login", Title: "Login", EnteredAt: at(time.Hour)})
	ev(f.E4, f.V2, f.VisitorA, f.S2a, nil, f.P3, "PageEntered", "system", time.Hour, `{}`)
	ev(f.E5, f.V2, f.VisitorA, f.S2b, str(f.Alice), f.P3, "SignIn", "system", 65*time.Minute, `{"userId":"alice@example.com"}`)
	ev(f.E6, f.V2, f.VisitorA, f.S2b, str(f.Alice), f.P3, "Purchase", "business", 68*time.Minute, `{"total":42}`)
	LinkVisit(t, s, f.V2, &collector.VisitIdentity{IdentityID: f.Alice, How: collector.LinkAuthenticated, Verified: true, LinkedAt: at(65 * time.Minute)})

	// V3: a later visit recognized as Alice by her token.
	InsertVisit(t, s, &collector.Visit{VisitID: f.V3, VisitorID: f.VisitorA, IdentityID: str(f.Alice), SessionID: f.S3,
		State: "recognized", Verified: true, StartedAt: at(2 * time.Hour), LastSeenAt: at(2 * time.Hour), UserAgent: "UA-1"})
	InsertSession(t, s, &collector.Session{SessionID: f.S3, VisitID: f.V3, IdentityID: str(f.Alice), State: "recognized", Verified: true, StartedAt: at(2 * time.Hour)})
	ev(f.E7, f.V3, f.VisitorA, f.S3, str(f.Alice), "", "UserInfo", "system", 2*time.Hour, `{}`)
	LinkVisit(t, s, f.V3, &collector.VisitIdentity{IdentityID: f.Alice, How: collector.LinkRecognized, Verified: true, LinkedAt: at(2 * time.Hour)})

	// V4: browser B, anonymous.
	InsertVisit(t, s, &collector.Visit{VisitID: f.V4, VisitorID: f.VisitorB, SessionID: f.S4, State: "anonymous",
		StartedAt: at(30 * time.Minute), LastSeenAt: at(30 * time.Minute), UserAgent: "UA-2"})
	InsertSession(t, s, &collector.Session{SessionID: f.S4, VisitID: f.V4, State: "anonymous", StartedAt: at(30 * time.Minute)})
	InsertPage(t, s, &collector.Page{PageID: f.P4, VisitID: f.V4, URL: "https://shop.example/", EnteredAt: at(30 * time.Minute)})
	ev(f.E8, f.V4, f.VisitorB, f.S4, nil, f.P4, "PageEntered", "system", 30*time.Minute, `{}`)

	// V5: browser C claims to be Bob without proof.
	InsertVisit(t, s, &collector.Visit{VisitID: f.V5, VisitorID: f.VisitorC, IdentityID: str(f.Bob), SessionID: f.S5,
		State: "recognized", StartedAt: at(3 * time.Hour), LastSeenAt: at(3 * time.Hour), UserAgent: "UA-3"})
	InsertSession(t, s, &collector.Session{SessionID: f.S5, VisitID: f.V5, IdentityID: str(f.Bob), State: "recognized", StartedAt: at(3 * time.Hour)})
	ev(f.E9, f.V5, f.VisitorC, f.S5, str(f.Bob), "", "UserInfo", "system", 3*time.Hour, `{"userId":"bob@example.com"}`)
	LinkVisit(t, s, f.V5, &collector.VisitIdentity{IdentityID: f.Bob, How: collector.LinkRecognized, Verified: false, LinkedAt: at(3 * time.Hour)})

	PutVisitorData(t, s, "identity:"+f.Alice, `{"loyalty":{"tier":"gold"}}`, at(time.Hour))
	PutVisitorData(t, s, "visitor:"+f.VisitorA, `{"campaign":{"seen":true}}`, at(0))
	PutVisitorData(t, s, "visitor:"+f.VisitorB, `{"campaign":{"seen":false}}`, at(30*time.Minute))
	PutVisitorData(t, s, "identity:"+f.Bob, `{"loyalty":{"tier":"none"}}`, at(3*time.Hour))
	PutMetadata(t, s, f.V1, `{"crm":"lead"}`, at(0))
	PutMetadata(t, s, f.V2, `{"crm":"order"}`, at(time.Hour))
	PutMetadata(t, s, f.V4, `{"crm":"none"}`, at(30*time.Minute))
	return f
}
