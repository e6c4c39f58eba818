# The OpenAPI linter: Redocly CLI, pinned in collector/api/openapi-lint
# (package.json and package-lock.json; 2.77.0 runs on Node 20.19 and
# later), with its recommended ruleset on collector/api/openapi.json. No
# error and no warning may remain: the config (redocly.yaml) and its ignore
# file say why for each rule turned off or finding ignored.
#
#   make openapi-lint   install the pinned linter when missing, then lint

OPENAPI_LINT_DIR := collector/api/openapi-lint
OPENAPI_LINT_STAMP := $(OPENAPI_LINT_DIR)/node_modules/.visitrack-installed
export REDOCLY_TELEMETRY := off
export REDOCLY_SUPPRESS_UPDATE_NOTICE := true

.PHONY: openapi-lint openapi-lint-deps
test: openapi-lint

openapi-lint-deps: $(OPENAPI_LINT_STAMP)
$(OPENAPI_LINT_STAMP): $(OPENAPI_LINT_DIR)/package-lock.json $(OPENAPI_LINT_DIR)/package.json
	@command -v npm >/dev/null || { echo "openapi-lint: npm (Node.js 20.19 or later) is needed"; exit 1; }
	cd $(OPENAPI_LINT_DIR) && CI=1 npm ci --prefer-offline --ignore-scripts --no-audit --no-fund
	touch $@

# redocly exits 0 on warnings; a warning fails here too.
openapi-lint: openapi-lint-deps
	@out=$$(cd $(OPENAPI_LINT_DIR) && node_modules/.bin/redocly lint --config redocly.yaml --format stylish 2>&1); rc=$$?; \
		echo "$$out" | grep -v '[║╔╚]'; \
		[ $$rc -eq 0 ] || exit $$rc; \
		if echo "$$out" | grep -Eq '^ *[0-9]+:[0-9]+ +warning '; then echo "openapi-lint: warnings remain: fix them, or explain them in $(OPENAPI_LINT_DIR)/redocly.yaml"; exit 1; fi
