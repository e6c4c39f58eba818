package geoip

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/visitrack/visitrack/collector/enrich"
	"github.com/visitrack/visitrack/collector/enrich/geoip/geoiptest"
)

func TestLocate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "city.mmdb")
	err := geoiptest.WriteCity(path, map[string]enrich.Location{
		"81.2.69.0/24":  {Country: "GB", Region: "ENG", City: "London"},
		"2a02:ec0::/29": {Country: "DE", City: "Berlin"},
		"127.0.0.0/8":   {Country: "NZ", Region: "AUK", City: "Auckland"},
	})
	if err != nil {
		t.Fatal(err)
	}
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cases := map[string]enrich.Location{
		"81.2.69.160": {Country: "GB", Region: "ENG", City: "London"},
		"2a02:ec0::1": {Country: "DE", City: "Berlin"},
		"127.0.0.1":   {Country: "NZ", Region: "AUK", City: "Auckland"},
		"192.0.2.1":   {},
	}
	for ip, want := range cases {
		got, ok := db.Locate(netip.MustParseAddr(ip))
		if got != want || ok != (want.Country != "") {
			t.Errorf("Locate(%s) = %+v, %v; want %+v", ip, got, ok, want)
		}
	}
}

func TestOpenRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.mmdb")
	if err := geoiptest.WriteCity(good, map[string]enrich.Location{"81.2.69.0/24": {Country: "GB"}}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.mmdb")
	os.WriteFile(truncated, raw[:len(raw)/2], 0o600)
	garbage := filepath.Join(dir, "garbage.mmdb")
	os.WriteFile(garbage, []byte(strings.Repeat("not a database ", 100)), 0o600)
	for name, path := range map[string]string{
		"missing": filepath.Join(dir, "missing.mmdb"), "truncated": truncated, "garbage": garbage,
	} {
		if db, err := Open(path); err == nil {
			db.Close()
			t.Errorf("%s: Open succeeded", name)
		} else if !strings.Contains(err.Error(), "geoip") {
			t.Errorf("%s: error %q does not say what failed", name, err)
		}
	}
}
