package webhook

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// The reference library's own test vector (TestWebhookSign in
// standard-webhooks/libraries v0.0.1, go/webhook_test.go).
func TestSignVector(t *testing.T) {
	got, err := Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

// Every signature of ours verifies with the reference library, and a
// changed id, timestamp, body or secret does not.
func TestSignVerifiesWithLibrary(t *testing.T) {
	secret, err := NewSecret(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "whsec_") || len(secret) != len("whsec_")+44 {
		t.Fatalf("secret %q", secret)
	}
	other, _ := NewSecret(nil)
	now := time.Now().Unix()
	body := []byte(`{"type":"SignIn","timestamp":"2026-11-20T10:00:00Z","data":{"name":"SignIn","ünï":"çødé"}}`)
	sig, err := Sign(secret, "msg_A_B", now, body)
	if err != nil {
		t.Fatal(err)
	}
	verify := func(secret, id string, ts int64, body []byte) error {
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", fmt.Sprint(ts))
		h.Set("webhook-signature", sig)
		return wh.Verify(body, h)
	}
	if err := verify(secret, "msg_A_B", now, body); err != nil {
		t.Fatalf("the library refuses our signature: %v", err)
	}
	for name, err := range map[string]error{
		"id":        verify(secret, "msg_A_C", now, body),
		"timestamp": verify(secret, "msg_A_B", now-1, body),
		"body":      verify(secret, "msg_A_B", now, bytes.Replace(body, []byte("SignIn"), []byte("SignOut"), 1)),
		"secret":    verify(other, "msg_A_B", now, body),
	} {
		if err == nil {
			t.Errorf("a changed %s still verifies", name)
		}
	}
	if _, err := Sign("whsec_not base64!", "id", now, body); err == nil {
		t.Error("a malformed secret signs")
	}
}
