package docs

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestAPIReferenceIsFresh fails while docs/api.md differs from what the
// generator makes of collector/api/openapi.json and docs/api-intro.md, so
// that a change to the API cannot leave its reference behind.
func TestAPIReferenceIsFresh(t *testing.T) {
	spec := readFile(t, OpenAPIPath)
	intro := readFile(t, IntroPath)
	want, err := APIReference(spec, intro)
	if err != nil {
		t.Fatal(err)
	}
	got := readFile(t, APIPath)
	if !bytes.Equal(got, want) {
		t.Fatalf("docs/%s is stale: run `go generate ./docs` and commit it (first difference at line %d)",
			APIPath, firstDiffLine(got, want))
	}
}

// TestAPIReferenceListsEveryOperation checks the generator itself: every
// operation of the document gets its anchor, and the intro comes first.
func TestAPIReferenceListsEveryOperation(t *testing.T) {
	spec := []byte(`{"openapi":"3.1.0","info":{"title":"T","version":"1"},
		"paths":{"/b":{"get":{"operationId":"getB","summary":"B","responses":{"200":{"description":"ok"}}}},
		         "/a":{"post":{"operationId":"postA","summary":"A","tags":["X"],"responses":{"201":{"description":"made"}}}}},
		"components":{"schemas":{}}}`)
	out, err := APIReference(spec, []byte("# Intro\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	if !strings.Contains(s, "\n# Intro\n") {
		t.Errorf("the intro is missing:\n%s", s)
	}
	for _, want := range []string{`<a id="getB"></a>`, `<a id="postA"></a>`, "`GET /b`", "`POST /a`"} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %s in:\n%s", want, s)
		}
	}
	if _, err := APIReference([]byte(`{"paths":{"/a":{"get":{"summary":"no id"}}}}`), nil); err == nil {
		t.Error("an operation without operationId was accepted")
	}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func firstDiffLine(a, b []byte) int {
	al, bl := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
	for i := range min(len(al), len(bl)) {
		if !bytes.Equal(al[i], bl[i]) {
			return i + 1
		}
	}
	return min(len(al), len(bl)) + 1
}
