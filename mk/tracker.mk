# The tracker (Go to WebAssembly) and the web files embedded in the collector.
# Placeholder until the tracker lands: web-assets must exist for go build.
.PHONY: web-assets
web-assets:
	@true
