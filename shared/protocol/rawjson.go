package protocol

// RawJSON is a JSON value kept as its encoded bytes, like
// encoding/json.RawMessage, without importing encoding/json.
type RawJSON []byte

// MarshalJSON returns m, or null when m is empty.
func (m RawJSON) MarshalJSON() ([]byte, error) {
	if len(m) == 0 {
		return []byte("null"), nil
	}
	return m, nil
}

// UnmarshalJSON keeps a copy of data.
func (m *RawJSON) UnmarshalJSON(data []byte) error {
	if m == nil {
		return nilRawJSON{}
	}
	*m = append((*m)[:0], data...)
	return nil
}

// IsNull reports whether m is absent or the JSON literal null.
func (m RawJSON) IsNull() bool {
	return len(m) == 0 || string(m) == "null"
}

// nilRawJSON is UnmarshalJSON's error on a nil pointer; errors.New would
// link internal/reflectlite into the tracker.
type nilRawJSON struct{}

func (nilRawJSON) Error() string { return "protocol: UnmarshalJSON on nil RawJSON" }
