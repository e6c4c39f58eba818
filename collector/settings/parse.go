package settings

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// List splits a comma-separated list, trimming each item and dropping the
// empty ones (a trailing comma, a blank value).
func List(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Bool parses a switch: true, 1 or yes; false, 0, no or nothing; in any
// case, around spaces.
func Bool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "yes":
		return true, nil
	case "false", "0", "no", "":
		return false, nil
	}
	return false, fmt.Errorf("%q: want true or false", s)
}

// PositiveDuration parses a duration such as 30m that is more than zero.
func PositiveDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, err
	}
	if d <= 0 {
		return 0, errors.New("the duration is not positive")
	}
	return d, nil
}

// Count parses a whole number of zero or more.
func Count(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, errors.New("the number is negative")
	}
	return n, nil
}
