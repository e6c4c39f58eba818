package fanout

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/visitrack/visitrack/collector"
)

// The kinds of announcement.
const (
	kindVisitorData  = "d" // Subject's document is at Version
	kindErased       = "e" // Subject was erased
	kindIdentity     = "i" // Visit's identity changed; Subject is the one kept
	kindMerged       = "m" // merge Merge moved FromID into Into
	kindUndone       = "u" // merge Merge was undone
	kindNotification = "n" // notification ID for Visit is in push_notifications
	kindReply        = "r" // To's ID was applied here (a notification: reached Delivered pages)
	kindResync       = "x" // the sender dropped announcements: resync
)

// message is an announcement, as JSON in a NOTIFY payload: ids, a
// version, a count; never a document.
type message struct {
	From      string `json:"o"`
	Kind      string `json:"k"`
	Subject   string `json:"s,omitempty"`
	Version   int64  `json:"v,omitempty"`
	Visit     string `json:"vi,omitempty"`
	Visitor   string `json:"vr,omitempty"`
	ID        string `json:"id,omitempty"`
	Merge     string `json:"mg,omitempty"`
	Into      string `json:"into,omitempty"`
	FromID    string `json:"from,omitempty"`
	To        string `json:"to,omitempty"`
	Delivered int    `json:"n,omitempty"`
}

// VisitorDataChanged announces a committed write.
func (f *Fanout) VisitorDataChanged(s collector.Subject, version int64) {
	f.announce(&message{Kind: kindVisitorData, Subject: s.Key(), Version: version})
}

// SubjectErased announces an erasure, and waits (ReplyWait at most) until
// the other nodes dropped the visits their writers cached: an event
// arriving at another node after the erasure answered must not be filed
// under a visit it deleted.
func (f *Fanout) SubjectErased(s collector.Subject) {
	f.announceAndWait(&message{Kind: kindErased, Subject: s.Key()})
}

// IdentityChanged announces a SignIn or SignOut of the visit.
func (f *Fanout) IdentityChanged(visitID, visitorID string, keep collector.Subject) {
	f.announce(&message{Kind: kindIdentity, Visit: visitID, Visitor: visitorID, Subject: keep.Key()})
}

// IdentitiesMerged announces a committed merge, and waits as
// SubjectErased does: the other nodes' writers must not file a page's
// next events under the merged-away identity they cached.
// An undo is announced alike: the visits cached since name the identity
// merged into.
func (f *Fanout) IdentitiesMerged(rec *collector.IdentityMerge) {
	kind := kindMerged
	if rec.State == collector.MergeUndone {
		kind = kindUndone
	}
	f.announceAndWait(&message{Kind: kind, Into: rec.IdentityID, FromID: rec.FromIdentityID, Merge: rec.MergeID})
}

// announceAndWait announces m under a new id and waits, ReplyWait at
// most, until each node listening now reports that it applied it.
func (f *Fanout) announceAndWait(m *message) {
	ctx := context.WithoutCancel(f.ctx)
	peers, err := f.peers(ctx)
	if err != nil {
		f.logFailure(err)
		f.announce(m)
		return
	}
	if len(peers) == 0 {
		return
	}
	m.ID = f.self + "." + strconv.FormatInt(f.seq.Add(1), 10)
	replies := f.expect(m.ID, len(peers))
	defer f.forget(m.ID)
	f.announce(m)
	f.await(ctx, replies, peers)
}

// announce queues m for the publisher. It never blocks: a full queue drops
// m, and the other nodes are told to resync instead.
func (f *Fanout) announce(m *message) {
	m.From = f.self
	b, err := json.Marshal(m)
	if err != nil || len(b) > maxPayload {
		// Ids are short; a payload this long is a bug, and resyncing the
		// other nodes is still right.
		f.lost.Store(true)
		return
	}
	select {
	case f.out <- b:
	default:
		f.lost.Store(true)
	}
}

// publish sends queued announcements, as many as are waiting in one
// statement, so that a burst costs one round trip.
func (f *Fanout) publish() {
	batch := make([]string, 0, batchMax)
	for {
		batch = batch[:0]
		select {
		case <-f.ctx.Done():
			return
		case b := <-f.out:
			batch = append(batch, string(b))
		}
	more:
		for len(batch) < batchMax {
			select {
			case b := <-f.out:
				batch = append(batch, string(b))
			default:
				break more
			}
		}
		if f.lost.Swap(false) {
			b, _ := json.Marshal(&message{From: f.self, Kind: kindResync})
			batch = append(batch, string(b))
		}
		if err := f.send(f.ctx, batch); err != nil && f.ctx.Err() == nil {
			f.lost.Store(true)
			f.logFailure(err)
		}
	}
}

// send runs pg_notify for each payload, in order, in one statement.
func (f *Fanout) send(ctx context.Context, payloads []string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := f.db.ExecContext(ctx, `SELECT pg_notify('`+Channel+`', p) FROM unnest(CAST(? AS text[])) WITH ORDINALITY AS a(p, i) ORDER BY i`, payloads)
	return err
}

// logFailure logs a failed pg_notify at most once every 10 s: while the
// database is away every write fails, and says so elsewhere too.
func (f *Fanout) logFailure(err error) {
	now := f.cfg.Now().UnixMilli()
	if last := f.failLog.Load(); now-last < 10_000 || !f.failLog.CompareAndSwap(last, now) {
		return
	}
	f.cfg.Logger.Error("cross-node push: announce to the other nodes (they resync when it works again)", "err", err)
}
