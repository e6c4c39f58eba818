// Package geoip reads MaxMind-format databases (GeoLite2 or GeoIP2 City
// or Country, or any database with the same record layout) for
// enrich.Geo, with github.com/oschwald/maxminddb-golang/v2. It is a
// package of its own so that builds without a database file (the edge)
// do not link the reader.
package geoip

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/oschwald/maxminddb-golang/v2"
	"github.com/visitrack/visitrack/collector/enrich"
)

// DB is an open GeoIP database.
type DB struct {
	r *maxminddb.Reader
}

// record is the part of a City or Country record that is read.
type record struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	Subdivisions []struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"subdivisions"`
	City struct {
		Names map[string]string `maxminddb:"names"`
	} `maxminddb:"city"`
}

// Open opens the database at path and checks that it is one: a missing,
// truncated or corrupt file is an error here, at start, not at the first
// lookup.
func Open(path string) (*DB, error) {
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("geoip: open %s: %w", path, err)
	}
	if r.Metadata.IPVersion != 4 && r.Metadata.IPVersion != 6 {
		r.Close()
		return nil, fmt.Errorf("geoip: %s: not a MaxMind database (IP version %d)", path, r.Metadata.IPVersion)
	}
	if err := r.Verify(); err != nil {
		r.Close()
		return nil, fmt.Errorf("geoip: %s is corrupt: %w", path, err)
	}
	if t := r.Metadata.DatabaseType; !strings.Contains(t, "City") && !strings.Contains(t, "Country") {
		r.Close()
		return nil, errors.New("geoip: " + path + " is a " + t + " database; a City or Country database is needed")
	}
	return &DB{r: r}, nil
}

// Locate implements enrich.Geo.
func (db *DB) Locate(ip netip.Addr) (enrich.Location, bool) {
	var rec record
	res := db.r.Lookup(ip)
	if !res.Found() || res.Decode(&rec) != nil {
		return enrich.Location{}, false
	}
	loc := enrich.Location{Country: rec.Country.ISOCode, City: rec.City.Names["en"]}
	if len(rec.Subdivisions) > 0 {
		loc.Region = rec.Subdivisions[0].ISOCode
	}
	return loc, loc.Country != ""
}

// Close releases the database.
func (db *DB) Close() error { return db.r.Close() }
