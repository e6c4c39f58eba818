# The tracker (Go to WebAssembly), its loader gt.js, and the web files the
# collector embeds (web/static); their tests and benchmarks.
#
#   make web-assets     tracker.wasm, wasm_exec.js, gt.js, gt-dsl.js, precompressed (.br, .gz)
#   make size           raw, gzip and brotli sizes of tracker.wasm next to the floor;
#                       gt.js and gt-dsl.js
#   make test-tracker   the tracker's js/wasm tests and the loader's tests under Node
#   make test-browser   end-to-end tests in headless Chromium against a real collector,
#                       and the identity story in Chromium, Firefox ESR and WebKitGTK
#   make bench-tracker  size, and cold-load timing in Chromium

WASM_ENV := GOOS=js GOARCH=wasm CGO_ENABLED=0
# No inlining in our own packages: it only duplicates code that runs a few
# times per page, and costs the download about 6 KB of brotli.
WASM_FLAGS := -trimpath -ldflags='-s -w' -gcflags='github.com/visitrack/visitrack/...=-l'
WASM_EXEC := $(GOROOT)/lib/wasm/wasm_exec.js
TRACKER_SRC := $(shell find tracker shared/protocol -name '*.go' -not -name '*_test.go' 2>/dev/null)
WEB_SRC := $(shell find web/loader web/cmd web/static -type f -not -name '*.br' -not -name '*.gz' \
	-not -name 'gt.js' -not -name 'gt.test.js' -not -name 'tracker.*.wasm' -not -name 'wasm_exec.*.js' -not -name 'gt-dsl.*.js' 2>/dev/null)
NODE_TEST_ENV := PATH="$(GOROOT)/lib/wasm:$$PATH" NODE_OPTIONS=--experimental-websocket

.PHONY: web-assets size test-tracker test-browser bench-tracker tracker-tools chromium browser-engines

test: test-tracker test-browser
bench: bench-tracker

# brotli precompresses the embedded files (Debian's brotli command).
tracker-tools:
	@command -v brotli >/dev/null || (apt-get update && apt-get install -y --no-install-recommends brotli)

chromium:
	@command -v chromium >/dev/null || (apt-get update && apt-get install -y --no-install-recommends chromium)

# The other engines of the identity story: Firefox ESR (WebDriver BiDi, no
# extra driver) and WebKitGTK's WebDriver with its MiniBrowser under Xvfb.
# After chromium, so that two apt-gets never race for dpkg's lock (make -j).
browser-engines: chromium
	@missing=; \
	command -v firefox-esr >/dev/null || missing="$$missing firefox-esr"; \
	command -v WebKitWebDriver >/dev/null || missing="$$missing webkit2gtk-driver"; \
	command -v Xvfb >/dev/null || missing="$$missing xvfb"; \
	command -v xauth >/dev/null || missing="$$missing xauth"; \
	[ -z "$$missing" ] || (apt-get update && apt-get install -y --no-install-recommends $$missing)

build/tracker.wasm: $(TRACKER_SRC) go.mod
	@mkdir -p build
	$(WASM_ENV) $(GO) build $(WASM_FLAGS) -o $@ ./tracker

web-assets: build/web-assets.stamp
build/web-assets.stamp: build/tracker.wasm web/loader/gt.js web/loader/gt-dsl.js $(WEB_SRC) $(WASM_EXEC) | tracker-tools
	$(GO) run ./web/cmd/webassets -wasm build/tracker.wasm -exec $(WASM_EXEC) \
		-loader web/loader/gt.js -dsl web/loader/gt-dsl.js -out web/static
	@touch $@

# The floor: an empty main that imports only syscall/js, built the same way
# in the same run (its own module, so that go vet ./... skips it).
size: build/tracker.wasm | tracker-tools
	@mkdir -p build/floor
	@printf 'module floor\n\ngo 1.26\n' > build/floor/go.mod
	@printf 'package main\n\nimport "syscall/js"\n\nfunc main() {\n\tjs.Global()\n\tselect {}\n}\n' > build/floor/main.go
	@cd build/floor && $(WASM_ENV) $(GO) build $(WASM_FLAGS) -o ../floor.wasm .
	@printf '%-20s %10s %10s %10s\n' file raw gzip brotli; \
	for f in build/floor.wasm build/tracker.wasm; do \
		printf '%-20s %10d %10d %10d\n' $$f $$(stat -c %s $$f) $$(gzip -9 -c $$f | wc -c) $$(brotli -q 11 -c $$f | wc -c); \
	done; \
	fb=$$(brotli -q 11 -c build/floor.wasm | wc -c); tb=$$(brotli -q 11 -c build/tracker.wasm | wc -c); \
	awk -v t=$$tb -v f=$$fb 'BEGIN { r = t / f; printf "brotli: tracker %.1f KB = %.3f x floor %.1f KB (target <= 1.15): %s\n", t/1000, r, f/1000, (r <= 1.15 ? "ok" : "OVER") }'; \
	for f in gt.js gt-dsl.js; do \
		printf '%s %d bytes, %d gzip, %d brotli\n' $$f $$(stat -c %s web/loader/$$f) $$(gzip -9 -c web/loader/$$f | wc -c) $$(brotli -q 11 -c web/loader/$$f | wc -c); \
	done

# The tracker's packages compiled to js/wasm and run under Node (Go's
# go_js_wasm_exec runner); the pure ones also run natively in test-unit.
# The loader's command table has its own tests (node --test).
test-tracker:
	$(NODE_TEST_ENV) $(WASM_ENV) $(GO) test -count=1 ./tracker/...
	node --test web/loader/

# Headless browsers against real collectors on loopback ports; the tests
# carry the build tag so that test-unit, where the browsers may be missing,
# does not run them.
test-browser: web-assets chromium browser-engines
	$(GO) test -count=1 -tags browser -timeout 10m ./collector/browsertest/

bench-tracker: size web-assets chromium
	$(GO) test -count=1 -tags browser -run '^$$' -bench . -benchtime 1x ./collector/browsertest/
