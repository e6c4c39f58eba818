# Collector benchmarks: Go benchmarks of the store, then the load generator
# (raw SQLite ceiling, 1,000 WebSocket visitors, 10,000 idle connections)
# against the built binary.
.PHONY: bench-collector
bench: bench-collector
bench-collector: build
	$(GO) test -run '^$$' -bench . -benchtime 2s ./collector/store/ ./collector/ingest/
	$(GO) run ./collector/cmd/loadgen -collector bin/collector
