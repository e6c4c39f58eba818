package ingest

import (
	"context"
	"encoding/json"

	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/shared/protocol"
)

// identityEvent runs the state machine of SPEC section 1 for SignIn,
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
		if isNew, err := in.cfg.Store.InsertEvent(ctx, b.q, row); err != nil || !isNew {
			return nil, err
		}
		if v.State != protocol.StateAnonymous {
			next := store.VisitState{SessionID: in.newID(), State: protocol.StateAnonymous}
			if err := in.cfg.Store.SwitchSession(ctx, b.q, &v.VisitState, next, at); err != nil {
				return nil, err
			}
		}
		*recognition = nil
		j.res.IdentityChanged = true
		return nil, nil

	case protocol.EventSignIn, protocol.EventUserInfo:
		fields, userID, userHash, rej := identityData(e)
		if rej != "" {
			return reject(protocol.CodeInvalidEvent, rej), nil
		}
		if e.Name == protocol.EventSignIn {
			return in.signIn(ctx, b, j, v, row, fields, userID, userHash, recognition, reject)
		}
		return in.userInfo(ctx, b, j, v, row, userID)
	}
	return nil, nil
}

// identityData reads data.userId and data.userHash; the other fields are
// the identity's attributes. It returns a message when the data is unfit.
func identityData(e *decodedEvent) (fields map[string]json.RawMessage, userID, userHash, problem string) {
	if e.Data.IsNull() || json.Unmarshal(e.Data, &fields) != nil {
		return nil, "", "", e.Name + " needs data.userId"
	}
	if raw, ok := fields["userId"]; !ok || json.Unmarshal(raw, &userID) != nil || userID == "" {
		return nil, "", "", e.Name + " needs data.userId, a non-empty string"
	}
	if len(userID) > maxUserIDLen {
		return nil, "", "", "data.userId is longer than 256 bytes"
	}
	if raw, ok := fields["userHash"]; ok && json.Unmarshal(raw, &userHash) != nil {
		return nil, "", "", "data.userHash must be a string"
	}
	return fields, userID, userHash, ""
}

// signIn authenticates the visit. With an identity secret, only a
// matching userHash is verified; without one the site's word is trusted.
// Only a verified SignIn gets a recognition token and merges the visitor's
// data into the identity's: an unverified one could otherwise take over
// someone else's identity on the next visit.
func (in *Ingester) signIn(ctx context.Context, b *batch, j *job, v *cachedVisit, row *store.EventRow,
	fields map[string]json.RawMessage, userID, userHash string, recognition **string,
	reject func(code, msg string) *protocol.Rejection) (*protocol.Rejection, error) {
	verified := true
	if in.cfg.IdentitySecret != "" {
		verified = userHash != "" && identity.CheckUserHash(in.cfg.IdentitySecret, userID, userHash)
		if !verified && in.cfg.RequireVerifiedSignIn {
			return reject(protocol.CodeUnverifiedSignIn, "SignIn needs a userHash that matches userId"), nil
		}
	}
	delete(fields, "userHash") // a credential: never stored
	stored, _ := json.Marshal(fields)
	row.Data = string(stored)
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
	isNew, err := in.cfg.Store.InsertEvent(ctx, b.q, row)
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
	if v.State == protocol.StateAuthenticated && v.IdentityID == identityID && v.Verified {
		tok := in.cfg.Signer.Issue(identityID, userID)
		*recognition = &tok
		j.stitch = identityID
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
		_, err := in.cfg.Store.InsertEvent(ctx, b.q, row)
		return nil, err
	}
	at := row.CorrectedAt
	identityID, err := in.cfg.Store.UpsertIdentity(ctx, b.q, in.newID(), userID, "{}", at)
	if err != nil {
		return nil, err
	}
	sessionID := in.newID()
	row.SessionID, row.IdentityID = sessionID, identityID
	isNew, err := in.cfg.Store.InsertEvent(ctx, b.q, row)
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
