# Mutation testing: go-gremlins breaks small rules in a copy of the code
# (a < turned into <=, a condition negated, …) and runs the package's
# tests; a mutant that no test notices "lived" and marks a rule nobody
# checks. Slow (every mutant is a full `go test` of its package, and there
# are about 600), so it is not part of `make test`.
#
#   make mutate                              every package below, one at a time
#   make mutate MUTATE_PKGS=collector/store  one package
#   make mutate MUTATE_SCOPE=rules           only the files that hold security
#                                            rules (origins, client IPs, rate
#                                            limits, scopes, dedup, tokens,
#                                            erasure; test helpers left out):
#                                            about half the mutants
#
# It prints the efficacy (killed / (killed + lived)) per package, and keeps
# each package's report in build/mutate/<pkg>.json and .log; the mutants
# that lived are the "LIVED … at file:line:col" lines of the .log.

GREMLINS_VERSION := v0.6.0
GREMLINS := $(shell $(GO) env GOPATH)/bin/gremlins
MUTATE_PKGS ?= collector/live collector/api collector/identity collector/store shared/protocol
MUTATE_SCOPE ?= all
# One worker and one CPU per test run: the machine has two cores shared with
# others. Gremlins sets each run's timeout from the time the coverage run
# took, times the coefficient; -count=1 keeps that run from coming out of
# the test cache in no time, and the coefficient is generous because on a
# loaded machine a slow test otherwise looks like a mutant that hangs
# (TIMED OUT, which is not KILLED).
MUTATE_FLAGS ?= --workers 1 --test-cpu 1 --timeout-coefficient 10

.PHONY: mutate gremlins
mutate: gremlins
	@mkdir -p build/mutate
	@for p in $(MUTATE_PKGS); do \
		name=$$(echo $$p | tr / _); ex=; \
		if [ "$(MUTATE_SCOPE)" = rules ]; then case $$p in \
			collector/live) ex='-E ^conn\.go$$';; \
			collector/api) ex='-E ^(history|metadata|problem|respond)\.go$$';; \
			collector/store) ex='-E ^storetest/ -E ^(history|cursor|metadata|versioned|visitordata|store)\.go$$';; \
		esac; fi; \
		echo "== $$p $$ex"; \
		GOFLAGS=-count=1 $(GREMLINS) unleash $(MUTATE_FLAGS) $$ex -o build/mutate/$$name.json ./$$p > build/mutate/$$name.log 2>&1; \
		grep -E '^(Killed|Timed out|Test efficacy|Mutator coverage)' build/mutate/$$name.log \
			|| { tail -20 build/mutate/$$name.log; exit 1; }; \
	done
	@echo "== efficacy per package"
	@for p in $(MUTATE_PKGS); do \
		printf '%-22s %s\n' $$p "$$(grep -h '^Test efficacy' build/mutate/$$(echo $$p | tr / _).log)"; \
	done

gremlins:
	@$(GO) version -m $(GREMLINS) 2>/dev/null | grep -q 'mod.*gremlins.*$(GREMLINS_VERSION)' \
		|| $(GO) install github.com/go-gremlins/gremlins/cmd/gremlins@$(GREMLINS_VERSION)
