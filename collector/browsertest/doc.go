// Package browsertest drives the whole product end to end: real headless
// Chromium (chromedp) loads the tracker from a real collector (the same
// daemon as the binary, with the embedded web files and a fresh SQLite
// file) and every test checks what the History REST API stored, not only
// what the page shows.
//
// The identity story (story_test.go) runs in three engines behind one
// Engine interface: Chromium over the DevTools protocol, Firefox ESR over
// WebDriver BiDi (engine_firefox.go), and WebKitGTK's MiniBrowser under
// Xvfb over W3C WebDriver (engine_webkit.go).
//
// The tests carry the build tag "browser" and run with make test-browser,
// which builds the web files and installs Debian's chromium, firefox-esr,
// webkit2gtk-driver, xvfb and xauth first:
//
//	go test -tags browser ./collector/browsertest/
//
// make bench-tracker runs the cold-load benchmark here too.
package browsertest
