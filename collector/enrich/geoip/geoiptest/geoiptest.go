// Package geoiptest writes small MaxMind-format City databases for tests,
// with github.com/maxmind/mmdbwriter: no real database can be downloaded
// where the tests run, and a made-up one says exactly what to expect.
package geoiptest

import (
	"fmt"
	"net"
	"os"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/visitrack/visitrack/collector/enrich"
)

// WriteCity writes a GeoIP2-City-shaped database to path with one record
// per network (CIDR notation). Reserved networks (loopback, private) are
// allowed, so that tests on loopback can be located.
func WriteCity(path string, networks map[string]enrich.Location) error {
	w, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            "GeoIP2-City",
		RecordSize:              24,
		IncludeReservedNetworks: true,
		Description:             map[string]string{"en": "Visitrack test database"},
	})
	if err != nil {
		return fmt.Errorf("geoiptest: %w", err)
	}
	for cidr, loc := range networks {
		_, network, err := net.ParseCIDR(cidr)
		if err != nil {
			return fmt.Errorf("geoiptest: %w", err)
		}
		rec := mmdbtype.Map{
			"country": mmdbtype.Map{"iso_code": mmdbtype.String(loc.Country)},
			"city":    mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(loc.City)}},
		}
		if loc.Region != "" {
			rec["subdivisions"] = mmdbtype.Slice{mmdbtype.Map{"iso_code": mmdbtype.String(loc.Region)}}
		}
		if err := w.Insert(network, rec); err != nil {
			return fmt.Errorf("geoiptest: insert %s: %w", cidr, err)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("geoiptest: %w", err)
	}
	if _, err := w.WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("geoiptest: write %s: %w", path, err)
	}
	return f.Close()
}
