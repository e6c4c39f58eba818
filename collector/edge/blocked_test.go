package edge_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/visitrack/visitrack/collector/edge"
	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/shared/protocol"
)

// TestBlockedUserIDsSetting: the worker reads VISITRACK_BLOCKED_USER_IDS as
// the native collector reads --blocked-user-ids: a SignIn of one of its
// values, or of a placeholder, with a valid userHash, is stored and
// refused, and no identity is made.
func TestBlockedUserIDsSetting(t *testing.T) {
	const secret = "edge-blocked-secret"
	env := collectEnv()
	env[edge.EnvIdentitySecret] = secret
	env[edge.EnvBlockedUserIDs] = "kiosk, Shared-Terminal"
	db, _, url, _ := freshWorkerSpy(t, env)
	for _, userID := range []string{"KIOSK", " shared-terminal ", "Guest"} {
		id := ulid.Make().String()
		body, _ := json.Marshal(map[string]any{"visitorId": ulid.Make().String(), "visitId": "", "events": []map[string]any{{
			"eventId": id, "name": protocol.EventSignIn, "pageId": ulid.Make().String(),
			"timestamp": time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
			"data":      map[string]any{"userId": userID, "userHash": identity.UserHash(secret, userID)},
		}}})
		req, _ := http.NewRequest("POST", url+"/v1/collect", bytes.NewReader(body))
		req.Header.Set("Content-Type", "text/plain")
		req.Header.Set("Origin", "http://shop.example")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var out protocol.CollectResponse
		if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &out) != nil {
			t.Fatalf("SignIn %q: %d %s", userID, resp.StatusCode, raw)
		}
		if len(out.Ack.EventIDs) != 1 || len(out.Ack.Refused) != 1 || out.Ack.Refused[0].Code != protocol.CodeBlockedUserID ||
			out.Identity == nil || out.Identity.State != protocol.StateAnonymous {
			t.Fatalf("SignIn %q: answer %s, want stored, refused as blocked_user_id, anonymous", userID, raw)
		}
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM events WHERE event_id = ?`, id).Scan(&n); err != nil || n != 1 {
			t.Fatalf("SignIn %q stored %d times (%v)", userID, n, err)
		}
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM identities`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d identities made (%v), want none", n, err)
	}
}
