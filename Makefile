# berth: `make demo` runs the main job on the local Docker engine,
# `make test` runs every test (engine tests need a Docker engine).
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/berthhq/berth/internal/version.Version=$(VERSION)

.PHONY: build demo shop test test-unit test-e2e bench lint clean

# berth must be static: the same executable runs FROM scratch as berth-proxy.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/berth ./cmd/berth

demo: build
	./scripts/demo.sh

shop: build
	./scripts/shop.sh

test: test-unit test-e2e

test-unit:
	$(GO) vet ./...
	$(GO) test -race -short ./...

test-e2e:
	$(GO) test -count=1 -p 1 -timeout 20m ./e2e/ ./internal/...

bench: build
	./bench/run.sh
	./bench/compose.sh

clean:
	rm -rf bin
