# Lifeline: the two commands are `make demo` and `make test`; each installs what it needs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DURATION ?= 90
# the suite runs in TEST_WORKERS processes (pytest-xdist); TEST_WORKERS=0 runs it in this one
TEST_WORKERS ?= 3
PYTEST_ARGS ?=

.PHONY: demo test setup lock system-packages test-system-packages lint typecheck bench-detect bench-fusion bench clean help

help:
	@echo "make demo        run the whole system with scripted events (DURATION=$(DURATION) s)"
	@echo "make test        run the test suite, then ruff and mypy"
	@echo "make lint        ruff; make typecheck: mypy --strict"
	@echo "make bench-detect  NAB, equipment (simulated pump station) and BATADAL detector benchmarks, about 10 min here (writes docs/benchmarks.md)"
	@echo "make bench-fusion  incident fusion against a city's ground truth, ~1 min (writes docs/benchmarks.md)"
	@echo "make lock        re-resolve pyproject's dependencies into requirements.lock"
	@echo "make bench       performance benchmarks of issue 8, < 20 min (writes docs/benchmarks.md)"

# Installs go through the lock: the exact versions the tests ran with (make lock to change them).
$(VENV)/.installed: pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -c requirements.lock -e '.[dev]'
	@touch $@

setup: $(VENV)/.installed

lock:
	scripts/lock.sh $(PYTHON)

system-packages:
	@scripts/ensure-system-packages.sh mosquitto=mosquitto mosquitto_sub=mosquitto-clients

# chromium: Debian's browser, driven by Playwright in the board's tests (never a browser download)
test-system-packages: system-packages
	@scripts/ensure-system-packages.sh systemd-analyze=systemd ip=iproute2 chromium=chromium \
	    '/usr/lib/postgresql/*/bin/initdb=postgresql' runuser=util-linux

demo: setup system-packages
	$(PY) scripts/demo.py --duration $(DURATION)

test: setup test-system-packages
	$(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal --durations=15 $(PYTEST_ARGS)
	$(VENV)/bin/ruff check lifeline edge hub tests benchmarks scripts hardware
	$(VENV)/bin/mypy

lint: setup
	$(VENV)/bin/ruff check lifeline edge hub tests benchmarks scripts hardware

typecheck: setup
	$(VENV)/bin/mypy

bench-detect: setup
	$(PY) benchmarks/nab.py --write-docs
	$(PY) benchmarks/equipment.py --write-docs

bench-fusion: setup system-packages
	$(PY) benchmarks/bench_fusion.py --write-docs $(FUSION_ARGS)

bench: setup system-packages
	$(PY) benchmarks/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
