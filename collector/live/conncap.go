package live

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/visitrack/visitrack/collector/problem"
)

const (
	// maxRefusing bounds the refused connections being answered at once.
	// Each costs a goroutine and a socket for at most the header timeout;
	// past this many, a flood's connections are closed unanswered. A
	// client that only went over the cap never has this many refusals
	// under way.
	maxRefusing = 64
	// maxRefusedHead is how much of a refused connection's request head
	// is read (the collector's MaxHeaderBytes), and maxRefusedDrain how
	// much of what follows is read and dropped before the close.
	maxRefusedHead  = 64 << 10
	maxRefusedDrain = 64 << 10
	// refusalLogEvery is how often, at most, refusals are logged.
	refusalLogEvery = time.Minute
)

// ConnCapConfig configures a ConnCap.
type ConnCapConfig struct {
	// Max is how many plain HTTP connections (not WebSockets, which
	// MaxSocketsPerIP caps) one client address may hold open; an IPv6
	// /64 counts as one address. 0 turns the cap off.
	Max int
	// TrustedProxies are not capped: a proxy's connections carry all its
	// clients' requests, and the proxy is where those clients' own
	// connections are counted.
	TrustedProxies []netip.Prefix
	// HeaderTimeout is how long a refused connection may take to send
	// its request head, which is then answered with the 429.
	HeaderTimeout time.Duration
	Logger        *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// ConnCap caps the open plain HTTP connections of each client address.
// Without it one address could open connections until the collector ran
// out of memory or file descriptors: the idle timeout closes a connection
// only after it has been idle that long, and a client may open new ones
// faster. It counts at the listener, by the TCP peer's address, so it
// also counts connections that have not sent a request yet; the excess is
// answered 429 (too_many_connections) and closed.
type ConnCap struct {
	cfg    ConnCapConfig
	answer []byte // the complete 429 response

	open    atomic.Int64 // connections counted, over all addresses
	refused atomic.Int64 // since the start

	mu       sync.Mutex
	perAddr  map[netip.Prefix]int // open connections by addrGroup
	refusing map[net.Conn]struct{}
	closed   bool
	// unlogged counts refusals since the last log line, lastLog is when
	// that was written.
	unlogged int
	lastLog  time.Time
}

// NewConnCap returns the cap, or nil when cfg.Max is 0 (no cap).
func NewConnCap(cfg ConnCapConfig) *ConnCap {
	if cfg.Max <= 0 {
		return nil
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	status := http.StatusTooManyRequests
	body, _ := json.Marshal(problem.New(status, "too_many_connections",
		fmt.Sprintf("this address holds %d open connections, the most --max-connections-per-ip allows", cfg.Max)))
	answer := fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nContent-Type: application/problem+json\r\nCache-Control: no-store\r\n"+
		"Connection: close\r\nContent-Length: %d\r\n\r\n%s", status, http.StatusText(status), len(body), body)
	return &ConnCap{cfg: cfg, answer: answer, perAddr: map[netip.Prefix]int{}, refusing: map[net.Conn]struct{}{}}
}

// Listener wraps ln: what it accepts counts against the cap until it is
// closed or hijacked (see ConnState). Closing it closes ln and the
// refused connections still being answered.
func (c *ConnCap) Listener(ln net.Listener) net.Listener {
	return &capListener{Listener: ln, cap: c}
}

// ConnState is the http.Server's ConnState hook: a hijacked connection
// (a WebSocket) leaves the count, since MaxSocketsPerIP caps those.
func (c *ConnCap) ConnState(nc net.Conn, state http.ConnState) {
	if cc, ok := nc.(*cappedConn); ok && state == http.StateHijacked {
		cc.release()
	}
}

// Open returns the connections the cap counts now; Refused those it has
// refused since the start. Both are for /metrics.
func (c *ConnCap) Open() int64    { return c.open.Load() }
func (c *ConnCap) Refused() int64 { return c.refused.Load() }

type capListener struct {
	net.Listener
	cap *ConnCap
}

// Accept returns the next connection within the cap; those over it are
// refused on their own goroutines meanwhile.
func (l *capListener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if cc := l.cap.admit(nc); cc != nil {
			return cc, nil
		}
	}
}

func (l *capListener) Close() error {
	err := l.Listener.Close()
	c := l.cap
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for nc := range c.refusing {
		nc.Close()
	}
	return err
}

// admit counts nc against its address's cap and returns it (wrapped so
// that closing it gives the slot back), or refuses it and returns nil. A
// trusted proxy's connection passes uncounted.
func (c *ConnCap) admit(nc net.Conn) net.Conn {
	peer := peerAddr(nc)
	if isTrusted(peer, c.cfg.TrustedProxies) {
		return nc
	}
	g := addrGroup(peer)
	c.mu.Lock()
	if c.perAddr[g] >= c.cfg.Max {
		c.refuseLocked(nc, g)
		c.mu.Unlock()
		return nil
	}
	c.perAddr[g]++
	c.mu.Unlock()
	c.open.Add(1)
	return &cappedConn{Conn: nc, cap: c, group: g}
}

func (c *ConnCap) release(g netip.Prefix) {
	c.open.Add(-1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.perAddr[g]--; c.perAddr[g] <= 0 {
		delete(c.perAddr, g)
	}
}

// refuseLocked counts and logs the refusal of nc, a connection of g over
// the cap, and answers it on its own goroutine, or, with maxRefusing
// answers under way or the listener closed, closes it at once.
func (c *ConnCap) refuseLocked(nc net.Conn, g netip.Prefix) {
	c.refused.Add(1)
	c.unlogged++
	if now := c.cfg.Now(); now.Sub(c.lastLog) >= refusalLogEvery {
		c.cfg.Logger.Warn("connections refused: an address holds the most open connections --max-connections-per-ip allows",
			"refused", c.unlogged, "client", g.String(), "max", c.cfg.Max)
		c.unlogged, c.lastLog = 0, now
	}
	if c.closed || len(c.refusing) >= maxRefusing {
		nc.Close()
		return
	}
	c.refusing[nc] = struct{}{}
	go c.answerRefused(nc)
}

// answerRefused reads nc's request head, answers it with the 429 and
// closes nc. A client that sends no head within the header timeout, or
// garbage, is closed unanswered.
func (c *ConnCap) answerRefused(nc net.Conn) {
	defer func() {
		c.mu.Lock()
		delete(c.refusing, nc)
		c.mu.Unlock()
		nc.Close()
	}()
	// A socket's deadline is on the runtime's clock, not cfg.Now.
	nc.SetDeadline(time.Now().Add(c.cfg.HeaderTimeout))
	if _, err := http.ReadRequest(bufio.NewReader(io.LimitReader(nc, maxRefusedHead))); err != nil {
		return
	}
	if _, err := nc.Write(c.answer); err != nil {
		return
	}
	// Closing with unread bytes (a request body) would reset the
	// connection, and the client could lose the answer before reading
	// it: half-close, then read until the client closes its side.
	if cw, ok := nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	io.Copy(io.Discard, io.LimitReader(nc, maxRefusedDrain))
}

// peerAddr is nc's remote address; the zero Addr if it has none.
func peerAddr(nc net.Conn) netip.Addr {
	if ta, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		return ta.AddrPort().Addr()
	}
	ap, _ := netip.ParseAddrPort(nc.RemoteAddr().String())
	return ap.Addr()
}

// cappedConn is a connection counted against its address's cap until it
// is closed or hijacked.
type cappedConn struct {
	net.Conn
	cap      *ConnCap
	group    netip.Prefix
	released atomic.Bool
}

func (cc *cappedConn) release() {
	if cc.released.CompareAndSwap(false, true) {
		cc.cap.release(cc.group)
	}
}

func (cc *cappedConn) Close() error {
	cc.release()
	return cc.Conn.Close()
}

// CloseWrite passes on the half-close that net/http uses before closing
// a connection whose request it did not read to the end, so that the
// client still gets the answer.
func (cc *cappedConn) CloseWrite() error {
	if cw, ok := cc.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return fmt.Errorf("close write: %T cannot half-close", cc.Conn)
}
