# reef — two commands on a fresh machine:
#   make run    installs what is missing, builds reef and the bundled skills, starts reef
#   make test   installs what is missing and runs the whole suite
#
# Everything reef needs beyond Go is installed here, never by hand.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO        ?= go
BIN       := bin
REEF      := $(BIN)/reef
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
GOBIN     := $(shell $(GO) env GOPATH)/bin
STATICCHECK := $(GOBIN)/staticcheck
export PATH := $(GOBIN):$(PATH)
export GOTOOLCHAIN := local

CLANG     := clang-19
WASI_CC   := $(CLANG) --target=wasm32-wasi -mexec-model=reactor -O2 -Wl,--strip-all
RUSTC     := /usr/bin/rustc
APT_PKGS  := clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32 rustc libstd-rust-dev-wasm32 binaryen chromium chromium-headless-shell prometheus tmux qemu-user-static
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

RUN_DIR   ?= $(CURDIR)/.run

## help: list targets
help:
	@grep -E '^## ' $(MAKEFILE_LIST) | sed 's/^## /  /'

# ---------------------------------------------------------------- toolchains
## deps: install missing Debian packages, npm and Go tools
deps: .deps/apt .deps/go-tools pdk/assemblyscript/node_modules/.bin/asc

.deps/apt:
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@mkdir -p .deps && touch $@

# AssemblyScript compiler and Extism's AS PDK (the compatibility tests), pinned by package-lock.json.
pdk/assemblyscript/node_modules/.bin/asc: pdk/assemblyscript/package.json pdk/assemblyscript/package-lock.json
	@command -v npm >/dev/null 2>&1 || { $(SUDO) apt-get update -qq; DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nodejs npm >/dev/null; }
	cd pdk/assemblyscript && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

.deps/go-tools:
	@command -v staticcheck >/dev/null 2>&1 || $(GO) install honnef.co/go/tools/cmd/staticcheck@latest
	@mkdir -p .deps && touch $@

# ---------------------------------------------------------------- build
## build: build bin/reef (static, CGO_ENABLED=0)
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(REEF) ./cmd/reef

## cross: build for linux/amd64 and linux/arm64
cross:
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/reef-linux-amd64 ./cmd/reef
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/reef-linux-arm64 ./cmd/reef

# Wasm fixtures of the Go test suites, built from sources in testdata/.
ENGINE_TD := runtime/engine/testdata
TESTDATA_C := $(ENGINE_TD)/greet.wasm $(ENGINE_TD)/greet_bulk.wasm $(ENGINE_TD)/hostile.wasm \
	$(ENGINE_TD)/start_trap.wasm $(ENGINE_TD)/unknown_import.wasm $(ENGINE_TD)/bigmem.wasm $(ENGINE_TD)/nomem.wasm

## testdata: build the Wasm fixtures used by the tests
testdata: .deps/apt $(TESTDATA_C) $(ENGINE_TD)/greet_go.wasm

$(ENGINE_TD)/greet.wasm: $(ENGINE_TD)/greet.c pdk/c/reef.h
	$(WASI_CC) -DREEF_EXTISM_ONLY -o $@ $<
$(ENGINE_TD)/greet_bulk.wasm: $(ENGINE_TD)/greet.c pdk/c/reef.h
	$(WASI_CC) -o $@ $<
$(ENGINE_TD)/bigmem.wasm: $(ENGINE_TD)/bigmem.c
	$(WASI_CC) -Wl,--initial-memory=134217728 -o $@ $<
$(ENGINE_TD)/%.wasm: $(ENGINE_TD)/%.c pdk/c/reef.h
	$(WASI_CC) -o $@ $<
$(ENGINE_TD)/greet_go.wasm: $(wildcard $(ENGINE_TD)/greet_go/*.go) $(wildcard pdk/go/*.go)
	cd $(ENGINE_TD)/greet_go && GOOS=wasip1 GOARCH=wasm $(GO) build -tags reef_extism -buildmode=c-shared -trimpath -ldflags='-s -w' -o ../greet_go.wasm .

# ---------------------------------------------------------------- skills
SKILLS := $(patsubst skills-src/%/SKILL.md,%,$(wildcard skills-src/*/SKILL.md))

## skills: build every bundled skill in skills-src/
skills: deps build
	@for s in $(SKILLS); do $(REEF) build --quiet skills-src/$$s || exit 1; done

# ---------------------------------------------------------------- test
## lint: gofmt, go vet (host and wasip1 guest code), staticcheck
lint: .deps/go-tools
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOOS=wasip1 GOARCH=wasm $(GO) vet ./pdk/go/... ./skills-src/...
	GOOS=wasip1 GOARCH=wasm $(GO) vet -tags reef_nojson ./pdk/go/
	GOOS=wasip1 GOARCH=wasm $(GO) vet -tags reef_extism ./pdk/go/
	staticcheck ./...
	GOOS=wasip1 GOARCH=wasm staticcheck ./pdk/go/... ./skills-src/...

## test: install what is missing, then lint and run every test (race detector on)
test: deps testdata skills lint
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build ./...
	CGO_ENABLED=1 $(GO) test -race -timeout 15m ./...

## run: build reef and the bundled skills, then start the daemon on loopback (token printed once)
run: deps build skills
	$(REEF) --skill-dir skills-src run hello-c greet '{"name":"reef"}'; echo
	SKILL_DIR=$(CURDIR)/skills-src $(REEF) serve

## bench: benchmarks with ratios against extism go-sdk and raw wazero (same run)
bench: deps testdata skills
	@mkdir -p $(BIN)
	$(GO) test -run '^$$' -bench . -benchmem -count 1 -timeout 30m \
	  ./runtime/engine/... ./runtime/server/ ./runtime/metrics/ ./cmd/reef/ ./hostfuncs/... ./skills-src/... 2>&1 | $(GO) run ./internal/benchtable | tee $(BIN)/bench.txt

## soak: long-running load against the daemon and hot reload (not part of make test)
soak: deps testdata
	REEF_SOAK=1 CGO_ENABLED=1 $(GO) test -race -run 'Soak|HotReload' -count 20 -timeout 60m ./runtime/registry/ ./runtime/server/

## clean: remove build outputs
clean:
	rm -rf $(BIN) .deps $(RUN_DIR)
	find runtime -name '*.wasm' -path '*testdata*' -delete

.PHONY: help deps build cross testdata skills lint test run bench soak clean test-arm64

## test-arm64: run the engine tests as linux/arm64 under qemu (not part of make test)
test-arm64: deps testdata
	CGO_ENABLED=0 GOARCH=arm64 $(GO) test -exec qemu-aarch64-static -count 1 ./runtime/engine/ ./runtime/policy/ ./runtime/skill/
