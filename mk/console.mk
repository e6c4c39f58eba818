# The operator console's chart library, uPlot (MIT), vendored in
# web/static/console/vendor/ and committed: a fresh clone builds and tests
# without Node or the network, and make web-assets precompresses it with
# the rest. make console-vendor refreshes it from npm (npm pack checks the
# registry's integrity hash) and records the files' SHA-256 in
# web/console-vendor.sha256; make test checks them, so a hand edit of a
# vendored file fails the build.
UPLOT_VERSION := 1.6.32
CONSOLE_VENDOR := web/static/console/vendor

.PHONY: console-vendor console-vendor-check
test: console-vendor-check

console-vendor:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	(cd "$$tmp" && npm pack --silent uplot@$(UPLOT_VERSION) >/dev/null && tar xzf uplot-$(UPLOT_VERSION).tgz) && \
	mkdir -p $(CONSOLE_VENDOR) && \
	cp "$$tmp"/package/dist/uPlot.iife.min.js "$$tmp"/package/dist/uPlot.min.css $(CONSOLE_VENDOR)/ && \
	cp "$$tmp"/package/LICENSE $(CONSOLE_VENDOR)/uPlot.LICENSE && \
	(echo "# uplot $(UPLOT_VERSION) from npm (make console-vendor)"; \
	 sha256sum $(CONSOLE_VENDOR)/uPlot.iife.min.js $(CONSOLE_VENDOR)/uPlot.min.css $(CONSOLE_VENDOR)/uPlot.LICENSE) > web/console-vendor.sha256
	@echo "uPlot $(UPLOT_VERSION) in $(CONSOLE_VENDOR)"

console-vendor-check:
	@grep -v '^#' web/console-vendor.sha256 | sha256sum --quiet -c - || \
		(echo "the vendored uPlot differs from web/console-vendor.sha256: make console-vendor"; exit 1)
