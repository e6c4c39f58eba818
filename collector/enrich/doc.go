// Package enrich describes a visit from what its first request carries: the
// User-Agent header (browser, version, OS, device type, bot), the landing
// URL (UTM parameters and ad click ids), the referrer (its type) and the
// client IP (country, region and city, through a Geo lookup).
//
// Everything here is a pure function of its input, with no SQL and no
// network, so that ingest can call it once per new visit and tests can
// check it on real strings. The user-agent parser is
// github.com/medama-io/go-useragent (a trie built once, zero allocations
// per parse); bots are recognized by github.com/x-way/crawlerdetect (the
// crawler list of the PHP CrawlerDetect project) and by the parser's own
// bot device class. BenchmarkParsers compares them with mileusna/useragent
// and ua-parser/uap-go; the README gives the figures and the choice.
package enrich
