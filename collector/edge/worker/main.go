//go:build js && wasm

// Command worker is the collector's entry point on Cloudflare Workers.
package main

import (
	"database/sql"
	"fmt"
	"net/http"

	"github.com/syumai/workers"
	"github.com/syumai/workers/cloudflare/d1"
)

func main() {
	c, err := d1.OpenConnector("DB")
	if err != nil {
		panic(err)
	}
	db := sql.OpenDB(c)
	workers.Serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n int
		if err := db.QueryRowContext(r.Context(), `SELECT count(*) FROM visits`).Scan(&n); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprintf(w, "visits=%d\n", n)
	}))
}
