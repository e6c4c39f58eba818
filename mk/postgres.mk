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
