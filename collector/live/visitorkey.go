package live

import "net/http"

// presentedKey is the browser key a request presents (docs/security.md#browser-key):
// the visitorKey field of its hello or collect body. It is the one place
// that reads it, so that the first-party mode's HttpOnly _vt_key cookie
// (on r, the collect request or the WebSocket handshake) can be read here
// beside the field.
func presentedKey(r *http.Request, field string) string {
	return field
}
