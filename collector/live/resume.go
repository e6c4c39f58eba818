package live

import (
	"context"
	"net/http"

	"github.com/visitrack/visitrack/collector/ingest"
)

// SessionState is what a session needs to go on in another Go instance:
// the edge's Durable Object is evicted while its sockets stay open
// (hibernation), and a new instance takes them over. It is small JSON,
// kept in the socket's attachment (at most 2 KiB there); Subject and
// VisitID also tell the object which sockets an announcement concerns.
type SessionState struct {
	VisitorID   string   `json:"vr"`
	VisitorKey  string   `json:"k,omitempty"`
	VisitID     string   `json:"vt"`
	Recognition *string  `json:"r,omitempty"`
	Held        []string `json:"h,omitempty"`
	Cookieless  bool     `json:"c,omitempty"`
	Site        string   `json:"o,omitempty"`
	IP          string   `json:"ip,omitempty"`
	UserAgent   string   `json:"ua,omitempty"`
	// Subject is the key of the subject whose document the browser holds,
	// at Version.
	Subject string `json:"s"`
	Version int64  `json:"v"`
}

// State returns the session's state, or ok false when it cannot be
// resumed: before its hello, after it ended, or in first-party cookie
// mode, whose handshake cookies a new instance would not have.
func (s *Session) State() (st SessionState, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.c
	if !s.hello || s.ended || c.fp.on || c.visit.VisitID == "" {
		return st, false
	}
	cl := c.client
	st = SessionState{VisitorID: cl.VisitorID, VisitorKey: cl.VisitorKey, VisitID: cl.VisitID,
		Recognition: cl.Recognition, Held: cl.Held, Cookieless: cl.Cookieless, Site: cl.Site,
		IP: cl.IP, UserAgent: cl.UserAgent}
	st.Subject = c.hub.subjectOf(c)
	c.sendMu.Lock()
	if c.last != nil {
		st.Version = c.last.Version
	}
	c.sendMu.Unlock()
	return st, true
}

// ResumeSession takes over a conversation that another Go instance held,
// on the same socket. It settles the visit again as a hello does, without
// a welcome unless the visit changed meanwhile (then the tracker must
// adopt the new one), and subscribes to the subject; if the subject's
// document moved on from the version the browser holds, it sends it: a
// push that came while no instance held the socket. An error means the
// conversation cannot go on (the caller closes the socket with 1011).
func (h *Hub) ResumeSession(ctx context.Context, st SessionState, sock Socket) (*Session, error) {
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, "/v1/ws", nil)
	if err != nil {
		return nil, err
	}
	if st.Site != "" {
		r.Header.Set("Origin", st.Site)
	}
	r.Header.Set("User-Agent", st.UserAgent)
	c := h.newConn(sock, r, handshakeState{})
	c.client = ingest.Client{VisitorID: st.VisitorID, VisitorKey: st.VisitorKey, VisitID: st.VisitID,
		Recognition: st.Recognition, Held: st.Held, Cookieless: st.Cookieless, Site: st.Site,
		IP: st.IP, UserAgent: st.UserAgent}
	// The socket was admitted when it opened; it keeps its slot even if
	// the cap is reached meanwhile.
	admitted := h.sockets.admit(st.IP)
	if !h.register(c) {
		if admitted {
			h.sockets.release(st.IP)
		}
		return nil, errClosed
	}
	s := &Session{c: c, hello: true, released: !admitted}
	res, err := h.cfg.Ingester.Collect(ctx, c.client, "", nil)
	if err != nil {
		s.End()
		return nil, err
	}
	c.adopt(res.Visit)
	if res.NewVisit {
		if err := c.welcome(ctx); err != nil {
			s.End()
			return nil, err
		}
		return s, nil
	}
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	view := c.switchSubject(ctx, res.Visit)
	if h.subjectOf(c) != st.Subject || view.Version != st.Version {
		if err := c.write(ctx, &view); err != nil {
			s.End()
			return nil, err
		}
	}
	return s, nil
}
