package fromsqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"math"
	"strings"

	"github.com/jackc/pgx/v5"
)

// verify counts and digests every copied table on both sides, the two
// reads side by side, and fails on the first table that differs.
func verify(ctx context.Context, cfg Config, sc *sql.Conn, pc *pgx.Conn, p *plan) ([]Table, error) {
	st := Status{Phase: PhaseVerify, Started: cfg.Now()}
	for _, t := range p.tables {
		st.Total += t.total
	}
	var out []Table
	for _, t := range p.tables {
		st.Table, st.TableRows, st.TableTotal, st.TableDone = t.name, 0, t.total, false
		cfg.Report(st)
		type side struct {
			d   digest
			err error
		}
		dst := make(chan side, 1)
		go func() {
			d, err := targetDigest(ctx, pc, t)
			dst <- side{d, err}
		}()
		src, err := sourceDigest(ctx, sc, t, func(n int64) {
			st.TableRows += n
			st.Rows += n
			cfg.Report(st)
		})
		d := <-dst
		if err != nil {
			return nil, err
		}
		if d.err != nil {
			return nil, d.err
		}
		if src.rows != d.d.rows || src.sum != d.d.sum {
			return nil, fmt.Errorf("verify %s: the source has %d rows (digest %s), the target %d (digest %s): the copy differs; was a collector still writing either database? Give an empty database and run the copy again",
				t.name, src.rows, src.sum[:16], d.d.rows, d.d.sum[:16])
		}
		out = append(out, Table{Name: t.name, Rows: src.rows, Digest: src.sum})
		st.TableDone = true
		cfg.Report(st)
	}
	return out, nil
}

// digest is a table's row count and the SHA-256 (hex) of its rows.
type digest struct {
	rows int64
	sum  string
}

// reportEvery is how many rows the source's digest reads between reports.
const reportEvery = 10000

func sourceDigest(ctx context.Context, sc *sql.Conn, t *table, report func(int64)) (digest, error) {
	rows, err := sc.QueryContext(ctx, `SELECT `+quoteAll(t.cols)+` FROM `+quote(t.name)+` ORDER BY `+quoteAll(t.key))
	if err != nil {
		return digest{}, fmt.Errorf("verify %s: read the source: %w", t.name, err)
	}
	defer rows.Close()
	h := newRowHash()
	vals := make([]any, len(t.cols))
	ptrs := make([]any, len(t.cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var n, since int64
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return digest{}, fmt.Errorf("verify %s: read the source: %w", t.name, err)
		}
		if err := h.row(vals); err != nil {
			return digest{}, fmt.Errorf("verify %s: the source: %w", t.name, err)
		}
		n++
		if since++; since == reportEvery {
			report(since)
			since = 0
		}
	}
	if err := rows.Err(); err != nil {
		return digest{}, fmt.Errorf("verify %s: read the source: %w", t.name, err)
	}
	report(since)
	return digest{rows: n, sum: h.sum()}, nil
}

// targetDigest reads the target's rows in the source's order: text keys
// byte by byte (COLLATE "C", SQLite's BINARY), whatever the column says.
func targetDigest(ctx context.Context, pc *pgx.Conn, t *table) (digest, error) {
	order := make([]string, len(t.key))
	for i, k := range t.key {
		order[i] = quote(k)
		if t.text[k] {
			order[i] += ` COLLATE "C"`
		}
	}
	rows, err := pc.Query(ctx, `SELECT `+quoteAll(t.cols)+` FROM `+quote(t.name)+` ORDER BY `+strings.Join(order, ", "))
	if err != nil {
		return digest{}, fmt.Errorf("verify %s: read the target: %w", t.name, err)
	}
	defer rows.Close()
	h := newRowHash()
	var n int64
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return digest{}, fmt.Errorf("verify %s: read the target: %w", t.name, err)
		}
		if err := h.row(vals); err != nil {
			return digest{}, fmt.Errorf("verify %s: the target: %w", t.name, err)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return digest{}, fmt.Errorf("verify %s: read the target: %w", t.name, err)
	}
	return digest{rows: n, sum: h.sum()}, nil
}

// rowHash digests rows of values as both engines return them, after
// bringing them to one form: every integer width to int64, booleans to
// 0 or 1, text and bytes alike; each value tagged with its kind and text
// prefixed with its length, so that no two different rows write the same
// bytes.
type rowHash struct {
	h   hash.Hash
	buf []byte
}

func newRowHash() *rowHash { return &rowHash{h: sha256.New(), buf: make([]byte, 0, 256)} }

func (r *rowHash) row(vals []any) error {
	b := r.buf[:0]
	for _, v := range vals {
		switch v := v.(type) {
		case nil:
			b = append(b, 'n')
		case int64:
			b = binary.BigEndian.AppendUint64(append(b, 'i'), uint64(v))
		case int32:
			b = binary.BigEndian.AppendUint64(append(b, 'i'), uint64(int64(v)))
		case int16:
			b = binary.BigEndian.AppendUint64(append(b, 'i'), uint64(int64(v)))
		case bool:
			n := uint64(0)
			if v {
				n = 1
			}
			b = binary.BigEndian.AppendUint64(append(b, 'i'), n)
		case float64:
			b = binary.BigEndian.AppendUint64(append(b, 'f'), math.Float64bits(v))
		case string:
			b = append(binary.AppendUvarint(append(b, 's'), uint64(len(v))), v...)
		case []byte:
			b = append(binary.AppendUvarint(append(b, 's'), uint64(len(v))), v...)
		default:
			return fmt.Errorf("a value of type %T, which the digest does not know", v)
		}
	}
	r.buf = b
	r.h.Write(b)
	return nil
}

func (r *rowHash) sum() string { return hex.EncodeToString(r.h.Sum(nil)) }
