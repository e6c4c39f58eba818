package live

import (
	"net/http"
	"strconv"
)

// Sockets' admission: the cap of MaxSocketsPerIP on the WebSockets one
// client address holds open (an IPv6 /64 counts as one address), counted
// in Hub.perIP under Hub.mu from before the upgrade until the socket
// ends. Plain HTTP connections are capped at the listener (conncap.go).

// ServeSocket is the route of GET /v1/ws: ServeWS behind the cap of
// MaxSocketsPerIP. The cap is checked before the upgrade, so a refused
// client gets a plain 429 problem and costs no socket; the slot is held
// until the connection ends.
func (h *Hub) ServeSocket(w http.ResponseWriter, r *http.Request) {
	ip := h.clientIP(r)
	if !h.admit(ip) {
		h.refuseSocket(w)
		return
	}
	defer h.release(ip)
	h.ServeWS(w, r)
}

// refuseSocket answers an upgrade over the cap of MaxSocketsPerIP.
func (h *Hub) refuseSocket(w http.ResponseWriter) {
	writeProblem(w, http.StatusTooManyRequests, "too_many_sockets",
		"this address holds "+strconv.Itoa(h.cfg.MaxSocketsPerIP)+" open WebSockets, the most --max-sockets-per-ip allows")
}

// admit takes one of the socket slots of ip's group (addrGroup: an IPv6
// /64 shares them), or reports that none is left.
func (h *Hub) admit(ip string) bool {
	key := ipGroup(ip)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cfg.MaxSocketsPerIP > 0 && h.perIP[key] >= h.cfg.MaxSocketsPerIP {
		return false
	}
	h.perIP[key]++
	return true
}

// release gives back a slot that admit took.
func (h *Hub) release(ip string) {
	key := ipGroup(ip)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.perIP[key]--; h.perIP[key] <= 0 {
		delete(h.perIP, key)
	}
}
