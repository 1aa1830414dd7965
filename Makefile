# alist-edge: build, run, test, benchmark. `make help` lists the targets.
GO ?= go
BIN := bin

.PHONY: help build run test bench bench-go bench-compare fuzz soak migrate clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

build: ## build the services into bin/
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ ./cmd/proxy ./cmd/landing ./cmd/upload

run: ## run proxy and landing on SQLite in front of ./data/files (quick start)
	bash scripts/quickstart.sh

test: ## the whole test suite (gofmt, vet, go test -race with SQLite, PostgreSQL and Chromium)
	bash scripts/test.sh

clean: ## remove build output
	rm -rf $(BIN)

bench: ## proxy micro and load benchmarks (direct origin vs through proxy, 1 KiB and 256 MiB, peak RSS)
	bash scripts/bench-proxy.sh

bench-go: ## testing.B benchmarks of the hot paths (sign chain, unified check on SQLite and Postgres)
	bash scripts/bench-go.sh

bench-compare: ## side-by-side with nginx secure_link and njs (../shared/bench), writes docs/benchmarks.md
	bash scripts/bench-compare.sh

fuzz: ## every fuzz target for FUZZTIME each (default 30s)
	bash scripts/fuzz.sh

soak: ## 60 s at 1000 keep-alive connections against the proxy (not part of make test)
	bash scripts/soak.sh

migrate: ## apply database migrations for the configured DB_MODE (reads the environment / .env)
	go run ./cmd/proxy migrate
