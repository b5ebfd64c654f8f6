# prsim — see README.md. Targets: demo, test, bench, fuzz, lint, build.
GO       ?= go
FUZZTIME ?= 10s
BIN      := bin/prsim

.PHONY: all build demo test bench fuzz lint setup clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/prsim

# The main job: a whole PlayReady chain on this machine, checked end to end.
demo: build
	./$(BIN) demo

# Unit, conformance (soft, TPM simulator, swtpm), kill -9, interop and CLI tests.
test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...

# Go benchmarks; bench/results.json gets the ratios measured in this one run.
bench:
	@mkdir -p bench
	$(GO) test -run='^$$' -bench=. -benchmem -count=1 -timeout 30m ./bench | tee bench/bench.txt
	$(GO) run ./bench/benchjson < bench/bench.txt > bench/results.json
	@cat bench/results.json

# Every fuzz target for FUZZTIME each, from its committed seeds.
fuzz:
	FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...
	@command -v staticcheck >/dev/null 2>&1 || $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2
	$$($(GO) env GOPATH)/bin/staticcheck ./...

setup:
	bash scripts/setup-debian.sh

clean:
	rm -rf bin
