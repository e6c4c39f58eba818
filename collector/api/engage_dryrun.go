package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/engage"
)

// The dry runs of an engagement rule against a stored visit
// (docs/engagement.md, "Dry run"); nothing is offered, stored or counted:
//
//	POST /v1/engagement/rules/{ruleId}/dry-run?visitId=…   engagement:read
//	POST /v1/engagement/dry-run {"rule": {…}, "visitId": "…"}  engagement:read
//
// 404 for an unknown rule or visit, 422 for a visit with more than
// engage.MaxDryRunEvents events, 400 for a rule that does not validate
// (its detail starts with the faulty field's pointer, under /rule).

// DryRunner replays a stored visit through a rule (the server's engine
// side).
type DryRunner interface {
	DryRun(ctx context.Context, r *engage.Rule, visitID string) (*engage.DryResult, error)
}

// RuleReader reads a stored rule (store.Store): ENOTFOUND when there is
// none.
type RuleReader interface {
	Rule(ctx context.Context, id string) (*engage.Rule, error)
}

// HandleEngagementDryRun registers the dry-run endpoints.
func (h *Handler) HandleEngagementDryRun(rules RuleReader, d DryRunner) {
	read := collector.ScopeEngagementRead
	answer := func(w http.ResponseWriter, r *http.Request, rule *engage.Rule, visitID string) error {
		res, err := d.DryRun(r.Context(), rule, visitID)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, res)
	}
	h.Handle("POST /v1/engagement/rules/{ruleId}/dry-run", read, func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r, "ruleId")
		if err != nil {
			return err
		}
		q, err := query(r, "visitId")
		if err != nil {
			return err
		}
		visitID, err := idParam("visitId", q.Get("visitId"))
		if err != nil {
			return err
		}
		if visitID == "" {
			return collector.Errorf(collector.EINVALID, "visitId is required: the visit to replay")
		}
		rule, err := rules.Rule(r.Context(), id)
		if err != nil {
			return err
		}
		return answer(w, r, rule, visitID)
	})
	h.Handle("POST /v1/engagement/dry-run", read, func(w http.ResponseWriter, r *http.Request) error {
		if _, err := query(r); err != nil {
			return err
		}
		b, err := readBody(w, r, maxEngagementBody+1024, "application/json")
		if err != nil {
			return err
		}
		rule, visitID, err := dryRunBody(b)
		if err != nil {
			return err
		}
		return answer(w, r, rule, visitID)
	})
}

// dryRunBody reads {"rule": {…}, "visitId": "…"}: the rule validated as
// a POST of it would be, its faults pointed at under /rule.
func dryRunBody(b []byte) (*engage.Rule, string, error) {
	var o map[string]json.RawMessage
	if err := json.Unmarshal(b, &o); err != nil || o == nil {
		return nil, "", collector.Errorf(collector.EINVALID, `want a JSON object {"rule": {…}, "visitId": "…"}`)
	}
	for k := range o {
		if k != "rule" && k != "visitId" {
			return nil, "", collector.Errorf(collector.EINVALID, "/%s: unknown field (want rule, visitId)", strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1"))
		}
	}
	var visitID string
	if raw, ok := o["visitId"]; !ok || json.Unmarshal(raw, &visitID) != nil || visitID == "" {
		return nil, "", collector.Errorf(collector.EINVALID, "/visitId: want the id of the visit to replay")
	}
	visitID, err := idParam("visitId", visitID)
	if err != nil {
		return nil, "", err
	}
	raw, ok := o["rule"]
	if !ok {
		return nil, "", collector.Errorf(collector.EINVALID, "/rule: required")
	}
	if len(raw) > maxEngagementBody {
		return nil, "", collector.Errorf(collector.ETOOLARGE, "/rule: a rule is at most %d bytes", maxEngagementBody)
	}
	rule, err := engage.ParseRule(raw)
	if err != nil {
		var e *engage.Error
		if errors.As(err, &e) {
			return nil, "", collector.Errorf(collector.EINVALID, "%s", (&engage.Error{Pointer: "/rule" + e.Pointer, Message: e.Message}).Error())
		}
		return nil, "", err
	}
	return rule, visitID, nil
}
