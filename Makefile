# severa-bridge — single entry point. `make demo` and `make test` are the README's two commands.
SHELL := /bin/bash

.PHONY: demo test sim bench bench-worker coldstart fmt lint help

help:
	@echo "make demo   - build, start the Severa simulator and drive it with bridgectl (local, no AWS)"
	@echo "make test   - fmt check, clippy -D warnings, all tests, end-to-end smoke against severa-sim"
	@echo "make sim    - run severa-sim on 127.0.0.1:8642 in the foreground"
	@echo "make bench  - criterion benchmark of the SOAP response parser"
	@echo "make bench-worker - worker throughput against severa-sim vs the simulator's raw capacity"
	@echo "make coldstart - release binaries: time to 'ready for the first event' and RSS"

demo:
	@scripts/demo.sh

test:
	@scripts/test.sh

sim:
	cargo run --release -p severa-sim -- --listen 127.0.0.1:8642

bench:
	cargo bench -p severa --bench parse

bench-worker:
	cargo bench -p bridge --bench worker_throughput

coldstart:
	cargo build --release --locked -p webhook -p worker
	scripts/moto.sh venv
	PATH="$(CURDIR)/.venv/bin:$$PATH" python3 scripts/coldstart.py $${CARGO_TARGET_DIR:-target}/release 20

fmt:
	cargo fmt --all

lint:
	cargo clippy --workspace --all-targets --locked -- -D warnings
