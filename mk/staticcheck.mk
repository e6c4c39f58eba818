# staticcheck (honnef.co/go/tools), pinned as a Go tool in go.mod
# (`go get -tool`): make vet runs it with its default checks on the native
# build, the build-tagged browser and edge tests, and the tracker as
# js/wasm. It is built once into build/ and run from there, since
# `go tool` would build it for GOOS=js too.
STATICCHECK := build/staticcheck

.PHONY: staticcheck $(STATICCHECK)
vet: staticcheck

$(STATICCHECK):
	$(GO) build -o $@ honnef.co/go/tools/cmd/staticcheck

staticcheck: $(STATICCHECK) web-assets
	$(STATICCHECK) ./...
	$(STATICCHECK) -tags browser,edge ./collector/browsertest/ ./collector/edge/...
	GOOS=js GOARCH=wasm $(STATICCHECK) ./tracker/... ./shared/...
