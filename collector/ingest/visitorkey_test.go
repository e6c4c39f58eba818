package ingest_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/collector/ingest"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

// TestVisitorKeyFromRand: browser keys come from Config.Rand (128 bits),
// and only the key proves the visitor afterwards.
func TestVisitorKeyFromRand(t *testing.T) {
	s := storetest.New(t)
	signer, err := identity.NewSigner(make([]byte, 32), time.Hour, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	in, err := ingest.New(ingest.Config{Store: s, Signer: signer, Rand: bytes.NewReader(bytes.Repeat([]byte{0xff}, 64))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(context.Background()) })
	ctx := context.Background()
	c := ingest.Client{VisitorID: ulid.Make().String(), VisitID: ulid.Make().String()}
	res, err := in.Collect(ctx, c, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Visit.VisitorKey != "_____________________w" || res.Visit.VisitorID != c.VisitorID {
		t.Fatalf("first contact: key %q visitor %s, want the reader's 16 bytes for %s", res.Visit.VisitorKey, res.Visit.VisitorID, c.VisitorID)
	}
	c.VisitorKey = res.Visit.VisitorKey
	if res, err = in.Collect(ctx, c, "", nil); err != nil || res.Visit.VisitorID != c.VisitorID || res.NewVisit {
		t.Fatalf("with its key: %+v, %v; want the same visitor and visit", res, err)
	}
	c.VisitorKey = "_____________________x"
	if res, err = in.Collect(ctx, c, "", nil); err != nil || res.Visit.VisitorID == c.VisitorID || !res.NewVisit {
		t.Fatalf("with a wrong key: %+v, %v; want a new visitor", res, err)
	}
}
