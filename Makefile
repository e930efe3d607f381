# Tenure. `make demo` plays the whole story; `make test` is the one test command.
GO       ?= go
BIN      ?= bin
TRUST    ?=
PRODUCT  ?=
PRODUCTS ?=
FLOOR    ?=
export TRUST PRODUCT PRODUCTS FLOOR BIN

.PHONY: all build test check vectors fuzz bench demo lambda clean

all: build

## build: tenure, tenure-issuer, validator.wasm and validator-reactor.wasm in bin/
build:
	@bash scripts/build.sh

## test: vet, boundaries, the wasip1 build, then every test (wasm guests are built by the tests)
test: check
	@bash scripts/test.sh

## check: go vet, the wasip1 build of the pure packages, and the import boundaries
check:
	$(GO) vet ./...
	GOOS=wasip1 GOARCH=wasm $(GO) build ./shared/... ./schema/ ./validator/...
	@bash scripts/check-imports.sh

## vectors: regenerate the engine's test vectors with throwaway keys
vectors:
	$(GO) run ./shared/engine/internal/vectorgen -out shared/engine/testdata/vectors

## fuzz: run every fuzz target for FUZZTIME each (default 20s)
fuzz:
	@bash scripts/fuzz.sh $(FUZZTIME)

bench:
	@bash scripts/bench.sh

demo:
	@bash scripts/demo.sh

## lambda: the issuer as a Lambda zip (provided.al2023, arm64, bootstrap); PRODUCTS=DIR packs *.product files
lambda:
	@bash scripts/lambda.sh

clean:
	rm -rf $(BIN) dist
