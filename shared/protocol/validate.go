package protocol

// ValidationError is a rule a message or event broke. Code is one of the
// Code* constants; Message is for people.
type ValidationError struct {
	Code    string
	Message string
}

func (e *ValidationError) Error() string { return e.Code + ": " + e.Message }

func invalid(code, msg string) *ValidationError { return &ValidationError{Code: code, Message: msg} }

// crockford maps a byte to its Crockford base32 value, or 0xFF.
var crockford = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xFF
	}
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
		t[alphabet[i]|0x20] = byte(i) // lower case is accepted on input
	}
	return t
}()

// IsULID reports whether s is a canonical 26-character ULID. The first
// character is at most '7': larger values overflow 128 bits.
func IsULID(s string) bool {
	if len(s) != 26 || crockford[s[0]] > 7 {
		return false
	}
	for i := 1; i < 26; i++ {
		if crockford[s[i]] == 0xFF {
			return false
		}
	}
	return true
}

// UpperULID returns the canonical, upper-case form of s, which IsULID
// accepted. Ids are stored in upper case only (docs/security.md#ids): the same
// id sent in two cases must name one thing that the REST API can read and
// erase. It allocates only when s has a lower-case letter.
func UpperULID(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'a' && c <= 'z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; c >= 'a' && c <= 'z' {
					b[j] = c - ('a' - 'A')
				}
			}
			return string(b)
		}
	}
	return s
}

// ValidNamespace reports whether name matches ^[a-z][a-z0-9_]{0,63}$.
func ValidNamespace(name string) bool {
	if len(name) == 0 || len(name) > MaxNamespaceLen || name[0] < 'a' || name[0] > 'z' {
		return false
	}
	for i := 1; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// Depth returns the deepest nesting of objects and arrays in the JSON text
// b. It does not validate b; it stops counting once limit is exceeded and
// returns limit+1.
func Depth(b []byte, limit int) int {
	depth, max := 0, 0
	inString, escaped := false, false
	for _, c := range b {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if depth > max {
				max = depth
				if max > limit {
					return limit + 1
				}
			}
		case '}', ']':
			depth--
		}
	}
	return max
}

// ValidateEvent checks the rules of one event that do not need the
// collector's state. The caller checks its encoded size (MaxEventBytes) and
// depth, and parses the timestamp.
func ValidateEvent(e *Event) *ValidationError {
	switch {
	case !IsULID(e.EventID):
		return invalid(CodeInvalidID, "eventId must be a ULID")
	case e.Name == "":
		return invalid(CodeInvalidEvent, "name is required")
	case len(e.Name) > MaxNameLen:
		return invalid(CodeInvalidEvent, "name is longer than 128 bytes")
	case e.Name == EventVisitEnded || e.Name == EventHandoffArrived ||
		e.Name == EventEngagementOffered || e.Name == EventEngagementTimedOut:
		return invalid(CodeInvalidEvent, e.Name+" is written by the collector only")
	case e.Timestamp == "":
		return invalid(CodeInvalidEvent, "timestamp is required")
	case e.PageID != "" && !IsULID(e.PageID):
		return invalid(CodeInvalidID, "pageId must be a ULID")
	case (e.Name == EventPageEntered || e.Name == EventPageExited) && e.PageID == "":
		return invalid(CodeInvalidEvent, e.Name+" needs a pageId")
	case len(e.URL) > MaxURLLen || len(e.Referrer) > MaxURLLen:
		return invalid(CodeInvalidEvent, "url or referrer is longer than 4096 bytes")
	case len(e.Title) > MaxTitleLen:
		return invalid(CodeInvalidEvent, "title is longer than 1024 bytes")
	}
	if !e.Data.IsNull() && (len(e.Data) == 0 || e.Data[0] != '{') {
		return invalid(CodeInvalidEvent, "data must be a JSON object")
	}
	return nil
}
