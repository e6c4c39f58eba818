package feed

// WantsEvents reports whether any subscriber follows events, so that a
// publisher can skip building them.
func (h *Hub) WantsEvents() bool { return h.wantsEv.Load() > 0 }
