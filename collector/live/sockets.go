package live

import (
	"net/http"
	"net/netip"
	"strconv"
	"sync"
)

// Sockets' admission: the cap of MaxSocketsPerIP on the WebSockets one
// client address holds open (an IPv6 /64 counts as one address), counted
// in Hub.sockets from before the upgrade until the socket ends. Plain HTTP connections are capped at the listener (conncap.go).

// ServeSocket is the route of GET /v1/ws: ServeWS behind the cap of
// MaxSocketsPerIP. The cap is checked before the upgrade, so a refused
// client gets a plain 429 problem and costs no socket; the slot is held
// until the connection ends.
func (h *Hub) ServeSocket(w http.ResponseWriter, r *http.Request) {
	ip := h.clientIP(r)
	if !h.sockets.admit(ip) {
		h.refuseSocket(w)
		return
	}
	defer h.sockets.release(ip)
	h.ServeWS(w, r)
}

// refuseSocket answers an upgrade over the cap of MaxSocketsPerIP.
func (h *Hub) refuseSocket(w http.ResponseWriter) {
	writeProblem(w, http.StatusTooManyRequests, "too_many_sockets",
		"this address holds "+strconv.Itoa(h.cfg.MaxSocketsPerIP)+" open WebSockets, the most --max-sockets-per-ip allows")
}

// socketSlots counts the open WebSockets (and upgrades under way) of
// each client address group against MaxSocketsPerIP. It has its own
// lock: nothing else is decided together with a slot.
type socketSlots struct {
	max   int // 0: no cap
	mu    sync.Mutex
	perIP map[netip.Prefix]int // by addrGroup
}

// admit takes one of the socket slots of ip's group (addrGroup: an IPv6
// /64 shares them), or reports that none is left.
func (s *socketSlots) admit(ip string) bool {
	key := ipGroup(ip)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perIP == nil {
		s.perIP = map[netip.Prefix]int{}
	}
	if s.max > 0 && s.perIP[key] >= s.max {
		return false
	}
	s.perIP[key]++
	return true
}

// release gives back a slot that admit took.
func (s *socketSlots) release(ip string) {
	key := ipGroup(ip)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perIP[key]--; s.perIP[key] <= 0 {
		delete(s.perIP, key)
	}
}
