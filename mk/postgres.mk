# PostgreSQL for the tests: collector/postgres/pgtest starts a throwaway
# cluster (initdb in a temporary folder, as an unprivileged user, loopback
# only) from Debian's binaries, which this installs when they are missing.
# The tests fail, never skip, without them.
.PHONY: postgres-tools
test-unit: postgres-tools

# The lock timeout: another fragment's apt-get may hold dpkg's lock (make -j).
postgres-tools:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || \
		(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
			-o DPkg::Lock::Timeout=600 postgresql)

# The store's own tests once more, each on a fresh PostgreSQL database
# (storetest.New reads VISITRACK_TEST_DATABASE): one suite, two engines.
.PHONY: test-store-postgres
test: test-store-postgres
test-store-postgres: web-assets postgres-tools
	VISITRACK_TEST_DATABASE=postgres $(GO) test -count=1 ./collector/store/

# Two collectors on one PostgreSQL next to one SQLite collector, in the
# same run on the same machine (collector/cmd/loadgen -postgres): durable
# events/s back to back, paced ack latency, bytes per event; then the
# cross-node push latency (REST write on one node to the push frame on
# the other). Not part of `make test`; docs/benchmarks-postgres.md has
# the figures. BENCH_PG_FLAGS adds loadgen flags (-visitors, -rate, ...).
BENCH_PG_FLAGS ?= -visitors 500 -rate 5000 -duration 10s
.PHONY: bench-postgres
bench-postgres: build postgres-tools
	$(GO) run ./collector/cmd/loadgen -collector bin/collector -postgres -nodes 2 $(BENCH_PG_FLAGS)
	$(GO) test -count=1 -run '^$$' -bench CrossNodePush -benchtime 2000x ./collector/postgres/fanout/
