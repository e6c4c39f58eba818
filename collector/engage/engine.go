package engage

import (
	"container/list"
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"
	"golang.org/x/time/rate"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/shared/protocol"
)

// Event is a committed event as the engine sees it.
type Event struct {
	VisitID, VisitorID, PageID string
	Name, URL, Title           string
	Data                       string // a JSON object
	At                         int64  // ms, the corrected time
}

// Made is an offer the engine decided to make, for the Recorder.
type Made struct {
	OfferID, RuleID, RuleName, VisitID string
	Channel                            string
	Data                               json.RawMessage
	At, ExpiresAt                      time.Time
	Unless                             Unless
	// Visit checks the rule's visit conditions against the visit as the
	// writer holds it.
	Visit func(state string, verified bool) bool
	// DwellSince, for a rule with dwell conditions, is when the page (or
	// visit) the dwell counted from began: the Recorder refuses the offer
	// if the rule already made one to the visit since then (another node
	// may have timed the same dwell). 0 for a rule without dwell.
	DwellSince int64
}

// Recorder writes what the engine decides, through the ingest writer.
type Recorder interface {
	// Blocked tells which unless forbids rule r's offer to visitorID ("":
	// none), from the offers stored.
	Blocked(ctx context.Context, visitorID string, r *Rule, now time.Time) (string, error)
	// Offer records m and its EngagementOffered event in one transaction,
	// checking m.Unless and m.Visit again there; false when they forbid it.
	Offer(ctx context.Context, m *Made) (bool, error)
	// TimeOut writes EngagementTimedOut if the offer is still open.
	TimeOut(ctx context.Context, offerID, visitID string) error
	// Goal marks the accepted offers of rules in visitID as having reached
	// their goal.
	Goal(ctx context.Context, visitID string, ruleIDs []string, at int64) error
}

// Config configures an Engine.
type Config struct {
	Recorder Recorder
	Notifier collector.Notifier // nil: offers are recorded, not shown
	// VisitorData returns the decoded visitor-data document of the visit's
	// subject (nil when it has none); needed by visitorData conditions.
	VisitorData func(ctx context.Context, visitID string) (any, error)
	// History returns, oldest first, the visit's stored events from since
	// up to (not including) before, at most limit of the latest, and when
	// the visit started (0: unknown visit). The engine asks once for a
	// visit it meets for the first time, to rebuild its windows after a
	// restart (or after forgetting it); nil starts every visit afresh.
	History func(ctx context.Context, visitID string, since, before int64, limit int) (startedAt int64, events []Event, err error)
	// OpenVisits returns the visits still open that were seen since (ms),
	// at most limit, the most recently seen first. When rules have a dwell,
	// the engine rebuilds these visits' state as it starts, so that a dwell
	// due in a page left open across a restart fires with no further event
	// (restore.go); nil leaves them to their next event.
	OpenVisits func(ctx context.Context, since int64, limit int) ([]OpenVisit, error)
	// Capacity asks a capacity URL how many agents are available.
	Capacity func(ctx context.Context, url string) (int, error)
	// PerMinute caps the offers of all rules together; 0 is no cap.
	PerMinute int
	// Shared is set where other nodes write the same database: a visit's
	// events may be committed by any of them, so the engine rebuilds a
	// visit's state from its stored events at each batch of it (one
	// indexed read per visit and batch, off the writer).
	Shared bool
	// QueueSize bounds the committed batches waiting (default 1024); when
	// it is full, batches are dropped and counted (Dropped).
	QueueSize int
	// MaxVisits bounds the visits whose state is kept (default 100,000):
	// the least recently active is forgotten first.
	MaxVisits int
	Logger    *slog.Logger
	Now       func() time.Time
	NewID     func() string
}

// historyLimit bounds the events read to rebuild a visit's state, and
// historyWindow how far back they go at least (count windows go further).
const (
	historyLimit  = 500
	historyWindow = 30 * time.Minute
)

// capacityTTL is how long a capacity URL's answer is trusted.
const capacityTTL = 3 * time.Second

// Engine evaluates the rules on committed events, off the ingest writer,
// and makes the offers (docs/engagement.md). Its state is per visit and
// bounded; dwell conditions and offer timeouts fire from timers.
type Engine struct {
	cfg     Config
	snap    atomic.Pointer[snapshot]
	in      chan []Event
	ticks   chan tick
	done    chan struct{}
	ready   chan struct{} // closed, so always ready: loop restores open visits between other work
	stop    sync.Once
	wg      sync.WaitGroup
	dropped atomic.Uint64
	offered atomic.Uint64

	// Owned by the loop goroutine.
	visits    map[string]*visit
	lru       *list.List
	global    *rate.Limiter
	limiters  map[string]*rate.Limiter // rule id → its perMinute
	capacity  map[string]capAnswer
	timeouts  map[string]*time.Timer // offer id → its timeout
	started   time.Time              // when Start ran: visits older may have history
	forgotten bool                   // a visit was forgotten for MaxVisits
	refreshed map[string]struct{}    // visits of the batch rebuilt (Shared)
	data      eventData              // the data of the event being applied
	hit       []int32                // the matchers the event being applied hit
	due       []int32                // the rules the event being applied may make true (index.all)
	now       int64                  // ms, read once per batch for its first rule checked; 0 until then
}

type snapshot struct {
	rules []*Rule
	cats  *Categorizer
	goals map[string][]string // event name → the ids of rules whose goal it is
	index index
	// window is how far back a visit's events matter: the longest count
	// window, at least historyWindow.
	window int64
}

type capAnswer struct {
	n  int
	at time.Time
}

type tick struct {
	visitID, ruleID string
	offerID         string // a timeout; else a dwell
}

// visit is a visit's state: slices indexed by the slots of its layout
// (index.go), which the rules' conditions and matchers name.
type visit struct {
	id, visitorID string
	startedAt     int64
	pageAt        int64
	cats          []string
	layout        *layout
	seen          []bool            // an event matcher → whether the visit had one
	rings         []ring            // a counted matcher → the times of its latest events
	dwellFired    []int64           // a dwell condition → the page or visit start it fired for
	dwell         []*time.Timer     // a rule with a dwell → its pending timer
	offers        map[string]string // offer id → rule id (nil until the first)
	accepted      map[string]bool   // rule ids (nil until the first)
	elem          *list.Element
}

// New returns an Engine with no rules; Start runs it.
func New(cfg Config) *Engine {
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 1024
	}
	if cfg.MaxVisits <= 0 {
		cfg.MaxVisits = 100_000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NewID == nil {
		var mu sync.Mutex
		entropy := ulid.Monotonic(rand.Reader, 0)
		cfg.NewID = func() string {
			mu.Lock()
			defer mu.Unlock()
			return ulid.MustNew(ulid.Timestamp(cfg.Now()), entropy).String()
		}
	}
	e := &Engine{cfg: cfg, in: make(chan []Event, cfg.QueueSize), ticks: make(chan tick, 4096),
		done: make(chan struct{}), ready: make(chan struct{}), visits: map[string]*visit{}, lru: list.New(),
		limiters: map[string]*rate.Limiter{}, capacity: map[string]capAnswer{}, timeouts: map[string]*time.Timer{}, refreshed: map[string]struct{}{}}
	close(e.ready)
	if cfg.PerMinute > 0 {
		e.global = rate.NewLimiter(rate.Every(time.Minute/time.Duration(cfg.PerMinute)), cfg.PerMinute)
	}
	e.snap.Store(&snapshot{cats: NewCategorizer(nil), index: newIndex(nil)})
	return e
}

// SetRules replaces the rules and categories the engine evaluates.
func (e *Engine) SetRules(rules []*Rule, cats []*Category) {
	s := &snapshot{rules: rules, cats: NewCategorizer(cats), goals: map[string][]string{}, window: historyWindow.Milliseconds(),
		index: newIndex(rules)}
	// Rules read again unchanged (every few seconds with several nodes)
	// keep the visits' layout: no visit is laid out again.
	if old := e.snap.Load().index.layout; old != nil && old.equal(s.index.layout) {
		s.index.layout = old
	}
	for _, r := range rules {
		if r.Goal != "" {
			s.goals[r.Goal] = append(s.goals[r.Goal], r.ID)
		}
		for i := range r.When {
			if c := r.When[i].Count; c != nil {
				s.window = max(s.window, time.Duration(c.Within).Milliseconds())
			}
		}
	}
	e.snap.Store(s)
}

// SetNotifier sets where offers are shown; call it before Start.
func (e *Engine) SetNotifier(n collector.Notifier) { e.cfg.Notifier = n }

// Categorizer returns the current categories, compiled.
func (e *Engine) Categorizer() *Categorizer { return e.snap.Load().cats }

// Active reports whether any rule is set: without one, committed events
// need not be handed over.
func (e *Engine) Active() bool { return len(e.snap.Load().rules) > 0 }

// Dropped is how many committed batches were dropped for a full queue.
func (e *Engine) Dropped() uint64 { return e.dropped.Load() }

// Offered is how many offers the engine made since it started.
func (e *Engine) Offered() uint64 { return e.offered.Load() }

// Committed hands a committed batch to the engine without blocking: when
// the queue is full the batch is dropped and counted. It runs on the
// ingest writer.
func (e *Engine) Committed(events []Event) {
	select {
	case e.in <- events:
	default:
		e.dropped.Add(1)
	}
}

// Start runs the engine; open offers (from before a restart) get their
// timeouts again.
func (e *Engine) Start(open []OpenOffer) {
	now := e.cfg.Now()
	e.started = now
	for _, o := range open {
		e.scheduleTimeout(o.OfferID, o.VisitID, o.RuleID, o.ExpiresAt.Sub(now))
	}
	e.wg.Add(1)
	go e.loop()
}

// OpenOffer is an offer not answered yet.
type OpenOffer struct {
	OfferID, VisitID, RuleID string
	ExpiresAt                time.Time
}

// Stop ends the engine; pending timers are dropped (the offers they would
// time out are found open at the next Start).
func (e *Engine) Stop() {
	// A server that fails to start and is then closed stops it twice.
	e.stop.Do(func() { close(e.done) })
	e.wg.Wait()
}

func (e *Engine) loop() {
	defer e.wg.Done()
	ctx := context.Background()
	open := e.openVisits(ctx)
	for {
		// While open visits wait to be restored, one is restored whenever
		// the loop is otherwise idle or picks it among ready work: events
		// are never held behind the whole list.
		var restore <-chan struct{}
		if len(open) > 0 {
			restore = e.ready
		}
		select {
		case <-restore:
			e.restore(ctx, e.snap.Load(), open[0])
			open = open[1:]
		case <-e.done:
			for _, t := range e.timeouts {
				t.Stop()
			}
			for _, v := range e.visits {
				v.stopDwell()
			}
			return
		case evs := <-e.in:
			e.batch(ctx, e.snap.Load(), evs)
		case t := <-e.ticks:
			if t.offerID != "" {
				delete(e.timeouts, t.offerID)
				if err := e.cfg.Recorder.TimeOut(ctx, t.offerID, t.visitID); err != nil {
					e.cfg.Logger.Error("engage: time out offer", "offerId", t.offerID, "err", err)
				}
				continue
			}
			s := e.snap.Load()
			v := e.visits[t.visitID]
			if v == nil {
				continue
			}
			if v.layout != s.index.layout {
				v.relayout(s.index.layout)
			}
			if r := s.index.byID[t.ruleID]; r != nil && r.dwell >= 0 {
				v.dwell[r.dwell] = nil
				e.check(ctx, s, r, v, e.cfg.Now().UnixMilli())
			}
		}
	}
}

// batch updates the visits' state with a committed batch of events and
// evaluates the rules each can make true, in the events' order.
func (e *Engine) batch(ctx context.Context, s *snapshot, evs []Event) {
	if len(s.rules) == 0 {
		return
	}
	if e.cfg.Shared {
		e.refresh(ctx, s, evs)
	}
	// A commit's events are evaluated at one time, and the events of one
	// visit, which come together, look it up once.
	e.now = 0
	var v *visit
	for i := range evs {
		ev := &evs[i]
		if v == nil || v.id != ev.VisitID {
			v = e.visit(ctx, s, ev)
		}
		e.apply(ctx, s, v, ev, true)
		if ev.Name == protocol.EventVisitEnded {
			v = nil // forgotten
		}
	}
}

// apply updates v's state with ev and, when evaluate is set (not in a
// replay of stored events), reaches goals and evaluates the rules ev can
// make true.
func (e *Engine) apply(ctx context.Context, s *snapshot, v *visit, ev *Event, evaluate bool) {
	switch ev.Name {
	case protocol.EventVisitEnded:
		if evaluate {
			e.forget(v)
		}
		return
	case protocol.EventVisitStarted:
		v.startedAt = ev.At
	case protocol.EventPageEntered:
		v.pageAt = ev.At
		v.cats = s.cats.Match(v.cats[:0], ev.URL, ev.Title)
		v.stopDwell()
	case protocol.EventEngagementAccepted, protocol.EventEngagementDeclined:
		var d struct {
			OfferID string `json:"offerId"`
		}
		json.Unmarshal([]byte(ev.Data), &d)
		id := protocol.UpperULID(d.OfferID)
		if t := e.timeouts[id]; t != nil {
			t.Stop()
			delete(e.timeouts, id)
		}
		if rule, ok := v.offers[id]; ok && ev.Name == protocol.EventEngagementAccepted {
			if v.accepted == nil {
				v.accepted = map[string]bool{}
			}
			v.accepted[rule] = true
		}
	case protocol.EventEngagementOffered:
		if !evaluate {
			var d struct {
				OfferID string `json:"offerId"`
				RuleID  string `json:"ruleId"`
			}
			if json.Unmarshal([]byte(ev.Data), &d) == nil {
				v.offered(d.OfferID, d.RuleID)
				if r := s.index.byID[d.RuleID]; r != nil {
					v.firedDwell(r)
				}
			}
		}
	}
	if ids := s.goals[ev.Name]; evaluate && len(ids) > 0 {
		var reached []string
		for _, id := range ids {
			if v.accepted[id] {
				reached = append(reached, id)
			}
		}
		if len(reached) > 0 {
			if err := e.cfg.Recorder.Goal(ctx, v.id, reached, ev.At); err != nil {
				e.cfg.Logger.Error("engage: goal", "visitId", v.id, "err", err)
			}
		}
	}
	x := &s.index
	e.data.reset(x.ptrs, ev.Data)
	// Each matcher the event may hit is evaluated once, for all the rules
	// that watch it; the rules of those it hit are the ones to check.
	due, lists := e.due[:0], 0
	e.hit = x.hits(e.hit[:0], ev.Name, v.cats, &e.data)
	for _, i := range e.hit {
		m := &x.matchers[i]
		if m.seen >= 0 {
			v.seen[m.seen] = true
		}
		if m.ring >= 0 {
			v.rings[m.ring].add(ev.At, m.size)
		}
		if len(m.rules) > 0 {
			due, lists = append(due, m.rules...), lists+1
		}
	}
	if !evaluate {
		return
	}
	for _, r := range x.dwell {
		if v.dwellDue(r) {
			due, lists = append(due, r.pos), lists+1
		}
	}
	if lists > 1 {
		// The rules are checked in their order, each once: an offer made
		// counts against the pacing of the rules after it.
		slices.Sort(due)
		due = slices.Compact(due)
	}
	e.due = due
	for _, p := range due {
		if e.now == 0 {
			e.now = e.cfg.Now().UnixMilli()
		}
		e.check(ctx, s, x.all[p], v, e.now)
	}
}

// dwellDue tells whether a dwell of r may be reached: a dwell reached
// makes one offer for its page (or visit), so later events, the offer's
// own among them, do not make it true again; nor while its timer waits.
func (v *visit) dwellDue(r *crule) bool {
	if v.dwell[r.dwell] != nil {
		return false
	}
	for i := range r.When {
		if d := r.When[i].Dwell; d != nil && v.dwellFired[r.conds[i].fired] != v.dwellFrom(d) {
			return true
		}
	}
	return false
}

// offered notes that offer id was made to v by rule ruleID.
func (v *visit) offered(id, ruleID string) {
	if v.offers == nil {
		v.offers = map[string]string{}
	}
	v.offers[id] = ruleID
}

// check fires r if its conditions hold for v now (ms); a dwell not yet
// reached sets a timer that checks again when it is.
func (e *Engine) check(ctx context.Context, s *snapshot, r *crule, v *visit, now int64) {
	var wait int64
	for i := range r.conds {
		switch cc := &r.conds[i]; cc.kind {
		case condEvent:
			if !v.seen[cc.slot] {
				return
			}
		case condPage:
			if !slices.Contains(v.cats, cc.cat) {
				return
			}
		case condCount:
			first, full := v.rings[cc.slot].nth(cc.n)
			if !full || first <= now-cc.within {
				return
			}
		case condDwell:
			c := &r.When[i]
			from := v.dwellFrom(c.Dwell)
			if from == 0 {
				return
			}
			if due := from + time.Duration(c.Dwell.AtLeast).Milliseconds(); due > now {
				wait = max(wait, due-now)
			}
		}
	}
	if wait > 0 {
		if v.dwell[r.dwell] == nil {
			visitID, ruleID := v.id, r.ID
			v.dwell[r.dwell] = time.AfterFunc(time.Duration(wait)*time.Millisecond, func() {
				select {
				case e.ticks <- tick{visitID: visitID, ruleID: ruleID}:
				case <-e.done:
				}
			})
		}
		return
	}
	e.fire(ctx, r, v)
	e.now = 0 // fire may have waited on the database: the next check reads the time again
}
