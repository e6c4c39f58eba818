//go:build !js

package store

import "fmt"

// needVisitKey refuses a row without its visit's key on a native writer
// (the insert binds it): stored without one, the event would be missing
// from its visit's history. The edge's insert reads the key instead, and
// its build leaves this check out (visitkey_js.go): the worker is close to
// its size limit (docs/edge.md#a-size-limit).
func needVisitKey(r *EventRow) error {
	if r.VisitKey <= 0 {
		return fmt.Errorf("event %s: no key for visit %s", r.EventID, r.VisitID)
	}
	return nil
}
