// Package fanout carries pushes between collectors that share one
// PostgreSQL database (docs/deployment-push.md): a visitor-data write, an
// erasure, a SignIn or SignOut, a merge or a notification made through one
// node reaches the browsers connected to every node.
//
// Each node holds one dedicated connection, outside the pool, that
// LISTENs on one channel; it announces with pg_notify through the pool.
// Announcements are small (ids and versions, never documents): a receiver
// re-reads what it needs, and only when it has a socket that needs it. A
// notification's data is stored in push_notifications, whose id is
// announced; the nodes that reached pages report their counts back.
// Ingest never announces per event: only identity changes, which are
// rare, come from the ingest path. After its LISTEN connection was lost,
// a node may have missed announcements: when it is back, every socket of
// the node re-reads its document.
package fanout

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/live"
	"github.com/visitrack/visitrack/collector/store"
)

const (
	// Channel is the NOTIFY channel the nodes of one database share.
	Channel = "visitrack_push"
	// AppNamePrefix starts the application_name of each node's LISTEN
	// connection; the rest is the node's id. A node asking for
	// notification counts finds the nodes to wait for by it.
	AppNamePrefix = "visitrack-push "
	// maxPayload is PostgreSQL's limit on a NOTIFY payload (8000 bytes,
	// less one); ours are ids and a version, far below it.
	maxPayload = 7999
	// queueLen bounds the announcements waiting to go out, and those
	// received waiting to be applied. Past it they are dropped, and the
	// nodes that missed them resync instead.
	queueLen = 4096
	// batchMax is the most announcements one pg_notify statement carries.
	batchMax = 256
	// keepNotifications is how long a stored notification stays readable:
	// long past the reply wait, for a node that was slow to read it.
	keepNotifications = time.Minute
)

// Ingester is what a node does to its ingest writer when another node
// changed identities behind its back (an erasure, a merge): it drops the
// visits it cached (ingest.Ingester).
type Ingester interface {
	InvalidateCache(ctx context.Context) error
}

// Config configures a Fanout.
type Config struct {
	// URL is the postgres:// URL of the LISTEN connection: PostgreSQL
	// itself or a session-pooling port, never a transaction-pooling one
	// (docs/deployment-push.md#pgbouncer).
	URL string
	// Store is the node's store: pg_notify and the notification table go
	// through its pool, and a merge's sweep through its Merger.
	Store *store.Store
	// NodeID names this node in its announcements, which it then ignores;
	// random when empty.
	NodeID string
	// ReplyWait bounds the wait for the other nodes' notification
	// counts; 500 ms when 0.
	ReplyWait time.Duration
	// Retry is the wait before the n-th attempt (from 1) to reconnect the
	// LISTEN connection; from 50 ms doubling up to 5 s when nil.
	Retry  func(n int) time.Duration
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Fanout is one node's link to the others. It implements live.Peers.
type Fanout struct {
	cfg    Config
	db     *sql.DB
	merger *store.Merger
	self   string // this node's id

	hub *live.Hub
	in  Ingester

	out     chan []byte   // announcements to send
	work    chan *message // announcements received, applied in order
	lost    atomic.Bool   // an announcement was dropped: ask the others to resync
	missed  atomic.Bool   // a received one was dropped: resync here
	failLog atomic.Int64  // unix ms of the last logged publish failure
	seq     atomic.Int64  // ids of the announcements waited on

	mu      sync.Mutex
	waiters map[string]chan reply // notification id → its reports

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

var _ live.Peers = (*Fanout)(nil)

// New returns a node's Fanout; Start connects it.
func New(cfg Config) (*Fanout, error) {
	if cfg.Store == nil || cfg.URL == "" {
		return nil, errors.New("fanout: Store and URL are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ReplyWait == 0 {
		cfg.ReplyWait = 500 * time.Millisecond
	}
	if cfg.Retry == nil {
		cfg.Retry = backoff
	}
	if cfg.NodeID == "" {
		b := make([]byte, 8)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("fanout: node id: %w", err)
		}
		cfg.NodeID = hex.EncodeToString(b)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Fanout{
		cfg: cfg, db: cfg.Store.DB(), merger: store.NewMerger(cfg.Store, nil), self: cfg.NodeID,
		out: make(chan []byte, queueLen), work: make(chan *message, queueLen),
		waiters: map[string]chan reply{}, ctx: ctx, cancel: cancel,
	}, nil
}

// backoff waits 50 ms before the first reconnect, doubling up to 5 s.
func backoff(n int) time.Duration {
	d := 50 * time.Millisecond
	for ; n > 1 && d < 5*time.Second; n-- {
		d *= 2
	}
	return min(d, 5*time.Second)
}

// Start connects the LISTEN connection and starts delivering to hub: a
// node that cannot listen fails to start rather than serve sockets that
// other nodes' writes never reach. in is the node's ingest writer.
func (f *Fanout) Start(ctx context.Context, hub *live.Hub, in Ingester) error {
	f.hub, f.in = hub, in
	conn, err := f.connect(ctx)
	if err != nil {
		return fmt.Errorf("cross-node push: %w", err)
	}
	f.wg.Add(3)
	go func() { defer f.wg.Done(); f.listen(conn) }()
	go func() { defer f.wg.Done(); f.apply() }()
	go func() { defer f.wg.Done(); f.publish() }()
	return nil
}

// Close stops listening and announcing; announcements not yet sent are
// dropped (the other nodes' sockets re-read on their next change).
func (f *Fanout) Close() {
	f.cancel()
	f.wg.Wait()
}

// connect opens the LISTEN connection, named after the node.
func (f *Fanout) connect(ctx context.Context) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(f.cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("the LISTEN connection's URL does not parse: %w", err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	cfg.RuntimeParams["application_name"] = AppNamePrefix + f.self
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open the LISTEN connection to %s:%d: %w", cfg.Host, cfg.Port, err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+Channel); err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("LISTEN %s: %w", Channel, err)
	}
	return conn, nil
}

// listen receives announcements until Close, reconnecting whenever the
// connection is lost; after a reconnect every socket re-reads its
// document, and one line says so.
func (f *Fanout) listen(conn *pgx.Conn) {
	for {
		err := f.receive(conn)
		conn.Close(context.Background())
		if f.ctx.Err() != nil {
			return
		}
		lostAt := f.cfg.Now()
		if conn = f.reconnect(err); conn == nil {
			return
		}
		n := f.hub.Resync()
		f.cfg.Logger.Warn("cross-node push: the LISTEN connection to PostgreSQL was lost and is back; announcements "+
			"made meanwhile were missed, so this node's open sockets re-read their visitor data",
			"err", err, "down", f.cfg.Now().Sub(lostAt).Round(time.Millisecond).String(), "sockets", n)
	}
}

// receive hands each announcement on until the connection fails.
func (f *Fanout) receive(conn *pgx.Conn) error {
	for {
		n, err := conn.WaitForNotification(f.ctx)
		if err != nil {
			return err
		}
		f.received(n.Payload)
	}
}

// reconnect retries until the LISTEN connection is back (nil after
// Close). A failed attempt is logged once per outage, not per attempt.
func (f *Fanout) reconnect(cause error) *pgx.Conn {
	for attempt := 1; ; attempt++ {
		select {
		case <-f.ctx.Done():
			return nil
		case <-time.After(f.cfg.Retry(attempt)):
		}
		conn, err := f.connect(f.ctx)
		if err == nil {
			return conn
		}
		if f.ctx.Err() != nil {
			return nil
		}
		if attempt == 1 {
			f.cfg.Logger.Error("cross-node push: the LISTEN connection to PostgreSQL was lost and cannot be opened "+
				"again; retrying (sockets of this node miss other nodes' pushes until it is back)", "lost", cause, "err", err)
		}
	}
}

// received routes one announcement: replies to the waiting Notify,
// notifications to a goroutine of their own (pages may be slow), the rest
// to the ordered worker.
func (f *Fanout) received(payload string) {
	m := new(message)
	if err := json.Unmarshal([]byte(payload), m); err != nil || m.From == "" {
		return // not ours: another program may use the channel
	}
	if m.From == f.self {
		return
	}
	switch m.Kind {
	case kindReply:
		if m.To == f.self {
			f.report(m)
		}
	case kindNotification:
		f.wg.Add(1)
		go func() { defer f.wg.Done(); f.deliver(m) }()
	default:
		select {
		case f.work <- m:
		default:
			f.missed.Store(true)
		}
	}
}

// apply carries out received announcements in their order: a document
// read for a write must not overtake the resync of a later erasure.
func (f *Fanout) apply() {
	for {
		select {
		case <-f.ctx.Done():
			return
		case m := <-f.work:
			f.applyOne(m)
		}
		if f.missed.Swap(false) {
			f.hub.Resync()
		}
	}
}

func (f *Fanout) applyOne(m *message) {
	ctx := f.ctx
	switch m.Kind {
	case kindVisitorData:
		if s, ok := parseSubject(m.Subject); ok {
			f.hub.PeerVisitorDataChanged(ctx, s, m.Version)
		}
	case kindErased:
		if s, ok := parseSubject(m.Subject); ok {
			f.invalidate(ctx)
			f.hub.PeerSubjectErased(s)
		}
	case kindIdentity:
		if s, ok := parseSubject(m.Subject); ok {
			f.hub.PeerIdentityChanged(m.Visit, m.Visitor, s)
		}
	case kindMerged:
		f.invalidate(ctx)
		rec := &collector.IdentityMerge{MergeID: m.Merge, IdentityID: m.Into, FromIdentityID: m.FromID}
		if err := f.merger.Sweep(ctx, rec); err != nil && ctx.Err() == nil {
			f.cfg.Logger.Error("cross-node push: sweep after another node's merge", "merge", m.Merge, "err", err)
		}
	case kindUndone:
		f.invalidate(ctx) // no sweep: the undo put the rows back itself
	case kindResync:
		f.hub.Resync()
	}
	if m.ID != "" {
		// The announcing node waits until its peers applied it.
		f.announce(&message{Kind: kindReply, To: m.From, ID: m.ID})
	}
}

// invalidate drops the visits the node's writer cached: another node
// deleted or re-keyed rows behind its back.
func (f *Fanout) invalidate(ctx context.Context) {
	if f.in == nil {
		return
	}
	if err := f.in.InvalidateCache(ctx); err != nil && ctx.Err() == nil {
		f.cfg.Logger.Error("cross-node push: drop the ingest cache", "err", err)
	}
}

// parseSubject reads a subject's key ("visitor:<id>", "identity:<id>").
func parseSubject(key string) (collector.Subject, bool) {
	kind, id, ok := strings.Cut(key, ":")
	if !ok || id == "" || (kind != collector.SubjectVisitor && kind != collector.SubjectIdentity) {
		return collector.Subject{}, false
	}
	return collector.Subject{Kind: kind, ID: id}, true
}
