package visitordata

import (
	"encoding/json"
	"fmt"

	"github.com/visitrack/visitrack/shared/protocol"
)

// MergePatch applies an RFC 7396 JSON merge patch to one namespace's value
// and returns the new value, canonical. current is the namespace's value
// (canonical, from a Document) or nil when the namespace does not exist
// yet, in which case the patch applies to an empty object.
//
// The patch must be a JSON object: a merge patch that is not an object
// replaces its target whole, and a namespace must stay an object (remove a
// namespace with a DELETE, not with null). Errors are
// *protocol.ValidationError; the caller checks the limits of the resulting
// document with Document.Encode.
func MergePatch(current json.RawMessage, patch []byte) (json.RawMessage, error) {
	return mergePatch(current, patch, MaxDepth-1, "a namespace")
}

// MergeObjectPatch applies an RFC 7396 merge patch (a JSON object) to a
// standalone object kept by ParseObject's rules, and checks the result by
// them too (64 KiB, 16 levels).
func MergeObjectPatch(current json.RawMessage, patch []byte) (json.RawMessage, error) {
	out, err := mergePatch(current, patch, MaxDepth, "an object")
	if err != nil {
		return nil, err
	}
	if len(out) > MaxBytes {
		return nil, tooLargef("the patched object would be %d bytes; at most %d are allowed", len(out), MaxBytes)
	}
	return out, nil
}

func mergePatch(current json.RawMessage, patch []byte, maxDepth int, target string) (json.RawMessage, error) {
	if len(patch) > MaxBytes {
		return nil, tooLargef("the merge patch is %d bytes; at most %d are allowed", len(patch), MaxBytes)
	}
	p, err := decode(patch, maxDepth, "the merge patch")
	if err != nil {
		return nil, err
	}
	pm, ok := p.(map[string]any)
	if !ok {
		return nil, invalidf("a merge patch of %s must be a JSON object, not %s (to remove a namespace, DELETE it)", target, kind(p))
	}
	cur := map[string]any{}
	if len(current) > 0 {
		v, err := decode(current, MaxDepth, "the stored value")
		if err != nil {
			return nil, fmt.Errorf("visitordata: stored value: %w", err)
		}
		if cur, ok = v.(map[string]any); !ok {
			return nil, fmt.Errorf("visitordata: stored value is %s, not an object", kind(v))
		}
	}
	out, err := encode(mergeValue(cur, pm))
	if err != nil {
		return nil, err
	}
	return parseObject(out, maxDepth, "the patched value")
}

// mergeValue is RFC 7396's MergePatch(Target, Patch) on decoded values:
// a patch that is an object merges into the target member by member (null
// removes one), anything else replaces the target. It may reuse target's
// maps: both come fresh from decode.
//
// Written here rather than taken from a library: the one we used
// (github.com/evanphx/json-patch/v5) carries its own copy of encoding/json,
// 217 KiB of code in the edge Worker, whose compressed size is gated
// (docs/edge.md), for an algorithm the RFC states in ten lines.
func mergeValue(target, patch any) any {
	pm, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	tm, ok := target.(map[string]any)
	if !ok {
		tm = make(map[string]any, len(pm))
	}
	for k, v := range pm {
		if v == nil {
			delete(tm, k)
		} else {
			tm[k] = mergeValue(tm[k], v)
		}
	}
	return tm
}

// PatchNamespace returns a copy of d in which namespace ns is patched with
// an RFC 7396 merge patch (see MergePatch), created if it did not exist.
// The result's limits are not checked; Encode does.
func (d Document) PatchNamespace(ns string, patch []byte) (Document, error) {
	if err := CheckName(ns); err != nil {
		return nil, err
	}
	v, err := MergePatch(d[ns], patch)
	if err != nil {
		return nil, err
	}
	out := d.Clone()
	out[ns] = v
	return out, nil
}

// PutNamespace returns a copy of d in which namespace ns is value (a JSON
// object, see ParseNamespaceValue).
func (d Document) PutNamespace(ns string, value []byte) (Document, error) {
	if err := CheckName(ns); err != nil {
		return nil, err
	}
	v, err := ParseNamespaceValue(value)
	if err != nil {
		return nil, err
	}
	out := d.Clone()
	out[ns] = v
	return out, nil
}

// CheckName returns a *protocol.ValidationError when ns is not a valid
// namespace name.
func CheckName(ns string) error {
	if !protocol.ValidNamespace(ns) {
		return invalidf("namespace name %q must match ^[a-z][a-z0-9_]{0,63}$", truncate(ns))
	}
	return nil
}

// Stitch merges a visitor's document into an identity's at SignIn:
// namespaces the identity lacks are copied from the visitor; where both
// have one, the identity's wins. Copying stops short of the limits: a
// namespace that would take the result past 32 namespaces or 64 KiB is not
// copied, and its name is returned in dropped, so that a SignIn never fails
// because of visitor data. Neither argument is changed.
func Stitch(identity, visitor Document) (merged Document, dropped []string) {
	merged = identity.Clone()
	size := encodedSize(merged)
	for _, n := range visitor.Names() {
		if _, ok := merged[n]; ok {
			continue
		}
		add := len(n) + 3 + len(visitor[n]) // "n":v
		if len(merged) > 0 {
			add++ // the comma before it
		}
		if len(merged) >= MaxNamespaces || size+add > MaxBytes {
			dropped = append(dropped, n)
			continue
		}
		merged[n] = visitor[n]
		size += add
	}
	return merged, dropped
}

// encodedSize is the length Encode would produce.
func encodedSize(d Document) int {
	size := 2 // {}
	for n, v := range d {
		size += len(n) + 3 + len(v) // "n":v
	}
	if len(d) > 1 {
		size += len(d) - 1 // commas
	}
	return size
}
