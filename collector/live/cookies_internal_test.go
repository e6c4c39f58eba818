package live

import (
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/visitrack/visitrack/collector/identity"
)

func TestReadJarIgnoresBadValues(t *testing.T) {
	r := httptest.NewRequest("GET", "/v1/ws", nil)
	r.Header.Set("Cookie", "_vt_vid=not-a-ulid; _vt_uid="+strings.Repeat("A", maxCookieLen+1))
	j := readJar(r)
	if j.visitorID != "" || j.token != "" || !j.badToken {
		t.Fatalf("oversize: %+v", j)
	}
	r.Header.Set("Cookie", `_vt_vid=01JD0000000000000000000000; _vt_uid=v1.abc.def`)
	if j := readJar(r); j.visitorID != "01JD0000000000000000000000" || j.token != "v1.abc.def" || j.badToken {
		t.Fatalf("good: %+v", j)
	}
}

// TestRefusedHandoffsDoNotFloodTheLog: refusals are logged at growing
// intervals (the 1st, 2nd, 4th, 8th…), with the reason and never the
// token.
func TestRefusedHandoffsDoNotFloodTheLog(t *testing.T) {
	var buf strings.Builder
	h := New(Config{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	for i := 0; i < 100; i++ {
		h.refuseHandoff(identity.ErrSignature)
	}
	lines := strings.Count(buf.String(), "handoff token refused")
	if lines != 7 || !strings.Contains(buf.String(), "reason=forged") || !strings.Contains(buf.String(), "refusedSinceStart=64") {
		t.Fatalf("%d lines:\n%s", lines, buf.String())
	}
}
