package ingest

import (
	"context"
	"crypto/rand"

	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/shared/protocol"
)

// newVisitorKey returns a fresh key and its stored hash, from Config.Rand
// (identity.NewVisitorKey writes the rule).
func (in *Ingester) newVisitorKey() (key, hash string) {
	in.keyMu.Lock()
	key, hash, err := identity.NewVisitorKey(in.keyRand)
	in.keyMu.Unlock()
	if err != nil {
		// A test reader ran dry; crypto/rand does not fail.
		key, hash, _ = identity.NewVisitorKey(rand.Reader)
	}
	return key, hash
}

// visitorOf settles who the client is (docs/security.md#browser-key). A
// visitor id is a name, not a key: the client is that visitor only with
// its key, or when the id is new to the collector (its first contact), or
// when the visitor was stored before keys existed and nobody claimed it
// yet. Otherwise it is a new visitor with a new id, so that knowing an id
// lets nobody join, read or write what is that visitor's. v is the visit
// the client named, if any (its KeyHash spares a read). It returns the
// visitor id, the key the browser must keep and its hash, and whether the
// client had to become someone new.
func (in *Ingester) visitorOf(ctx context.Context, b *batch, j *job, v *cachedVisit) (id, key, hash string, impostor bool, err error) {
	c := &j.client
	if !protocol.IsULID(c.VisitorID) {
		key, hash = in.newVisitorKey()
		return in.newID(), key, hash, false, nil
	}
	stored, found := "", false
	if v != nil && v.VisitorID == c.VisitorID && v.KeyHash != "" {
		stored, found = v.KeyHash, true
	} else if stored, found, err = in.cfg.Store.VisitorKeyHash(ctx, b.q, c.VisitorID); err != nil {
		return "", "", "", false, err
	}
	switch {
	case !found:
		// First contact under an id the browser made up itself, or the
		// return of an erased browser: a key it holds already stays its
		// key (it names nobody else), so that a connection need not learn
		// a new one.
		if identity.VisitorKeyWellFormed(c.VisitorKey) {
			return c.VisitorID, c.VisitorKey, identity.HashVisitorKey(c.VisitorKey), false, nil
		}
		key, hash = in.newVisitorKey()
		return c.VisitorID, key, hash, false, nil
	case stored != "":
		if identity.VisitorKeyMatches(c.VisitorKey, stored) {
			return c.VisitorID, c.VisitorKey, stored, false, nil
		}
	default:
		// Stored before keys existed: the first to come claims it.
		key, hash = in.newVisitorKey()
		claimed, err := in.cfg.Store.ClaimVisitorKey(ctx, b.q, c.VisitorID, hash)
		if err != nil {
			return "", "", "", false, err
		}
		if claimed {
			if v != nil && v.VisitorID == c.VisitorID {
				v.KeyHash = hash
			}
			return c.VisitorID, key, hash, false, nil
		}
	}
	key, hash = in.newVisitorKey()
	return in.newID(), key, hash, true, nil
}
