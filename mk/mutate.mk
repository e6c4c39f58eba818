# Mutation testing: go-gremlins breaks small rules in a copy of the code
# (a < turned into <=, a condition negated, …) and runs the package's
# tests; a mutant that no test notices "lived" and marks a rule nobody
# checks. Slow (every mutant is a full `go test` of its package), so it is
# not part of `make test`.
#
#   make mutate                              every package below, one at a time
#   make mutate MUTATE_PKGS=collector/store  one package
#
# It prints the efficacy (killed / (killed + lived)) per package, and keeps
# each package's full report in build/mutate/<pkg>.json and .log; the
# mutants that lived are listed in the .log ("LIVED … at file:line:col").

GREMLINS_VERSION := v0.6.0
GREMLINS := $(shell $(GO) env GOPATH)/bin/gremlins
MUTATE_PKGS ?= collector/live collector/api collector/identity collector/store shared/protocol
# One worker and one CPU per test run: the machine has two cores shared with
# others. The timeout coefficient is generous because a loaded machine
# makes a slow test look like a mutant that hangs (TIMED OUT is not KILLED).
MUTATE_FLAGS ?= --workers 1 --test-cpu 1 --timeout-coefficient 20

.PHONY: mutate gremlins
mutate: gremlins
	@mkdir -p build/mutate
	@for p in $(MUTATE_PKGS); do \
		name=$$(echo $$p | tr / _); \
		echo "== $$p"; \
		$(GREMLINS) unleash $(MUTATE_FLAGS) -o build/mutate/$$name.json ./$$p > build/mutate/$$name.log 2>&1; \
		grep -E '^(Killed|Timed out|Not covered|Efficacy|Mutator coverage)' build/mutate/$$name.log \
			|| { tail -20 build/mutate/$$name.log; exit 1; }; \
	done
	@echo "== efficacy per package"
	@for p in $(MUTATE_PKGS); do \
		printf '%-22s %s\n' $$p "$$(grep -h '^Efficacy' build/mutate/$$(echo $$p | tr / _).log)"; \
	done

gremlins:
	@$(GO) version -m $(GREMLINS) 2>/dev/null | grep -q 'mod.*gremlins.*$(GREMLINS_VERSION)' \
		|| $(GO) install github.com/go-gremlins/gremlins/cmd/gremlins@$(GREMLINS_VERSION)
