package live

import (
	"bytes"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/ingest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// collectRequest is protocol.CollectRequest with the events kept raw, so
// that each is validated on its own.
type collectRequest struct {
	VisitorID          string  `json:"visitorId"`
	VisitorKey         string  `json:"visitorKey"`
	VisitID            string  `json:"visitId"`
	Recognition        *string `json:"recognition"`
	Recognize          *bool   `json:"recognize"`
	VisitorDataVersion int64   `json:"visitorDataVersion"`
	Handoff            string  `json:"handoff"`
	Cookies            string  `json:"cookies"`
	CookieDomain       string  `json:"cookieDomain"`
	Cookieless         bool    `json:"cookieless"`
	Consent            string  `json:"consent"`
	ingest.RawBatch
}

// ServeCollect serves POST /v1/collect, the HTTP transport, and its CORS
// preflight. It does everything the WebSocket does except the push: the
// answer always carries the visit's identity (HTTP has no welcome), and
// the visitor data when its version is not the client's.
//
// After the browser preamble (the origin, CORS, the preflight and the
// method, as every browser POST: cors.go) it runs four steps, each of
// which writes the problem answer itself when the request ends there:
// parse, admit, collect and answer. The origin is checked before the body
// is read, so that a page of another origin learns nothing of it; the
// rate limit after, since a batch costs one per event. This is the ingest
// path: the steps pass the request along by pointer and write into the
// reused buffers, so that splitting it costs no allocation.
func (h *Hub) ServeCollect(w http.ResponseWriter, r *http.Request) {
	if !h.browserPreamble(w, r, "this origin may not send events; see --allowed-origins") {
		return
	}
	buf := h.collectBufs.get()
	defer h.collectBufs.put(buf)
	var req collectRequest
	if !h.parseCollect(w, r, buf, &req) {
		return
	}
	ip, ok := h.admitCollect(w, r, &req)
	if !ok {
		return
	}
	done, ok := h.collect(w, r, &req, ip)
	if !ok {
		return
	}
	h.answerCollect(w, r, buf, &req, &done)
}

// parseCollect reads the body into buf and decodes it into req: a body
// that is not JSON in a form browsers send, over 1 MiB or over the
// batch's limits ends the request with 415, 413 or 400. GPC without a
// stated consent makes the batch cookieless.
func (h *Hub) parseCollect(w http.ResponseWriter, r *http.Request, buf *collectBuffers, req *collectRequest) (ok bool) {
	if !collectMediaType(r.Header.Get("Content-Type")) {
		writeProblem(w, http.StatusUnsupportedMediaType, "unsupported_media_type",
			"send application/json, or text/plain as navigator.sendBeacon does")
		return false
	}
	body, err := buf.readBody(r)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeProblem(w, http.StatusRequestEntityTooLarge, protocol.CodeTooLarge, "a batch is at most 1 MiB")
		} else {
			writeProblem(w, http.StatusBadRequest, protocol.CodeInvalidMessage, "the request body could not be read")
		}
		return false
	}
	if err := ingest.DecodeBatch(body, req, func() []json.RawMessage { return req.Events }); err != nil {
		var fe *ingest.FrameError
		errors.As(err, &fe)
		status := http.StatusBadRequest
		if fe != nil && fe.Code == protocol.CodeTooLarge {
			status = http.StatusRequestEntityTooLarge
		}
		writeProblem(w, status, fe.Code, fe.Message)
		return false
	}
	req.Cookieless = req.Cookieless || gpcWithholds(r, req.Consent)
	return true
}

// admitCollect takes the batch's cost (one per event, at least one) from
// the client address's rate limit and returns that address; over the
// limit the request ends with 429 and Retry-After, and nothing of the
// batch is stored: the tracker keeps the events and posts them again
// after its backoff.
func (h *Hub) admitCollect(w http.ResponseWriter, r *http.Request, req *collectRequest) (ip string, ok bool) {
	ip = h.clientIP(r)
	if ok, wait := h.limiter.take(ip, len(req.Events), time.Now()); !ok {
		w.Header().Set("Retry-After", strconv.FormatInt(retryAfterSeconds(wait), 10))
		writeProblem(w, http.StatusTooManyRequests, "rate_limited", h.rateLimitMessage())
		return "", false
	}
	return ip, true
}

// collected is what the collect step settled, for the answer.
type collected struct {
	res *ingest.Result
	// fp and jar: in first-party mode, the collector's cookies as the
	// request carried them; the answer sets them anew.
	fp  firstParty
	jar jar
}

// collect settles who the browser is (its ids and key, or in first-party
// mode the collector's cookies; a handoff token it brought) and hands the
// batch to ingest, which returns after the commit. A failure ends the
// request with 503 (shutting down, a full disk) or 500: nothing is
// stored and the tracker sends the events again.
func (h *Hub) collect(w http.ResponseWriter, r *http.Request, req *collectRequest, ip string) (done collected, ok bool) {
	c := ingest.Client{
		VisitorID: req.VisitorID, VisitorKey: presentedKey(r, req.VisitorKey),
		VisitID: req.VisitID, Recognition: req.Recognition, NoRecognize: req.Recognize != nil && !*req.Recognize,
		UserAgent: r.UserAgent(), IP: ip,
		Cookieless: req.Cookieless, Site: r.Header.Get("Origin"),
	}
	if wantsServerCookies(req.Cookies) && !req.Cookieless {
		if done.fp = h.firstParty(r, req.CookieDomain); done.fp.on {
			done.jar = readJar(r)
			done.jar.apply(&c)
		}
	}
	if !req.Cookieless {
		h.redeemHandoff(r.Context(), req.Handoff, &c)
	}
	res, err := h.cfg.Ingester.Collect(r.Context(), c, req.SentAt, req.Events)
	if err != nil {
		h.collectFailed(w, req.VisitID, err)
		return done, false
	}
	if res.IdentityChanged && !res.Late {
		h.identityChanged(res.Visit, nil)
	}
	done.res = res
	return done, true
}

// collectFailed answers a batch that ingest did not store.
func (h *Hub) collectFailed(w http.ResponseWriter, visitID string, err error) {
	switch collector.ErrorCode(err) {
	case collector.EUNAVAILABLE:
		writeProblem(w, http.StatusServiceUnavailable, "unavailable", collector.ErrorMessage(err))
		return
	case collector.ESTORAGEFULL:
		// The writer logs the outage, at most once per 10 s.
		w.Header().Set("Retry-After", strconv.FormatInt(retryAfterSeconds(ingest.StorageFullRetryAfter), 10))
		writeProblem(w, http.StatusServiceUnavailable, collector.ESTORAGEFULL, collector.ErrorMessage(err))
		return
	}
	h.cfg.Logger.Error("collect", "visit", visitID, "err", err)
	writeProblem(w, http.StatusInternalServerError, protocol.CodeInternal, "events were not stored; send them again")
}

// answerCollect encodes the answer into buf, whole, and only then writes
// the status and the body (docs/architecture.md#encode-then-write): the
// ack, the visit's ids and identity, the visitor data when the client's
// version is not the stored one, and in first-party mode the cookies in
// place of the key and token.
func (h *Hub) answerCollect(w http.ResponseWriter, r *http.Request, buf *collectBuffers, req *collectRequest, done *collected) {
	res := done.res
	out := protocol.CollectResponse{VisitorID: res.Visit.VisitorID, VisitorKey: res.Visit.VisitorKey,
		VisitID: res.Visit.VisitID, Ack: res.Ack}
	out.Ack.Type = ""
	if !res.Late {
		// Always: HTTP has no welcome, and a sendBeacon's answer (which may
		// be the request that did the recognition) is thrown away by the
		// browser. A late delivery's answer says nothing of identity or
		// visitor data: the ended visit is not the browser's state now.
		out.Identity = res.Visit.IdentityMessage()
		out.Identity.Type = ""
	}
	switch {
	case res.Late:
	case res.VisitorData != nil:
		out.VisitorData = &protocol.VisitorDataView{Version: res.VisitorData.Version, Data: protocol.RawJSON(res.VisitorData.Data)}
	case h.cfg.VisitorData != nil && !res.Visit.Cookieless:
		view := h.visitorData(r.Context(), res.Visit)
		// Any other version than the client's goes: an older one is news,
		// and a newer one in the client means the document was erased and
		// its versions started again. The client's version refers to its
		// old subject when the identity changed, so the document goes then
		// too.
		if view.Version != req.VisitorDataVersion || res.IdentityChanged || res.NewVisit {
			view.Type = ""
			out.VisitorData = &view
		}
	}
	if done.fp.on {
		// The key and token go into HttpOnly cookies, not to the script.
		// A late delivery changes none of them, nor does a request that
		// withdraws consent (its ConsentChanged): the tracker is deleting
		// them meanwhile, and a Set-Cookie arriving after that would
		// bring them back.
		if !res.Late {
			if req.Consent != protocol.ConsentDenied {
				h.setVisit(w, done.fp, done.jar, res.Visit)
			}
			out.Identity.Recognition = nil
		}
		out.Cookies, out.VisitorKey = protocol.CookiesServer, ""
	}
	// Encoded whole before the status goes out: a failure is a 500, never
	// a 200 with half an answer.
	if err := buf.enc.Encode(&out); err != nil {
		// The events are stored; sending them again is harmless.
		h.cfg.Logger.Error("collect: encode the answer", "visit", res.Visit.VisitID, "err", err)
		writeProblem(w, http.StatusInternalServerError, protocol.CodeInternal, "the answer could not be encoded; send the events again")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(buf.answer.Bytes())
}

// gpcWithholds reports whether a request counts as consent withheld
// because of Global Privacy Control: it carries Sec-GPC: 1 and its
// client states no consent of its own (a tracker states one, having read
// the site's respectGPC and the visitor's choice). A value other than
// granted, denied or unset states none: a client cannot opt a GPC
// browser in with a typo. Such a request is cookieless
// (docs/tracker.md#consent-signals).
func gpcWithholds(r *http.Request, consent string) bool {
	return !protocol.StatesConsent(consent) && r.Header.Get("Sec-GPC") == "1"
}

// collectMediaType reports whether a Content-Type is one /v1/collect
// takes: application/json, or text/plain as navigator.sendBeacon sends a
// string. The forms browsers send are compared as they are; anything else
// goes through mime.ParseMediaType, whose map of parameters would
// otherwise cost every request an allocation.
func collectMediaType(ct string) bool {
	switch ct {
	case "text/plain;charset=UTF-8", "application/json", "text/plain":
		return true
	}
	mt, _, _ := mime.ParseMediaType(ct)
	return mt == "application/json" || mt == "text/plain"
}

// collectBuffers is what ServeCollect reuses from one request to the next
// (docs/benchmarks-collect.md): the body it reads and the answer it
// encodes, so that neither costs allocations on the ingest path. Nothing
// decoded from the body refers to it: encoding/json copies strings and
// raw events.
type collectBuffers struct {
	body, answer bytes.Buffer
	enc          *json.Encoder // encodes into answer, with the newline
}

// maxKeptBuffer bounds the buffers kept for the next request: a big
// batch's do not stay in memory.
const maxKeptBuffer = 64 << 10

// collectPool keeps collectBuffers between requests.
type collectPool struct{ pool sync.Pool }

// get returns buffers to use for one request, empty.
func (p *collectPool) get() *collectBuffers {
	if b, ok := p.pool.Get().(*collectBuffers); ok {
		return b
	}
	b := &collectBuffers{}
	b.enc = json.NewEncoder(&b.answer)
	return b
}

// put keeps b for a later request, unless a big batch grew it.
func (p *collectPool) put(b *collectBuffers) {
	if b.body.Cap() > maxKeptBuffer || b.answer.Cap() > maxKeptBuffer {
		return
	}
	b.body.Reset()
	b.answer.Reset()
	p.pool.Put(b)
}

// readBody reads at most MaxBatchBytes into b.body, valid until b goes
// back to the pool.
func (b *collectBuffers) readBody(r *http.Request) ([]byte, error) {
	_, err := b.body.ReadFrom(http.MaxBytesReader(nil, r.Body, protocol.MaxBatchBytes))
	return b.body.Bytes(), err
}

// retryAfterSeconds rounds a wait up to whole seconds, at least 1, as
// Retry-After wants.
func retryAfterSeconds(d time.Duration) int64 {
	s := int64(d / time.Second)
	if d%time.Second != 0 {
		s++
	}
	return max(s, 1)
}

func (h *Hub) rateLimitMessage() string {
	return "rate limit: " + strconv.Itoa(h.cfg.RateLimit) + " events/s per client"
}
