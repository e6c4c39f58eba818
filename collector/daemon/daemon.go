// Package daemon runs the native collector: flags with VISITRACK_*
// defaults, the data directory (SQLite file, recognition key, admin
// token), the HTTP listener and the shutdown in order. The command and the
// tests run the same Main, the tests on port 0 with a fresh directory.
package daemon

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/enrich"
	"github.com/visitrack/visitrack/collector/enrich/geoip"
	"github.com/visitrack/visitrack/collector/enrich/useragent"
	"github.com/visitrack/visitrack/collector/live"
	"github.com/visitrack/visitrack/collector/maintain"
	"github.com/visitrack/visitrack/collector/metrics"
	"github.com/visitrack/visitrack/collector/postgres"
	"github.com/visitrack/visitrack/collector/postgres/fanout"
	"github.com/visitrack/visitrack/collector/server"
	"github.com/visitrack/visitrack/collector/settings"
	"github.com/visitrack/visitrack/collector/sqlite"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/webhook"
)

// Config is the collector's command line (docs/operations.md#flags-and-environment).
type Config struct {
	Addr    string
	DataDir string
	// Database is "" for SQLite in DataDir, or a postgres:// URL.
	Database              string
	AllowedOrigins        []string
	VisitTimeout          time.Duration
	IdentitySecret        string
	IdentityAudience      string
	RequireVerifiedSignIn bool
	BrowserWritable       []string
	// BlockedUserIDs are userIds that link nobody, besides the
	// placeholders ("guest", "null", …) that never do.
	BlockedUserIDs []string
	// Demo serves the demo shop and its signer; without IdentitySecret it
	// makes a random one for this run.
	Demo bool
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed; RateLimit the events per second per client IP (0: none).
	TrustedProxies []netip.Prefix
	RateLimit      int
	// Retention deletes visits that ended longer ago than this; 0 keeps
	// everything.
	Retention time.Duration
	// WebhookAllowPrivate lets webhooks target loopback and private
	// networks.
	WebhookAllowPrivate bool
	// EngagementPerMinute caps the offers of all engagement rules
	// together (0: no cap); EngagementQueue bounds the committed batches
	// waiting for the engagement engine (0: its default, 1024).
	EngagementPerMinute int
	EngagementQueue     int
	LogLevel            string
	// DebugAddr, if set, serves net/http/pprof there: never on a public
	// address.
	DebugAddr string

	// MaxSocketsPerIP caps one client address's open WebSockets (0: no
	// cap); BodyTimeout is how long a request's body may take to arrive.
	MaxSocketsPerIP int
	BodyTimeout     time.Duration
	// MergeUndo is how long an identity merge can be undone
	// (--merge-undo-days); then the maintenance job deletes what it moved.
	MergeUndo time.Duration
	// MaxConnsPerIP caps one client address's open plain HTTP
	// connections (0: no cap; see live.ConnCap); IdleTimeout closes a
	// kept-alive connection that waits this long for its next request.
	MaxConnsPerIP int
	IdleTimeout   time.Duration
	// GeoIPDB is the path of a MaxMind database; "" runs without GeoIP.
	GeoIPDB string
	// ListenDatabase, if set, is where the LISTEN connection of the
	// cross-node push goes instead of Database (see openPeers).
	ListenDatabase string
}

// Main is the running program. Tests run it on port 0 with a fresh data
// directory, exactly as the binary runs.
type Main struct {
	Config Config
	Logger *slog.Logger
	// AdminToken is the admin bearer token; AdminTokenPath the file it was
	// generated into ("" when it came from VISITRACK_ADMIN_TOKEN).
	AdminToken     string
	AdminTokenPath string

	// Static serves the web files (the web package); nil serves none.
	Static http.Handler
	// EngagementNow, if set, is the engagement engine's clock: tests set
	// it to try quiet hours at a chosen instant. nil is the real clock.
	EngagementNow func() time.Time

	stdout, stderr io.Writer
	adminFromEnv   string
	keyFromEnv     []byte // VISITRACK_RECOGNITION_KEY, nil when unset
	store          *store.Store
	closeDB        func() error
	geoip          *geoip.DB // closed with the program
	server         *server.Server
	http           *http.Server
	debug          *http.Server
	ln             net.Listener
	served         chan error
	jobs           *maintain.Runner // the sweep, retention, rollup trimming
	peers          *fanout.Fanout   // nil but on PostgreSQL
}

// New returns a Main writing to stdout and stderr.
func New(stdout, stderr io.Writer) *Main {
	return &Main{stdout: stdout, stderr: stderr, Logger: slog.New(slog.NewTextHandler(stderr, nil))}
}

// ErrHelp is returned by ParseFlags for -h.
var ErrHelp = errors.New("help requested")

// ParseFlags reads the command line; every flag defaults from
// VISITRACK_<NAME> in getenv.
func (m *Main) ParseFlags(args []string, getenv func(string) string) error {
	fs := flag.NewFlagSet("collector serve", flag.ContinueOnError)
	fs.SetOutput(m.stderr)
	fs.Usage = func() {
		fmt.Fprint(m.stderr, "usage: collector serve [flags]\n\nRuns the collector until SIGINT or SIGTERM. Every flag also reads\nVISITRACK_<NAME> (--data-dir: VISITRACK_DATA_DIR).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	env := func(name, def string) string {
		if v := getenv(settings.EnvName(name)); v != "" {
			return v
		}
		return def
	}
	c := &m.Config
	shared, err := sharedFlags(fs, env)
	if err != nil {
		return err
	}
	fs.StringVar(&c.Addr, "addr", env("addr", "127.0.0.1:8080"), "listen address")
	fs.StringVar(&c.DataDir, "data-dir", env("data-dir", "./data"), "directory of visitrack.db, the recognition key and admin.token")
	fs.StringVar(&c.Database, "database", env("database", ""), "empty for SQLite in --data-dir, or a postgres://user:password@host:port/dbname URL")
	fs.StringVar(&c.ListenDatabase, "listen-database", env("listen-database", ""), "with PostgreSQL: a postgres:// URL for the one connection that LISTENs for the other nodes' pushes, when --database goes through a transaction-pooling PgBouncer; empty uses --database")
	demoEnv, err := settings.Bool(env("demo", "false"))
	if err != nil {
		return fmt.Errorf("VISITRACK_DEMO: %w", err)
	}
	fs.BoolVar(&c.Demo, "demo", demoEnv, "serve the demo shop at /demo/ and its signer, which makes sign-in proofs for anyone: never in production")
	proxies := fs.String("trusted-proxies", env("trusted-proxies", ""), "comma-separated CIDRs of reverse proxies whose X-Forwarded-For names the client; empty trusts none")
	bodyTimeout := fs.String("body-timeout", env("body-timeout", "30s"), "how long a request body may take to arrive")
	maxConns := fs.String("max-connections-per-ip", env("max-connections-per-ip", "500"), "open HTTP connections (WebSockets aside) one client IP, or IPv6 /64, may hold; more are answered 429 and closed; a trusted proxy is not capped; 0 turns the cap off")
	idleTimeout := fs.String("idle-timeout", env("idle-timeout", "75s"), "close a kept-alive HTTP connection after this long without a request; behind a proxy keep it above the proxy's upstream keep-alive timeout (nginx, AWS ALB: 60s)")
	allowPrivate, err := settings.Bool(env("webhook-allow-private", "false"))
	if err != nil {
		return fmt.Errorf("VISITRACK_WEBHOOK_ALLOW_PRIVATE: %w", err)
	}
	fs.BoolVar(&c.WebhookAllowPrivate, "webhook-allow-private", allowPrivate, "let webhooks target loopback, private and link-local addresses (refused by default against SSRF)")
	perMinute := fs.String("engagement-per-minute", env("engagement-per-minute", "0"), "cap the offers of all engagement rules together per minute; 0 for no cap")
	engageQueue := fs.String("engagement-queue", env("engagement-queue", "1024"), "committed batches that may wait for the engagement engine; more are dropped and counted in /metrics")
	fs.StringVar(&c.DebugAddr, "debug-addr", env("debug-addr", ""), "serve Go's pprof profiles on this address (e.g. 127.0.0.1:6060); keep it private")
	fs.StringVar(&c.GeoIPDB, "geoip-db", env("geoip-db", ""), "MaxMind City or Country database (.mmdb) for the visits' country, region and city")
	retain := fs.String("retention", env("retention", ""), "delete visits that ended longer ago than this (e.g. 400d, at least 1h); empty keeps everything")
	fs.StringVar(&c.LogLevel, "log-level", env("log-level", "info"), "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ErrHelp
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if c.Database != "" && !postgres.IsURL(c.Database) {
		return fmt.Errorf("--database: want a postgres://user:password@host:port/dbname URL, or nothing for SQLite in --data-dir")
	}
	if c.ListenDatabase != "" && (c.Database == "" || !postgres.IsURL(c.ListenDatabase)) {
		return fmt.Errorf("--listen-database: want a postgres:// URL of the same database as --database, which must be set")
	}
	sh, err := shared.load(fs)
	if err != nil {
		return err
	}
	c.AllowedOrigins, c.VisitTimeout, c.BrowserWritable, c.BlockedUserIDs = sh.AllowedOrigins, sh.VisitTimeout, sh.BrowserWritable, sh.BlockedUserIDs
	c.IdentitySecret, c.IdentityAudience, c.RequireVerifiedSignIn = sh.IdentitySecret, sh.IdentityAudience, sh.RequireVerifiedSignIn
	c.RateLimit, c.MaxSocketsPerIP, c.MergeUndo = sh.RateLimit, sh.MaxSocketsPerIP, sh.MergeUndo
	if c.TrustedProxies, err = live.ParseTrustedProxies(settings.List(*proxies)); err != nil {
		return fmt.Errorf("--trusted-proxies: %w", err)
	}
	if c.BodyTimeout, err = settings.PositiveDuration(*bodyTimeout); err != nil {
		return fmt.Errorf("--body-timeout %q: want a positive duration such as 30s", *bodyTimeout)
	}
	if c.EngagementPerMinute, err = settings.Count(*perMinute); err != nil {
		return fmt.Errorf("--engagement-per-minute %q: want a number of offers, 0 for no cap", *perMinute)
	}
	if c.EngagementQueue, err = settings.Count(*engageQueue); err != nil || c.EngagementQueue == 0 {
		return fmt.Errorf("--engagement-queue %q: want a positive number of batches", *engageQueue)
	}
	if c.MaxConnsPerIP, err = settings.Count(*maxConns); err != nil {
		return fmt.Errorf("--max-connections-per-ip %q: want a number of connections, 0 for no cap", *maxConns)
	}
	if c.IdleTimeout, err = settings.PositiveDuration(*idleTimeout); err != nil {
		return fmt.Errorf("--idle-timeout %q: want a positive duration such as 75s", *idleTimeout)
	}
	if c.Retention, err = maintain.ParseRetention(*retain); err != nil {
		return fmt.Errorf("--retention: %w", err)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return fmt.Errorf("--log-level %q: %w", c.LogLevel, err)
	}
	m.Logger = slog.New(slog.NewTextHandler(m.stderr, &slog.HandlerOptions{Level: level}))
	m.adminFromEnv = getenv("VISITRACK_ADMIN_TOKEN")
	if m.keyFromEnv, err = parseRecognitionKey(getenv(envRecognitionKey)); err != nil {
		return err
	}
	return nil
}

// OpenStore opens and migrates <dataDir>/visitrack.db.
func OpenStore(dataDir string) (*store.Store, func() error, error) {
	return OpenDatabase(context.Background(), "", dataDir)
}

// OpenDatabase opens and migrates the store: SQLite in dataDir when
// database is "", else the PostgreSQL database at the postgres:// URL.
// A database that cannot serve (unreachable, refused, another
// application's, migrated by a newer collector) stops it with one message.
func OpenDatabase(ctx context.Context, database, dataDir string) (*store.Store, func() error, error) {
	if database != "" {
		return openPostgres(ctx, database)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("create data dir: %w", err)
	}
	db, err := sqlite.Open(filepath.Join(dataDir, "visitrack.db"))
	if err != nil {
		return nil, nil, err
	}
	wal, err := sqlite.StartWAL(db, filepath.Join(dataDir, "visitrack.db"), sqlite.WALConfig{})
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	s := store.New(db, store.WithPurge(sqlite.Purge), store.WithEngine(wal))
	if err := s.Migrate(context.Background()); err != nil {
		wal.Close()
		db.Close()
		return nil, nil, err
	}
	return s, func() error {
		wal.Close()
		s.Close()
		return db.Close()
	}, nil
}

// openPostgres opens and migrates the PostgreSQL store at url.
func openPostgres(ctx context.Context, url string) (*store.Store, func() error, error) {
	db, err := postgres.Open(ctx, url)
	if err != nil {
		return nil, nil, err
	}
	s := postgres.NewStore(db)
	if err := s.Migrate(ctx); err != nil {
		s.Close()
		db.Close()
		return nil, nil, fmt.Errorf("--database: %w", err)
	}
	return s, func() error {
		s.Close()
		return db.Close()
	}, nil
}

// Run opens the database, prepares keys and the admin token, and starts
// serving. It returns once the listener is open; Close stops it.
func (m *Main) Run(ctx context.Context) error {
	var err error
	if m.store, m.closeDB, err = OpenDatabase(ctx, m.Config.Database, m.Config.DataDir); err != nil {
		return err
	}
	if m.Config.Database != "" {
		if err := os.MkdirAll(m.Config.DataDir, 0o700); err != nil {
			return fmt.Errorf("create data dir: %w", err)
		}
		m.Logger.Info("PostgreSQL: collectors on one database share keys, jobs, writes and pushes (docs/deployment.md)")
	}
	rawKey, err := m.recognitionKey(ctx)
	if err != nil {
		return err
	}
	if err := m.ensureAdmin(ctx); err != nil {
		return err
	}
	if err := m.identitySecret(); err != nil {
		return err
	}
	var geo enrich.Geo
	if m.Config.GeoIPDB != "" {
		db, err := geoip.Open(m.Config.GeoIPDB)
		if err != nil {
			return fmt.Errorf("--geoip-db: %w", err)
		}
		m.geoip, geo = db, db
	}
	mx := metrics.New()
	if w, ok := m.store.Engine().(metrics.WAL); ok {
		mx.WatchWAL(w)
	}
	hooks, err := webhook.New(ctx, m.store, webhook.Config{
		Guard:    webhook.Guard{AllowPrivate: m.Config.WebhookAllowPrivate},
		Observer: mx,
		Logger:   m.Logger,
		Reload:   webhookReload(m.Config.Database),
	})
	if err != nil {
		return fmt.Errorf("webhooks: %w", err)
	}
	if m.peers, err = m.openPeers(); err != nil {
		return err
	}
	m.server, err = server.New(ctx, server.Config{
		UserAgents:            useragent.New(),
		GeoIP:                 geo,
		Store:                 m.store,
		RecognitionKey:        rawKey,
		IdentitySecret:        m.Config.IdentitySecret,
		IdentityAudience:      m.Config.IdentityAudience,
		BlockedUserIDs:        m.Config.BlockedUserIDs,
		RequireVerifiedSignIn: m.Config.RequireVerifiedSignIn,
		VisitTimeout:          m.Config.VisitTimeout,
		AllowedOrigins:        m.Config.AllowedOrigins,
		BrowserWritable:       m.Config.BrowserWritable,
		Demo:                  m.Config.Demo,
		TrustedProxies:        m.Config.TrustedProxies,
		RateLimit:             m.Config.RateLimit,
		MaxSocketsPerIP:       m.Config.MaxSocketsPerIP,
		MergeUndo:             m.Config.MergeUndo,
		Webhooks:              hooks,
		EngagementCapacity:    capacityClient(m.Config.WebhookAllowPrivate),
		EngagementPerMinute:   m.Config.EngagementPerMinute,
		EngagementQueue:       m.Config.EngagementQueue,
		EngagementReload:      webhookReload(m.Config.Database),
		EngagementNow:         m.EngagementNow,
		Static:                m.Static,
		Metrics:               mx,
		Peers:                 peersOf(m.peers),
		Logger:                m.Logger,
	})
	if err != nil {
		return err
	}
	if e := m.server.Engagement(); e != nil {
		mx.WatchEngagement(e)
	}
	if err := m.startPeers(ctx); err != nil {
		return err
	}
	if err := m.startMaintenance(); err != nil {
		return err
	}
	if m.ln, err = net.Listen("tcp", m.Config.Addr); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// Browsers send a few KB of headers; Go's default allows 1 MB a
	// request. Without IdleTimeout a kept-alive connection would wait
	// for its next request forever.
	m.http = &http.Server{Handler: withBodyDeadline(m.server.Handler(), m.Config.BodyTimeout), ReadHeaderTimeout: headerTimeout,
		IdleTimeout: m.Config.IdleTimeout, MaxHeaderBytes: 64 << 10, ErrorLog: slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn)}
	ln := m.ln
	if cc := live.NewConnCap(live.ConnCapConfig{Max: m.Config.MaxConnsPerIP, TrustedProxies: m.Config.TrustedProxies,
		HeaderTimeout: headerTimeout, Logger: m.Logger}); cc != nil {
		ln, m.http.ConnState = cc.Listener(m.ln), cc.ConnState
		mx.WatchConns(cc)
	}
	m.served = make(chan error, 1)
	go func() { m.served <- m.http.Serve(ln) }()
	if m.Config.DebugAddr != "" {
		if err := m.serveDebug(); err != nil {
			return err
		}
	}
	attrs := []any{"addr", "http://" + m.ln.Addr().String(), "data", m.Config.DataDir}
	if m.Config.Database != "" {
		attrs = append(attrs, "database", "postgres")
	}
	if m.Config.Demo {
		attrs = append(attrs, "demo", "http://"+m.ln.Addr().String()+"/demo/")
	}
	m.Logger.Info("collector listening", attrs...)
	return nil
}

// headerTimeout is how long a request's head may take to arrive, on every
// connection: a browser sends it at once, and a client that trickles it
// would otherwise hold its connection as long as it likes.
const headerTimeout = 10 * time.Second

// identitySecret settles the secret of sign-in proofs: --demo without one
// makes a random one for this run (its signer is the only backend), and
// with none the collector says once that no SignIn can be verified.
func (m *Main) identitySecret() error {
	if m.Config.IdentitySecret == "" && m.Config.Demo {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return fmt.Errorf("demo identity secret: %w", err)
		}
		m.Config.IdentitySecret = hex.EncodeToString(b)
		m.Logger.Info("--demo without --identity-secret: a random identity secret signs the demo's sign-ins for this run")
	}
	if m.Config.IdentitySecret == "" {
		m.Logger.Warn("no --identity-secret: sign-ins cannot be verified; every SignIn is an unverified claim and no browser gets an identity's visitor data")
	}
	return nil
}

// ensureAdmin makes sure the admin token exists: from
// VISITRACK_ADMIN_TOKEN, or generated once into <data-dir>/admin.token
// (on PostgreSQL, once for every node: ensureSharedAdmin).
func (m *Main) ensureAdmin(ctx context.Context) error {
	if m.Config.Database != "" {
		return m.ensureSharedAdmin(ctx)
	}
	secret := m.adminFromEnv
	if secret == "" {
		path := filepath.Join(m.Config.DataDir, "admin.token")
		var err error
		if secret, err = secretFile(path, func() (string, error) {
			b := make([]byte, 32)
			if _, err := rand.Read(b); err != nil {
				return "", err
			}
			return "vt_" + base64.RawURLEncoding.EncodeToString(b), nil
		}); err != nil {
			return fmt.Errorf("admin token: %w", err)
		}
		m.AdminTokenPath = path
		m.Logger.Info("admin token", "path", path)
	}
	return m.ensureAdminToken(ctx, secret)
}

// ensureAdminToken stores secret as an admin token (unless revoked) and
// makes it this node's.
func (m *Main) ensureAdminToken(ctx context.Context, secret string) error {
	if _, err := m.store.EnsureToken(ctx, secret, []string{collector.ScopeAdmin}); err != nil {
		return fmt.Errorf("admin token: %w", err)
	}
	m.AdminToken = secret
	return nil
}

// secretFile returns the trimmed content of path, creating it (mode 0600)
// with gen's value the first time.
func secretFile(path string, gen func() (string, error)) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		if v := strings.TrimSpace(string(b)); v != "" {
			return v, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	v, err := gen()
	if err != nil {
		return "", err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return secretFile(path, gen) // another process won the race
	}
	if err != nil {
		return "", err
	}
	if _, err := f.WriteString(v + "\n"); err != nil {
		f.Close()
		return "", err
	}
	return v, f.Close()
}

// serveDebug serves pprof on its own listener, apart from the public one.
func (m *Main) serveDebug() error {
	ln, err := net.Listen("tcp", m.Config.DebugAddr)
	if err != nil {
		return fmt.Errorf("debug listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	m.debug = &http.Server{Handler: mux, ReadHeaderTimeout: headerTimeout, IdleTimeout: m.Config.IdleTimeout}
	go m.debug.Serve(ln)
	m.Logger.Info("pprof", "addr", "http://"+ln.Addr().String()+"/debug/pprof/")
	return nil
}

// Addr returns the address the collector listens on.
func (m *Main) Addr() string { return m.ln.Addr().String() }

// URL returns the collector's base URL.
func (m *Main) URL() string { return "http://" + m.Addr() }

// Close shuts down in order: stop accepting, close WebSockets with 1001,
// commit everything received, close the database.
func (m *Main) Close(ctx context.Context) error {
	var errs []error
	if m.server != nil {
		// First, because http.Server.Shutdown does not track hijacked
		// connections: WebSockets get 1001 and new ones are refused.
		m.server.CloseSockets(ctx)
	}
	if m.http != nil {
		// Stops accepting and waits for requests in flight, whose events
		// the ingester still commits.
		if err := m.http.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if m.jobs != nil {
		// Before the writer closes: a round waits for it.
		m.jobs.Stop()
	}
	if m.server != nil {
		if err := m.server.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if m.peers != nil {
		m.peers.Close()
	}
	if m.debug != nil {
		m.debug.Close()
	}
	if m.geoip != nil {
		m.geoip.Close()
	}
	if m.closeDB != nil {
		if err := m.closeDB(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// webhookReload is how often the outbox reads the registered webhooks
// again: on PostgreSQL other nodes register and delete them too; one
// SQLite collector knows its own changes.
func webhookReload(database string) time.Duration {
	if database == "" {
		return 0
	}
	return 2 * time.Second
}
