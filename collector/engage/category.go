// Package engage is engagement (docs/engagement.md): categories of pages,
// rules that watch what a visitor does, and the engine that evaluates them
// after the events are committed and makes offers. The parsing,
// validation, matchers and evaluator here are pure; the Engine reaches the
// database, the pages and the clock only through the interfaces it is
// given.
package engage

import (
	"encoding/json"
	"path"
	"slices"
	"strings"
	"time"
)

// Category is a named set of tags; a page that matches any tag is in the
// category.
type Category struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Tags      []Tag     `json:"tags"`
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Tag matches a page by its URL's path or by its title; exactly one of
// URL and Title is set.
type Tag struct {
	URL   *URLMatch   `json:"url,omitempty"`
	Title *TitleMatch `json:"title,omitempty"`
}

// URLMatch matches a URL's path; exactly one field is set. Glob is
// path.Match's syntax ("/products/*/reviews").
type URLMatch struct {
	Exact  string `json:"exact,omitempty"`
	Prefix string `json:"prefix,omitempty"`
	Glob   string `json:"glob,omitempty"`
}

// TitleMatch matches a page's title, case-insensitively.
type TitleMatch struct {
	Contains string `json:"contains"`
}

// Limits of a category.
const (
	MaxCategories = 200
	maxTags       = 100
	maxNameLen    = 64
	maxPatternLen = 512
)

// ParseCategory reads a category's JSON ({"name", "tags"}) and validates
// it. The error is an *Error whose Pointer names the faulty field.
func ParseCategory(b []byte) (*Category, error) {
	o, err := object(json.RawMessage(b), "", "name", "tags")
	if err != nil {
		return nil, err
	}
	c := &Category{}
	if c.Name, err = name(o, "/name"); err != nil {
		return nil, err
	}
	tags, err := array(o["tags"], "/tags", 1, maxTags)
	if err != nil {
		return nil, err
	}
	for i, raw := range tags {
		p := "/tags/" + itoa(i)
		to, err := object(raw, p, "url", "title")
		if err != nil {
			return nil, err
		}
		if len(to) != 1 {
			return nil, invalid(p, `give exactly one of "url" and "title"`)
		}
		var t Tag
		if raw, ok := to["url"]; ok {
			uo, err := object(raw, p+"/url", "exact", "prefix", "glob")
			if err != nil {
				return nil, err
			}
			if len(uo) != 1 {
				return nil, invalid(p+"/url", `give exactly one of "exact", "prefix" and "glob"`)
			}
			t.URL = &URLMatch{}
			for k := range uo {
				s, err := pattern(uo, p+"/url/"+k, k)
				if err != nil {
					return nil, err
				}
				switch k {
				case "exact":
					t.URL.Exact = s
				case "prefix":
					t.URL.Prefix = s
				case "glob":
					if _, err := path.Match(s, "/"); err != nil {
						return nil, invalid(p+"/url/glob", "not a valid glob: "+err.Error())
					}
					t.URL.Glob = s
				}
			}
		} else {
			tt, err := object(to["title"], p+"/title", "contains")
			if err != nil {
				return nil, err
			}
			s, err := pattern(tt, p+"/title/contains", "contains")
			if err != nil {
				return nil, err
			}
			t.Title = &TitleMatch{Contains: s}
		}
		c.Tags = append(c.Tags, t)
	}
	return c, nil
}

func pattern(o map[string]json.RawMessage, p, key string) (string, error) {
	s, err := str(o[key], p)
	if err != nil {
		return "", err
	}
	if s == "" || len(s) > maxPatternLen {
		return "", invalid(p, "give 1 to "+itoa(maxPatternLen)+" bytes")
	}
	return s, nil
}

// Categorizer finds a page's categories. It is built once from the
// categories (NewCategorizer) and read by any number of goroutines: the
// ingest writer asks it for every page it stores.
type Categorizer struct {
	cats []compiled
}

type compiled struct {
	name     string
	exact    []string
	prefixes []string
	globs    []string
	titles   []string // lower case
}

// NewCategorizer compiles cats. A nil *Categorizer matches nothing.
func NewCategorizer(cats []*Category) *Categorizer {
	c := &Categorizer{}
	for _, cat := range cats {
		k := compiled{name: cat.Name}
		for _, t := range cat.Tags {
			switch {
			case t.URL != nil && t.URL.Exact != "":
				k.exact = append(k.exact, t.URL.Exact)
			case t.URL != nil && t.URL.Prefix != "":
				k.prefixes = append(k.prefixes, t.URL.Prefix)
			case t.URL != nil && t.URL.Glob != "":
				k.globs = append(k.globs, t.URL.Glob)
			case t.Title != nil:
				k.titles = append(k.titles, strings.ToLower(t.Title.Contains))
			}
		}
		c.cats = append(c.cats, k)
	}
	slices.SortFunc(c.cats, func(a, b compiled) int { return strings.Compare(a.name, b.name) })
	return c
}

// Empty reports whether no category can match.
func (c *Categorizer) Empty() bool { return c == nil || len(c.cats) == 0 }

// Match returns the names of the categories of the page at rawURL with
// title, in name order, appended to dst (nil for none).
func (c *Categorizer) Match(dst []string, rawURL, title string) []string {
	if c.Empty() {
		return dst
	}
	p := urlPath(rawURL)
	lower := ""
	for i := range c.cats {
		k := &c.cats[i]
		if k.matchPath(p) {
			dst = append(dst, k.name)
			continue
		}
		if len(k.titles) > 0 && title != "" {
			if lower == "" {
				lower = strings.ToLower(title)
			}
			for _, t := range k.titles {
				if strings.Contains(lower, t) {
					dst = append(dst, k.name)
					break
				}
			}
		}
	}
	return dst
}

func (k *compiled) matchPath(p string) bool {
	if slices.Contains(k.exact, p) {
		return true
	}
	for _, pre := range k.prefixes {
		if strings.HasPrefix(p, pre) {
			return true
		}
	}
	for _, g := range k.globs {
		if ok, _ := path.Match(g, p); ok {
			return true
		}
	}
	return false
}

// urlPath is the path of an absolute or relative URL ("/" when it has
// none), without decoding it: matching costs no allocation.
func urlPath(raw string) string {
	s := raw
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
		j := strings.IndexByte(s, '/')
		if j < 0 {
			return "/"
		}
		s = s[j:]
	}
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i]
	}
	if s == "" {
		return "/"
	}
	return s
}
