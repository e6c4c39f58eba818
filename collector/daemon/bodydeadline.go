package daemon

import (
	"io"
	"net/http"
	"time"
)

// withBodyDeadline gives every request body d to arrive, counted from the
// moment the handler starts. http.Server's ReadHeaderTimeout bounds only
// the headers, and its ReadTimeout cannot serve here: it stays on the
// connection, so it would cut WebSockets and /v1/stream, and a read
// deadline that passes while a handler still answers cancels the
// request's context. So the deadline is set only on requests that have a
// body (an upgrade or a stream has none) and lifted once the body has been
// read to its end. A client that trickles its body past d gets a read
// error in the handler, which answers as for a broken body, and the
// connection is closed.
func withBodyDeadline(next http.Handler, d time.Duration) http.Handler {
	if d <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			rc := http.NewResponseController(w)
			if rc.SetReadDeadline(time.Now().Add(d)) == nil {
				r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// deadlineBody lifts the read deadline when the body has been read.
type deadlineBody struct {
	io.ReadCloser
	rc     *http.ResponseController
	lifted bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.lifted {
		b.lifted = true
		b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}
