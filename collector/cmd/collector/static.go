package main

import "net/http"

// staticFiles serves the tracker, loader, demo and console. The web
// package that embeds them is being written; until then none are served.
func staticFiles() http.Handler { return nil }
