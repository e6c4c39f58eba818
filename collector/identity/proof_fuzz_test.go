package identity

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"
)

// FuzzVerifySignInToken signs whatever claims it is given with the secret
// (so that the signature is never the reason) and checks that
// CheckSignInToken accepts them only when an independent reading says
// they are a proof: sub the user, aud naming DefaultAudience, exp and iat
// bare JSON numbers, iat not in the future, exp not passed and at most
// 24 h after iat. The claims as a token of their own, unsigned, are never
// a proof. Nothing may panic. Seeds: testdata/fuzz/FuzzVerifySignInToken.
func FuzzVerifySignInToken(f *testing.F) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	p := NewProver(proofSecret, "", func() time.Time { return now })
	f.Add([]byte(`{"sub":"ada@example.com","aud":"visitrack","iat":1795255200,"exp":1795255500}`))
	f.Fuzz(func(t *testing.T, claims []byte) {
		if err := p.CheckSignInToken("ada@example.com", string(claims)); !errors.Is(err, ErrNoProof) {
			t.Fatalf("bare claims as a token: %v, want ErrNoProof", err)
		}
		err := p.CheckSignInToken("ada@example.com", signJSON(t, []byte(proofSecret), string(claims)))
		if err != nil {
			if !errors.Is(err, ErrNoProof) {
				t.Fatalf("refusal that is not ErrNoProof: %v", err)
			}
			return
		}
		if why := notAProof(claims, now); why != "" {
			t.Fatalf("accepted %s: %s", claims, why)
		}
	})
}

// notAProof reads claims without jwt and says why they prove nothing, or
// "". The slack of a second covers jwt's rounding of fractional dates.
func notAProof(claims []byte, now time.Time) string {
	var c struct {
		Sub string          `json:"sub"`
		Aud json.RawMessage `json:"aud"`
		Exp json.RawMessage `json:"exp"`
		Iat json.RawMessage `json:"iat"`
	}
	if err := json.Unmarshal(claims, &c); err != nil {
		return "claims do not decode: " + err.Error()
	}
	if c.Sub != "ada@example.com" {
		return "sub is " + strconv.Quote(c.Sub)
	}
	var one string
	var many []string
	if json.Unmarshal(c.Aud, &one) != nil && json.Unmarshal(c.Aud, &many) != nil {
		return "aud is neither a string nor strings"
	}
	if one != DefaultAudience && !slices.Contains(many, DefaultAudience) {
		return "aud does not name " + DefaultAudience
	}
	exp, err1 := strconv.ParseFloat(string(c.Exp), 64)
	iat, err2 := strconv.ParseFloat(string(c.Iat), 64)
	if err1 != nil || err2 != nil {
		return "exp or iat is not a bare number"
	}
	sec := float64(now.Unix())
	leeway := SignInLeeway.Seconds() + 1
	switch {
	case iat > sec+leeway:
		return "iat is in the future"
	case exp < sec-leeway:
		return "exp has passed"
	case exp-iat > MaxSignInTokenTTL.Seconds()+1:
		return "lives longer than 24h"
	}
	return ""
}
