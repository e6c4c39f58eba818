package engage

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Error is a rule or category that does not validate: Pointer is the JSON
// pointer (RFC 6901) of the faulty field, "" for the whole document.
type Error struct {
	Pointer string
	Message string
}

func (e *Error) Error() string {
	if e.Pointer == "" {
		return e.Message
	}
	return e.Pointer + ": " + e.Message
}

func invalid(p, msg string) *Error { return &Error{Pointer: p, Message: msg} }

func itoa(i int) string { return strconv.Itoa(i) }

// escape is a key as a JSON pointer token.
func escape(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}

// object decodes raw as a JSON object whose keys are among allowed (any
// key when allowed is empty).
func object(raw json.RawMessage, p string, allowed ...string) (map[string]json.RawMessage, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, invalid(p, "required")
	}
	var o map[string]json.RawMessage
	if err := json.Unmarshal(raw, &o); err != nil || o == nil {
		return nil, invalid(p, "want a JSON object")
	}
	if len(allowed) > 0 {
		for k := range o {
			if !slices.Contains(allowed, k) {
				return nil, invalid(p+"/"+escape(k), "unknown field (want one of "+strings.Join(allowed, ", ")+")")
			}
		}
	}
	return o, nil
}

func array(raw json.RawMessage, p string, minLen, maxLen int) ([]json.RawMessage, error) {
	if len(raw) == 0 {
		return nil, invalid(p, "required")
	}
	var a []json.RawMessage
	if err := json.Unmarshal(raw, &a); err != nil || a == nil {
		return nil, invalid(p, "want a JSON array")
	}
	if len(a) < minLen || len(a) > maxLen {
		return nil, invalid(p, "want "+itoa(minLen)+" to "+itoa(maxLen)+" items")
	}
	return a, nil
}

func str(raw json.RawMessage, p string) (string, error) {
	if len(raw) == 0 {
		return "", invalid(p, "required")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", invalid(p, "want a string")
	}
	return s, nil
}

func name(o map[string]json.RawMessage, p string) (string, error) {
	s, err := str(o[strings.TrimPrefix(p, "/")], p)
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(s) == "" || len(s) > maxNameLen || !utf8.ValidString(s) {
		return "", invalid(p, "give a name of 1 to "+itoa(maxNameLen)+" bytes")
	}
	return s, nil
}

func integer(raw json.RawMessage, p string, lo, hi int) (int, error) {
	if len(raw) == 0 {
		return 0, invalid(p, "required")
	}
	var n int
	if err := json.Unmarshal(raw, &n); err != nil || n < lo || n > hi {
		return 0, invalid(p, "want an integer from "+itoa(lo)+" to "+itoa(hi))
	}
	return n, nil
}

func boolean(raw json.RawMessage, p string) (bool, error) {
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		return false, invalid(p, "want true or false")
	}
	return b, nil
}

// Duration is a Go-style duration ("30s", "10m", "24h") that keeps the
// form it was given in JSON.
type Duration time.Duration

// MarshalJSON writes the duration as Go writes it.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func duration(raw json.RawMessage, p string, lo, hi time.Duration) (Duration, error) {
	s, err := str(raw, p)
	if err != nil {
		return 0, invalid(p, `want a duration such as "30s", "10m" or "24h"`)
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < lo || d > hi {
		return 0, invalid(p, `want a duration from `+lo.String()+` to `+hi.String()+` such as "30s", "10m" or "24h"`)
	}
	return Duration(d), nil
}
