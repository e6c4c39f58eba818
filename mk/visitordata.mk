# Visitor data and internal metadata (issue 4): benchmarks and fuzzing.
#   make bench-visitordata  namespace PATCH throughput: one hot subject and
#                           10,000 subjects (store), and through HTTP (api)
#   make fuzz-visitordata   runs the document and merge-patch fuzzers
#                           (FUZZTIME each, default 30s); `make test` runs
#                           their corpus in shared/visitordata/testdata/fuzz
FUZZTIME ?= 30s
.PHONY: bench-visitordata fuzz-visitordata
bench: bench-visitordata
bench-visitordata:
	$(GO) test -run '^$$' -bench 'PatchNamespace' -benchtime 2s ./collector/store/ ./collector/api/

fuzz-visitordata:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./shared/visitordata/
	$(GO) test -run '^$$' -fuzz '^FuzzMergePatch$$' -fuzztime $(FUZZTIME) ./shared/visitordata/
