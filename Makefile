# alist-edge: build, run, test, benchmark. `make help` lists the targets.
GO ?= go
BIN := bin

.PHONY: help build run test bench bench-compare fuzz soak migrate check-config clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

build: ## build both services into bin/
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ ./cmd/proxy ./cmd/landing

run: ## run proxy and landing on SQLite in front of ./data/files (quick start)
	bash scripts/quickstart.sh

test: ## the whole test suite (gofmt, vet, go test -race with SQLite, PostgreSQL and Chromium)
	bash scripts/test.sh

clean: ## remove build output
	rm -rf $(BIN)
