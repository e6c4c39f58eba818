package ingest

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/engage"
	"github.com/visitrack/visitrack/collector/enrich"
	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/shared/protocol"
)

// Config configures an Ingester.
type Config struct {
	Store  Store
	Signer *identity.Signer
	// VisitorData merges a visitor's data into the identity's at SignIn.
	// Optional.
	VisitorData collector.VisitorDataService
	// IdentitySecret is the key of the proofs a site's backend gives
	// SignIn (a userHash or a signInToken, see identity.Prover): only a
	// proven SignIn is verified, and with no secret none is.
	// RequireVerifiedSignIn refuses the unproven ones.
	IdentitySecret        string
	RequireVerifiedSignIn bool
	// IdentityAudience is the aud a signInToken must carry (empty:
	// identity.DefaultAudience).
	IdentityAudience string
	// BlockedUserIDs are userIds that link nobody, besides the
	// placeholders identity.NewBlocklist always blocks ("guest", "null",
	// …): a SignIn or UserInfo naming one is stored and refused.
	BlockedUserIDs []string
	// VisitTimeout ends a visit after this long without events.
	VisitTimeout time.Duration
	// Direct writes each call's statements directly, without the writer
	// goroutine or transactions: for the edge build.
	Direct bool
	// OnCommit, if set, is called after each commit with the stored events
	// (the change feed). It runs on the writer: it must not block.
	OnCommit func(events []store.EventRow)
	// Enricher classifies new visits (user agent, bots, campaign, referrer,
	// GeoIP); nil stores them unclassified.
	Enricher *enrich.Enricher
	// Outbox, if set, writes what the stored events announce (webhook
	// deliveries) in the same transaction as the events (in Direct mode,
	// right after them), and hears when that transaction committed.
	Outbox Outbox
	// Categories, if set, returns the current engagement categories (a
	// compiled snapshot, replaced when they change): a page is stored with
	// the names of those it matches (docs/engagement.md).
	Categories func() *engage.Categorizer
	// Observer receives measurements; nil observes nothing.
	Observer Observer
	Logger   *slog.Logger
	// Now and Entropy (ULIDs) are injectable for tests; Rand makes browser
	// keys (crypto/rand when nil).
	Now     func() time.Time
	Entropy io.Reader
	Rand    io.Reader
}

// Outbox is the webhook outbox as ingest sees it. Announce runs on the
// writer inside the commit: it must be quick when nothing subscribes.
type Outbox interface {
	Announce(ctx context.Context, q store.Querier, rows []store.EventRow) error
	Committed()
}

// Ingester files events. It is safe for concurrent use.
type Ingester struct {
	cfg     Config
	now     func() time.Time
	idMu    sync.Mutex
	idRand  io.Reader
	keyMu   sync.Mutex
	keyRand io.Reader
	salt    dailySalt        // of cookieless visitors
	prover  *identity.Prover // nil without an identity secret
	blocked *identity.Blocklist
	// shared is set where other collectors write the database too: the
	// writer locks the visits it writes (lockVisits).
	shared bool

	queue chan *job
	wg    sync.WaitGroup
	cache *visitCache  // owned by the writer goroutine
	mu    sync.RWMutex // senders hold it for reading; Close for writing
	stop  bool
	batch *batch // reused by the writer
	full  outage // owned by the writer
	// snapshots are the visits Direct collects resolved (Speculate).
	snapshots visitSnapshots
}

// New returns an Ingester. Unless cfg.Direct, it starts the writer; Close
// stops it. The visit-timeout sweep is a job of package maintain, which
// ends visits through Maintain.
func New(cfg Config) (*Ingester, error) {
	if cfg.Store == nil || cfg.Signer == nil {
		return nil, errors.New("ingest: Store and Signer are required")
	}
	if cfg.VisitTimeout <= 0 {
		cfg.VisitTimeout = 30 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	in := &Ingester{cfg: cfg, now: cfg.Now, shared: cfg.Store.Shared() && !cfg.Direct}
	if in.now == nil {
		in.now = time.Now
	}
	in.idRand = cfg.Entropy
	if in.idRand == nil {
		in.idRand = ulid.Monotonic(rand.Reader, 0)
	}
	in.keyRand = cfg.Rand
	if in.keyRand == nil {
		in.keyRand = rand.Reader
	}
	in.salt.rand = in.keyRand
	in.prover = identity.NewProver(cfg.IdentitySecret, cfg.IdentityAudience, in.now)
	in.blocked = identity.NewBlocklist(cfg.BlockedUserIDs)
	if !cfg.Direct {
		in.queue = make(chan *job, 4096)
		in.cache = newVisitCache(100_000)
		in.wg.Add(1)
		go in.writer()
	}
	return in, nil
}

// newID returns a new ULID.
func (in *Ingester) newID() string {
	in.idMu.Lock()
	defer in.idMu.Unlock()
	id, err := ulid.New(ulid.Timestamp(in.now()), in.idRand)
	if err != nil {
		// The monotonic reader overflows only past 2^80 ids in one
		// millisecond; fall back to fresh randomness.
		id = ulid.MustNew(ulid.Timestamp(in.now()), rand.Reader)
	}
	return id.String()
}

// Client is who sends: the browser's cookies and request details.
type Client struct {
	VisitorID string
	// VisitorKey proves the browser is VisitorID (docs/security.md#browser-key): from
	// the hello or collect body, or the _vt_key cookie.
	VisitorKey  string
	VisitID     string
	Recognition *string // the token from _vt_uid, if any
	// HandoffFrom is where the client came from through a handoff link
	// (another site's visitor and visit), recorded as a HandoffArrived
	// event of its visit; it changes nothing of who the client is.
	HandoffFrom *HandoffOrigin
	// NoRecognize presents Recognition only as the proof of the identity
	// of the visit the client continues: it recognizes nothing (the
	// tracker's autoRecognize off, or a visit it has left).
	NoRecognize bool
	// Held are tokens the browser held earlier on this connection (the
	// WebSocket's, before a SignIn replaced them): SignOut revokes them
	// with Recognition.
	Held      []string
	URL       string // the page, for a new visit's landing URL
	Referrer  string
	UserAgent string
	IP        string
	// Cookieless is a browser without consent to keep ids
	// (docs/identity.md#cookieless-visits): its ids, key and recognition are ignored, and its visitor is
	// derived from Site, IP and UserAgent for the day.
	Cookieless bool
	Site       string // the page's origin
}

// HandoffOrigin names the visitor and visit whose handoff link a client
// followed.
type HandoffOrigin struct {
	VisitorID string `json:"fromVisitorId"`
	VisitID   string `json:"fromVisitId,omitempty"`
}

// Visit is the visit the collector settled on for a client.
type Visit struct {
	VisitorID  string
	VisitID    string
	SessionID  string
	State      string
	IdentityID string
	Verified   bool
	// Recognition is the token the browser should keep in _vt_uid; nil
	// means delete the cookie.
	Recognition *string
	// VisitorKey is the browser key to keep beside the visitorId: the one
	// the browser proved, or a new one for a new visitor.
	VisitorKey string
	// Cookieless visits have no key, identity or visitor data.
	Cookieless bool
}

// Subject is whose visitor data this browser may see: the identity's when
// it is verified, else the visitor's own.
func (v Visit) Subject() collector.Subject {
	if v.IdentityID != "" && v.Verified {
		return collector.Subject{Kind: collector.SubjectIdentity, ID: v.IdentityID}
	}
	return collector.Subject{Kind: collector.SubjectVisitor, ID: v.VisitorID}
}

// IdentityMessage is the identity frame for v.
func (v Visit) IdentityMessage() *protocol.Identity {
	return &protocol.Identity{Type: protocol.TypeIdentity, State: v.State, IdentityID: v.BrowserIdentityID(),
		Verified: v.Verified, Recognition: v.Recognition}
}

// BrowserIdentityID is the identityId the browser may see: none unless its
// identity is verified, since an unverified claim learns nothing of the
// identity it claims (docs/security.md#browser-key).
func (v Visit) BrowserIdentityID() *string {
	if v.IdentityID == "" || !v.Verified {
		return nil
	}
	id := v.IdentityID
	return &id
}

// Result is what one Collect call did.
type Result struct {
	Visit Visit
	Ack   protocol.Ack
	// NewVisit is true when the collector opened a visit other than the one
	// the client named (first visit, or the old one ended).
	NewVisit bool
	// IdentityChanged is true when recognition or an identity event of the
	// batch changed the visit's identity: send Visit.IdentityMessage().
	IdentityChanged bool
	// Late is true when the events joined the ended visit they were made
	// in (a late delivery): Visit then names that visit and its visitor
	// only, and the answer must say nothing of identity or visitor data.
	Late bool
	// VisitorData is the identity's merged document after a SignIn
	// stitched the visitor's data into it; nil otherwise.
	VisitorData *collector.VisitorData
}

// Collect settles the client's visit and stores events (raw JSON, each
// validated on its own). It returns once everything is durably committed;
// only then may the client be acknowledged. sentAt is the browser clock
// when the batch was sent ("" if unknown).
//
// An error means nothing of the call was stored: the client should retry.
// Invalid events are not errors: they are rejected in Result.Ack.
func (in *Ingester) Collect(ctx context.Context, c Client, sentAt string, events []json.RawMessage) (*Result, error) {
	j := in.prepare(c, sentAt, events)
	if in.cfg.Direct {
		b := newBatch(newVisitCache(16))
		b.q = in.cfg.Store.DB()
		if err := in.speculate(ctx, b, j); err != nil {
			return nil, fmt.Errorf("collect: %w", err)
		}
		if err := in.apply(ctx, b, j); err != nil {
			return nil, fmt.Errorf("collect: %w", err)
		}
		if err := in.flush(ctx, b, true); err != nil {
			return nil, fmt.Errorf("collect: %w", err)
		}
		in.snapshots.keep(b.cache)
		if in.cfg.Outbox != nil {
			in.cfg.Outbox.Committed()
		}
	} else if err := in.enqueue(ctx, j); err != nil {
		return nil, fmt.Errorf("collect: %w", err)
	}
	in.cfg.Observer.Collected(j.received, j.stored, j.res.Ack.Rejected)
	return in.finish(ctx, j)
}

// prepare decodes and validates the events on the caller's goroutine, so
// that the single writer spends its time on SQL alone.
//
// Ids are stored in upper case (docs/security.md#ids), so the client's are
// normalized here, as decodeEvent does with the events'. A sentAt that is
// not a sane time rejects every event of the batch: their corrected times
// would be made of it.
func (in *Ingester) prepare(c Client, sentAt string, events []json.RawMessage) *job {
	c.VisitorID, c.VisitID = protocol.UpperULID(c.VisitorID), protocol.UpperULID(c.VisitID)
	j := &job{client: c, receivedAt: in.now(), received: len(events)}
	now := j.receivedAt.UnixMilli()
	badSentAt := false
	if sentAt != "" {
		t, ok := parseTime(sentAt)
		j.skew, badSentAt = now-t, !ok
	}
	if len(events) > 0 {
		j.events = make([]decodedEvent, 0, len(events))
	}
	for _, raw := range events {
		// Each event is decoded in its place in j.events (kept only when
		// valid): one allocation for the batch, not one per event.
		e := &j.events[:len(j.events)+1][len(j.events)]
		rej := decodeEvent(raw, e)
		if rej == nil && badSentAt {
			rej = &protocol.Rejection{EventID: e.EventID, Code: protocol.CodeInvalidEvent, Message: "the batch's sentAt " + timeRule}
		}
		if rej != nil {
			j.rejected = append(j.rejected, *rej)
			continue
		}
		e.corrected = correct(e.at, j.skew, now)
		j.events = j.events[:len(j.events)+1]
	}
	if !protocol.IsULID(c.VisitID) {
		// A first contact opens a visit: classify it here, off the writer.
		url, ref := c.URL, c.Referrer
		if url == "" {
			url, ref = firstURL(j.events)
		}
		ins := in.insight(&c, url, ref)
		j.insight = &ins
	}
	return j
}

// finish does what follows a commit, on the caller's goroutine: merging a
// signed-in visitor's data into the identity's.
func (in *Ingester) finish(ctx context.Context, j *job) (*Result, error) {
	res := &j.res
	if j.stitch != "" && in.cfg.VisitorData != nil {
		vd, err := in.cfg.VisitorData.StitchVisitorData(ctx, res.Visit.VisitorID, j.stitch)
		if err != nil {
			// The events are stored; the merge can be retried by the next
			// SignIn. Report it without failing the batch.
			in.cfg.Logger.Error("stitch visitor data", "visitor", res.Visit.VisitorID, "identity", j.stitch, "err", err)
		} else {
			res.VisitorData = vd
		}
	}
	return res, nil
}

// InvalidateCache drops what the writer remembers of visits; the erasure
// API calls it after deleting rows behind the writer's back.
func (in *Ingester) InvalidateCache(ctx context.Context) error {
	if in.cfg.Direct {
		return nil
	}
	return in.enqueue(ctx, &job{control: func(context.Context, *batch) error { in.cache.clear(); return nil }})
}

// Close stops accepting, commits everything queued, and stops the writer.
func (in *Ingester) Close(ctx context.Context) error {
	if in.cfg.Direct {
		return nil
	}
	in.mu.Lock()
	if !in.stop {
		in.stop = true
		close(in.queue) // the writer commits what is queued, then returns
	}
	in.mu.Unlock()
	done := make(chan struct{})
	go func() { in.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("ingest close: %w", ctx.Err())
	}
}

// ErrClosed is returned by Collect after Close.
var ErrClosed = &collector.Error{Code: collector.EUNAVAILABLE, Message: "the collector is shutting down"}
