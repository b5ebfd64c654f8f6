# prsim — see README.md. Targets: demo, test, install, bench, fuzz, soak, lint, build.

# Go 1.26 is expected in /usr/local/go (README); a fresh root shell may not
# have it on PATH yet. A go already on PATH wins.
ifeq ($(shell command -v go 2>/dev/null),)
export PATH := /usr/local/go/bin:$(PATH)
endif

GO       ?= go
FUZZTIME ?= 10s
SOAKTIME ?= 2m
PREFIX   ?= /usr/local
BIN      := bin/prsim
TESTJSON := bin/test.json
PKGS     ?= ./...

.PHONY: all build demo test install bench fuzz soak lint setup clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/prsim

# The main job: a whole PlayReady chain on this machine, checked end to end.
demo: build
	./$(BIN) demo

# go vet, then every test through gotestsum (a go.mod tool). The last lines
# list skipped tests with their reason (a missing swtpm, ffmpeg, chromium
# or shaka-packager skips its tests, or fails them under
# PRSIM_REQUIRE_TOOLS=1 as in CI) and end with "N passed, N failed,
# N skipped". Exits non-zero if anything failed.
test:
	$(GO) vet $(PKGS)
	@mkdir -p bin
	@$(GO) build -o bin/testsummary ./internal/testsummary
	@status=0; \
	$(GO) tool gotestsum --format pkgname --hide-summary=skipped --jsonfile $(TESTJSON) -- \
		-count=1 -timeout 20m $(PKGS) || status=1; \
	bin/testsummary $(TESTJSON) || status=1; \
	exit $$status

# Installs bin/prsim as $(PREFIX)/bin/prsim (or: go install ./cmd/prsim).
install: build
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/prsim

# Go benchmarks; bench/results.json gets the ratios measured in this one run.
bench:
	@mkdir -p bench
	$(GO) test -run='^$$' -bench=. -benchmem -count=1 -timeout 30m ./bench | tee bench/bench.txt
	$(GO) run ./bench/benchjson < bench/bench.txt > bench/results.json
	@cat bench/results.json

# Every fuzz target for FUZZTIME each, from its committed seeds; ends with a
# table of executions per second (FUZZ_STRICT=1 fails a target below
# 1,000/s).
fuzz:
	FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh

# The hostile-input suite in its long mode (PRSIM_SOAK=1: many more damaged
# stores, mutated challenges, cfg strings, MPDs, segments and device
# directories than make test runs), then every fuzz target for SOAKTIME.
soak:
	PRSIM_SOAK=1 $(GO) test -count=1 -timeout 60m -run 'Hostile|Damaged' $(PKGS)
	FUZZTIME=$(SOAKTIME) bash scripts/fuzz.sh

lint:
	$(GO) mod tidy -diff
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet $(PKGS)
	@command -v staticcheck >/dev/null 2>&1 || $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2
	$$($(GO) env GOPATH)/bin/staticcheck ./...

setup:
	bash scripts/setup-debian.sh

clean:
	rm -rf bin
