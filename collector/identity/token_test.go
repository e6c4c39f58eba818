package identity

import (
	"bytes"
	"errors"
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
	tok := s.Issue("01JD0000000000000000000000", "ada@example.com")
	c, err := s.Verify(tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if c.IdentityID != "01JD0000000000000000000000" || c.UserID != "ada@example.com" {
		t.Fatalf("claims = %+v", c)
	}
	if !c.IssuedAt.Equal(now) || !c.ExpiresAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("times = %v %v", c.IssuedAt, c.ExpiresAt)
	}
}

func TestTokenRefused(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	s := testSigner(t, &now)
	tok := s.Issue("01JD0000000000000000000000", "ada@example.com")

	other, _ := NewSigner(bytes.Repeat([]byte{8}, 32), time.Hour, func() time.Time { return now })
	forged := other.Issue("01JD0000000000000000000000", "ada@example.com")

	// Swap the payload for another user's while keeping the signature.
	evil := s.Issue("01JD0000000000000000000000", "eve@example.com")
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
