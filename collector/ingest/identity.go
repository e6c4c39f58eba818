package ingest

import (
	"context"
	"encoding/json"

	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/shared/protocol"
)

// identityEvent runs the state machine of docs/identity.md#visit-states for SignIn,
// SignOut and UserInfo. The event row is inserted first, alone: if it was
// stored before (a resend), its side effects have already happened and are
// not repeated. *recognition is updated to the token the browser should
// keep.
func (in *Ingester) identityEvent(ctx context.Context, b *batch, j *job, v *cachedVisit, e *decodedEvent, row *store.EventRow, recognition **string) (*protocol.Rejection, error) {
	reject := func(code, msg string) *protocol.Rejection {
		return &protocol.Rejection{EventID: e.EventID, Code: code, Message: msg}
	}
	at := row.CorrectedAt
	switch e.Name {
	case protocol.EventSignOut:
		if isNew, err := in.insertEvent(ctx, b, row); err != nil || !isNew {
			return nil, err
		}
		if v.State != protocol.StateAnonymous {
			next := store.VisitState{SessionID: in.newID(), State: protocol.StateAnonymous}
			if err := in.cfg.Store.SwitchSession(ctx, b.q, &v.VisitState, next, at); err != nil {
				return nil, err
			}
		}
		if err := in.revoke(ctx, b, j, *recognition); err != nil {
			return nil, err
		}
		*recognition = nil
		j.res.IdentityChanged = true
		return nil, nil

	case protocol.EventSignIn, protocol.EventUserInfo:
		fields, userID, proof, rej := identityData(e)
		if rej != "" {
			return reject(protocol.CodeInvalidEvent, rej), nil
		}
		// Proofs are credentials: never stored.
		if hasProofField(fields) {
			delete(fields, "userHash")
			delete(fields, "signInToken")
			stored, _ := json.Marshal(fields)
			row.Data = string(stored)
		}
		if in.blocked.Blocks(userID) {
			return nil, in.refuseBlocked(ctx, b, j, e, row)
		}
		if e.Name == protocol.EventSignIn {
			return in.signIn(ctx, b, j, v, row, fields, userID, proof, recognition, reject)
		}
		return in.userInfo(ctx, b, j, v, row, userID)
	}
	return nil, nil
}

// refuseBlocked files an identity event whose userId is a placeholder
// ("guest", "undefined", …): it is kept, as the site did send it, but
// makes or links no identity, leaves the visit and its token as they
// were, and the ack says why (Ack.Refused), so that the tracker rejects
// the call that made it. Linking a placeholder would make one identity of
// everybody who sent it (docs/identity.md#blocked-identifiers).
func (in *Ingester) refuseBlocked(ctx context.Context, b *batch, j *job, e *decodedEvent, row *store.EventRow) error {
	if _, err := in.insertEvent(ctx, b, row); err != nil {
		return err
	}
	j.res.Ack.Refused = append(j.res.Ack.Refused, protocol.Rejection{EventID: e.EventID, Code: protocol.CodeBlockedUserID,
		Message: "data.userId is a placeholder, not a user: " + e.Name + " links nobody"})
	return nil
}

// signInProof is what a SignIn's data may carry to prove its userId.
type signInProof struct {
	userHash, signInToken string
}

func hasProofField(fields map[string]json.RawMessage) bool {
	_, a := fields["userHash"]
	_, b := fields["signInToken"]
	return a || b
}

// identityData reads data.userId and the proofs (data.userHash,
// data.signInToken); the other fields are the identity's attributes. It
// returns a message when the data is unfit.
func identityData(e *decodedEvent) (fields map[string]json.RawMessage, userID string, proof signInProof, problem string) {
	if e.Data.IsNull() || json.Unmarshal(e.Data, &fields) != nil {
		return nil, "", proof, e.Name + " needs data.userId"
	}
	// An empty userId (or null) is no reason to drop the event: like
	// "guest", it is a placeholder that links nobody (Blocklist).
	if raw, ok := fields["userId"]; !ok || json.Unmarshal(raw, &userID) != nil {
		return nil, "", proof, e.Name + " needs data.userId, a string"
	}
	if len(userID) > maxUserIDLen {
		return nil, "", proof, "data.userId is longer than 256 bytes"
	}
	if raw, ok := fields["userHash"]; ok && json.Unmarshal(raw, &proof.userHash) != nil {
		return nil, "", proof, "data.userHash must be a string"
	}
	if raw, ok := fields["signInToken"]; ok && json.Unmarshal(raw, &proof.signInToken) != nil {
		return nil, "", proof, "data.signInToken must be a string"
	}
	return fields, userID, proof, ""
}

// revoke records the recognition tokens the browser held as revoked
// (docs/security.md#recognition-token, SignOut revokes): the one it presented, the one it
// holds now (issued earlier in this batch) and those it held earlier on
// this connection. An invalid token needs no revocation.
func (in *Ingester) revoke(ctx context.Context, b *batch, j *job, current *string) error {
	now := j.receivedAt.UnixMilli()
	toks := append([]string(nil), j.client.Held...)
	for _, tok := range []*string{j.client.Recognition, current} {
		if tok != nil && *tok != "" {
			toks = append(toks, *tok)
		}
	}
	for _, tok := range toks {
		claims, err := in.cfg.Signer.Verify(tok)
		if err != nil {
			continue
		}
		if err := in.cfg.Store.RevokeRecognition(ctx, b.q, claims.ID, claims.ExpiresAt.UnixMilli(), now); err != nil {
			return err
		}
	}
	return nil
}

// signIn authenticates the visit. Only a SignIn proven by the site's
// backend (identity.Prover; never without an identity secret) is
// verified: it gets a verified recognition token, stitches the visitor's
// earlier visits and merges its visitor data into the identity's. An
// unproven one is a claim: the visit is authenticated, unverified, and
// its token recognizes unverified; it learns nothing of the identity, or
// anyone could read a person's data by naming them.
func (in *Ingester) signIn(ctx context.Context, b *batch, j *job, v *cachedVisit, row *store.EventRow,
	fields map[string]json.RawMessage, userID string, proof signInProof, recognition **string,
	reject func(code, msg string) *protocol.Rejection) (*protocol.Rejection, error) {
	verified := in.prover.Proven(userID, proof.userHash, proof.signInToken)
	if !verified && in.cfg.RequireVerifiedSignIn {
		return reject(protocol.CodeUnverifiedSignIn, "SignIn needs a userHash or signInToken that proves userId"), nil
	}
	delete(fields, "userId")
	attrs := "{}"
	if verified && len(fields) > 0 {
		b, _ := json.Marshal(fields)
		attrs = string(b)
	}
	at := row.CorrectedAt
	identityID, err := in.cfg.Store.UpsertIdentity(ctx, b.q, in.newID(), userID, attrs, at)
	if err != nil {
		return nil, err
	}
	sessionID := in.newID()
	row.SessionID, row.IdentityID = sessionID, identityID
	isNew, err := in.insertEvent(ctx, b, row)
	if err != nil {
		return nil, err
	}
	if isNew {
		next := store.VisitState{SessionID: sessionID, IdentityID: identityID, State: protocol.StateAuthenticated, Verified: verified}
		if err := in.cfg.Store.SwitchSession(ctx, b.q, &v.VisitState, next, at); err != nil {
			return nil, err
		}
		if err := in.cfg.Store.LinkIdentity(ctx, b.q, &v.VisitState, identityID, "authenticated", verified, at); err != nil {
			return nil, err
		}
		if verified {
			if err := in.cfg.Store.StitchVisits(ctx, b.q, v.VisitorID, identityID, at); err != nil {
				return nil, err
			}
		}
	}
	if v.State == protocol.StateAuthenticated && v.IdentityID == identityID {
		tok := in.cfg.Signer.Issue(identityID, userID, v.Verified)
		*recognition = &tok
		if v.Verified {
			j.stitch = identityID
		}
	} else if v.IdentityID == identityID {
		*recognition = nil
	}
	j.res.IdentityChanged = true
	return nil, nil
}

// userInfo records a bare claim of a userId: an anonymous visit becomes
// recognized but unverified. A visit already verified is not downgraded.
func (in *Ingester) userInfo(ctx context.Context, b *batch, j *job, v *cachedVisit, row *store.EventRow, userID string) (*protocol.Rejection, error) {
	if v.State == protocol.StateAuthenticated || v.Verified {
		_, err := in.insertEvent(ctx, b, row)
		return nil, err
	}
	at := row.CorrectedAt
	identityID, err := in.cfg.Store.UpsertIdentity(ctx, b.q, in.newID(), userID, "{}", at)
	if err != nil {
		return nil, err
	}
	sessionID := in.newID()
	row.SessionID, row.IdentityID = sessionID, identityID
	isNew, err := in.insertEvent(ctx, b, row)
	if err != nil || !isNew {
		return nil, err
	}
	next := store.VisitState{SessionID: sessionID, IdentityID: identityID, State: protocol.StateRecognized}
	if err := in.cfg.Store.SwitchSession(ctx, b.q, &v.VisitState, next, at); err != nil {
		return nil, err
	}
	if err := in.cfg.Store.LinkIdentity(ctx, b.q, &v.VisitState, identityID, "recognized", false, at); err != nil {
		return nil, err
	}
	j.res.IdentityChanged = true
	return nil, nil
}
