# gantry: the README's quick start is `make demo` and `make test`.
SHELL := /bin/bash
GO ?= go
BIN := $(CURDIR)/bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
TEST_TIMEOUT ?= 25m

.PHONY: all build test testdeps bench lint testcluster demo clean

all: build

## build: the gantry binary, bin/gantry
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/gantry ./cmd/gantry

## testcluster: etcd, kube-apiserver, kube-controller-manager into bin/ (skipped when up to date)
testcluster:
	tools/testcluster/build.sh $(BIN)

## testdeps: programs tests use that a fresh machine may lack: pgbouncer
## (the lock's pooler check runs against a real one)
testdeps:
	@command -v pgbouncer >/dev/null || { echo "installing pgbouncer (apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null; }

## test: the whole suite, against the real control plane and Postgres
test: testcluster testdeps
	GANTRY_TESTCLUSTER_BIN=$(BIN) $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

## bench: benchmarks, with kubectl measured in the same run for comparison
bench: testcluster
	GANTRY_TESTCLUSTER_BIN=$(BIN) $(GO) test -p 1 -run '^$$' -bench . -benchtime 3s -timeout 60m ./...

## lint: formatting, go vet and staticcheck
lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	GOFLAGS= $(GO) run $(STATICCHECK) ./...

## demo: control plane + embedded Postgres + the example stack, end to end
demo: build testcluster
	$(GO) run ./tools/demo

clean:
	rm -rf $(BIN) .demo
