// Package postgres keeps the collector's data in PostgreSQL through
// github.com/jackc/pgx/v5, for sites that run several collectors against
// one database (docs/operations.md).
//
// The store's SQL is written once, for SQLite (and D1, which speaks the
// same); this package is where PostgreSQL differs: the connection turns
// SQLite's ? parameters into $1, $2, … (rebind), the migrations in
// migrations/ create the same tables in PostgreSQL's types together with
// the few SQLite functions the store's SQL calls (max and min of two
// values, instr, json_patch, …), and Dialect gives the store the
// fragments that cannot be written alike.
package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// IsURL reports whether database names PostgreSQL: a postgres:// or
// postgresql:// URL.
func IsURL(database string) bool {
	return strings.HasPrefix(database, "postgres://") || strings.HasPrefix(database, "postgresql://")
}

// Open connects to the PostgreSQL database at url and checks that it
// answers. Each failure is one sentence that says what to fix: a URL that
// does not parse, a server that cannot be reached, a refused password, a
// database that does not exist. The password never appears in an error.
func Open(ctx context.Context, url string) (*sql.DB, error) {
	if !IsURL(url) {
		return nil, fmt.Errorf("--database %q: want a postgres://user:password@host:port/dbname URL, or nothing for SQLite in --data-dir", redact(url))
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("--database %s: not a valid PostgreSQL URL: %s", redact(url), redactErr(err, url))
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	where := fmt.Sprintf("%s as %s, database %s", net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port)), cfg.User, cfg.Database)
	db := sql.OpenDB(&connector{base: stdlib.GetConnector(*cfg), queries: &sync.Map{}})
	// Each node keeps a few connections: the ingest writer, readers, the
	// jobs. PostgreSQL's default cap is 100 connections for all nodes.
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout+time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("--database: %s", explain(err, where, url))
	}
	return db, nil
}

// explain says why a connection failed, in the operator's terms.
func explain(err error, where, url string) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "28P01", "28000":
			return fmt.Sprintf("PostgreSQL at %s refused the credentials (%s): check the user and password in the URL", where, pgErr.Message)
		case "3D000":
			return fmt.Sprintf("PostgreSQL at %s has no such database: create it (createdb) or fix the URL", where)
		case "53300":
			return fmt.Sprintf("PostgreSQL at %s has no connection slots left (%s)", where, pgErr.Message)
		}
		return fmt.Sprintf("PostgreSQL at %s refused the connection: %s (SQLSTATE %s)", where, pgErr.Message, pgErr.Code)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("cannot reach PostgreSQL at %s: no answer within the connect timeout", where)
	}
	return fmt.Sprintf("cannot reach PostgreSQL at %s: %s", where, redactErr(err, url))
}

// redact returns url with its password replaced.
func redact(url string) string {
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok {
		return url
	}
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		return url
	}
	userinfo := rest[:at]
	if user, _, ok := strings.Cut(userinfo, ":"); ok {
		return scheme + "://" + user + ":xxxxx@" + rest[at+1:]
	}
	return url
}

// redactErr is err's text without the URL's password, which some of
// pgx's messages repeat.
func redactErr(err error, url string) string {
	msg := err.Error()
	if cfg, perr := pgconn.ParseConfig(url); perr == nil && cfg.Password != "" {
		msg = strings.ReplaceAll(msg, cfg.Password, "xxxxx")
	}
	if r := redact(url); r != url {
		msg = strings.ReplaceAll(msg, url, r)
	}
	return msg
}

// connector opens pgx connections that take the store's SQL (see rebind).
type connector struct {
	base    driver.Connector
	queries *sync.Map // SQLite text -> PostgreSQL text, shared by the connections
}

func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := c.base.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &conn{Conn: dc.(*stdlib.Conn), queries: c.queries}, nil
}

func (c *connector) Driver() driver.Driver { return c.base.Driver() }

// conn is a pgx connection whose statements are rebound first.
type conn struct {
	*stdlib.Conn
	queries *sync.Map
}

// sql returns query in PostgreSQL's form, rebound once per text.
func (c *conn) sql(query string) string {
	if v, ok := c.queries.Load(query); ok {
		return v.(string)
	}
	pg := rebind(query)
	c.queries.Store(query, pg)
	return pg
}

func (c *conn) Prepare(query string) (driver.Stmt, error) {
	return c.Conn.Prepare(c.sql(query))
}

func (c *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.PrepareContext(ctx, c.sql(query))
}

func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	return c.Conn.ExecContext(ctx, c.sql(query), args)
}

func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	return c.Conn.QueryContext(ctx, c.sql(query), args)
}

// CheckNamedValue stores a Go bool as 1 or 0: the store's flags are
// integers in both engines (SQLite has no boolean type).
func (c *conn) CheckNamedValue(v *driver.NamedValue) error {
	if b, ok := v.Value.(bool); ok {
		if b {
			v.Value = int64(1)
		} else {
			v.Value = int64(0)
		}
	}
	return nil
}

// Raw returns the pgx connection, for what runs outside the store's SQL
// (the migrations).
func (c *conn) Raw() *pgx.Conn { return c.Conn.Conn() }
