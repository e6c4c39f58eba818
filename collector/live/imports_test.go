package live

import (
	"os/exec"
	"strings"
	"testing"
)

// The browser side answers with collector/problem and must not pull in
// the REST API: the two rooms meet only in server (docs/architecture.md#packages).
func TestLiveDoesNotImportAPI(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/visitrack/visitrack/collector/live").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "github.com/visitrack/visitrack/collector/api" {
			t.Fatalf("collector/live depends on %s", dep)
		}
	}
}
