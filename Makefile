# The project's tasks. `make test` is the one command that runs the whole suite (README).

CARGO ?= cargo

.PHONY: test unit e2e build release bench fuzz lint fmt

## Build the closet binary (debug).
build:
	$(CARGO) build -p closet

## Build the release binary (what the quickstart installs and the benchmarks run).
release:
	$(CARGO) build --release -p closet

## Every test tier: unit, integration and end to end (real closet binary, real kubectl).
test: build
	@if command -v cargo-nextest >/dev/null 2>&1; then \
		$(CARGO) nextest run --workspace --no-fail-fast; \
	else \
		$(CARGO) test --workspace --no-fail-fast; \
	fi

## Unit and in-process integration tests only (no closet process, no kubectl).
unit:
	$(CARGO) test --workspace --exclude closet-e2e

## End-to-end tests only.
e2e: build
	$(CARGO) test -p closet-e2e

## Benchmarks (see docs/benchmarks.md for recorded results).
bench: release
	$(CARGO) run --release -p closet-store --example store_bench
	$(CARGO) run --release -p closet-bench --bin api_bench
	$(CARGO) run --release -p closet-bench --bin pod_bench
	$(CARGO) run --release -p closet-bench --bin sched_bench
	$(CARGO) run --release -p closet-bench --bin deploy_bench
	$(CARGO) run --release -p closet-bench --bin svc_bench
	bash bench/scripts/dns_bench.sh

## Fuzz body decoding and every patch type for a minute each (needs nightly and cargo-fuzz).
fuzz:
	$(CARGO) +nightly fuzz run decode_body -- -max_total_time=60 -timeout=5 -rss_limit_mb=2048
	$(CARGO) +nightly fuzz run patches -- -max_total_time=60 -timeout=5 -rss_limit_mb=2048

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all
