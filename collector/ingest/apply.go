package ingest

import (
	"context"
	"encoding/json"
	"unicode/utf8"

	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/shared/protocol"
)

// maxUserIDLen bounds the site's userId.
const maxUserIDLen = 256

// maxUserAgentLen bounds the stored User-Agent header: real ones are a few
// hundred bytes, and a request's headers may otherwise carry a megabyte.
const maxUserAgentLen = 512

// clip cuts s to at most n bytes, at a UTF-8 character boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// apply runs one job's writes on b: it settles the visit, applies the
// recognition token, and files each event. Validation failures go to the
// ack; only database errors are returned.
func (in *Ingester) apply(ctx context.Context, b *batch, j *job) error {
	res := &j.res
	// A job may be applied again after its batch failed: it decides anew.
	j.late, j.unproven, j.token = false, false, tokenCheck{}
	res.Ack = protocol.Ack{Type: protocol.TypeAck, EventIDs: make([]string, 0, len(j.events)),
		Rejected: append(make([]protocol.Rejection, 0, len(j.rejected)), j.rejected...)}
	now := j.receivedAt.UnixMilli()
	v, err := in.resolveVisit(ctx, b, j, now)
	if err != nil {
		return err
	}
	recognition := j.client.Recognition // a late delivery recognizes nothing
	if !j.late && !j.unproven && !j.client.NoRecognize {
		if recognition, err = in.recognize(ctx, b, j, v, now); err != nil {
			return err
		}
	}

	if h := j.client.HandoffFrom; h != nil && !j.late && !v.Cookieless {
		data, _ := json.Marshal(h)
		b.rows = append(b.rows, store.EventRow{
			EventID: in.newID(), VisitID: v.VisitID, VisitKey: v.Key, VisitorID: v.VisitorID,
			SessionID: v.SessionID, IdentityID: v.IdentityID,
			Name: protocol.EventHandoffArrived, Category: protocol.CategorySystem,
			Timestamp: now, CorrectedAt: now, ReceivedAt: now, Data: string(data),
		})
	}

	latest := int64(0)
	cookieless, ip := v.Cookieless || j.client.Cookieless, j.client.IP
	if cookieless {
		ip = ""
	}
	for i := range j.events {
		e := &j.events[i]
		if cookieless {
			redactEvent(e)
		}
		corrected := e.corrected
		row := &b.row
		*row = store.EventRow{
			EventID: e.EventID, VisitID: v.VisitID, VisitKey: v.Key, VisitorID: v.VisitorID,
			SessionID: v.SessionID, IdentityID: v.IdentityID, PageID: e.PageID,
			Name: e.Name, Category: protocol.Category(e.Name),
			Timestamp: e.at, CorrectedAt: corrected, ReceivedAt: now,
			URL: e.URL, Title: e.Title, Referrer: e.Referrer, Data: "{}", IP: ip,
		}
		if !e.Data.IsNull() {
			row.Data = string(e.Data)
		}
		if protocol.IsIdentityEvent(e.Name) && v.Cookieless {
			res.Ack.Rejected = append(res.Ack.Rejected, protocol.Rejection{EventID: e.EventID, Code: protocol.CodeInvalidEvent,
				Message: e.Name + " is refused in a cookieless visit: it has no identity until the visitor consents"})
			continue
		}
		if e.Name == protocol.EventEngagementAccepted || e.Name == protocol.EventEngagementDeclined {
			rej, err := in.answerOffer(ctx, b, v, e, now)
			if err != nil {
				return err
			}
			if rej != nil {
				res.Ack.Rejected = append(res.Ack.Rejected, *rej)
				continue
			}
		}
		if protocol.IsIdentityEvent(e.Name) {
			rej, err := in.identityEvent(ctx, b, j, v, e, row, &recognition)
			if err != nil {
				return err
			}
			if rej != nil {
				res.Ack.Rejected = append(res.Ack.Rejected, *rej)
				continue
			}
			b.idRows = append(b.idRows, *row)
		} else {
			rej, err := in.page(ctx, b, e, row)
			if err != nil {
				return err
			}
			if rej != nil {
				res.Ack.Rejected = append(res.Ack.Rejected, *rej)
				continue
			}
			b.rows = append(b.rows, *row)
		}
		res.Ack.EventIDs = append(res.Ack.EventIDs, e.EventID)
		latest = max(latest, corrected)
	}
	j.stored = len(res.Ack.EventIDs)
	if !j.late {
		b.touch(v.VisitID, max(latest, now))
		v.LastSeenAt = max(v.LastSeenAt, latest, now)
	}

	if j.late {
		// The answer to a late delivery says nothing of the ended visit's
		// identity: the browser's state is its current visit's, not this
		// one's (docs/security.md#late-deliveries).
		res.Late = true
		res.Visit = Visit{VisitorID: v.VisitorID, VisitID: v.VisitID, State: protocol.StateAnonymous,
			Recognition: recognition, VisitorKey: j.visitorKey}
		return nil
	}
	res.Visit = Visit{
		VisitorID: v.VisitorID, VisitID: v.VisitID, SessionID: v.SessionID,
		State: v.State, IdentityID: v.IdentityID, Verified: v.Verified, Recognition: recognition,
		VisitorKey: j.visitorKey, Cookieless: v.Cookieless,
	}
	return nil
}

// resolveVisit finds the client's visit, or opens a new one when there is
// none, it belongs to another visitor, it has ended, or the client could
// not prove it is the visitor it names (visitorOf).
func (in *Ingester) resolveVisit(ctx context.Context, b *batch, j *job, now int64) (*cachedVisit, error) {
	c := &j.client
	if c.Cookieless {
		if err := in.cookielessClient(ctx, b, j); err != nil {
			return nil, err
		}
	}
	var v *cachedVisit
	forceNew := false
	if protocol.IsULID(c.VisitID) {
		if err := in.ownVisit(ctx, b, c.VisitID); err != nil {
			return nil, err
		}
		v = b.cache.get(c.VisitID)
		if v == nil {
			st, err := in.cfg.Store.LoadVisit(ctx, b.q, c.VisitID)
			if err != nil {
				return nil, err
			}
			if st != nil {
				v = b.cache.put(st)
			}
		}
	}
	var (
		visitorID, key, keyHash string
		impostor                bool
		err                     error
	)
	if c.Cookieless {
		visitorID, keyHash = c.VisitorID, cookielessKey
	} else if visitorID, key, keyHash, impostor, err = in.visitorOf(ctx, b, j, v); err != nil {
		return nil, err
	}
	j.visitorKey = key
	if impostor {
		// Whoever it is gets nothing of the visitor it named: no visit,
		// no recognition, no identity.
		j.client.Recognition = nil
	}
	if v != nil && v.VisitorID != visitorID {
		v, forceNew = nil, true // another browser's visit id: never join it
	}
	timeout := in.cfg.VisitTimeout.Milliseconds()
	if v != nil && v.EndedAt == 0 && now-v.LastSeenAt > timeout {
		last, err := in.cfg.Store.LastActivity(ctx, b.q, v.VisitID)
		if err != nil {
			return nil, err
		}
		v.LastSeenAt = max(v.LastSeenAt, last)
		if now-v.LastSeenAt > timeout {
			if _, err := in.endVisit(ctx, b, v, v.LastSeenAt+timeout, now); err != nil {
				return nil, err
			}
		}
	}
	if v != nil && v.EndedAt != 0 {
		if !lateDelivery(j, v.EndedAt) {
			v, forceNew = nil, true
		}
	}
	if v != nil {
		// A verified visit is continued only with a token of its
		// identity, open or ended: the key alone proves the browser, not
		// the person (see proves). Otherwise the client gets a visit of
		// its own, recognized as nobody.
		ok, err := in.proves(ctx, b, j, v)
		if err != nil {
			return nil, err
		}
		if ok {
			// Events made before the visit ended, delivered after (a
			// page's beacon resent by the next page) belong to the ended
			// visit, and no new visit is opened for them.
			j.late = v.EndedAt != 0
			return v, nil
		}
		j.unproven = true
		v, forceNew = nil, true
	}

	id := c.VisitID
	if forceNew || !protocol.IsULID(id) {
		id = in.newID()
	}
	st := &b.visit
	*st = store.VisitState{
		VisitID: id, VisitorID: visitorID, SessionID: in.newID(),
		State: protocol.StateAnonymous, StartedAt: now, LastSeenAt: now, KeyHash: keyHash,
		Cookieless: c.Cookieless,
	}
	origin := store.VisitOrigin{URL: c.URL, Referrer: c.Referrer, UserAgent: clip(c.UserAgent, maxUserAgentLen), IP: c.IP}
	if origin.URL == "" {
		origin.URL, origin.Referrer = firstURL(j.events)
	}
	if j.insight != nil {
		origin.Insight = *j.insight
	} else {
		origin.Insight = in.insight(c, origin.URL, origin.Referrer)
	}
	if c.Cookieless {
		redactOrigin(&origin)
	}
	if err := in.cfg.Store.CreateVisit(ctx, b.q, st, origin); err != nil {
		return nil, err
	}
	j.res.NewVisit = id != c.VisitID || visitorID != c.VisitorID
	return b.cache.put(st), nil
}

// lateDelivery reports whether every event of j happened by endedAt, so
// that the job adds to an ended visit rather than opening a new one. A job
// without events (a hello, an empty collect) is not late: it opens a visit.
func lateDelivery(j *job, endedAt int64) bool {
	if len(j.events) == 0 {
		return false
	}
	for i := range j.events {
		// An identity event changes the browser's state now, so it belongs
		// to the browser's current visit, whenever the page made it.
		if j.events[i].corrected > endedAt || protocol.IsIdentityEvent(j.events[i].Name) {
			return false
		}
	}
	return true
}

// firstURL returns the url and referrer of the first event that has one,
// for the landing page of a visit opened over HTTP.
func firstURL(events []decodedEvent) (string, string) {
	for i := range events {
		if events[i].URL != "" {
			return events[i].URL, events[i].Referrer
		}
	}
	return "", ""
}

// endVisit closes a visit that timed out and records VisitEnded; it
// reports whether this call ended it.
func (in *Ingester) endVisit(ctx context.Context, b *batch, v *cachedVisit, endedAt, now int64) (bool, error) {
	ended, err := in.cfg.Store.EndVisit(ctx, b.q, &v.VisitState, endedAt)
	if err != nil {
		return false, err
	}
	b.cache.delete(v.VisitID)
	if !ended {
		// Another call (on the edge, a cron sweep or a request running
		// at the same time) ended it and recorded VisitEnded.
		v.EndedAt = endedAt
		return false, nil
	}
	b.rows = append(b.rows, store.EventRow{
		EventID: in.newID(), VisitID: v.VisitID, VisitKey: v.Key, VisitorID: v.VisitorID,
		SessionID: v.SessionID, IdentityID: v.IdentityID,
		Name: protocol.EventVisitEnded, Category: protocol.CategorySystem,
		Timestamp: endedAt, CorrectedAt: endedAt, ReceivedAt: now, Data: "{}",
	})
	return true, nil
}

// recognize applies the client's recognition token. A valid token for a
// stored identity makes an anonymous visit (or an unverified claim)
// recognized, verified as the token says (a token earned by an unproven
// SignIn recognizes unverified), and the collector records the UserInfo
// event itself. It returns the token the browser should keep: the same one, or
// nil when it is invalid (the tracker then deletes the cookie).
func (in *Ingester) recognize(ctx context.Context, b *batch, j *job, v *cachedVisit, now int64) (*string, error) {
	tok := j.client.Recognition
	if tok == nil || *tok == "" {
		return nil, nil
	}
	claims, valid, err := in.tokenClaims(ctx, b, j)
	if err != nil {
		return nil, err
	}
	if to := j.token.mergedInto; to != "" && to == v.IdentityID {
		// The token's identity was merged into the visit's: the browser
		// keeps a token of the identity it is now (its userId is one of
		// that identity's since the merge).
		fresh := in.cfg.Signer.Issue(to, claims.UserID, claims.Verified)
		j.res.IdentityChanged = true
		return &fresh, nil
	}
	if !valid {
		in.cfg.Observer.RecognitionRefused()
		j.res.IdentityChanged = true // tell the browser to drop its cookie
		return nil, nil
	}
	if v.State == protocol.StateAuthenticated || v.State == protocol.StateRecognized && (v.Verified || !claims.Verified) {
		return tok, nil
	}
	next := store.VisitState{SessionID: in.newID(), IdentityID: claims.IdentityID, State: protocol.StateRecognized, Verified: claims.Verified}
	if err := in.cfg.Store.SwitchSession(ctx, b.q, &v.VisitState, next, now); err != nil {
		return nil, err
	}
	if err := in.cfg.Store.LinkIdentity(ctx, b.q, &v.VisitState, claims.IdentityID, "recognized", claims.Verified, now); err != nil {
		return nil, err
	}
	data, _ := json.Marshal(struct {
		UserID string `json:"userId"`
		Via    string `json:"via"`
	}{claims.UserID, "recognition"})
	b.rows = append(b.rows, store.EventRow{
		EventID: in.newID(), VisitID: v.VisitID, VisitKey: v.Key, VisitorID: v.VisitorID,
		SessionID: v.SessionID, IdentityID: v.IdentityID,
		Name: protocol.EventUserInfo, Category: protocol.CategorySystem,
		Timestamp: now, CorrectedAt: now, ReceivedAt: now, Data: string(data), IP: j.client.IP,
	})
	j.res.IdentityChanged = true
	return tok, nil
}

// page records page entries and exits in the pages table. It refuses an
// event whose pageId another visit owns: that visit's page keeps its URL,
// title and times.
func (in *Ingester) page(ctx context.Context, b *batch, e *decodedEvent, row *store.EventRow) (*protocol.Rejection, error) {
	p := &b.page
	switch e.Name {
	case protocol.EventPageEntered:
		*p = store.PageRow{PageID: e.PageID, VisitID: row.VisitID, URL: e.URL, Title: e.Title,
			Referrer: e.Referrer, EnteredAt: row.CorrectedAt}
	case protocol.EventPageExited:
		*p = store.PageRow{PageID: e.PageID, VisitID: row.VisitID, URL: e.URL, Title: e.Title, Referrer: e.Referrer,
			EnteredAt: row.CorrectedAt - e.durationMS, ExitedAt: row.CorrectedAt, DurationMS: e.durationMS}
	default:
		return nil, nil
	}
	if in.cfg.Categories != nil {
		if c := in.cfg.Categories(); !c.Empty() {
			b.cats = c.Match(b.cats[:0], e.URL, e.Title)
			if len(b.cats) > 0 {
				names, _ := json.Marshal(b.cats)
				p.Categories = string(names)
			}
		}
	}
	ok, err := in.cfg.Store.UpsertPage(ctx, b.q, p)
	if err != nil || ok {
		return nil, err
	}
	return &protocol.Rejection{EventID: e.EventID, Code: protocol.CodeInvalidEvent,
		Message: "pageId " + e.PageID + " belongs to another visit: use a new pageId for each page view"}, nil
}
