package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/shared/protocol"
	"github.com/visitrack/visitrack/shared/visitordata"
)

// VisitorData keeps visitor-data documents in the visitor_data table and
// implements collector.VisitorDataService.
//
// Every write is one compare-and-set statement on the document's version
// (an INSERT … ON CONFLICT DO NOTHING for the first write, an UPDATE …
// WHERE version = ? after it), so the same code is correct on D1, which
// has no transactions, and across several collector processes. A
// namespace-level write reads the document, computes the new one in Go
// (package shared/visitordata) and sets it if the version is still the one
// it read; if another writer got there first it reads again, at most
// maxAttempts times. Within one process, writers of the same subject also
// queue on a striped lock, so that contention costs no wasted attempts;
// the compare-and-set, not the lock, is what makes a write safe.
//
// Listeners hear of each committed change in version order per subject
// (within a process), synchronously, while the subject's lock is held:
// they must not block, and must treat the VisitorData as read-only.
type VisitorData struct {
	s           *Store
	listeners   atomic.Pointer[[]collector.VisitorDataListener]
	addMu       sync.Mutex
	locks       [256]sync.Mutex
	maxAttempts int
	hook        atomic.Pointer[VisitorDataHook]
}

// VisitorDataHook writes what a visitor-data change announces (the
// webhook outbox) in the same transaction as the change (on D1, right
// after it). Wanted is asked first: false spares the write its
// transaction.
type VisitorDataHook interface {
	WantsVisitorData() bool
	VisitorDataWritten(ctx context.Context, q Querier, vd *collector.VisitorData, at time.Time) error
}

// SetHook installs h; call it before the service is used.
func (v *VisitorData) SetHook(h VisitorDataHook) { v.hook.Store(&h) }

// after returns the write hook for subject s, or nil when no hook wants it.
func (v *VisitorData) after(ctx context.Context, s collector.Subject) func(Querier, int64, []byte, time.Time) error {
	h := v.hook.Load()
	if h == nil || !(*h).WantsVisitorData() {
		return nil
	}
	return func(q Querier, ver int64, data []byte, at time.Time) error {
		return (*h).VisitorDataWritten(ctx, q, &collector.VisitorData{Subject: s, Version: ver, Data: data}, at)
	}
}

var _ collector.VisitorDataService = (*VisitorData)(nil)

// NewVisitorData returns the visitor-data service on s, announcing every
// committed change to listeners (more can be added with AddListener).
func NewVisitorData(s *Store, listeners ...collector.VisitorDataListener) *VisitorData {
	v := &VisitorData{s: s, maxAttempts: 20}
	ls := append([]collector.VisitorDataListener(nil), listeners...)
	v.listeners.Store(&ls)
	return v
}

// AddListener adds a listener; it hears of the changes committed after it
// was added. Safe to call while the service is in use, which lets a
// listener that itself needs the service (package live reads snapshots)
// be wired after both exist.
func (v *VisitorData) AddListener(l collector.VisitorDataListener) {
	v.addMu.Lock()
	defer v.addMu.Unlock()
	ls := append(append([]collector.VisitorDataListener(nil), *v.listeners.Load()...), l)
	v.listeners.Store(&ls)
}

func (v *VisitorData) notify(vd *collector.VisitorData) {
	for _, l := range *v.listeners.Load() {
		l.VisitorDataChanged(vd)
	}
}

// stripe returns the index of the lock that guards subject key in this
// process.
func (v *VisitorData) stripe(key string) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(len(v.locks)))
}

// GetVisitorData returns the document: version 0 and {} when none was
// ever written (also for an id that is unknown: reads never fail for
// that, so that a browser's first hello gets a snapshot). EINVALID for a
// malformed subject.
func (v *VisitorData) GetVisitorData(ctx context.Context, s collector.Subject) (*collector.VisitorData, error) {
	if err := checkSubject(s); err != nil {
		return nil, err
	}
	ver, raw, err := visitorDataTable.getHot(ctx, v.s, s.Key())
	if err != nil {
		return nil, fmt.Errorf("get visitor data %s: %w", s.Key(), err)
	}
	return &collector.VisitorData{Subject: s, Version: ver, Data: raw}, nil
}

// PutVisitorData replaces the whole document if its version is ifMatch
// (0: never written). Errors: EINVALID and ETOOLARGE for a document that
// breaks a rule, EPRECONDITIONFAILED when the version is not ifMatch,
// EFORBIDDEN when the new document adds, removes or changes a namespace
// that allowed refuses (nil allows all), ENOTFOUND when the subject is
// unknown and has no document yet.
func (v *VisitorData) PutVisitorData(ctx context.Context, s collector.Subject, ifMatch int64, data json.RawMessage, allowed func(ns string) bool) (*collector.VisitorData, error) {
	nd, err := visitordata.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("put visitor data %s: %w", s.Key(), ruleError(err))
	}
	vd, err := v.update(ctx, s, &ifMatch, func(cur visitordata.Document) (visitordata.Document, error) {
		if allowed == nil {
			return nd, nil
		}
		var refused []string
		for _, ns := range visitordata.Changed(cur, nd) {
			if !allowed(ns) {
				refused = append(refused, ns)
			}
		}
		if len(refused) > 0 {
			return nil, collector.Errorf(collector.EFORBIDDEN,
				"this write changes namespace %s, which the token may not write; write only your own namespaces (visitordata:write:<namespace>)",
				strings.Join(refused, ", "))
		}
		return nd, nil
	})
	if err != nil {
		return nil, fmt.Errorf("put visitor data %s: %w", s.Key(), err)
	}
	return vd, nil
}

// PatchNamespace applies an RFC 7396 merge patch (a JSON object) to
// namespace ns, creating it if needed; ifMatch, when not nil, must be the
// document's version. Errors: EINVALID (bad name, a patch that is not an
// object, a result with more than 32 namespaces), ETOOLARGE (a result over
// 64 KiB), EPRECONDITIONFAILED, ENOTFOUND (unknown subject), ECONFLICT
// (the document kept changing under it; rare, retry).
func (v *VisitorData) PatchNamespace(ctx context.Context, s collector.Subject, ns string, patch json.RawMessage, ifMatch *int64) (*collector.VisitorData, error) {
	if err := visitordata.CheckName(ns); err != nil {
		return nil, fmt.Errorf("patch visitor data %s/%s: %w", s.Key(), ns, ruleError(err))
	}
	vd, err := v.update(ctx, s, ifMatch, func(cur visitordata.Document) (visitordata.Document, error) {
		return cur.PatchNamespace(ns, patch)
	})
	if err != nil {
		return nil, fmt.Errorf("patch visitor data %s/%s: %w", s.Key(), ns, err)
	}
	return vd, nil
}

// PutNamespace replaces namespace ns with value (a JSON object). Errors as
// PatchNamespace.
func (v *VisitorData) PutNamespace(ctx context.Context, s collector.Subject, ns string, value json.RawMessage) (*collector.VisitorData, error) {
	return v.PutNamespaceIfMatch(ctx, s, ns, value, nil)
}

// PutNamespaceIfMatch is PutNamespace with an optional expected version,
// for the REST API.
func (v *VisitorData) PutNamespaceIfMatch(ctx context.Context, s collector.Subject, ns string, value json.RawMessage, ifMatch *int64) (*collector.VisitorData, error) {
	if err := visitordata.CheckName(ns); err != nil {
		return nil, fmt.Errorf("put visitor data %s/%s: %w", s.Key(), ns, ruleError(err))
	}
	vd, err := v.update(ctx, s, ifMatch, func(cur visitordata.Document) (visitordata.Document, error) {
		return cur.PutNamespace(ns, value)
	})
	if err != nil {
		return nil, fmt.Errorf("put visitor data %s/%s: %w", s.Key(), ns, err)
	}
	return vd, nil
}

// DeleteNamespace removes namespace ns. ENOTFOUND when it does not exist
// (nothing is written then); EPRECONDITIONFAILED as PatchNamespace.
func (v *VisitorData) DeleteNamespace(ctx context.Context, s collector.Subject, ns string, ifMatch *int64) (*collector.VisitorData, error) {
	if err := visitordata.CheckName(ns); err != nil {
		return nil, fmt.Errorf("delete visitor data %s/%s: %w", s.Key(), ns, ruleError(err))
	}
	vd, err := v.update(ctx, s, ifMatch, func(cur visitordata.Document) (visitordata.Document, error) {
		if _, ok := cur[ns]; !ok {
			return nil, collector.Errorf(collector.ENOTFOUND, "namespace %s not found", ns)
		}
		out := cur.Clone()
		delete(out, ns)
		return out, nil
	})
	if err != nil {
		return nil, fmt.Errorf("delete visitor data %s/%s: %w", s.Key(), ns, err)
	}
	return vd, nil
}

// update is the write of one subject's document: fn gets the current
// document and returns the new one; its errors are returned as they are,
// except the rule errors of package visitordata, which become EINVALID or
// ETOOLARGE.
func (v *VisitorData) update(ctx context.Context, s collector.Subject, ifMatch *int64, fn func(visitordata.Document) (visitordata.Document, error)) (*collector.VisitorData, error) {
	if err := checkSubject(s); err != nil {
		return nil, err
	}
	key := s.Key()
	mu := &v.locks[v.stripe(key)]
	mu.Lock()
	defer mu.Unlock()
	ver, enc, _, err := visitorDataTable.write(ctx, v.s, key, "visitor data of "+key, ifMatch, v.maxAttempts,
		func(raw []byte) ([]byte, error) {
			cur, err := visitordata.ParseStored(raw)
			if err != nil {
				return nil, err
			}
			next, err := fn(cur)
			if err != nil {
				return nil, ruleError(err)
			}
			enc, err := next.Encode()
			if err != nil {
				return nil, ruleError(err)
			}
			return enc, nil
		},
		func() error { return v.checkExists(ctx, s) }, v.after(ctx, s))
	if err != nil {
		return nil, err
	}
	vd := &collector.VisitorData{Subject: s, Version: ver, Data: enc}
	v.notify(vd)
	return vd, nil
}

// StitchVisitorData merges the visitor's document into the identity's at
// SignIn: namespaces the identity lacks are copied, the identity's win
// where both have one (package visitordata's Stitch). The visitor's
// document is then cleared, except for namespaces that did not fit the
// identity's limits, which stay with the visitor rather than be lost. Both
// writes bump their versions and are announced. It returns the identity's
// document (unchanged, with no write, when the visitor had nothing).
//
// Call it after the SignIn is committed and outside any transaction. The
// native store runs both compare-and-sets in one transaction; on D1 the
// identity is written first, so that a crash between the two leaves the
// data in both places rather than in neither.
func (v *VisitorData) StitchVisitorData(ctx context.Context, visitorID, identityID string) (*collector.VisitorData, error) {
	vs := collector.Subject{Kind: collector.SubjectVisitor, ID: visitorID}
	is := collector.Subject{Kind: collector.SubjectIdentity, ID: identityID}
	if err := checkSubject(vs); err != nil {
		return nil, err
	}
	if err := checkSubject(is); err != nil {
		return nil, err
	}
	// Both stripes, always in index order, so that two stitches cannot
	// deadlock.
	a, b := v.stripe(vs.Key()), v.stripe(is.Key())
	if a > b {
		a, b = b, a
	}
	v.locks[a].Lock()
	defer v.locks[a].Unlock()
	if b != a {
		v.locks[b].Lock()
		defer v.locks[b].Unlock()
	}
	afterI, afterV := v.after(ctx, is), v.after(ctx, vs)
	for attempt := 0; attempt < v.maxAttempts; attempt++ {
		if attempt > 0 {
			if err := backoff(ctx, attempt); err != nil {
				return nil, err
			}
		}
		var result *collector.VisitorData
		var written []*collector.VisitorData
		err := v.s.inTx(ctx, func(q Querier) error {
			written = written[:0]
			iver, iraw, err := visitorDataTable.get(ctx, q, is.Key())
			if err != nil {
				return err
			}
			vver, vraw, err := visitorDataTable.get(ctx, q, vs.Key())
			if err != nil {
				return err
			}
			result = &collector.VisitorData{Subject: is, Version: iver, Data: iraw}
			vis, err := visitordata.ParseStored(vraw)
			if err != nil {
				return err
			}
			if len(vis) == 0 {
				return nil
			}
			id, err := visitordata.ParseStored(iraw)
			if err != nil {
				return err
			}
			merged, dropped := visitordata.Stitch(id, vis)
			if len(visitordata.Changed(id, merged)) > 0 {
				enc, err := merged.Encode()
				if err != nil {
					return err
				}
				now := v.s.now()
				if err := visitorDataTable.cas(ctx, q, is.Key(), iver, enc, now); err != nil {
					return err
				}
				if afterI != nil {
					if err := afterI(q, iver+1, enc, now); err != nil {
						return err
					}
				}
				result = &collector.VisitorData{Subject: is, Version: iver + 1, Data: enc}
				written = append(written, result)
			}
			rest := visitordata.Document{}
			for _, n := range dropped {
				rest[n] = vis[n]
			}
			if len(visitordata.Changed(vis, rest)) == 0 {
				return nil // nothing fitted: both stay as they are
			}
			enc, err := rest.Encode()
			if err != nil {
				return err
			}
			now := v.s.now()
			if err := visitorDataTable.cas(ctx, q, vs.Key(), vver, enc, now); err != nil {
				return err
			}
			if afterV != nil {
				if err := afterV(q, vver+1, enc, now); err != nil {
					return err
				}
			}
			written = append(written, &collector.VisitorData{Subject: vs, Version: vver + 1, Data: enc})
			return nil
		})
		if err == nil || !v.s.transactions {
			// Without transactions, what was written is committed even
			// when a later statement failed.
			for _, vd := range written {
				v.notify(vd)
			}
		}
		if errors.Is(err, errRetry) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("stitch visitor data %s into %s: %w", vs.Key(), is.Key(), err)
		}
		return result, nil
	}
	return nil, collector.Errorf(collector.ECONFLICT,
		"visitor data of %s or %s kept changing during %d attempts; try again", vs.Key(), is.Key(), v.maxAttempts)
}

// checkExists refuses the first write of a subject the collector has never
// seen (a mistyped id would otherwise grow an orphan document).
func (v *VisitorData) checkExists(ctx context.Context, s collector.Subject) error {
	query := `SELECT EXISTS (SELECT 1 FROM identities WHERE identity_id = ?)`
	if s.Kind == collector.SubjectVisitor {
		query = `SELECT EXISTS (SELECT 1 FROM visitors WHERE visitor_id = ?)`
	}
	var ok bool
	if err := v.s.db.QueryRowContext(ctx, query, s.ID).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return collector.Errorf(collector.ENOTFOUND, "%s %s not found", s.Kind, s.ID)
	}
	return nil
}

func checkSubject(s collector.Subject) error {
	if s.Kind != collector.SubjectIdentity && s.Kind != collector.SubjectVisitor {
		return collector.Errorf(collector.EINVALID, "subject kind %q is neither identity nor visitor", s.Kind)
	}
	if !protocol.IsULID(s.ID) {
		return collector.Errorf(collector.EINVALID, "%s id %q is not a ULID", s.Kind, clipID(s.ID))
	}
	return nil
}

func staleError(current, ifMatch int64) error {
	return collector.Errorf(collector.EPRECONDITIONFAILED,
		"the document is at version %d, not %d: read it again and retry", current, ifMatch)
}

// ruleError turns a rule of package visitordata into the domain's codes.
func ruleError(err error) error {
	var v *protocol.ValidationError
	if !errors.As(err, &v) {
		return err
	}
	if v.Code == visitordata.CodeTooLarge {
		return collector.Errorf(collector.ETOOLARGE, "%s", v.Message)
	}
	return collector.Errorf(collector.EINVALID, "%s", v.Message)
}

// backoff waits a little, longer with each attempt, with jitter so that
// competing processes spread out.
func backoff(ctx context.Context, attempt int) error {
	d := time.Duration(rand.IntN(1<<min(attempt, 8))+1) * 100 * time.Microsecond
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func clipID(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
