package postgres_test

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/daemon"
	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/collector/postgres/pgtest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// nodesSecret is the identity secret of the nodes these tests run: their
// sign-ins prove themselves with it.
const nodesSecret = "nodes-test-identity-secret-0123456789"

// node is one collector of a database, as the binary runs it: its own
// data directory, its own listener, writer and jobs.
type node struct {
	*daemon.Main
	dir    string
	stdout *bytes.Buffer
}

// startNodes starts n collectors on the database at url at the same
// moment (each from its own goroutine, released together), and stops
// them when the test ends. env is each node's environment; extra flags
// follow the defaults.
func startNodes(t *testing.T, url string, n int, env map[string]string, extra ...string) []*node {
	t.Helper()
	nodes := make([]*node, n)
	errs := make([]error, n)
	var ready, wg sync.WaitGroup
	release := make(chan struct{})
	for i := range nodes {
		nd := &node{dir: t.TempDir(), stdout: new(bytes.Buffer)}
		nd.Main = daemon.New(nd.stdout, logWriter{t})
		args := append([]string{"--addr", "127.0.0.1:0", "--data-dir", nd.dir, "--database", url,
			"--allowed-origins", collectortest.Origin, "--log-level", "warn", "--identity-secret", nodesSecret}, extra...)
		if err := nd.ParseFlags(args, func(k string) string { return env[k] }); err != nil {
			t.Fatal(err)
		}
		nodes[i] = nd
		ready.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			ready.Done()
			<-release
			errs[i] = nd.Run(context.Background())
		}()
	}
	ready.Wait()
	close(release)
	wg.Wait()
	t.Cleanup(func() {
		for _, nd := range nodes {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if err := nd.Close(ctx); err != nil {
				t.Errorf("close node: %v", err)
			}
			cancel()
		}
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
	}
	return nodes
}

// logWriter sends the nodes' logs to the test log with VISITRACK_TEST_LOG.
type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	if os.Getenv("VISITRACK_TEST_LOG") != "" {
		w.t.Logf("%s", bytes.TrimRight(p, "\n"))
	}
	return len(p), nil
}

// signIn signs a new visitor in on the node (a proven SignIn) and returns
// the recognition token and the identity it names.
func signIn(t *testing.T, nd *node, user string) (token, identityID string) {
	t.Helper()
	c := collectortest.Dial(t, "ws://"+nd.Addr()+"/v1/ws", protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
	defer c.Conn.CloseNow()
	_, id := c.SendEvents(true, collectortest.Event(protocol.EventSignIn, collectortest.NewID(),
		map[string]any{"userId": user, "userHash": identity.UserHash(nodesSecret, user)}))
	if id.Recognition == nil || id.IdentityID == nil {
		t.Fatalf("SignIn answered %+v, want a recognition token", id)
	}
	return *id.Recognition, *id.IdentityID
}

// recognizes requires that the node recognizes the token as identityID.
func recognizes(t *testing.T, nd *node, token, identityID string) {
	t.Helper()
	c := collectortest.Dial(t, "ws://"+nd.Addr()+"/v1/ws", protocol.Hello{VisitorID: collectortest.NewID(),
		VisitID: collectortest.NewID(), Recognition: &token})
	defer c.Conn.CloseNow()
	if w := c.Welcome; w.State != protocol.StateRecognized || w.IdentityID == nil || *w.IdentityID != identityID {
		t.Fatalf("node %s does not recognize a token another node issued: welcome %+v, want identity %s", nd.Addr(), w, identityID)
	}
}

// Nodes that start at the same moment on a fresh database agree on one
// recognition key (a token one issues, another recognizes) and on one
// admin token, which the first node made, printed once and kept in its
// data directory, and which every node accepts. No file is copied.
func TestNodesShareKeyAndAdminToken(t *testing.T) {
	url := pgtest.NewDatabase(t)
	nodes := startNodes(t, url, 3, nil)

	var maker *node
	for _, nd := range nodes {
		if _, err := os.Stat(filepath.Join(nd.dir, "recognition.key")); err == nil {
			t.Errorf("node %s wrote recognition.key: on PostgreSQL the key lives in the database", nd.Addr())
		}
		if strings.Contains(nd.stdout.String(), "admin token") {
			if maker != nil {
				t.Fatalf("two nodes made an admin token:\n%s\n%s", maker.stdout, nd.stdout)
			}
			maker = nd
		}
	}
	if maker == nil || maker.AdminToken == "" || !strings.Contains(maker.stdout.String(), maker.AdminToken) {
		t.Fatalf("no node printed the admin token it made")
	}
	if b, err := os.ReadFile(filepath.Join(maker.dir, "admin.token")); err != nil || strings.TrimSpace(string(b)) != maker.AdminToken {
		t.Fatalf("the maker's admin.token: %q, %v; want the printed token", b, err)
	}
	for _, nd := range nodes {
		if nd != maker && nd.AdminToken != "" {
			t.Errorf("node %s claims admin token %q, another node made it", nd.Addr(), nd.AdminToken)
		}
		if status, body := collectortest.Request(t, nd.URL(), maker.AdminToken, "GET", "/v1/webhooks", nil); status != http.StatusOK {
			t.Errorf("node %s refuses the shared admin token: %d %s", nd.Addr(), status, body)
		}
	}

	for i, nd := range nodes {
		token, identityID := signIn(t, nd, "ada@example.com")
		recognizes(t, nodes[(i+1)%len(nodes)], token, identityID)
	}

	// A restart (and a node added later) changes nothing: the same key, the
	// same token, no second token printed.
	later := startNodes(t, url, 1, nil)[0]
	if later.stdout.Len() != 0 {
		t.Errorf("a later node printed %q; the admin token exists", later.stdout)
	}
	token, identityID := signIn(t, nodes[0], "grace@example.com")
	recognizes(t, later, token, identityID)
	if status, body := collectortest.Request(t, later.URL(), maker.AdminToken, "GET", "/v1/webhooks", nil); status != http.StatusOK {
		t.Errorf("a later node refuses the admin token: %d %s", status, body)
	}
}

// With VISITRACK_ADMIN_TOKEN on every node (the way to run several), no
// node makes a token of its own, and each accepts the one it was given.
func TestNodesAdminTokenFromEnvironment(t *testing.T) {
	url := pgtest.NewDatabase(t)
	const admin = "vt_nodes-admin-token-0123456789abcdef"
	env := map[string]string{"VISITRACK_ADMIN_TOKEN": admin}
	nodes := startNodes(t, url, 2, env)
	for _, nd := range nodes {
		if nd.stdout.Len() != 0 || nd.AdminToken != admin {
			t.Errorf("node %s: printed %q, admin token %q; want the environment's, nothing printed", nd.Addr(), nd.stdout, nd.AdminToken)
		}
		if status, body := collectortest.Request(t, nd.URL(), admin, "GET", "/v1/webhooks", nil); status != http.StatusOK {
			t.Errorf("node %s refuses VISITRACK_ADMIN_TOKEN: %d %s", nd.Addr(), status, body)
		}
	}
	// A node without the variable makes no second token.
	bare := startNodes(t, url, 1, nil)[0]
	if bare.stdout.Len() != 0 || bare.AdminToken != "" {
		t.Errorf("a node without VISITRACK_ADMIN_TOKEN printed %q and took %q; the database has an admin token", bare.stdout, bare.AdminToken)
	}
	if status, _ := collectortest.Request(t, bare.URL(), admin, "GET", "/v1/webhooks", nil); status != http.StatusOK {
		t.Errorf("a node without VISITRACK_ADMIN_TOKEN refuses it: %d", status)
	}
}

// The first node whose data directory holds a recognition key (a
// collector that ran alone before) offers it to the database, so that the
// tokens browsers hold keep working; a node whose file differs uses the
// database's key and leaves its file alone.
func TestNodesAdoptLocalRecognitionKey(t *testing.T) {
	url := pgtest.NewDatabase(t)
	const key = "5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed"
	first := t.TempDir()
	if err := os.WriteFile(filepath.Join(first, "recognition.key"), []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m := daemon.New(io.Discard, logWriter{t})
	if err := m.ParseFlags([]string{"--addr", "127.0.0.1:0", "--data-dir", first, "--database", url, "--log-level", "warn"},
		func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	m.Close(context.Background())
	if got := sharedValue(t, url, "recognition_key"); got != key {
		t.Fatalf("the database's recognition key is %q, want the data directory's %q", got, key)
	}
	other := startNodes(t, url, 1, nil)[0]
	if _, err := os.Stat(filepath.Join(other.dir, "recognition.key")); err == nil {
		t.Errorf("a node wrote recognition.key")
	}
	if got := sharedValue(t, url, "recognition_key"); got != key {
		t.Fatalf("the recognition key changed to %q", got)
	}
}

// sharedValue reads a row of shared_secrets.
func sharedValue(t *testing.T, url, name string) string {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v string
	if err := db.QueryRowContext(context.Background(), `SELECT value FROM shared_secrets WHERE name = $1`, name).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// VISITRACK_RECOGNITION_KEY set on the first node becomes the database's
// key; a node whose variable names another key stops at start, saying so,
// rather than refuse every token the others issue.
func TestNodesRecognitionKeyFromEnvironment(t *testing.T) {
	url := pgtest.NewDatabase(t)
	const key = "ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12"
	startNodes(t, url, 1, map[string]string{"VISITRACK_RECOGNITION_KEY": key})
	if got := sharedValue(t, url, "recognition_key"); got != key {
		t.Fatalf("the database's key is %q, want the variable's", got)
	}
	m := daemon.New(io.Discard, logWriter{t})
	if err := m.ParseFlags([]string{"--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--database", url},
		func(k string) string {
			if k == "VISITRACK_RECOGNITION_KEY" {
				return "cd34" + key[4:]
			}
			return ""
		}); err != nil {
		t.Fatal(err)
	}
	err := m.Run(context.Background())
	m.Close(context.Background())
	if err == nil || !strings.Contains(err.Error(), "VISITRACK_RECOGNITION_KEY") {
		t.Fatalf("a node with another key: %v, want a refusal naming VISITRACK_RECOGNITION_KEY", err)
	}
}
