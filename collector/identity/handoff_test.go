package identity

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// usedIDs is an in-memory Redeemer; the store's table is tested against
// real SQLite in package live.
type usedIDs map[string]bool

func (u usedIDs) RedeemHandoff(_ context.Context, id string, _ time.Time) (bool, error) {
	if u[id] {
		return false, nil
	}
	u[id] = true
	return true, nil
}

func testHandoffs(t *testing.T, key byte, now *time.Time) *Handoffs {
	t.Helper()
	h, err := NewHandoffs(bytes.Repeat([]byte{key}, 32), time.Hour, func() time.Time { return *now }, nil)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHandoffRoundTripOnce(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	h := testHandoffs(t, 7, &now)
	tok, err := h.Issue("01JD000000000000000000VSTR", "01JD000000000000000000VSIT")
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) > maxHandoffLen || !strings.HasPrefix(tok, handoffPrefix) {
		t.Fatalf("token %q", tok)
	}
	used := usedIDs{}
	c, err := h.Redeem(context.Background(), used, tok)
	if err != nil {
		t.Fatalf("Redeem: %v", err)
	}
	if c.VisitorID != "01JD000000000000000000VSTR" || c.VisitID != "01JD000000000000000000VSIT" {
		t.Fatalf("claims = %+v", c)
	}
	// The TTL asked for (an hour) is capped at two minutes.
	if !c.ExpiresAt.Equal(now.Add(MaxHandoffTTL)) {
		t.Fatalf("expires %v, want %v", c.ExpiresAt, now.Add(MaxHandoffTTL))
	}
	if _, err := h.Redeem(context.Background(), used, tok); !errors.Is(err, ErrReused) {
		t.Fatalf("second Redeem: %v, want ErrReused", err)
	}
}

func TestHandoffRefused(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	h := testHandoffs(t, 7, &now)
	tok, _ := h.Issue("01JD000000000000000000VSTR", "01JD000000000000000000VSIT")
	forged, _ := testHandoffs(t, 8, &now).Issue("01JD000000000000000000VSTR", "01JD000000000000000000VSIT")
	evil, _ := h.Issue("01JD000000000000000000EVIL", "01JD000000000000000000VSIT")
	spliced := evil[:strings.LastIndexByte(evil, '.')] + tok[strings.LastIndexByte(tok, '.'):]
	signer, _ := NewSigner(bytes.Repeat([]byte{7}, 32), 0, func() time.Time { return now })
	recognition := signer.Issue("01JD000000000000000000IDNT", "ada@example.com", true)

	cases := map[string]struct {
		tok  string
		want error
	}{
		"empty":             {"", ErrMalformed},
		"garbage":           {"<script>", ErrMalformed},
		"no signature":      {"h2.abc", ErrMalformed},
		"oversize":          {"h2." + strings.Repeat("A", 4000) + ".x", ErrMalformed},
		"version 1":         {"h1.abc.def", ErrMalformed},
		"other key":         {forged, ErrSignature},
		"spliced":           {spliced, ErrSignature},
		"recognition token": {recognition, ErrMalformed},
		"recognition as h2": {"h2." + recognition[3:], ErrSignature},
	}
	for name, tc := range cases {
		if _, err := h.Redeem(context.Background(), usedIDs{}, tc.tok); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", name, err, tc.want)
		}
	}
	now = now.Add(MaxHandoffTTL)
	if _, err := h.Redeem(context.Background(), usedIDs{}, tok); !errors.Is(err, ErrExpired) {
		t.Errorf("expired: err = %v", err)
	}
}

func TestHandoffIssueRefusesBadIDs(t *testing.T) {
	now := time.Now()
	h := testHandoffs(t, 7, &now)
	for _, ids := range [][2]string{{"", ""}, {"a\nb", ""}, {"01JD000000000000000000VSTR", "x\n1"}} {
		if _, err := h.Issue(ids[0], ids[1]); err == nil {
			t.Errorf("Issue(%q, %q) succeeded", ids[0], ids[1])
		}
	}
	if _, err := NewHandoffs([]byte("short"), 0, nil, nil); err == nil {
		t.Fatal("NewHandoffs accepted a 5-byte key")
	}
}

// FuzzHandoffVerify: whatever a link carries in _vt_x, Verify answers
// with an error or with claims of a token that Issue made; it never
// panics, and a token it accepts names a visitor.
func FuzzHandoffVerify(f *testing.F) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	h := testHandoffs(&testing.T{}, 7, &now)
	good, _ := h.Issue("01JD000000000000000000VSTR", "01JD000000000000000000VSIT")
	f.Add(good)
	f.Add("h2." + good[3:len(good)-4])
	f.Add("h1.YWJj.ZGVm")
	f.Add("h2..")
	f.Add("h2.\n\n\n.x")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := h.Verify(tok)
		if err == nil && (c.VisitorID == "" || c.ID == "" || tok != good && !strings.HasPrefix(tok, handoffPrefix)) {
			t.Fatalf("Verify(%q) accepted %+v", tok, c)
		}
	})
}
