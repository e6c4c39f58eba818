# The documentation in docs/: the REST API reference is generated from
# collector/api/openapi.json, and every relative link and #anchor of
# README.md and docs/*.md must resolve. Both checks are Go tests of the
# docs package, so test-unit (go test ./...) runs them in make test;
# make docs-check runs them alone.
#
#   make docs         regenerate docs/api.md (go generate ./docs)
#   make docs-check   the freshness and link checks
.PHONY: docs docs-check
docs:
	$(GO) generate ./docs
docs-check:
	$(GO) test -count=1 ./docs/
