package agent

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/visitrack/visitrack/shared/protocol"
	"github.com/visitrack/visitrack/tracker/wire"
)

// fakeEnv is a browser with a manual clock: timers fire in Advance.
type fakeEnv struct {
	t       *testing.T
	now     int64
	rnd     *rand.Rand
	jar     *cookieJar
	sets    []string // every document.cookie assignment
	storage map[string]string
	timers  []*fakeTimer
	socks   []*fakeSocket
	posts   []*fakePost
	beacons []string
	page    Page
	noWS    bool
	// dropCookies ignores document.cookie assignments, as a browser that
	// blocks cookies does.
	dropCookies bool
}

type fakeTimer struct {
	at        int64
	f         func()
	cancelled bool
}

type fakeSocket struct {
	url    string
	ev     SocketEvents
	sent   []string
	closed bool
}

type fakePost struct {
	url, body string
	done      func(*protocol.CollectResponse, error)
}

func newEnv(t *testing.T) *fakeEnv {
	return &fakeEnv{t: t, now: 1795255200000, rnd: rand.New(rand.NewPCG(1, 2)),
		jar: newCookieJar(), storage: map[string]string{},
		page: Page{URL: "https://shop.example/", Title: "Shop", Referrer: "https://search.example/",
			Language: "en", TimeZone: "Europe/Paris", Screen: "1280x720", Secure: true}}
}

func (e *fakeEnv) Now() int64                { return e.now }
func (e *fakeEnv) Timestamp(ms int64) string { return wire.Timestamp(ms) }
func (e *fakeEnv) Random(p []byte) {
	for i := range p {
		p[i] = byte(e.rnd.Uint32())
	}
}

// Cookies and SetCookie are document.cookie of the current page, e.page:
// a test moves to another host, path or scheme by changing e.page.URL (and
// e.page.Secure with it).
func (e *fakeEnv) Cookies() string { return e.jar.header(e.page.URL, e.now) }

func (e *fakeEnv) SetCookie(s string) {
	e.sets = append(e.sets, s)
	if e.dropCookies {
		return
	}
	e.jar.set(e.page.URL, s, e.now)
}

// cookie returns the value of name as the current page sees it ("" when
// it sees none).
func (e *fakeEnv) cookie(name string) string {
	for _, kv := range strings.Split(e.Cookies(), "; ") {
		if k, v, _ := strings.Cut(kv, "="); k == name {
			return v
		}
	}
	return ""
}

// putCookie stores a cookie as the site's server would for the current
// page's host: Path=/, lasting maxAgeMS.
func (e *fakeEnv) putCookie(name, value string, maxAgeMS int64) {
	e.t.Helper()
	if !e.jar.set(e.page.URL, name+"="+value+"; Path=/; Max-Age="+strconv.FormatInt(maxAgeMS/1000, 10), e.now) {
		e.t.Fatalf("the jar refused %s", name)
	}
}

func (e *fakeEnv) Load(k string) string    { return e.storage[k] }
func (e *fakeEnv) Store(k, v string)       { e.storage[k] = v }
func (e *fakeEnv) Remove(k string)         { delete(e.storage, k) }
func (e *fakeEnv) Page() Page              { return e.page }
func (e *fakeEnv) Beacon(_, b string) bool { e.beacons = append(e.beacons, b); return true }
func (e *fakeEnv) Keys(prefix string) []string {
	var ks []string
	for k := range e.storage {
		if strings.HasPrefix(k, prefix) {
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	return ks
}

func (e *fakeEnv) After(ms int64, f func()) func() {
	tm := &fakeTimer{at: e.now + ms, f: f}
	e.timers = append(e.timers, tm)
	return func() { tm.cancelled = true }
}

// Advance moves the clock by ms, firing due timers in order.
func (e *fakeEnv) Advance(ms int64) {
	end := e.now + ms
	for {
		var next *fakeTimer
		for _, tm := range e.timers {
			if !tm.cancelled && tm.at <= end && (next == nil || tm.at < next.at) {
				next = tm
			}
		}
		if next == nil {
			break
		}
		next.cancelled = true
		if next.at > e.now {
			e.now = next.at
		}
		next.f()
	}
	e.now = end
}

func (e *fakeEnv) Dial(url string, ev SocketEvents) Socket {
	if e.noWS {
		return nil
	}
	s := &fakeSocket{url: url, ev: ev}
	e.socks = append(e.socks, s)
	return s
}

func (s *fakeSocket) Send(text string) { s.sent = append(s.sent, text) }
func (s *fakeSocket) Close()           { s.closed = true }

func (e *fakeEnv) Post(url, body string, done func(*protocol.CollectResponse, error)) {
	e.posts = append(e.posts, &fakePost{url: url, body: body, done: done})
}

func (e *fakeEnv) lastSocket() *fakeSocket {
	e.t.Helper()
	if len(e.socks) == 0 {
		e.t.Fatal("no WebSocket was dialled")
	}
	return e.socks[len(e.socks)-1]
}

// recorder is a Reply and a Subscriber.
type recorder struct {
	resolved []any
	rejected []string
	data     []VisitorData
}

func (r *recorder) Resolve(v any)              { r.resolved = append(r.resolved, v) }
func (r *recorder) Reject(code, _ string)      { r.rejected = append(r.rejected, code) }
func (r *recorder) VisitorData(vd VisitorData) { r.data = append(r.data, vd) }

func ptr[T any](v T) *T { return &v }

func start(t *testing.T, e *fakeEnv, patch ConfigPatch) *Agent {
	t.Helper()
	if patch.Collector == nil {
		patch.Collector = ptr("https://collector.example/")
	}
	a := New(e, ConfigPatch{})
	a.Push(Command{Op: OpConfig, Config: patch})
	a.Ready()
	return a
}

// welcome opens the last socket and answers its hello.
func welcome(t *testing.T, e *fakeEnv, w protocol.Welcome) (hello protocol.Hello) {
	t.Helper()
	s := e.lastSocket()
	s.ev.Open()
	decode(t, s.sent[len(s.sent)-1], &hello)
	if hello.Type != protocol.TypeHello {
		t.Fatalf("first frame %+v", hello)
	}
	if w.VisitorID == "" {
		w.VisitorID = hello.VisitorID
	}
	if w.VisitID == "" {
		w.VisitID = hello.VisitID
	}
	if w.State == "" {
		w.State = protocol.StateAnonymous
	}
	w.Type = protocol.TypeWelcome
	s.ev.Message(&Message{Type: protocol.TypeWelcome, Welcome: w})
	return hello
}

// sentEvents returns the events in every events frame on s.
func sentEvents(t *testing.T, s *fakeSocket) []protocol.Event {
	t.Helper()
	var all []protocol.Event
	for _, f := range s.sent {
		var fr protocol.Events
		decode(t, f, &fr)
		if fr.Type == protocol.TypeEvents {
			if fr.SentAt == "" {
				t.Fatalf("events frame without sentAt: %s", f)
			}
			all = append(all, fr.Events...)
		}
	}
	return all
}

func names(evs []protocol.Event) string {
	var n []string
	for _, e := range evs {
		n = append(n, e.Name)
	}
	return strings.Join(n, ",")
}

func ack(s *fakeSocket, evs []protocol.Event) {
	var ids []string
	for _, e := range evs {
		ids = append(ids, e.EventID)
	}
	s.ev.Message(&Message{Type: protocol.TypeAck, Ack: protocol.Ack{EventIDs: ids}})
}

func decode(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
}

var errNetwork = errors.New("network down")
