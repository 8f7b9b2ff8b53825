# One entry point for every task. The README and .ci/run call these targets.
#   make demo    install, then run the quickstart on generated data
#   make check   install, then lint and run every test (Rust and Python)
#   make bench   install, then run the benchmarks against the peers (bench-parquet: Parquet only)

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
export CARGO_TERM_COLOR ?= never

.PHONY: install demo check test test-rust test-python test-python-dev test-slow lint lint-rust lint-python bench bench-diff bench-parquet bench-shapes bench-store vectors clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Builds the Rust extension (release profile) into an editable install with every extra.
install: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,lint,bench]'

demo: install
	$(BIN)/python -m lineage_fast.demo

check: install lint test

test: test-rust test-python test-python-dev

# Twice: the dev profile checks debug assertions and integer overflow, the release profile tests
# the code users run.
test-rust:
	cargo test -p lineage-core
	cargo test -p lineage-core --release

test-python: install
	$(BIN)/python -m pytest

# The Python suite again over a dev-profile build of the extension: the Hypothesis properties then
# run the Rust code with its debug assertions and overflow checks. The release build is put back.
test-python-dev: install
	MATURIN_PEP517_ARGS="--profile dev" $(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m pytest -q -p no:cacheprovider; status=$$?; \
	$(BIN)/python -m pip install --quiet --no-deps -e . && exit $$status

# The long tests (8 writer processes x 50, 100 kill -9 iterations...): deselected by default.
test-slow: install
	$(BIN)/python -m pytest -m slow

lint: lint-rust lint-python

lint-rust:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --release -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc -p lineage-core --no-deps --quiet

lint-python: install
	$(BIN)/ruff check python tests benches
	$(BIN)/ruff format --check python tests benches
	$(BIN)/mypy
	$(BIN)/python -m mypy.stubtest lineage_fast._core

bench: install
	$(BIN)/python benches/bench_hash.py
	$(BIN)/python benches/bench_shapes.py
	$(BIN)/python benches/bench_parquet.py
	$(BIN)/python benches/bench_store.py
	$(MAKE) bench-diff

# diff vs DuckDB / polars joins (10M rows) and datacompy (1M rows). datacompy pins older pandas
# and polars than the test suite uses, so it is installed without its pins.
bench-diff: install
	$(BIN)/python -m pip install --quiet --no-deps 'datacompy>=1.1' ordered-set
	$(BIN)/python benches/bench_diff.py

# hash_parquet on 52M rows (3.1 GB decoded) in 8 Parquet files, generated once under /tmp.
bench-parquet: install
	$(BIN)/python benches/bench_parquet.py

# hash_table on other table shapes (small batches, string views, per-batch dictionaries,
# duplicates, lists, embeddings), against polars hash_rows.
bench-shapes: install
	$(BIN)/python benches/bench_shapes.py

# Commit overhead (10M rows), record_run latency, lineage queries on 100k versions / 50k runs.
bench-store: install
	$(BIN)/python benches/bench_store.py

# Only with a new hash scheme: rewrites the golden vectors (see docs/hash-spec.md §12).
vectors: install
	$(BIN)/python tests/vectors/generate.py --write
	cd tests/vectors && sha256sum scheme1.json > scheme1.json.sha256

clean:
	rm -rf $(VENV) target python/lineage_fast/_core*.so
