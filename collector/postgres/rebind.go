package postgres

import (
	"strconv"
	"strings"
)

// rebind turns the store's SQL, written once for SQLite and D1, into
// PostgreSQL's: each ? becomes $1, $2, … in order, and `IS ?` / `IS NOT ?`
// (SQLite's null-safe comparisons) become `IS NOT DISTINCT FROM $n` /
// `IS DISTINCT FROM $n`. Quoted strings, quoted names and comments pass
// unchanged, so `instr(url, '?')` keeps its question mark.
//
// Everything else that differs is either written portably in the store,
// kept in the store's Dialect (a few fragments), or provided by functions
// the PostgreSQL migrations create (max and min of two values, instr,
// json_patch, …): see migrations/0001_history.sql.
func rebind(query string) string {
	if strings.IndexByte(query, '?') < 0 {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'' || c == '"':
			j := closing(query, i+1, c)
			b.WriteString(query[i:j])
			i = j - 1
		case c == '-' && i+1 < len(query) && query[i+1] == '-':
			j := strings.IndexByte(query[i:], '\n')
			if j < 0 {
				j = len(query) - i
			}
			b.WriteString(query[i : i+j])
			i += j - 1
		case c == '/' && i+1 < len(query) && query[i+1] == '*':
			j := strings.Index(query[i+2:], "*/")
			end := len(query)
			if j >= 0 {
				end = i + 2 + j + 2
			}
			b.WriteString(query[i:end])
			i = end - 1
		case c == '?':
			n++
			out := b.String()
			if head, ok := cutWord(out, "IS"); ok {
				b.Reset()
				b.WriteString(head)
				b.WriteString("IS NOT DISTINCT FROM ")
			} else if head, ok := cutWords(out, "IS", "NOT"); ok {
				b.Reset()
				b.WriteString(head)
				b.WriteString("IS DISTINCT FROM ")
			}
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// closing returns the index just past the quote that closes the quoted
// text starting at i (a doubled quote is an escaped one).
func closing(s string, i int, quote byte) int {
	for i < len(s) {
		if s[i] == quote {
			if i+1 < len(s) && s[i+1] == quote {
				i += 2
				continue
			}
			return i + 1
		}
		i++
	}
	return len(s)
}

// cutWord reports whether s ends with the keyword word followed by
// spaces, and returns s without them.
func cutWord(s, word string) (string, bool) {
	t := strings.TrimRight(s, " \t\r\n")
	if len(t) == len(s) || len(t) < len(word) || !strings.EqualFold(t[len(t)-len(word):], word) {
		return s, false
	}
	head := t[:len(t)-len(word)]
	if head != "" && isWordByte(head[len(head)-1]) {
		return s, false
	}
	return head, true
}

// cutWords is cutWord for "first second".
func cutWords(s, first, second string) (string, bool) {
	head, ok := cutWord(s, second)
	if !ok {
		return s, false
	}
	if head, ok = cutWord(head, first); !ok {
		return s, false
	}
	return head, true
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.'
}
