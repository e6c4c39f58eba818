package ingest

import (
	"context"
	"fmt"
	"time"

	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/shared/protocol"
)

// maxBatchEvents bounds the events of one transaction, so that one commit
// never holds acknowledgements back for long.
const maxBatchEvents = 5000

// commitGap is how long, under load, the writer lets jobs gather since the
// start of its previous commit. Every commit rewrites the pages it touches
// whole (the tail of the events table, the index leaf of each visit in the
// batch, the database header), so many tiny commits write several times
// more than fewer larger ones, and the CPU and I/O that costs is what makes
// acks wait. A lone client (batches of one job) is never held back.
const commitGap = 3 * time.Millisecond

// touchEvery is how stale visits.last_seen_at may get before ingest writes
// it; the visit cache and the events index know the exact value.
const touchEvery = 5 * time.Second

// job is one Collect call, or a control step (sweep, cache reset) that must
// run in order with the writes.
type job struct {
	client     Client
	receivedAt time.Time
	// events passed validation on the caller's goroutine; rejected did not.
	// The writer only files the former.
	events   []decodedEvent
	rejected []protocol.Rejection
	skew     int64 // receivedAt - sentAt, in milliseconds (0 without sentAt)
	received int   // events in the batch, valid or not
	control  func(ctx context.Context, b *batch) error

	res    Result
	stitch string // identity whose visitor data absorbs the visitor's, after commit
	// visitorKey is the browser key the client proved or was given.
	visitorKey string
	// late is set when the job's events all happened before the ended
	// visit it names: they are filed there, and nothing else changes.
	late bool
	// unproven is set when the client named a verified visit without a
	// recognition token of its identity: it was given a visit of its own,
	// and is recognized as nobody in this job (see proves).
	unproven bool
	// token caches the check of the client's recognition token (see
	// tokenClaims): verified once per job, whoever asks.
	token tokenCheck
	// insight classifies the visit the job opens, when prepare could tell
	// that it opens one; else resolveVisit classifies it.
	insight *store.VisitInsight
	stored  int // events accepted
	err     error
	done    chan struct{}
}

// batch is the state of one transaction (or, on the edge, one call).
type batch struct {
	q       store.Querier
	cache   *visitCache
	rows    []store.EventRow
	idRows  []store.EventRow // identity events, stored one by one: announced with rows
	args    []any
	touched map[string]int64 // visitID → latest activity in this batch
	// highWater is the events rowid before the batch's first insert
	// (known once hwKnown): the stats rollup counts the rows after it.
	highWater int64
	hwKnown   bool
	// counts and pages are the rollup rows of rows (countRows), and
	// visitEvents the new events per visit that flush adds to the visits'
	// event counts (empty when CountEvents counted them in SQL).
	counts, pages map[store.StatKey]int64
	visitEvents   map[string]int64
	// visitCounts is scratch space for the event counts flush adds to
	// visits by their key.
	visitCounts []store.VisitCount
	// locked are the visits whose locks the transaction holds, where
	// nodes share the database (see lockVisits); lockIDs and lockKeys are
	// scratch space.
	locked   map[string]struct{}
	lockIDs  []string
	lockKeys []int64
	cats     []string // scratch: a page's engagement categories
	// Scratch the store's calls take by pointer, reused: passed to an
	// interface (Store), a value of the stack would escape to the heap
	// on every call. row is the event apply is storing, page its page
	// row, visit a visit newVisit opens, kept a kept copy speculate
	// guards; one and fresh are the visits ownVisit and lockMore lock.
	row   store.EventRow
	page  store.PageRow
	visit store.VisitState
	kept  store.VisitState
	one   [1]string
	fresh []string
}

// count inserts the batch's rows and adds every event the transaction
// stored to the stats rollups and the visits' event counts. Events
// inserted one by one while the jobs were applied (identity events) lie
// between the high water read before the first of them (insertEvent) and
// the one read now, and are counted in SQL. The batch's rows are counted here in Go
// when every one of them was new (the rule); a resend among them counts
// them in SQL. The edge (direct) has no transaction and a driver that
// cannot say which rows were new: it counts in SQL, by event id.
func (in *Ingester) count(ctx context.Context, b *batch, direct bool) error {
	st := in.cfg.Store
	if direct {
		if b.hwKnown {
			// Identity events went in one by one before: count by id
			// after the high water read before the first of them.
			return in.countDirect(ctx, b)
		}
		// Nothing inserted yet: on the edge, count what the insert will
		// store in SQL just before it, in the same batch, rather than
		// read the high water first (a round trip).
		clear(b.visitEvents)
		if err := st.CountNewEvents(ctx, b.q, b.rows); err != nil {
			return err
		}
		var err error
		b.args, _, err = st.InsertEvents(ctx, b.q, b.rows, b.args)
		return err
	}
	// Events inserted one by one (identity events) lie after the high
	// water read before the first of them: count them in SQL.
	var before int64
	if b.hwKnown {
		var err error
		if before, err = st.EventsHighWater(ctx, b.q); err != nil {
			return err
		}
		if before > b.highWater {
			if err := st.CountEvents(ctx, b.q, b.highWater, before, nil); err != nil {
				return err
			}
		}
	}
	// Where the batch's rows take the rowids right after the largest
	// (SQLite), the high water before the insert is known after it, and
	// read only when a count in SQL needs it: most commits count in Go.
	// Elsewhere it is read first, as CountEvents needs it.
	follow := st.RowidsFollow()
	if !follow && !b.hwKnown && len(b.rows) > 0 {
		var err error
		if before, err = st.EventsHighWater(ctx, b.q); err != nil {
			return err
		}
	}
	var inserted int64
	var err error
	if b.args, inserted, err = st.InsertEvents(ctx, b.q, b.rows, b.args); err != nil {
		return err
	}
	if len(b.rows) == 0 {
		return nil
	}
	if inserted != int64(len(b.rows)) || !in.countRows(b) {
		clear(b.visitEvents)
		if inserted == 0 {
			return nil // all resent: nothing new to count
		}
		if follow {
			if inserted < 0 {
				return fmt.Errorf("count events: the driver did not say how many of %d events were new", len(b.rows))
			}
			top, err := st.EventsHighWater(ctx, b.q)
			if err != nil {
				return err
			}
			before = top - inserted
		}
		return st.CountEvents(ctx, b.q, before, 0, nil)
	}
	if err := st.AddStats(ctx, b.q, false, b.counts); err != nil {
		return err
	}
	if len(b.pages) > 0 {
		return st.AddStats(ctx, b.q, true, b.pages)
	}
	return nil
}

// countDirect is count on the edge once identity events were inserted:
// the rows of this call after the high water read before the first of
// them, narrowed to its own event ids, since other requests insert at the
// same time.
func (in *Ingester) countDirect(ctx context.Context, b *batch) error {
	st := in.cfg.Store
	if err := in.markHighWater(ctx, b); err != nil {
		return err
	}
	var err error
	if b.args, _, err = st.InsertEvents(ctx, b.q, b.rows, b.args); err != nil {
		return err
	}
	clear(b.visitEvents)
	ids := make([]string, 0, len(b.rows)+len(b.idRows))
	for _, rows := range [][]store.EventRow{b.idRows, b.rows} {
		for i := range rows {
			ids = append(ids, rows[i].EventID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	return st.CountEvents(ctx, b.q, b.highWater, 0, ids)
}

// countRows tallies b.rows per rollup row in b.counts and b.pages, and
// per visit in b.visitEvents; false when a row's visit is not in the cache
// (its bot flag unknown).
func (in *Ingester) countRows(b *batch) bool {
	clear(b.counts)
	clear(b.pages)
	clear(b.visitEvents)
	for i := range b.rows {
		r := &b.rows[i]
		v := b.cache.get(r.VisitID)
		if v == nil {
			return false
		}
		b.visitEvents[r.VisitID]++
		for _, l := range store.StatsLevels() {
			bucket := r.CorrectedAt / l * l
			b.counts[store.StatKey{Level: l, Bucket: bucket, Key: r.Name, Bot: v.Bot}]++
			if r.Name == protocol.EventPageEntered {
				b.pages[store.StatKey{Level: l, Bucket: bucket, Key: store.PageURL(r.URL), Bot: v.Bot}]++
			}
		}
	}
	return true
}

// insertEvent stores one event alone (an identity event, whose side
// effects run only when it is new), after marking the high water that
// count needs to find it: only a batch that inserts one pays that read.
func (in *Ingester) insertEvent(ctx context.Context, b *batch, r *store.EventRow) (bool, error) {
	if err := in.markHighWater(ctx, b); err != nil {
		return false, err
	}
	return in.cfg.Store.InsertEvent(ctx, b.q, r)
}

// markHighWater reads the events high water before the batch inserts its
// first event one by one.
func (in *Ingester) markHighWater(ctx context.Context, b *batch) error {
	if b.hwKnown {
		return nil
	}
	hw, err := in.cfg.Store.EventsHighWater(ctx, b.q)
	if err != nil {
		return err
	}
	b.highWater, b.hwKnown = hw, true
	return nil
}

func newBatch(cache *visitCache) *batch {
	return &batch{cache: cache, touched: make(map[string]int64),
		counts: make(map[store.StatKey]int64), pages: make(map[store.StatKey]int64),
		visitEvents: make(map[string]int64), locked: make(map[string]struct{})}
}

func (b *batch) reset(q store.Querier) {
	b.q = q
	clear(b.rows[:cap(b.rows)]) // drop references for the GC
	b.rows = b.rows[:0]
	clear(b.idRows[:cap(b.idRows)])
	b.idRows = b.idRows[:0]
	clear(b.touched)
	clear(b.visitEvents)
	clear(b.locked)
	b.hwKnown = false
}

func (b *batch) touch(visitID string, at int64) {
	if at > b.touched[visitID] {
		b.touched[visitID] = at
	}
}

// enqueue hands j to the writer and waits for its commit.
func (in *Ingester) enqueue(ctx context.Context, j *job) error {
	j.done = make(chan struct{})
	in.mu.RLock()
	if in.stop {
		in.mu.RUnlock()
		return ErrClosed
	}
	select {
	case in.queue <- j:
		in.mu.RUnlock()
	case <-ctx.Done():
		in.mu.RUnlock()
		return ctx.Err()
	}
	select {
	case <-j.done:
		return j.err
	case <-ctx.Done():
		// The job still commits; a resend is deduplicated by eventId.
		return ctx.Err()
	}
}

// writer is the one goroutine that writes: it takes whatever queued up
// while the previous commit ran and commits it as one transaction.
func (in *Ingester) writer() {
	defer in.wg.Done()
	in.batch = newBatch(in.cache)
	var jobs []*job
	var lastStart time.Time
	busy := false // the previous commit carried more than one job
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for first := range in.queue {
		jobs = append(jobs[:0], first)
		n := len(first.events)
		var until time.Time
		if busy {
			until = lastStart.Add(commitGap)
		}
	gather:
		for n < maxBatchEvents {
			var j *job
			var ok bool
			select {
			case j, ok = <-in.queue:
			default:
				wait := time.Until(until)
				if wait <= 0 {
					break gather
				}
				timer.Reset(wait)
				select {
				case j, ok = <-in.queue:
					timer.Stop()
				case <-timer.C:
					break gather
				}
			}
			if !ok {
				break gather
			}
			jobs = append(jobs, j)
			n += len(j.events)
		}
		busy = len(jobs) > 1
		lastStart = time.Now()
		in.commit(jobs)
		for _, j := range jobs {
			close(j.done)
		}
		clear(jobs)
		// Between two transactions, after the acks: the one moment the
		// write-ahead log can be restarted while ingest runs.
		in.cfg.Store.AfterCommit(context.Background())
	}
}

// commit writes jobs in one transaction. A job whose writes fail is taken
// out and the rest retried, so one bad job never sinks its neighbours. A
// transaction that failed only for running beside another node's (a
// deadlock, a serialization failure) runs again whole, a bounded number
// of times (retryable).
func (in *Ingester) commit(jobs []*job) {
	ctx := context.Background()
	start := time.Now()
	pending := jobs
	retries := 0
	for len(pending) > 0 {
		tx, err := in.cfg.Store.DB().BeginTx(ctx, nil)
		if err != nil {
			in.fail(pending, fmt.Errorf("begin: %w", err))
			return
		}
		b := in.batch
		b.reset(tx)
		failed := -1
		err = in.lockVisits(ctx, b, pending)
		for i, j := range pending {
			if err != nil {
				break
			}
			if j.control != nil {
				err = j.control(ctx, b)
			} else {
				err = in.apply(ctx, b, j)
			}
			if err != nil {
				j.err, failed = err, i
			}
		}
		if err == nil {
			if err = in.flush(ctx, b, false); err == nil {
				err = tx.Commit()
			}
			if err != nil {
				tx.Rollback()
				in.cache.clear()
				if in.retryable(err, &retries, pending) {
					continue
				}
				in.fail(pending, fmt.Errorf("commit: %w", err))
				return
			}
			in.committed()
			in.cfg.Observer.Committed(len(b.rows), time.Since(start))
			if in.cfg.Outbox != nil {
				in.cfg.Outbox.Committed()
			}
			if in.cfg.OnCommit != nil && len(b.rows) > 0 {
				in.cfg.OnCommit(b.rows)
			}
			return
		}
		// Roll back, forget what the cache learned in this transaction,
		// and retry without the failed job; a full disk fails them all.
		tx.Rollback()
		in.cache.clear()
		if in.retryable(err, &retries, pending) {
			continue
		}
		if failed < 0 {
			in.fail(pending, fmt.Errorf("lock visits: %w", err))
			return
		}
		if in.cfg.Store.StorageFull(err) {
			in.storageFull(pending, err)
			return
		}
		in.cfg.Logger.Error("ingest job failed", "err", pending[failed].err)
		rest := make([]*job, 0, len(pending)-1)
		for i, j := range pending {
			if i != failed {
				j.res, j.stitch, j.stored, j.late = Result{}, "", 0, false
				rest = append(rest, j)
			}
		}
		pending = rest
	}
}

func (in *Ingester) fail(jobs []*job, err error) {
	if in.cfg.Store.StorageFull(err) {
		in.storageFull(jobs, err)
		return
	}
	in.cfg.Logger.Error("ingest commit failed", "jobs", len(jobs), "err", err)
	for _, j := range jobs {
		if j.err == nil {
			j.err = err
		}
	}
}

// flush writes what a batch gathered: the events, their count in the
// stats rollup and in their visits, and the last activity of visits whose
// stored value is stale.
func (in *Ingester) flush(ctx context.Context, b *batch, direct bool) error {
	if len(b.rows) > 0 || b.hwKnown {
		if err := in.count(ctx, b, direct); err != nil {
			return err
		}
	}
	if in.cfg.Outbox != nil {
		err := in.cfg.Outbox.Announce(ctx, b.q, b.rows)
		if err == nil {
			err = in.cfg.Outbox.Announce(ctx, b.q, b.idRows)
		}
		if err != nil {
			return err
		}
	}
	for visitID := range b.visitEvents {
		if _, ok := b.touched[visitID]; !ok {
			b.touched[visitID] = 0
		}
	}
	b.visitCounts = b.visitCounts[:0]
	for visitID, at := range b.touched {
		e := b.cache.get(visitID)
		n := b.visitEvents[visitID]
		due := e != nil && at > 0 && (direct || at-e.written >= touchEvery.Milliseconds())
		switch {
		case due:
			if err := in.cfg.Store.TouchVisit(ctx, b.q, visitID, at, n); err != nil {
				return err
			}
			e.written = at
		case n > 0 && e != nil && e.Key > 0:
			// The count only: last_seen_at is in an index (visits_open),
			// and moving it at every commit would rewrite that index's
			// pages too. The counts of the commit's visits go together,
			// a statement for many visits.
			b.visitCounts = append(b.visitCounts, store.VisitCount{Key: e.Key, N: n})
		case n > 0:
			if err := in.cfg.Store.CountVisitEvents(ctx, b.q, visitID, n); err != nil {
				return err
			}
		}
	}
	if len(b.visitCounts) > 0 {
		var err error
		b.args, err = in.cfg.Store.AddVisitEvents(ctx, b.q, b.visitCounts, b.args)
		return err
	}
	return nil
}
