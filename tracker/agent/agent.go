package agent

import (
	"github.com/visitrack/visitrack/shared/protocol"
	"github.com/visitrack/visitrack/tracker/backoff"
	"github.com/visitrack/visitrack/tracker/cookie"
	"github.com/visitrack/visitrack/tracker/outbox"
	"github.com/visitrack/visitrack/tracker/ulid"
	"github.com/visitrack/visitrack/tracker/wire"
)

// Error codes the agent itself rejects commands with, next to the
// protocol's.
const (
	CodeConsentRefused    = "consent_refused"
	CodeDropped           = "dropped"            // pushed out of a full outbox
	CodeWebSocketRequired = "websocket_required" // visitorData.update over HTTP
)

// storePrefix names the localStorage items holding outboxes, one per page
// view: another tab's items are adopted (and resent) on the next page.
const storePrefix = "_vt_ob."

// beaconBytes keeps a sendBeacon body under the browsers' 64 KiB quota.
const beaconBytes = 60 << 10

// Agent is the tracker's state. Make one with New.
type Agent struct {
	env Env
	cfg Config

	source  string    // of the last consent answer, for ConsentChanged
	ready   bool      // the queue present at load was replayed
	started bool      // ids and page settled, automatic events made
	active  bool      // allowed to keep cookies, storage and connections
	consent int       // 0 not given yet, 1 given, -1 refused
	pending []Command // commands that wait for the start
	fresh   bool      // ids were reset by a refusal: a new visit on consent

	visitorID, visitID, pageID string
	// visitSeen is when this page last wrote the visit cookie (ms). It keeps
	// the visit going where cookies are blocked, and is finer than the
	// cookie's whole seconds, so that a short timeout cannot end a visit
	// that has just begun.
	visitSeen         int64
	identityID, state string
	verified          bool
	token             string // the _vt_uid recognition token
	epoch             string // the identity epoch this tab last saw (tabs.go)
	key               string // the _vt_key browser key proving visitorID
	tokenSent         bool   // the current conversation presented token

	page      Page
	pageStart int64
	exited    bool
	storeKey  string

	ob      outbox.Outbox
	ids     ulid.Generator
	replies map[string]Reply // by eventId
	// Replies of acknowledged SignIn, SignOut and UserInfo events wait for
	// the identity frame that the collector may send after the ack, so that
	// they resolve with the new state.
	identityEvents  map[string]bool
	identityWaiters []Reply
	identityTimer   func()

	// WebSocket.
	sock     Socket
	sockGen  int
	welcomed bool
	sent     map[string]bool // eventIds sent on the current socket
	bo       backoff.Backoff
	// throttled: the last socket closed with 1013 (rate limit); a welcome
	// no longer resets bo, an ack does.
	throttled bool
	retry     func()
	useHTTP   bool // auto transport while the WebSocket is down

	// HTTP.
	posting   bool
	postBo    backoff.Backoff
	postRetry func()
	flushing  func()

	// srv: the collector keeps _vt_vid, _vt_key and _vt_uid (see
	// cookiemode.go); handoff is a token from another site, until sent.
	srv     bool
	handoff string

	vd      VisitorData
	subs    []Subscriber
	notes   notifications // see notify.go
	offers  notifications // see offer.go
	updates []*update
	nextReq int64
}

type update struct {
	_             noEq
	id, ns, value string
	reply         Reply
	sent          bool
}

// New returns an agent with the default configuration patched by defaults.
// It does nothing until Ready is called and a collector is configured.
func New(env Env, defaults ConfigPatch) *Agent {
	a := &Agent{env: env, cfg: DefaultConfig(), replies: map[string]Reply{}, identityEvents: map[string]bool{}, state: protocol.StateAnonymous}
	a.cfg.apply(defaults)
	a.ids.Random = env.Random
	a.bo = backoff.Backoff{Min: 500, Max: 30000, Random: a.random32}
	a.postBo = backoff.Backoff{Min: 1000, Max: 60000, Random: a.random32}
	return a
}

func (a *Agent) random32() uint32 {
	var b [4]byte
	a.env.Random(b[:])
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func (a *Agent) newID() string { return a.ids.New(a.env.Now()) }

// Ready tells the agent that the commands queued before the tracker loaded
// have been pushed, so that their config applies from the first event.
func (a *Agent) Ready() {
	a.ready = true
	a.maybeStart()
}

// Push handles one command.
func (a *Agent) Push(c Command) {
	switch c.Op {
	case OpConfig:
		a.configure(c.Config)
		resolve(c.Reply, nil)
		return
	case OpConsent:
		a.setConsent(c.Consent, c.Data)
		resolve(c.Reply, nil)
		return
	}
	if !a.started {
		a.pending = append(a.pending, c)
		return
	}
	switch c.Op {
	case OpEvent:
		if c.Name == protocol.EventSignOut {
			a.forgetToken()
		}
		a.emit(c.Name, c.Data, nil, c.Reply)
	case OpPage:
		a.newPage(c.URL, c.Title, c.Reply)
	case OpIDs:
		resolve(c.Reply, a.IDs())
	case OpStats:
		resolve(c.Reply, a.Stats())
	case OpGetVisitorData:
		resolve(c.Reply, a.visitorData())
	case OpSubscribe:
		if c.Subscriber != nil {
			a.subs = append(a.subs, c.Subscriber)
			c.Subscriber.VisitorData(a.visitorData())
		}
	case OpUpdate:
		a.update(c)
	case OpNotifications:
		a.notes.add(c.Listener)
	case OpOffers:
		a.offers.add(c.Listener)
	case OpDecorate:
		a.decorate(c)
	default:
		reject(c.Reply, protocol.CodeUnknownType, "unknown command")
	}
}

// IDs returns the ids as getIDs reports them.
func (a *Agent) IDs() IDs {
	return IDs{VisitorID: a.visitorID, VisitID: a.visitID, PageID: a.pageID,
		IdentityID: a.identityID, State: a.state, Verified: a.verified}
}

// Stats reports the outbox and the transport in use.
func (a *Agent) Stats() Stats {
	s := Stats{Queued: a.ob.Len(), Dropped: a.ob.Dropped()}
	switch {
	case a.welcomed:
		s.Transport = TransportWebSocket
	case a.active && (a.useHTTP || a.cfg.Transport == TransportHTTP):
		s.Transport = TransportHTTP
	}
	return s
}

func (a *Agent) visitorData() VisitorData {
	if a.vd.JSON == "" {
		return VisitorData{Version: a.vd.Version, JSON: "{}"}
	}
	return a.vd
}

func (a *Agent) configure(p ConfigPatch) {
	old := a.cfg
	a.cfg.apply(p)
	if !a.started {
		a.maybeStart()
		return
	}
	if a.active && (old.Collector != a.cfg.Collector || old.Transport != a.cfg.Transport) {
		a.disconnect()
		a.useHTTP = false
		a.connect()
		a.scheduleFlush()
	}
	if !a.active && a.allowed() {
		a.activate()
	}
}

// allowed says whether cookies, storage and requests are permitted now.
func (a *Agent) allowed() bool {
	switch a.consent {
	case 1:
		return true
	case -1:
		return false
	}
	return !a.cfg.RequireConsent && !a.gpc()
}

// gpc reports whether Global Privacy Control withholds consent: the
// browser sends it and the site respects it (respectGPC, the default).
func (a *Agent) gpc() bool { return a.cfg.RespectGPC && a.env.Page().GPC }

func (a *Agent) maybeStart() {
	if a.started || !a.ready || a.cfg.Collector == "" {
		return
	}
	a.start()
	pending := a.pending
	a.pending = nil
	for _, c := range pending {
		a.Push(c)
	}
}

// start settles the ids from the cookies and makes the automatic events of
// the page load.
func (a *Agent) start() {
	a.started = true
	now := a.env.Now()
	a.page = a.env.Page()
	a.handoff = a.page.Handoff
	a.initCookieMode()
	jar := cookie.Parse(a.env.Cookies())
	if id := jar[cookie.Visitor]; protocol.IsULID(id) && a.consent != -1 {
		a.visitorID, a.key = id, jar[cookie.Key]
	} else {
		a.visitorID = a.newID()
	}
	if a.consent != -1 {
		a.token = jar[cookie.User]
	}
	a.epoch = a.env.Load(epochKey)
	newVisit := true
	if id, last, ok := cookie.ParseVisit(jar[cookie.Visit]); ok && protocol.IsULID(id) &&
		cookie.Continues(last, now, a.cfg.VisitTimeoutMS) && a.consent != -1 {
		a.visitID, newVisit = id, false
	} else {
		a.visitID = a.newID()
	}
	a.pageID = a.newID()
	a.storeKey = storePrefix + a.pageID
	a.pageStart = now
	if a.allowed() {
		a.active = true
		a.writeIDCookies(now)
		a.adoptStoredOutboxes()
	}
	if newVisit {
		a.emitVisitStarted()
	}
	a.emitPageEntered(nil)
	if a.active {
		a.connect()
	} else if a.gpc() && a.consent == 0 && a.env.Load(consentMark) != "" {
		// Granted before, withheld by GPC now: the withdrawal is
		// recorded in the visit the grant was.
		a.sendWithdrawal(SourceGPC)
	}
	a.noteGrant()
}

func (a *Agent) emitVisitStarted() {
	p := a.page
	var o wire.Object
	if a.cfg.Language != "" {
		p.Language = a.cfg.Language
	}
	o.Str("language", p.Language)
	o.Str("screen", p.Screen)
	o.Str("timeZone", p.TimeZone)
	a.emit(protocol.EventVisitStarted, o.Done(), &protocol.Event{URL: p.URL, Referrer: p.Referrer}, nil)
}

func (a *Agent) emitPageEntered(r Reply) {
	if !a.active {
		a.countCookieless()
	}
	a.emit(protocol.EventPageEntered, "", &protocol.Event{URL: a.page.URL, Title: a.page.Title, Referrer: a.page.Referrer}, r)
}

// countCookieless reports a page view while the visitor has not consented
// (docs/identity.md#cookieless-visits): with no ids, cookie or storage, and nothing kept, so
// that the visit is counted for the day and cannot be followed. The
// collector derives the visitor; the events that wait for consent are
// sent apart, in the visit that consent starts. The report has a pageId
// of its own: the collector refuses a pageId that another visit owns, and
// the page view goes to the consented visit under the page's.
func (a *Agent) countCookieless() {
	now := a.env.Now()
	var o wire.Object
	o.Raw("cookieless", "true")
	o.Str("consent", a.consentState())
	o.Str("sentAt", a.env.Timestamp(now))
	// A page id of its own: sharing the page's would join the two visits.
	o.Raw("events", "["+wire.Event(&protocol.Event{EventID: a.ids.New(now), Name: protocol.EventPageEntered,
		Timestamp: a.env.Timestamp(now), PageID: a.ids.New(now), URL: a.page.URL, Title: a.page.Title, Referrer: a.page.Referrer}, "")+"]")
	a.beacon(o.Done())
}

// beacon posts a /v1/collect body that must survive the page: by
// sendBeacon, or by fetch where the browser refuses it.
func (a *Agent) beacon(body string) {
	url := a.cfg.Collector + "/v1/collect"
	if !a.env.Beacon(url, body) {
		a.env.Post(url, body, func(*protocol.CollectResponse, error) {})
	}
}

// beaconEvents sends events of the current visit by beacon.
func (a *Agent) beaconEvents(events []string) {
	rec, recognize := a.recognition()
	a.beacon(wire.Collect(a.visitorID, a.key, a.visitID, rec, recognize, a.vd.Version, a.env.Timestamp(a.env.Now()), events,
		a.askServer(), a.cfg.CookieDomain, "", a.consentState()))
}

func (a *Agent) emitPageExited() {
	var o wire.Object
	o.Int(protocol.DataDurationMS, a.env.Now()-a.pageStart)
	a.exited = true
	a.emit(protocol.EventPageExited, o.Done(), &protocol.Event{URL: a.page.URL}, nil)
}

// activate starts keeping cookies and storage and connecting, after consent.
func (a *Agent) activate() {
	if !a.started || a.active {
		return
	}
	a.active = true
	now := a.env.Now()
	if a.fresh {
		a.fresh = false
		a.visitorID, a.visitID, a.pageID = a.newID(), a.newID(), a.newID()
		a.key = ""
		a.storeKey = storePrefix + a.pageID
		a.pageStart, a.exited = now, false
		a.writeIDCookies(now)
		a.emitVisitStarted()
		a.emitPageEntered(nil)
	} else {
		a.writeIDCookies(now)
	}
	a.adoptStoredOutboxes()
	a.persist()
	a.connect()
	a.scheduleFlush()
}

func (a *Agent) attrs() cookie.Attrs {
	return cookie.Attrs{Domain: a.cfg.CookieDomain, Secure: a.page.Secure}
}

func (a *Agent) writeIDCookies(now int64) {
	at := a.attrs()
	if !a.srv {
		a.env.SetCookie(cookie.Set(cookie.Visitor, a.visitorID, cookie.VisitorMaxAge, at))
		if a.key != "" {
			a.env.SetCookie(cookie.Set(cookie.Key, a.key, cookie.VisitorMaxAge, at))
		}
	}
	a.env.SetCookie(a.visitCookie(now, at))
	a.visitSeen = now
}

// visitCookie is the _vt_visit assignment: it lives as long as the visit
// may, rounded up to a whole second.
func (a *Agent) visitCookie(now int64, at cookie.Attrs) string {
	return cookie.Set(cookie.Visit, cookie.VisitValue(a.visitID, now/1000), (a.cfg.VisitTimeoutMS+999)/1000, at)
}

func (a *Agent) adoptStoredOutboxes() {
	for _, k := range a.env.Keys(storePrefix) {
		if k == a.storeKey {
			continue
		}
		a.ob.Merge(a.env.Load(k))
		a.env.Remove(k)
	}
}

func (a *Agent) persist() {
	if !a.active {
		return
	}
	if a.ob.Len() == 0 && a.ob.Dropped() == 0 {
		a.env.Remove(a.storeKey)
		return
	}
	a.env.Store(a.storeKey, a.ob.Encode())
}

// touchVisit slides the visit cookie before an event, and starts a new
// visit when the old one timed out (a tab left open) or another tab
// already started one.
func (a *Agent) touchVisit(now int64) {
	id, lastSec, ok := cookie.ParseVisit(cookie.Parse(a.env.Cookies())[cookie.Visit])
	last := lastSec * 1000
	if !ok || !protocol.IsULID(id) {
		// No visit cookie to read (blocked, or cleared by the site): this
		// page's own memory of the visit decides.
		id, last = a.visitID, a.visitSeen
	} else if id == a.visitID && a.visitSeen > last {
		last = a.visitSeen
	}
	switch live := now-last < a.cfg.VisitTimeoutMS; {
	case live && id != a.visitID:
		a.visitID = id
		a.reconnect()
	case !live:
		a.visitID = a.newID()
		a.env.SetCookie(a.visitCookie(now, a.attrs()))
		// Set before the events below, whose own touch must find the
		// visit live whether or not the cookie was kept.
		a.visitSeen = now
		a.pageID, a.pageStart, a.exited = a.newID(), now, false
		a.emitVisitStarted()
		a.emitPageEntered(nil)
		a.reconnect()
		return
	}
	a.env.SetCookie(a.visitCookie(now, a.attrs()))
	a.visitSeen = now
}

// emit makes one event and queues it for delivery. ev carries the page
// fields; the rest is filled here.
func (a *Agent) emit(name, data string, ev *protocol.Event, r Reply) {
	if a.consent == -1 {
		reject(r, CodeConsentRefused, "the visitor refused consent")
		return
	}
	now := a.env.Now()
	if a.active {
		a.touchVisit(now)
	}
	if ev == nil {
		ev = &protocol.Event{}
	}
	ev.EventID = a.ids.New(now)
	ev.Name = name
	ev.Timestamp = a.env.Timestamp(now)
	ev.PageID = a.pageID
	text := wire.Event(ev, data)
	if len(text) > protocol.MaxEventBytes {
		reject(r, protocol.CodeTooLarge, "the event is larger than 16 KiB")
		return
	}
	if name == "" || len(name) > protocol.MaxNameLen || name == protocol.EventVisitEnded {
		reject(r, protocol.CodeInvalidEvent, "an event needs a name of at most 128 bytes, and not VisitEnded")
		return
	}
	for _, id := range a.ob.Add(outbox.Entry{ID: ev.EventID, VisitID: a.visitID, VisitorID: a.visitorID, JSON: text}) {
		if d := a.replies[id]; d != nil {
			delete(a.replies, id)
			d.Reject(CodeDropped, "the outbox was full")
		}
	}
	if r != nil {
		a.replies[ev.EventID] = r
		if protocol.IsIdentityEvent(name) {
			a.identityEvents[ev.EventID] = true
		}
	}
	a.persist()
	a.scheduleFlush()
}

// newPage handles ['page'] of a single-page app.
func (a *Agent) newPage(url, title string, r Reply) {
	if !a.exited {
		a.emitPageExited()
	}
	cur := a.env.Page()
	a.page.Referrer = a.page.URL
	a.page.URL, a.page.Title = url, title
	if url == "" {
		a.page.URL = cur.URL
	}
	if title == "" {
		a.page.Title = cur.Title
	}
	a.pageID, a.pageStart, a.exited = a.newID(), a.env.Now(), false
	a.emitPageEntered(r)
}

// PageHide handles pagehide and the page becoming hidden: PageExited goes
// out by sendBeacon with every unacknowledged event of the visit, as the
// page may be gone before an ack could come.
func (a *Agent) PageHide() {
	if !a.started || a.exited {
		return
	}
	a.emitPageExited()
	if !a.active {
		return
	}
	var events []string
	n := 0
	all := a.ob.Entries()
	for i := len(all) - 1; i >= 0; i-- {
		e := all[i]
		if e.VisitID != a.visitID {
			continue
		}
		if n+len(e.JSON)+1 > beaconBytes || len(events) == protocol.MaxBatchEvents {
			break
		}
		n += len(e.JSON) + 1
		events = append(events, e.JSON)
	}
	// Oldest first, as they were made.
	for i, j := 0, len(events)-1; i < j; i, j = i+1, j-1 {
		events[i], events[j] = events[j], events[i]
	}
	a.beaconEvents(events)
	a.flush()
}

// Leave handles pagehide: the page goes, or into the back-forward cache.
// Besides PageHide's beacon, it closes the WebSocket, so that the collector
// stops counting the page as open (notifications, live visitors) and the
// browser may keep the page for "back"; PageShow connects again. A page
// only hidden (another tab) keeps its socket, for pushes.
func (a *Agent) Leave() {
	a.PageHide()
	if a.started {
		a.disconnect()
	}
}

// PageShow handles a page restored from the back-forward cache: a new page
// view of the same document.
func (a *Agent) PageShow() {
	if !a.started || !a.exited {
		return
	}
	a.pageID, a.pageStart, a.exited = a.newID(), a.env.Now(), false
	a.page = a.env.Page()
	a.emitPageEntered(nil)
	if a.active && a.sock == nil && a.retry == nil {
		a.connect()
	}
}

// recognition is the token to present, if autoRecognize allows.
// recognition is the token to present and whether the collector may
// recognize the visit with it. The token is presented even with
// autoRecognize off: a visit that is verified (a SignIn on an earlier page)
// continues only for a browser that proves its identity with the token
// (docs/security.md#browser-key); recognize false keeps an
// anonymous visit anonymous.
func (a *Agent) recognition() (string, bool) {
	return a.token, a.cfg.AutoRecognize
}

func (a *Agent) forgetToken() {
	if a.token != "" || a.active {
		a.env.SetCookie(cookie.Delete(cookie.User, a.attrs()))
	}
	a.token = ""
}

func (a *Agent) setToken(tok string) {
	if a.srv {
		return // the collector keeps it, HttpOnly
	}
	a.token = tok
	if a.active {
		a.env.SetCookie(cookie.Set(cookie.User, tok, cookie.UserMaxAge, a.attrs()))
	}
}

// applyRecognition handles the recognition field of welcome, identity and
// collect answers: a token is kept, null deletes the one we presented.
func (a *Agent) applyRecognition(rec *string, presented bool) {
	switch {
	case rec != nil && *rec != "":
		a.setToken(*rec)
	case presented && a.token != "":
		a.forgetToken()
	}
}

func (a *Agent) setConsent(v bool, source string) {
	if source == SourceKeep {
		return
	}
	if source == "" {
		source = SourceAPI
	}
	a.source = source
	if v {
		a.consent = 1
		if a.started {
			a.activate()
		} else {
			a.maybeStart()
		}
		a.noteGrant()
		return
	}
	a.consent = -1
	if a.active {
		a.sendWithdrawal(source)
	}
	a.env.Remove(consentMark)
	at := cookie.Attrs{Domain: a.cfg.CookieDomain, Secure: a.env.Page().Secure}
	for _, name := range []string{cookie.Visitor, cookie.Key, cookie.Visit, cookie.User} {
		a.env.SetCookie(cookie.Delete(name, at))
	}
	a.forget()
	for _, k := range a.env.Keys(storePrefix) {
		a.env.Remove(k)
	}
	a.disconnect()
	a.active = false
	a.ob.Clear()
	for id, r := range a.replies {
		delete(a.replies, id)
		r.Reject(CodeConsentRefused, "the visitor refused consent")
	}
	for _, u := range a.updates {
		reject(u.reply, CodeConsentRefused, "the visitor refused consent")
	}
	a.updates = nil
	a.token, a.identityID, a.state, a.verified = "", "", protocol.StateAnonymous, false
	if a.started {
		a.fresh = true
		a.visitorID, a.visitID, a.key = "", "", ""
	}
}

func resolve(r Reply, v any) {
	if r != nil {
		r.Resolve(v)
	}
}

func reject(r Reply, code, msg string) {
	if r != nil {
		r.Reject(code, msg)
	}
}
