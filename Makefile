# ringproxy: `make run` starts three local redis-servers and the proxy in front of them on
# 127.0.0.1:6380; `make test` runs the unit and integration tests. Both install what is
# missing first (Debian: apt-get; Python: pip for redis-py).

SWIFT ?= swift
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := libuv1-dev redis-server redis-tools pkg-config
TEST_APT_PACKAGES := $(APT_PACKAGES) nutcracker python3-pip chromium
RELEASE_BIN := .build/release/ringproxy

.PHONY: run test build deps test-deps clean

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; fi

test-deps:
	@missing=""; for p in $(TEST_APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; fi
	@python3 -c 'import prometheus_client, redis, sys; sys.exit(0 if int(redis.__version__.split(".")[0]) >= 8 else 1)' 2>/dev/null || \
	  python3 -m pip install -q 'redis>=8,<9' prometheus-client 2>/dev/null || \
	  python3 -m pip install -q --break-system-packages 'redis>=8,<9' prometheus-client

build: deps
	$(SWIFT) build -c release

run: build
	tools/run-local.sh $(RELEASE_BIN) conf/local.yml

# The integration tests run the release binary (as users do); unit tests run in debug.
test: test-deps
	$(SWIFT) build -c release --product ringproxy
	RINGPROXY_BIN=$(CURDIR)/$(RELEASE_BIN) $(SWIFT) test

clean:
	rm -rf .build
