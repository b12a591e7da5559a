# severa-bridge — single entry point. `make demo` and `make test` are the README's two commands.
SHELL := /bin/bash

.PHONY: demo dev demo-severa test chaos sim bench bench-worker coldstart size fuzz lint-infra fmt lint help

help:
	@echo "make demo   - the whole pipeline locally (moto, severa-sim, functions under cargo lambda): scenario + report"
	@echo "make dev    - the same local stack left running; endpoints in .run/dev/endpoints.env"
	@echo "make demo-severa - only the Severa simulator, driven with bridgectl (no AWS parts)"
	@echo "make test   - fmt check, clippy -D warnings, all tests, end-to-end smoke against severa-sim, the demo scenario"
	@echo "make chaos  - 2 000 jobs out of order and resent, under injected faults, a maintenance break and a key rotation"
	@echo "make sim    - run severa-sim on 127.0.0.1:8642 in the foreground"
	@echo "make bench  - criterion benchmark of the SOAP response parser"
	@echo "make bench-worker - worker throughput against severa-sim vs the simulator's raw capacity"
	@echo "make coldstart - release binaries: time to 'ready for the first event' and RSS"
	@echo "make fuzz   - cargo-fuzz targets (SOAP reader, webhook verifiers, job/Toggl parsers, configs), FUZZ_SECONDS each (default 600); see FUZZING.md"
	@echo "make size   - release binaries: bootstrap size, stripped and zipped, per function"
	@echo "make lint-infra - cfn-lint, checkov and the template-vs-code checks of infra/template.yaml"

demo:
	@scripts/demo-stack.sh demo

dev:
	@scripts/demo-stack.sh dev

demo-severa:
	@scripts/demo.sh

test:
	@scripts/test.sh

chaos:
	@scripts/chaos.sh

sim:
	cargo run --release -p severa-sim -- --listen 127.0.0.1:8642

bench:
	cargo bench -p severa --bench parse

# Three sittings. First the one that judges the throughput target (RATIO_TARGET): Severa 20-40 ms
# per call and 5 ms per table request, as in AWS, in the template's layout (8 instances x 1 Severa
# call and 10 records, batches of 10). Then the same with the table in memory, then CPU-bound
# (16 calls in flight, the simulator at its own speed on the same cores: the worker's CPU per job).
LATENCY_BOUND := SEVERA_LATENCY_MS=20 SEVERA_LATENCY_JITTER_MS=20 IN_FLIGHT=8 SEVERA_CALLS=1 RECORDS=10 BATCH=10 JOBS=1600 ROUNDS=5
bench-worker:
	@echo "== production-shaped: Severa 20-40 ms per call, 5 ms per table request, the template's layout"
	$(LATENCY_BOUND) TABLE_LATENCY_MS=5 RATIO_TARGET=80 cargo bench -p bridge --bench worker_throughput
	@echo "== the same with the table in memory"
	$(LATENCY_BOUND) cargo bench -p bridge --bench worker_throughput
	@echo "== CPU-bound: 16 calls in flight, the simulator at its own speed on the same cores"
	cargo bench -p bridge --bench worker_throughput

FUNCTIONS := -p webhook -p worker -p scheduler -p rotation

coldstart:
	cargo build --release --locked $(FUNCTIONS)
	scripts/moto.sh venv
	PATH="$(CURDIR)/.venv/bin:$$PATH" python3 scripts/coldstart.py $${CARGO_TARGET_DIR:-target}/release 20

fuzz:
	@scripts/fuzz.sh

size:
	cargo build --release --locked $(FUNCTIONS)
	python3 scripts/size.py $${CARGO_TARGET_DIR:-target}/release --max-zip-mb 4

lint-infra:
	@scripts/lint-infra.sh

fmt:
	cargo fmt --all

lint:
	cargo clippy --workspace --all-targets --locked -- -D warnings
