package useragent

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/visitrack/visitrack/collector/enrich"
)

// sample is one line of testdata/crawlers.txt or testdata/browsers.txt: a
// real User-Agent string and what sent it (a device type, or bot).
type sample struct {
	label, ua string
}

// readSample reads a file of testdata/ (README.md there says where each
// string comes from). A line is "label<TAB>string", or a bare string for
// a bot; # starts a comment line.
func readSample(tb testing.TB, name string) []sample {
	tb.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []sample
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		label, ua, ok := strings.Cut(line, "\t")
		if !ok {
			label, ua = enrich.DeviceBot, line
		}
		out = append(out, sample{label, ua})
	}
	if err := sc.Err(); err != nil {
		tb.Fatalf("read %s: %v", name, err)
	}
	if len(out) == 0 {
		tb.Fatalf("%s has no strings", name)
	}
	return out
}

// BenchmarkClassify is the cost of describing a new visit's User-Agent, on
// the strings of testdata/browsers.txt: uncached (the first time a header
// is seen: both parsers run), for people's browsers and for tools dressed
// as browsers, and cached (a header seen before).
func BenchmarkClassify(b *testing.B) {
	var people, tools []string
	for _, s := range readSample(b, "browsers.txt") {
		if s.label == enrich.DeviceBot {
			tools = append(tools, s.ua)
		} else {
			people = append(people, s.ua)
		}
	}
	u := New()
	for name, agents := range map[string][]string{"people": people, "tools": tools} {
		b.Run("uncached/"+name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				u.parse(agents[i%len(agents)])
			}
		})
	}
	b.Run("cached", func(b *testing.B) {
		for _, ua := range people {
			u.Parse(ua)
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			u.Parse(people[i%len(people)])
		}
	})
}
