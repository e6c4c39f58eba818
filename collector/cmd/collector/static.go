package main

import (
	"net/http"

	"github.com/visitrack/visitrack/web"
)

// staticFiles serves the embedded tracker, loader, demo and console.
func staticFiles() http.Handler { return web.Handler() }
