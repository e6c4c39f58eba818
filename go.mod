module github.com/visitrack/visitrack

go 1.26.8

require github.com/mattn/go-sqlite3 v1.14.52

require (
	github.com/evanphx/json-patch/v5 v5.9.11 // indirect
	github.com/syumai/workers v0.33.0 // indirect
)

tool github.com/syumai/workers/cmd/workers-assets-gen
