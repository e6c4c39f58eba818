package enrich

import "testing"

func TestURLWithoutQuery(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"https://shop.example/p/1?email=alice%40example.com&utm_source=news", "https://shop.example/p/1"},
		{"https://shop.example/p/1#token=secret", "https://shop.example/p/1"},
		{"https://shop.example/p/1#/a?b=c", "https://shop.example/p/1"},
		{"https://shop.example/p/1?", "https://shop.example/p/1"},
		{"https://shop.example", "https://shop.example"},
		{"https://shop.example?q=1", "https://shop.example"},
		{"https://alice:pw@shop.example/p?x=1", "https://shop.example/p"},
		{"https://a@b@shop.example:8443/p", "https://shop.example:8443/p"},
		{"https://shop.example/login@home?x=1", "https://shop.example/login@home"},
		{"/relative/path?email=a", "/relative/path"},
		{"/go?next=https://alice@x.example/", "/go"},
		{"", ""},
	} {
		if got := URLWithoutQuery(c.in); got != c.want {
			t.Errorf("URLWithoutQuery(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestReferrerOrigin(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"https://search.example/results?q=alice%40example.com", "https://search.example/"},
		{"https://www.google.com/", "https://www.google.com/"},
		{"https://www.google.com", "https://www.google.com/"},
		{"https://mail.example?inbox=alice", "https://mail.example/"},
		{"https://mail.example#inbox", "https://mail.example/"},
		{"http://bob:pw@intranet.example:8080/wiki/Bob", "http://intranet.example:8080/"},
		{"android-app://com.google.android.gm/", "android-app://com.google.android.gm/"},
		{"https:///path-only", ""},
		{"https://user@/x", ""},
		{"about:blank", ""},
		{"/relative?q=1", ""},
		{"1http://x.example/", ""},
		{"ht tp://x.example/", ""},
		{"", ""},
	} {
		if got := ReferrerOrigin(c.in); got != c.want {
			t.Errorf("ReferrerOrigin(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestMajorVersion(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"131.0.6778.86", "131"}, {"18.1", "18"}, {"133", "133"}, {"5.0b3", "5"}, {"", ""}, {"beta", ""},
	} {
		if got := MajorVersion(c.in); got != c.want {
			t.Errorf("MajorVersion(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestRedactAllocates: the common shapes, a page URL with a query and a
// referrer browsers already trimmed to its origin, cost no allocation.
func TestRedactAllocates(t *testing.T) {
	size := 0 // the results' lengths, so that nothing is optimised away
	n := testing.AllocsPerRun(100, func() {
		size += len(URLWithoutQuery("https://shop.example/p/1?q=shoes"))
		size += len(ReferrerOrigin("https://search.example/results?q=shoes"))
		size += len(ReferrerOrigin("https://www.google.com/"))
		size += len(MajorVersion("131.0.6778.86"))
	})
	if size == 0 {
		t.Fatal("the redactions returned nothing")
	}
	if n != 0 {
		t.Errorf("%v allocations per run, want 0", n)
	}
}

// BenchmarkRedactEvent is what ingest adds to each event of a cookieless
// visit: its URL without query and its referrer's origin.
func BenchmarkRedactEvent(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		URLWithoutQuery("https://shop.example/p/1?q=shoes&utm_source=news")
		ReferrerOrigin("https://search.example/results?q=shoes")
	}
}
