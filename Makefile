# Hallmark — make help lists the targets.
GO      ?= go
PKGS    := ./...
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build bin/hallmark
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o bin/hallmark ./cmd/hallmark

# The systems where desktop authenticators fail, and the doctor must run.
RELEASE_PLATFORMS := linux/amd64 linux/arm64 darwin/arm64 windows/amd64

.PHONY: release
release: ## Cross-build static binaries (CGO_ENABLED=0) for every release platform into dist/
	@mkdir -p dist
	@set -e; for p in $(RELEASE_PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		out=dist/hallmark-$(VERSION)-$$os-$$arch$$ext; \
		echo "  $$out"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o $$out ./cmd/hallmark; \
	done
	@cd dist && sha256sum hallmark-$(VERSION)-* > SHA256SUMS-$(VERSION)

.PHONY: cross-vet
cross-vet: ## go vet every package, tests included, for every release platform
	@set -e; for p in $(RELEASE_PLATFORMS); do \
		echo "  vet $$p"; CGO_ENABLED=0 GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) vet $(PKGS); \
	done

.PHONY: run
run: build ## Run the service on its embedded defaults (SQLite in ./hallmark-data, API on 127.0.0.1:8080)
	./bin/hallmark serve

.PHONY: test
test: ## Run every test, including the BIND 9 tier (HALLMARK_REQUIRE_SERVICES=1 makes a missing service fail)
	$(GO) vet $(PKGS)
	$(GO) test -race -timeout 20m $(PKGS)

.PHONY: test-short
test-short: ## Run the tests that need nothing installed
	$(GO) test -short $(PKGS)

.PHONY: bench
bench: ## Run the benchmarks (see BENCHMARKS.md; the system log's at 10,000 and 10,000,000 events takes minutes and GBs of disk)
	$(GO) test -run '^$$' -bench . -benchtime 2s ./internal/dnscheck/ ./internal/api/
	$(GO) test -run '^$$' -bench BenchmarkStore -benchtime 2s ./internal/store/sqlite/
	$(GO) test -run '^$$' -bench BenchmarkQueryEvents -benchtime 50x -timeout 60m ./internal/store/sqlite/
	$(GO) test -run '^$$' -bench CreateToCompleted -benchtime 10000x ./internal/customdomain/

.PHONY: bench-edge
bench-edge: build ## Measure the real `hallmark serve` beside bare crypto/tls (and caddy, nginx where installed) on loopback: handshakes, proxying, RSS (minutes; seeds 100,000 names once into BENCH_EDGE_DIR)
	$(GO) build -o bin/hallmark-bench ./cmd/hallmark-bench
	./bin/hallmark-bench run -hallmark bin/hallmark -dir $(BENCH_EDGE_DIR)

BENCH_EDGE_DIR ?= $(or $(TMPDIR),/tmp)/hallmark-bench-edge

.PHONY: fuzz
fuzz: ## Fuzz name normalisation, the log filter parser, the API's JSON decoding and the console's next for 30s each
	$(GO) test -run '^$$' -fuzz FuzzNormalizeName -fuzztime 30s ./internal/customdomain/
	$(GO) test -run '^$$' -fuzz FuzzParseFilter -fuzztime 30s ./internal/systemlog/
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime 30s ./internal/api/
	$(GO) test -run '^$$' -fuzz FuzzSafeNext -fuzztime 30s ./internal/console/

.PHONY: check
check: ## gofmt, go vet and go mod tidy must be clean
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet $(PKGS)
	$(GO) mod tidy -diff

.PHONY: clean
clean: ## Remove build output
	rm -rf bin dist
