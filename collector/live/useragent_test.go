package live_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// A User-Agent header of any size is stored cut to 512 bytes.
func TestLongUserAgentIsClipped(t *testing.T) {
	col := collectortest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ua := "Mozilla/5.0 " + strings.Repeat("x", 8000)
	ws, _, err := websocket.Dial(ctx, col.WSURL(), &websocket.DialOptions{
		Subprotocols: []string{protocol.Subprotocol},
		HTTPHeader:   http.Header{"User-Agent": {ua}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	visitID := collectortest.NewID()
	hello, _ := json.Marshal(protocol.Hello{Type: protocol.TypeHello, VisitorID: collectortest.NewID(), VisitID: visitID})
	if err := ws.Write(ctx, websocket.MessageText, hello); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ws.Read(ctx); err != nil { // welcome: the visit is stored
		t.Fatal(err)
	}
	var got struct {
		UserAgent string `json:"userAgent"`
	}
	col.Get("/v1/visits/"+visitID, &got)
	if got.UserAgent != ua[:512] {
		t.Fatalf("stored user agent: %d bytes, want the first 512", len(got.UserAgent))
	}
}
