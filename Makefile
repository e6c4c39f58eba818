# Visitrack. `make run` starts the collector with its demo; `make test` runs
# every test (installing what they need); `make bench` runs the benchmarks.
#
# Each area keeps its targets in mk/<area>.mk and adds itself to the
# aggregate targets below (test, bench, build prerequisites).

SHELL := /bin/bash
GO ?= go
export CGO_ENABLED := 1
GOROOT := $(shell $(GO) env GOROOT)
DATA_DIR ?= ./data
ADDR ?= 127.0.0.1:8080

.PHONY: all build run test test-unit fuzz-seed vet bench clean
all: build

# web-assets: the tracker, its loader and the demo, embedded in the binary
# (mk/tracker.mk).
build: web-assets
	$(GO) build -trimpath -o bin/collector ./collector/cmd/collector

run: build
	./bin/collector serve --demo --addr $(ADDR) --data-dir $(DATA_DIR) --browser-writable prefs,campaign \
		--allowed-origins http://$(ADDR),http://localhost:$(lastword $(subst :, ,$(ADDR)))

# Other fragments add test-tracker, test-browser, test-edge.
test: vet test-unit

vet: web-assets
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null; git ls-files --others --exclude-standard '*.go')); \
		if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Native unit and integration tests: real SQLite files, real collectors on
# loopback. Fuzz targets run their seed corpus here.
test-unit: web-assets
	$(GO) test -count=1 ./...

bench:

clean:
	rm -rf bin build

include mk/*.mk
