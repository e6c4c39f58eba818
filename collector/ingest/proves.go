package ingest

import (
	"context"

	"github.com/visitrack/visitrack/collector/identity"
)

// A browser key proves the browser, never the person (docs/security.md,
// "The browser key"). Whoever holds a visitor's key may continue that
// visitor's anonymous visits, but a visit whose session is a verified
// identity is continued (its events filed under that identity, its answer
// naming the identity) only by a client that presents an unrevoked
// recognition token of that identity: the token the SignIn or the
// recognition gave the browser, or one of an identity merged into it. So
// a copied key, or a browser whose person signed out, learns nothing of
// the identity and adds nothing to it.

// tokenCheck is the outcome of checking the client's recognition token
// once in a job.
type tokenCheck struct {
	done   bool
	signed bool // the signature and expiry hold
	claims identity.Claims
	valid  bool // signed, not revoked, of a stored identity
	// mergedInto is the identity that a token of a merged-away identity
	// proved (see proves): the browser is given a token of it.
	mergedInto string
}

// tokenClaims checks the client's recognition token: its signature and
// expiry, then that it was not revoked (SignOut, forget) and its identity
// is stored. The database read happens once per job.
func (in *Ingester) tokenClaims(ctx context.Context, b *batch, j *job) (identity.Claims, bool, error) {
	t := &j.token
	if t.done {
		return t.claims, t.valid, nil
	}
	tok := j.client.Recognition
	if tok == nil || *tok == "" {
		t.done = true
		return t.claims, false, nil
	}
	claims, err := in.cfg.Signer.Verify(*tok)
	if err == nil {
		valid, dbErr := in.cfg.Store.RecognitionValid(ctx, b.q, claims.IdentityID, claims.ID)
		if dbErr != nil {
			return identity.Claims{}, false, dbErr
		}
		t.signed, t.claims, t.valid = true, claims, valid
	}
	t.done = true
	return t.claims, t.valid, nil
}

// proves reports whether the client may continue v: any visit whose
// session names no verified identity, and a verified one only with a
// verified, unrevoked recognition token of that identity or of one merged
// into it (an unverified token proves less than the visit holds).
func (in *Ingester) proves(ctx context.Context, b *batch, j *job, v *cachedVisit) (bool, error) {
	if !v.Verified || v.IdentityID == "" {
		return true, nil
	}
	claims, valid, err := in.tokenClaims(ctx, b, j)
	if err != nil || !j.token.signed || !claims.Verified {
		return false, err
	}
	if claims.IdentityID == v.IdentityID {
		return valid, nil
	}
	merged, err := in.cfg.Store.MergedTokenValid(ctx, b.q, claims.UserID, v.IdentityID, claims.ID)
	if err != nil || !merged {
		return false, err
	}
	j.token.mergedInto = v.IdentityID
	return true, nil
}
