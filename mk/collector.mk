# Collector benchmarks: Go benchmarks of the store, then the load generator
# (raw SQLite ceiling, 1,000 WebSocket visitors, 10,000 idle connections)
# against the built binary.
.PHONY: bench-collector
bench: bench-collector
bench-collector: build
	$(GO) test -run '^$$' -bench . -benchtime 2s ./collector/store/ ./collector/ingest/
	$(GO) run ./collector/cmd/loadgen -collector bin/collector

# Soak: SOAK_LOAD of paced load on one collector, then SOAK_IDLE idle,
# printing the WAL size, the collector's RSS and the ack p99 every 10 s;
# fails when the WAL broke its bounds (256 MiB under load, 64 MiB at the
# end; docs/operations.md#the-write-ahead-log-stays-bounded). Loopback only.
SOAK_LOAD ?= 3m
SOAK_IDLE ?= 30s
.PHONY: soak
soak: build
	$(GO) run ./collector/cmd/loadgen -collector bin/collector -soak -soak-load $(SOAK_LOAD) -soak-idle $(SOAK_IDLE)
