// Package rrproxy is a small round-robin reverse proxy for tests that put
// several real collectors behind one address, as a load balancer does in
// front of nodes on one PostgreSQL database (docs/deployment-push.md):
// each HTTP request and each WebSocket connection goes to the next
// backend in turn, and a backend that refuses connections (a node that
// was killed) is skipped, so its traffic goes to the others.
//
// It counts what each backend served and the WebSockets each one holds,
// so a test can tell which node to kill.
package rrproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"syscall"
)

// maxBody bounds the request body the proxy holds to replay it on the
// next backend: the collector refuses far smaller bodies itself, and a
// test that sends more gets a clear 413 from the proxy.
const maxBody = 16 << 20

// Proxy is a running round-robin proxy.
type Proxy struct {
	backends []*backend
	next     atomic.Uint64
	ln       net.Listener
	srv      *http.Server
	served   chan error
}

// backend is one upstream with its counters.
type backend struct {
	url      *url.URL
	proxy    *httputil.ReverseProxy
	requests atomic.Int64 // answers that came from this backend, upgrades included
	sockets  atomic.Int64 // upgraded connections open through it now
}

// attempt is one try of a request on one backend; the error handler and
// ModifyResponse fill it in, through the request's context.
type attempt struct {
	refused  bool
	upgraded bool
}

type attemptKey struct{}

// Start listens on a loopback port 0 and proxies to the backends, base
// URLs such as http://127.0.0.1:8787. Close stops it.
func Start(backends ...string) (*Proxy, error) {
	if len(backends) == 0 {
		return nil, errors.New("rrproxy: no backend")
	}
	p := &Proxy{}
	for _, raw := range backends {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("rrproxy: backend %q is not a base URL", raw)
		}
		b := &backend{url: u}
		b.proxy = &httputil.ReverseProxy{
			Rewrite: func(r *httputil.ProxyRequest) {
				r.SetURL(u)
				r.Out.Host = r.In.Host // as a load balancer keeps it
			},
			// Server-sent or chunked answers pass at once, not when a
			// buffer fills.
			FlushInterval: -1,
			// Counted before the answer is written: a client that got
			// it sees the count.
			ModifyResponse: func(resp *http.Response) error {
				b.requests.Add(1)
				if resp.StatusCode == http.StatusSwitchingProtocols {
					if a, ok := resp.Request.Context().Value(attemptKey{}).(*attempt); ok {
						a.upgraded = true
						b.sockets.Add(1)
					}
				}
				return nil
			},
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				if a, ok := r.Context().Value(attemptKey{}).(*attempt); ok && errors.Is(err, syscall.ECONNREFUSED) {
					a.refused = true // nothing was written: the next backend answers
					return
				}
				http.Error(w, "rrproxy: backend "+u.Host+": "+err.Error(), http.StatusBadGateway)
			},
		}
		p.backends = append(p.backends, b)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("rrproxy: listen: %w", err)
	}
	p.ln = ln
	p.srv = &http.Server{Handler: p}
	p.served = make(chan error, 1)
	go func() { p.served <- p.srv.Serve(ln) }()
	return p, nil
}

// URL is the proxy's base URL, e.g. http://127.0.0.1:41234.
func (p *Proxy) URL() string { return "http://" + p.ln.Addr().String() }

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Requests is how many requests backend i (in Start's order) answered.
func (p *Proxy) Requests(i int) int64 { return p.backends[i].requests.Load() }

// Sockets is how many upgraded connections (WebSockets) backend i holds
// through the proxy now.
func (p *Proxy) Sockets(i int) int64 { return p.backends[i].sockets.Load() }

// Close stops listening and closes the connections, WebSockets included.
func (p *Proxy) Close() error {
	err := p.srv.Close()
	if e := <-p.served; !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	return err
}

// ServeHTTP sends the request to the next backend, and on to the one
// after it while backends refuse the connection.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body []byte
	if r.Body != nil && r.Body != http.NoBody {
		var err error
		body, err = io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			http.Error(w, "rrproxy: reading the request body: "+err.Error(), http.StatusBadRequest)
			return
		}
		if len(body) > maxBody {
			http.Error(w, "rrproxy: request body over 16 MiB", http.StatusRequestEntityTooLarge)
			return
		}
	}
	n := uint64(len(p.backends))
	first := p.next.Add(1) - 1
	for k := range n {
		b := p.backends[(first+k)%n]
		a := &attempt{}
		if p.try(w, r, b, body, a) {
			return
		}
	}
	http.Error(w, "rrproxy: every backend refused the connection", http.StatusBadGateway)
}

// try proxies r to b; false means b refused the connection and nothing
// was written to w.
func (p *Proxy) try(w http.ResponseWriter, r *http.Request, b *backend, body []byte, a *attempt) bool {
	out := r.Clone(context.WithValue(r.Context(), attemptKey{}, a))
	if r.Body != nil && r.Body != http.NoBody {
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		out.ContentLength = int64(len(body))
	}
	b.proxy.ServeHTTP(w, out)
	if a.upgraded {
		b.sockets.Add(-1) // ServeHTTP returns when the upgraded connection ends
	}
	return !a.refused
}
