package docs

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode"
)

// A BrokenLink is a relative link of a Markdown file that leads nowhere: a
// missing file, or an #anchor that no heading or <a id> of its target
// makes.
type BrokenLink struct {
	File   string // the file the link is in, as given to CheckLinks
	Line   int
	Target string
	Reason string
}

func (b BrokenLink) String() string {
	return fmt.Sprintf("%s:%d: %s: %s", b.File, b.Line, b.Target, b.Reason)
}

var (
	fence      = regexp.MustCompile("^\\s*(```|~~~)")
	codeSpan   = regexp.MustCompile("`+[^`]*`+")
	inlineLink = regexp.MustCompile(`!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)`)
	refDef     = regexp.MustCompile(`^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)`)
	heading    = regexp.MustCompile(`^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$`)
	htmlAnchor = regexp.MustCompile(`<a\s+(?:id|name)="([^"]+)"`)
	mdLinkText = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
	scheme     = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
)

// CheckLinks reads the Markdown files (paths relative to root) and returns
// every relative link among them whose file does not exist under root or
// whose #anchor its target does not define. Links with a scheme (https:,
// mailto:) are not followed: the checker needs no network.
func CheckLinks(root string, files []string) ([]BrokenLink, error) {
	anchors := map[string]map[string]bool{} // cleaned path → anchors
	anchorsOf := func(rel string) (map[string]bool, error) {
		if a, ok := anchors[rel]; ok {
			return a, nil
		}
		b, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			return nil, err
		}
		a := Anchors(string(b))
		anchors[rel] = a
		return a, nil
	}
	var broken []BrokenLink
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			return nil, fmt.Errorf("check links: %w", err)
		}
		for _, l := range links(string(b)) {
			if l.target == "" || scheme.MatchString(l.target) {
				continue
			}
			path, frag, _ := strings.Cut(l.target, "#")
			rel := filepath.Clean(f)
			if path != "" {
				rel = filepath.Clean(filepath.Join(filepath.Dir(f), path))
				if strings.HasPrefix(rel, "..") {
					broken = append(broken, BrokenLink{f, l.line, l.target, "leads out of the repository"})
					continue
				}
				if _, err := os.Stat(filepath.Join(root, rel)); err != nil {
					broken = append(broken, BrokenLink{f, l.line, l.target, "no such file"})
					continue
				}
			}
			if frag == "" || !strings.HasSuffix(rel, ".md") {
				continue
			}
			a, err := anchorsOf(rel)
			if err != nil {
				return nil, fmt.Errorf("check links: %w", err)
			}
			if !a[frag] {
				broken = append(broken, BrokenLink{f, l.line, l.target, "no such anchor in " + rel})
			}
		}
	}
	return broken, nil
}

type link struct {
	line   int
	target string
}

// links returns the targets of the inline links, images and reference
// definitions of a Markdown text, leaving out code blocks and code spans.
func links(md string) []link {
	var out []link
	inFence := false
	for i, line := range strings.Split(md, "\n") {
		if fence.MatchString(line) {
			inFence = !inFence
			continue
		}
		if inFence {
			continue
		}
		line = codeSpan.ReplaceAllString(line, "")
		for _, m := range inlineLink.FindAllStringSubmatch(line, -1) {
			out = append(out, link{i + 1, m[1]})
		}
		if m := refDef.FindStringSubmatch(line); m != nil {
			out = append(out, link{i + 1, m[1]})
		}
	}
	return out
}

// Anchors returns the anchors a Markdown text defines, as GitHub makes
// them: one per heading (lower case, punctuation dropped, spaces as
// hyphens, "-1", "-2" … for repeats) and one per <a id> or <a name>.
func Anchors(md string) map[string]bool {
	a := map[string]bool{}
	seen := map[string]int{}
	inFence := false
	for _, line := range strings.Split(md, "\n") {
		if fence.MatchString(line) {
			inFence = !inFence
			continue
		}
		if inFence {
			continue
		}
		for _, m := range htmlAnchor.FindAllStringSubmatch(line, -1) {
			a[m[1]] = true
		}
		m := heading.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		slug := Slug(m[1])
		if n := seen[slug]; n > 0 {
			a[fmt.Sprintf("%s-%d", slug, n)] = true
		} else {
			a[slug] = true
		}
		seen[slug]++
	}
	return a
}

// Slug is the anchor GitHub gives a heading's text.
func Slug(text string) string {
	text = mdLinkText.ReplaceAllString(text, "$1")
	var b strings.Builder
	for _, r := range strings.ToLower(text) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}
