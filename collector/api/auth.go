package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/visitrack/visitrack/collector"
)

type tokenKey struct{}

// TokenFrom returns the token that authenticated the request, or nil
// outside a Handle'd endpoint.
func TokenFrom(ctx context.Context) *collector.Token {
	t, _ := ctx.Value(tokenKey{}).(*collector.Token)
	return t
}

// RequireScope returns EFORBIDDEN unless the request's token grants scope
// (EUNAUTHORIZED outside a Handle'd endpoint). Handlers whose scope
// depends on the request call it themselves.
func RequireScope(r *http.Request, scope string) error {
	t := TokenFrom(r.Context())
	if t == nil {
		return collector.Errorf(collector.EUNAUTHORIZED, "authentication required")
	}
	if !t.HasScope(scope) {
		return collector.Errorf(collector.EFORBIDDEN, "this token lacks the scope %s", scope)
	}
	return nil
}

// authenticate finds the live token of the request's bearer credentials
// and returns the request with it in its context, or EUNAUTHORIZED.
func (h *Handler) authenticate(r *http.Request) (*http.Request, error) {
	if h.cfg.Tokens == nil {
		return r, collector.Errorf(collector.EUNAVAILABLE, "authentication is not configured")
	}
	scheme, secret, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	secret = strings.TrimSpace(secret)
	if !strings.EqualFold(scheme, "Bearer") || secret == "" {
		return r, unauthorized("send Authorization: Bearer <token>")
	}
	t, err := h.cfg.Tokens.Authenticate(r.Context(), secret)
	if collector.ErrorCode(err) == collector.EUNAUTHORIZED {
		return r, unauthorized("unknown or revoked token")
	}
	if err != nil {
		return r, err
	}
	return r.WithContext(context.WithValue(r.Context(), tokenKey{}, t)), nil
}

func unauthorized(msg string) error {
	return collector.Errorf(collector.EUNAUTHORIZED, "%s", msg)
}
