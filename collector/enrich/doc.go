// Package enrich describes a visit from what its first request carries: the
// User-Agent header (browser, version, OS, device type, bot), the landing
// URL (UTM parameters and ad click ids), the referrer (its type) and the
// client IP (country, region and city, through a Geo lookup).
//
// Everything here is a pure function of its input, with no SQL and no
// network, so that ingest can call it once per new visit and tests can
// check it on real strings. The parsers with large tables live in
// subpackages (useragent, geoip) that the native collector plugs in; the
// edge worker, under its size limit, leaves them out.
package enrich
