package identity

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

func testSigner(t *testing.T, now *time.Time) *Signer {
	t.Helper()
	s, err := NewSigner(bytes.Repeat([]byte{7}, 32), time.Hour, func() time.Time { return *now })
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTokenRoundTrip(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	s := testSigner(t, &now)
	for _, verified := range []bool{true, false} {
		tok := s.Issue("01JD0000000000000000000000", "ada@example.com", verified)
		c, err := s.Verify(tok)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if c.IdentityID != "01JD0000000000000000000000" || c.UserID != "ada@example.com" || c.Verified != verified {
			t.Fatalf("claims = %+v, want verified %v", c, verified)
		}
		if !c.IssuedAt.Equal(now) || !c.ExpiresAt.Equal(now.Add(time.Hour)) {
			t.Fatalf("times = %v %v", c.IssuedAt, c.ExpiresAt)
		}
		if len(c.ID) < 22 {
			t.Fatalf("token id %q, want at least 128 bits", c.ID)
		}
	}
}

// TestTokenIDsDiffer: each token has its own id, so that SignOut revokes
// that token and no other.
func TestTokenIDsDiffer(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	s := testSigner(t, &now)
	a, _ := s.Verify(s.Issue("01JD0000000000000000000000", "ada@example.com", true))
	b, _ := s.Verify(s.Issue("01JD0000000000000000000000", "ada@example.com", true))
	if a.ID == "" || a.ID == b.ID {
		t.Fatalf("token ids %q and %q, want two different ids", a.ID, b.ID)
	}
}

// TestTokenV1 keeps tokens of the first format verifying, as unverified
// claims with an id derived from their mac.
func TestTokenV1(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	key := bytes.Repeat([]byte{7}, 32)
	s := testSigner(t, &now)
	payload := "01JD0000000000000000000000\nada@example.com\n" + strconv.FormatInt(now.Unix(), 10) + "\n" + strconv.FormatInt(now.Add(time.Hour).Unix(), 10)
	body := "v1." + b64.EncodeToString([]byte(payload))
	h := hmac.New(sha256.New, key)
	h.Write([]byte(body))
	tok := body + "." + b64.EncodeToString(h.Sum(nil))
	c, err := s.Verify(tok)
	if err != nil {
		t.Fatalf("Verify v1: %v", err)
	}
	if c.Verified || c.UserID != "ada@example.com" || !strings.HasPrefix(c.ID, "v1:") {
		t.Fatalf("v1 claims = %+v, want unverified with a v1: id", c)
	}
	again, _ := s.Verify(tok)
	if again.ID != c.ID {
		t.Fatalf("v1 id not stable: %q then %q", c.ID, again.ID)
	}
}

func TestTokenRefused(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	s := testSigner(t, &now)
	tok := s.Issue("01JD0000000000000000000000", "ada@example.com", true)

	other, _ := NewSigner(bytes.Repeat([]byte{8}, 32), time.Hour, func() time.Time { return now })
	forged := other.Issue("01JD0000000000000000000000", "ada@example.com", true)

	// Swap the payload for another user's while keeping the signature.
	evil := s.Issue("01JD0000000000000000000000", "eve@example.com", true)
	// An unverified token turned verified keeps its signature no more.
	unverified := s.Issue("01JD0000000000000000000000", "ada@example.com", false)
	ub, _ := b64.DecodeString(unverified[3:strings.LastIndexByte(unverified, '.')])
	upgraded := "v2." + b64.EncodeToString(append(ub[:len(ub)-1], '1')) + unverified[strings.LastIndexByte(unverified, '.'):]
	spliced := evil[:strings.LastIndexByte(evil, '.')] + tok[strings.LastIndexByte(tok, '.'):]

	cases := map[string]struct {
		tok  string
		want error
	}{
		"empty":          {"", ErrMalformed},
		"garbage":        {"hello", ErrMalformed},
		"no signature":   {"v1.abc", ErrMalformed},
		"bad base64 sig": {"v1.abc.!!!", ErrMalformed},
		"other key":      {forged, ErrSignature},
		"spliced":        {spliced, ErrSignature},
		"upgraded":       {upgraded, ErrSignature},
		"sql":            {"v1.' OR 1=1 --.x", ErrMalformed},
	}
	for name, tc := range cases {
		if _, err := s.Verify(tc.tok); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", name, err, tc.want)
		}
	}

	now = now.Add(time.Hour)
	if _, err := s.Verify(tok); !errors.Is(err, ErrExpired) {
		t.Errorf("expired: err = %v", err)
	}
}

func TestShortKeyRefused(t *testing.T) {
	if _, err := NewSigner([]byte("short"), 0, nil); err == nil {
		t.Fatal("NewSigner accepted a 5-byte key")
	}
}

func TestUserHash(t *testing.T) {
	// Reference value: printf %s ada@example.com | openssl dgst -sha256 -hmac s3cret
	const want = "02499ca50786c7344cb6060012cb26cef23df47a15e968f558eed4652b0a0330"
	h := UserHash("s3cret", "ada@example.com")
	if h != want {
		t.Fatalf("UserHash = %s, want %s", h, want)
	}
	if !CheckUserHash("s3cret", "ada@example.com", h) {
		t.Fatal("own hash refused")
	}
	if CheckUserHash("s3cret", "eve@example.com", h) || CheckUserHash("other", "ada@example.com", h) || CheckUserHash("s3cret", "ada@example.com", "") {
		t.Fatal("wrong hash accepted")
	}
}

// TestTokenIDFromRand: token ids come from the injected reader.
func TestTokenIDFromRand(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	s := testSigner(t, &now).WithRand(bytes.NewReader(bytes.Repeat([]byte{0xff}, 16)))
	c, err := s.Verify(s.Issue("01JD0000000000000000000000", "ada@example.com", true))
	if err != nil || c.ID != "_____________________w" {
		t.Fatalf("id %q, %v; want the reader's bytes", c.ID, err)
	}
}
