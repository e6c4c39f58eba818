package visitordata

import (
	"os/exec"
	"strings"
	"testing"
)

// The tracker (WebAssembly) must not carry this package's JSON and
// merge-patch code: it judges names and sizes with package protocol alone.
func TestTrackerDoesNotImportVisitorData(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "github.com/visitrack/visitrack/tracker/...")
	cmd.Env = append(cmd.Environ(), "GOOS=js", "GOARCH=wasm")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "github.com/visitrack/visitrack/shared/visitordata" || strings.HasPrefix(dep, "github.com/evanphx/json-patch") {
			t.Fatalf("the tracker depends on %s", dep)
		}
	}
}
