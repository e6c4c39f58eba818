package enrich

import (
	"strings"
	"testing"
)

func TestCampaign(t *testing.T) {
	utm, clicks := Campaign("https://shop.example/sale?utm_source=newsletter&utm_medium=email&utm_campaign=black%20friday&utm_term=shoes&utm_content=hero&gclid=Cj0KCQ&x=1#top")
	want := UTM{Source: "newsletter", Medium: "email", Campaign: "black friday", Term: "shoes", Content: "hero"}
	if utm != want {
		t.Errorf("utm = %+v, want %+v", utm, want)
	}
	if len(clicks) != 1 || clicks["gclid"] != "Cj0KCQ" {
		t.Errorf("click ids = %v", clicks)
	}
	if utm, clicks := Campaign("https://shop.example/"); !utm.IsZero() || clicks != nil {
		t.Errorf("no query: %+v %v", utm, clicks)
	}
	if _, clicks := Campaign("https://shop.example/?FBCLID=a&msclkid=b&fbclid=c"); clicks["fbclid"] != "a" || clicks["msclkid"] != "b" {
		t.Errorf("names are case-insensitive and the first wins: %v", clicks)
	}
}

func TestCampaignHostile(t *testing.T) {
	many := "https://x.example/?" + strings.Repeat("a=1&", 5000) + "utm_source=late"
	if utm, _ := Campaign(many); utm.Source != "" {
		t.Errorf("parameter past the bound was read: %+v", utm)
	}
	broken := "https://x.example/?utm_source=%zz&utm_medium=ok&gclid=%"
	if utm, clicks := Campaign(broken); utm.Source != "" || utm.Medium != "ok" || clicks != nil {
		t.Errorf("broken escapes: %+v %v", utm, clicks)
	}
	huge := "https://x.example/?utm_campaign=" + strings.Repeat("z", 100<<10)
	utm, _ := Campaign(huge)
	if len(utm.Campaign) > maxValueBytes {
		t.Errorf("utm_campaign of %d bytes kept", len(utm.Campaign))
	}
	if utm, _ := Campaign("https://x.example/?utm_source=a%00b%FF"); utm.Source != "a b " {
		t.Errorf("control and invalid bytes: %q", utm.Source)
	}
}

func TestReferrerType(t *testing.T) {
	const land = "https://www.shop.example/"
	cases := []struct {
		referrer, landing, want string
	}{
		{"", land, RefDirect},
		{"https://www.google.com/", land, RefSearch},
		{"https://www.google.co.uk/search?q=x", land, RefSearch},
		{"https://duckduckgo.com/", land, RefSearch},
		{"https://search.brave.com/search?q=x", land, RefSearch},
		{"https://t.co/abc", land, RefSocial},
		{"https://m.facebook.com/", land, RefSocial},
		{"https://www.linkedin.com/feed/", land, RefSocial},
		{"https://mail.google.com/mail/u/0/", land, RefEmail},
		{"https://shop.example/cart", land, RefInternal},
		{"https://blog.other.example/post", land, RefOther},
		{"not a url at all", land, RefOther},
		{"https://www.google.com/", land + "?utm_source=google&utm_medium=cpc", RefCampaign},
		{"https://www.google.com/", land + "?gclid=abc", RefCampaign},
		{"", land + "?utm_source=news&utm_medium=email", RefEmail},
	}
	for _, tc := range cases {
		utm, clicks := Campaign(tc.landing)
		if got := ReferrerType(tc.referrer, tc.landing, utm, clicks); got != tc.want {
			t.Errorf("ReferrerType(%q, %q) = %s, want %s", tc.referrer, tc.landing, got, tc.want)
		}
	}
}

func TestClean(t *testing.T) {
	if s := Clean("a\x00b\xffc\u0085d", 100); s != "a b c d" {
		t.Errorf("Clean = %q", s)
	}
	if s := Clean(strings.Repeat("€", 10), 4); s != "€" {
		t.Errorf("Clean cut = %q, want one whole character", s)
	}
}
