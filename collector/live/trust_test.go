package live_test

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/daemon"
	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/shared/protocol"
)

// The trust rules (docs/security.md) over the WebSocket, and over
// /v1/collect where the conformance suite (which runs with a secret) does
// not reach.

// identityOf returns the identityId of userID, read by an operator.
func identityOf(t *testing.T, col *collectortest.Collector, userID string) string {
	t.Helper()
	var ids list[struct{ IdentityID string }]
	col.Get("/v1/identities?userId="+userID, &ids)
	if len(ids.Items) != 1 {
		t.Fatalf("identities of %s: %+v, want one", userID, ids.Items)
	}
	return ids.Items[0].IdentityID
}

func patch(t *testing.T, col *collectortest.Collector, path, value string) {
	t.Helper()
	if status, b := col.Do("PATCH", path, value, "Content-Type", "application/merge-patch+json"); status != 200 {
		t.Fatalf("PATCH %s: %d %s", path, status, b)
	}
}

// noPushOf writes the client's own visitor data, then reads frames until
// that write arrives: a push of secret queued for the connection before it
// would have come first (pushes to one connection go out in order).
func noPushOf(t *testing.T, col *collectortest.Collector, c *collectortest.Client, visitorID, secret string) {
	t.Helper()
	for _, vd := range c.Pushed {
		if strings.Contains(string(vd.Data), secret) {
			t.Fatalf("pushed %s to a stranger", vd.Data)
		}
	}
	patch(t, col, "/v1/visitors/"+visitorID+"/visitor-data/marker", `{"mine":true}`)
	for {
		_, b, err := c.Read()
		if err != nil {
			t.Fatalf("waiting for the connection's own push: %v", err)
		}
		if strings.Contains(string(b), secret) {
			t.Fatalf("a stranger's connection got %s", b)
		}
		if strings.Contains(string(b), `"mine":true`) {
			return
		}
	}
}

// collectHTTP posts a /v1/collect body as curl would (no Origin).
func collectHTTP(t *testing.T, col *collectortest.Collector, body map[string]any) (protocol.CollectResponse, string) {
	t.Helper()
	status, b := collectortest.Request(t, col.URL(), "", "POST", "/v1/collect", body)
	if status != 200 {
		t.Fatalf("collect: %d %s", status, b)
	}
	var res protocol.CollectResponse
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

// TestNoSecretVerifiesNothing: without --identity-secret a SignIn, from a
// tracker or from curl, is an unverified claim that learns nothing of the
// identity, whatever "proof" it carries.
func TestNoSecretVerifiesNothing(t *testing.T) {
	col := collectortest.Start(t)
	owner := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
	owner.SendEvents(true, collectortest.Event(protocol.EventSignIn, "", map[string]any{"userId": "ada"}))
	identityID := identityOf(t, col, "ada")
	patch(t, col, "/v1/identities/"+identityID+"/visitor-data/crm", `{"tier":"PLATINUM-SECRET"}`)

	forged, _ := identity.SignInToken("x", "", "ada", time.Now(), 10*time.Minute)
	for name, data := range map[string]map[string]any{
		"bare":              {"userId": "ada"},
		"empty-key hash":    {"userId": "ada", "userHash": identity.UserHash("", "ada")},
		"self-signed token": {"userId": "ada", "signInToken": forged},
	} {
		c := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
		_, id := c.SendEvents(true, collectortest.Event(protocol.EventSignIn, "", data))
		if id.Verified || id.IdentityID != nil || id.State != protocol.StateAuthenticated {
			t.Fatalf("%s over WebSocket: identity %+v, want authenticated, unverified, no identityId", name, id)
		}
		noPushOf(t, col, c, c.Welcome.VisitorID, "PLATINUM-SECRET")

		res, raw := collectHTTP(t, col, map[string]any{"visitorId": collectortest.NewID(), "visitId": collectortest.NewID(),
			"events": []protocol.Event{collectortest.Event(protocol.EventSignIn, "", data)}})
		if res.Identity == nil || res.Identity.Verified || res.Identity.IdentityID != nil {
			t.Fatalf("%s over /v1/collect: %s, want unverified without identityId", name, raw)
		}
		if strings.Contains(raw, "PLATINUM-SECRET") || strings.Contains(raw, identityID) {
			t.Fatalf("%s over /v1/collect: the answer tells of the identity: %s", name, raw)
		}
	}
	var v visit
	col.Get("/v1/visits/"+owner.Welcome.VisitID, &v)
	eq(t, "first SignIn verified", v.Verified, false)
}

// TestTakeoverOverWebSocket: a hello naming a visitor and its visit
// without the visitor's key is a new visitor: it joins no visit, gets none
// of the visitor's data, and no push of it.
func TestTakeoverOverWebSocket(t *testing.T) {
	col := collectortest.Start(t, "--browser-writable", "prefs")
	victim := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
	victim.SendEvents(false, collectortest.Event("Browse", "", nil))
	vid, visitID, key := victim.Welcome.VisitorID, victim.Welcome.VisitID, victim.Welcome.VisitorKey
	if len(key) < 22 {
		t.Fatalf("welcome visitorKey %q, want at least 128 bits", key)
	}
	patch(t, col, "/v1/visitors/"+vid+"/visitor-data/offers", `{"code":"VICTIM-ONLY"}`)

	for name, k := range map[string]string{"no key": "", "wrong key": strings.Repeat("Q", len(key))} {
		x := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: vid, VisitorKey: k, VisitID: visitID})
		w := x.Welcome
		if w.VisitorID == vid || w.VisitID == visitID || w.VisitorKey == "" || w.VisitorKey == key {
			t.Fatalf("%s: welcome %+v joined the victim (%s, %s)", name, w, vid, visitID)
		}
		if strings.Contains(string(w.VisitorData.Data), "VICTIM-ONLY") {
			t.Fatalf("%s: welcome carries the victim's data", name)
		}
		patch(t, col, "/v1/visitors/"+vid+"/visitor-data/offers", `{"again":"VICTIM-ONLY"}`)
		noPushOf(t, col, x, w.VisitorID, "VICTIM-ONLY")
		// Its writes go to its own visitor, never the victim's.
		x.Send(protocol.VisitorDataUpdate{Type: protocol.TypeVisitorDataUpdate, RequestID: "w1", Namespace: "prefs", Value: protocol.RawJSON(`{"by":"STRANGER"}`)})
		for {
			_, b, err := x.Read()
			if err != nil {
				t.Fatalf("%s: waiting for the answer to the update: %v", name, err)
			}
			if strings.Contains(string(b), `"requestId":"w1"`) {
				break
			}
		}
		var vd struct{ Data map[string]any }
		col.Get("/v1/visitors/"+vid+"/visitor-data", &vd)
		if _, ok := vd.Data["prefs"]; ok {
			t.Fatalf("%s: the stranger wrote the victim's visitor data: %v", name, vd.Data)
		}
		e := collectortest.Event("Takeover", "", nil)
		x.SendEvents(false, e)
		var evs list[event]
		col.Get("/v1/visits/"+visitID+"/events", &evs)
		for _, got := range evs.Items {
			if got.EventID == e.EventID {
				t.Fatalf("%s: the stranger's event was filed in the victim's visit", name)
			}
		}
	}
	// The owner, with its key, goes on in its visit.
	again := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: vid, VisitorKey: key, VisitID: visitID})
	if again.Welcome.VisitID != visitID || again.Welcome.VisitorID != vid || !strings.Contains(string(again.Welcome.VisitorData.Data), "VICTIM-ONLY") {
		t.Fatalf("the owner's welcome %+v, want its visit and data", again.Welcome)
	}
}

// TestUnverifiedTokenOverWebSocket: an unproven SignIn earns a token that
// recognizes later visits unverified, and neither tells the browser the
// identity nor its data.
func TestUnverifiedTokenOverWebSocket(t *testing.T) {
	col := collectortest.Start(t, "--identity-secret", testSecret)
	owner := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
	owner.SendEvents(true, collectortest.Event(protocol.EventSignIn, "", proven("ada", nil)))
	identityID := identityOf(t, col, "ada")
	patch(t, col, "/v1/identities/"+identityID+"/visitor-data/crm", `{"tier":"PLATINUM-SECRET"}`)

	c := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
	_, id := c.SendEvents(true, collectortest.Event(protocol.EventSignIn, "", map[string]any{"userId": "ada", "userHash": "00ff"}))
	if id.Verified || id.IdentityID != nil || id.Recognition == nil {
		t.Fatalf("unproven SignIn: identity %+v, want an unverified token and no identityId", id)
	}
	claims, err := identityVerify(t, col, *id.Recognition)
	if err != nil || claims.Verified {
		t.Fatalf("unproven SignIn's token: %+v, %v; want a valid unverified token", claims, err)
	}
	patch(t, col, "/v1/identities/"+identityID+"/visitor-data/crm", `{"tier2":"PLATINUM-SECRET"}`)
	noPushOf(t, col, c, c.Welcome.VisitorID, "PLATINUM-SECRET")

	next := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: c.Welcome.VisitorID, VisitorKey: c.Welcome.VisitorKey,
		VisitID: collectortest.NewID(), Recognition: id.Recognition})
	w := next.Welcome
	if w.State != protocol.StateRecognized || w.Verified || w.IdentityID != nil || w.Recognition == nil {
		t.Fatalf("welcome with an unverified token %+v, want recognized, unverified, no identityId", w)
	}
	if strings.Contains(string(w.VisitorData.Data), "PLATINUM-SECRET") {
		t.Fatalf("welcome with an unverified token carries the identity's data %s", w.VisitorData.Data)
	}
	var v visit
	col.Get("/v1/visits/"+w.VisitID, &v)
	if v.State != protocol.StateRecognized || v.Verified || v.IdentityID == nil || *v.IdentityID != identityID {
		t.Fatalf("recognized visit %+v, want an unverified claim of %s", v, identityID)
	}
}

// identityVerify reads a recognition token with the collector's own key.
func identityVerify(t *testing.T, col *collectortest.Collector, tok string) (identity.Claims, error) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(col.DataDir, "recognition.key"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := identity.NewSigner(key, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	return signer.Verify(tok)
}

// TestSignOutRevokesOverWebSocket: after SignOut the token the connection
// held recognizes nobody, wherever it is presented.
func TestSignOutRevokesOverWebSocket(t *testing.T) {
	col := collectortest.Start(t, "--identity-secret", testSecret)
	c := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
	_, id := c.SendEvents(true, collectortest.Event(protocol.EventSignIn, "", proven("ada", nil)))
	token := *id.Recognition
	before := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID(), Recognition: &token})
	eq(t, "state before SignOut", before.Welcome.State, protocol.StateRecognized)

	_, id = c.SendEvents(true, collectortest.Event(protocol.EventSignOut, "", nil))
	if id.State != protocol.StateAnonymous || id.Recognition != nil {
		t.Fatalf("SignOut answered %+v", id)
	}
	for name, hello := range map[string]protocol.Hello{
		"same browser": {VisitorID: c.Welcome.VisitorID, VisitorKey: c.Welcome.VisitorKey, VisitID: collectortest.NewID(), Recognition: &token},
		"a copy":       {VisitorID: collectortest.NewID(), VisitID: collectortest.NewID(), Recognition: &token},
	} {
		w := collectortest.Dial(t, col.WSURL(), hello).Welcome
		if w.State != protocol.StateAnonymous || w.Recognition != nil || w.IdentityID != nil {
			t.Fatalf("%s: welcome with the revoked token %+v, want anonymous and a null token", name, w)
		}
	}
}

// TestLegacyVisitorGetsKey: a visitor stored before keys existed gets a
// key at its next contact; after that, its id alone is no longer enough.
func TestLegacyVisitorGetsKey(t *testing.T) {
	dir := t.TempDir()
	col := collectortest.StartIn(t, dir)
	c := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
	c.SendEvents(false, collectortest.Event("Browse", "", nil))
	vid, visitID := c.Welcome.VisitorID, c.Welcome.VisitID
	c.Conn.CloseNow()
	col.Stop()

	st, closeDB, err := daemon.OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.DB().Exec(`UPDATE visitors SET key_hash = NULL`); err != nil {
		t.Fatal(err)
	}
	closeDB()

	col = collectortest.StartIn(t, dir)
	first := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: vid, VisitID: visitID})
	if w := first.Welcome; w.VisitorID != vid || w.VisitID != visitID || len(w.VisitorKey) < 22 {
		t.Fatalf("the legacy visitor's return: welcome %+v, want its ids and a new key", w)
	}
	second := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: vid, VisitID: visitID})
	if w := second.Welcome; w.VisitorID == vid || w.VisitID == visitID {
		t.Fatalf("a second keyless browser joined the claimed visitor: %+v", w)
	}
	third := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: vid, VisitorKey: first.Welcome.VisitorKey, VisitID: visitID})
	if w := third.Welcome; w.VisitorID != vid || w.VisitID != visitID {
		t.Fatalf("the claimant with its key: %+v", w)
	}
}

// TestErasureTakesOnlyWhatWasProven: erasing an identity erases the
// visits that name it, claims included (their events carry the person's
// userId), but not the claimant's browser and its other visits: only a
// proof makes a browser the identity's.
func TestErasureTakesOnlyWhatWasProven(t *testing.T) {
	col := collectortest.Start(t, "--identity-secret", testSecret)
	owner := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
	owner.SendEvents(true, collectortest.Event(protocol.EventSignIn, "", proven("ada", nil)))
	identityID := identityOf(t, col, "ada")

	claimant := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
	claimant.SendEvents(false, collectortest.Event("Browse", "", nil))
	own := claimant.Welcome.VisitID
	claim := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: claimant.Welcome.VisitorID,
		VisitorKey: claimant.Welcome.VisitorKey, VisitID: collectortest.NewID()})
	claim.SendEvents(true, collectortest.Event(protocol.EventSignIn, "", map[string]any{"userId": "ada"}))
	claimed := claim.Welcome.VisitID
	if claimed == own {
		t.Fatal("the claim did not open a visit of its own")
	}

	if status, b := col.Do("DELETE", "/v1/identities/"+identityID, nil); status != 204 {
		t.Fatalf("erase: %d %s", status, b)
	}
	if status, _ := col.Do("GET", "/v1/visits/"+owner.Welcome.VisitID, nil); status != 404 {
		t.Fatalf("the owner's visit survived the erasure: %d", status)
	}
	if status, _ := col.Do("GET", "/v1/visits/"+claimed, nil); status != 404 {
		t.Fatalf("the claim's visit, which names ada, survived the erasure: %d", status)
	}
	if status, b := col.Do("GET", "/v1/visits/"+own, nil); status != 200 {
		t.Fatalf("the claimant's own visit was erased with ada: %d %s", status, b)
	}
}

// TestSignOutRevokesEveryTokenOfTheConnection: a browser recognized by
// one token that then signs in holds two tokens on the connection; SignOut
// revokes both.
func TestSignOutRevokesEveryTokenOfTheConnection(t *testing.T) {
	col := collectortest.Start(t, "--identity-secret", testSecret)
	first := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
	_, id := first.SendEvents(true, collectortest.Event(protocol.EventSignIn, "", proven("ada", nil)))
	old := *id.Recognition

	c := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: first.Welcome.VisitorID, VisitorKey: first.Welcome.VisitorKey,
		VisitID: collectortest.NewID(), Recognition: &old})
	eq(t, "recognized by the old token", c.Welcome.State, protocol.StateRecognized)
	_, id = c.SendEvents(true, collectortest.Event(protocol.EventSignIn, "", proven("ada", nil)))
	fresh := *id.Recognition
	if fresh == old {
		t.Fatal("the SignIn issued the same token")
	}
	c.SendEvents(true, collectortest.Event(protocol.EventSignOut, "", nil))
	for name, tok := range map[string]string{"presented at hello": old, "issued by the SignIn": fresh} {
		w := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID(), Recognition: &tok}).Welcome
		if w.State != protocol.StateAnonymous || w.Recognition != nil {
			t.Fatalf("token %s still recognizes after SignOut: %+v", name, w)
		}
	}
}
