package enrich

import (
	"net/url"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// Referrer types stored on a visit.
const (
	RefDirect   = "direct"
	RefSearch   = "search"
	RefSocial   = "social"
	RefEmail    = "email"
	RefCampaign = "campaign"
	RefInternal = "internal"
	RefOther    = "other"
)

// Hosts by what they are, matched on the registrable part and its
// subdomains ("google" matches www.google.com and google.co.uk).
var (
	searchNames = []string{"google", "bing", "yahoo", "duckduckgo", "baidu", "yandex", "ecosia",
		"qwant", "startpage", "search.brave", "naver", "seznam", "ask", "aol", "sogou"}
	socialNames = []string{"facebook", "fb", "instagram", "twitter", "x", "t", "linkedin", "lnkd",
		"reddit", "pinterest", "tiktok", "youtube", "youtu", "snapchat", "tumblr", "vk",
		"whatsapp", "telegram", "mastodon", "threads", "bsky", "quora", "weibo", "discord"}
	webmailHosts = []string{"mail.google.com", "outlook.live.com", "outlook.office.com",
		"outlook.office365.com", "mail.yahoo.com", "mail.aol.com", "mail.proton.me", "app.fastmail.com"}
	emailMediums = map[string]bool{"email": true, "e-mail": true, "newsletter": true, "mail": true}
)

// ReferrerType classifies how a visit arrived: a campaign (UTM or click id)
// or e-mail first, since they say so explicitly; then by the referrer's
// host; a referrer of the landing page's own host is internal.
func ReferrerType(referrer, landingURL string, utm UTM, clickIDs map[string]string) string {
	if emailMediums[strings.ToLower(utm.Medium)] {
		return RefEmail
	}
	if !utm.IsZero() || len(clickIDs) > 0 {
		return RefCampaign
	}
	if strings.TrimSpace(referrer) == "" {
		return RefDirect
	}
	ref, err := url.Parse(referrer)
	if err != nil || ref.Hostname() == "" {
		return RefOther
	}
	host := strings.TrimPrefix(strings.ToLower(ref.Hostname()), "www.")
	if land, err := url.Parse(landingURL); err == nil &&
		strings.TrimPrefix(strings.ToLower(land.Hostname()), "www.") == host {
		return RefInternal
	}
	for _, h := range webmailHosts {
		if host == h {
			return RefEmail
		}
	}
	switch {
	case hostNamed(host, searchNames):
		return RefSearch
	case hostNamed(host, socialNames):
		return RefSocial
	}
	return RefOther
}

// hostNamed reports whether host, less its public suffix (com, co.uk,
// github.io), is one of names or a subdomain of one.
func hostNamed(host string, names []string) bool {
	suffix, _ := publicsuffix.PublicSuffix(host)
	rest := strings.TrimSuffix(host, "."+suffix)
	if rest == host || rest == "" {
		return false
	}
	for _, n := range names {
		if rest == n || strings.HasSuffix(rest, "."+n) {
			return true
		}
	}
	return false
}
