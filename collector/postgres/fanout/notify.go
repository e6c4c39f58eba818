package fanout

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/visitrack/visitrack/collector"
)

// reply is another node's count of the pages a notification reached.
type reply struct {
	node      string
	delivered int
}

// Notify hands n to the pages of its visit on the other nodes and returns
// how many they reached, as reported within ReplyWait. The data (up to 16
// KiB) does not fit in a NOTIFY: it is stored, and its id announced in
// the same statement, so no node hears of it before it can be read. With
// no other node listening it stores nothing.
func (f *Fanout) Notify(ctx context.Context, n *collector.Notification) (int, error) {
	peers, err := f.peers(ctx)
	if err != nil || len(peers) == 0 {
		return 0, err
	}
	replies := f.expect(n.ID, len(peers))
	defer f.forget(n.ID)
	b, err := json.Marshal(&message{From: f.self, Kind: kindNotification, ID: n.ID, Visit: n.VisitID})
	if err != nil {
		return 0, err
	}
	now := f.cfg.Now().UnixMilli()
	if _, err := f.db.ExecContext(ctx, `WITH stored AS (
		INSERT INTO push_notifications (notification_id, visit_id, channel, data, created_at) VALUES (?, ?, ?, ?, ?)
		RETURNING notification_id)
	SELECT pg_notify('`+Channel+`', ?) FROM stored`, n.ID, n.VisitID, n.Channel, string(n.Data), now, string(b)); err != nil {
		return 0, fmt.Errorf("hand the notification to the other nodes: %w", err)
	}
	delivered := f.await(ctx, replies, peers)
	// Readable a while longer for a node that was slow; the old ones go.
	if _, err := f.db.ExecContext(context.WithoutCancel(ctx), `DELETE FROM push_notifications WHERE created_at < ?`,
		now-keepNotifications.Milliseconds()); err != nil {
		f.cfg.Logger.Warn("cross-node push: delete old notifications", "err", err)
	}
	return delivered, nil
}

// await sums the reports of the expected nodes until all came, ReplyWait
// passed or ctx ended (an unresponsive node delays nothing longer). A node that started listening since it was
// counted may report too; each node counts once.
func (f *Fanout) await(ctx context.Context, replies <-chan reply, peers map[string]bool) int {
	wait, cancel := context.WithTimeout(ctx, f.cfg.ReplyWait)
	defer cancel()
	delivered, heard := 0, map[string]bool{}
	for missing := len(peers); missing > 0; {
		select {
		case r := <-replies:
			if heard[r.node] {
				continue
			}
			heard[r.node] = true
			delivered += r.delivered
			if peers[r.node] {
				missing--
			}
		case <-wait.Done():
			return delivered
		}
	}
	return delivered
}

// peers names the other nodes listening on this database now, by their
// LISTEN connections' application_name (which PostgreSQL shows every
// role).
func (f *Fanout) peers(ctx context.Context) (map[string]bool, error) {
	rows, err := f.db.QueryContext(ctx, `SELECT application_name FROM pg_stat_activity
		WHERE datname = current_database() AND application_name LIKE '`+AppNamePrefix+`%'`)
	if err != nil {
		return nil, fmt.Errorf("find the other nodes: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("find the other nodes: %w", err)
		}
		if id := strings.TrimPrefix(name, AppNamePrefix); id != f.self {
			out[id] = true
		}
	}
	return out, rows.Err()
}

// expect registers a wait for the reports on announcement id.
func (f *Fanout) expect(id string, peers int) <-chan reply {
	ch := make(chan reply, peers+4)
	f.mu.Lock()
	f.waiters[id] = ch
	f.mu.Unlock()
	return ch
}

// forget ends the wait for the reports on id.
func (f *Fanout) forget(id string) {
	f.mu.Lock()
	delete(f.waiters, id)
	f.mu.Unlock()
}

// report hands another node's count to the Notify waiting for it.
func (f *Fanout) report(m *message) {
	f.mu.Lock()
	ch := f.waiters[m.ID]
	f.mu.Unlock()
	if ch == nil {
		return // too late: Notify answered already
	}
	select {
	case ch <- reply{node: m.From, delivered: m.Delivered}:
	default:
	}
}

// deliver gives another node's notification to this node's pages of the
// visit, reading it only when there is one, and reports the count (0
// too, so that the asking node need not wait for the timeout).
func (f *Fanout) deliver(m *message) {
	delivered := 0
	if f.hub.HasVisit(m.Visit) {
		n, err := f.load(f.ctx, m.ID)
		switch {
		case err != nil && f.ctx.Err() == nil:
			f.cfg.Logger.Error("cross-node push: read another node's notification", "id", m.ID, "err", err)
		case n != nil:
			delivered, _ = f.hub.PeerNotify(f.ctx, n)
		}
	}
	f.announce(&message{Kind: kindReply, To: m.From, ID: m.ID, Delivered: delivered})
}

// load reads a stored notification; nil when it is gone already.
func (f *Fanout) load(ctx context.Context, id string) (*collector.Notification, error) {
	n := &collector.Notification{ID: id}
	var data string
	err := f.db.QueryRowContext(ctx, `SELECT visit_id, channel, data FROM push_notifications WHERE notification_id = ?`, id).
		Scan(&n.VisitID, &n.Channel, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	n.Data = json.RawMessage(data)
	return n, nil
}
