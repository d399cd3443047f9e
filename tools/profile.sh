#!/usr/bin/env bash
# Profiles ringproxy's user-space CPU with perf while redis-benchmark drives one workload
# through it (one worker, three redis-servers on loopback), and prints the top functions,
# demangled. Usage: tools/profile.sh [BINARY] [WORKLOAD]
#   WORKLOAD: get (GET -P 1, the default), get16 (GET -P 16), mget (MGET of 10 keys -P 1)
# Needs perf (Debian's linux-perf), redis-server, redis-benchmark.
set -euo pipefail
BIN=${1:-.build/release/ringproxy}
WORKLOAD=${2:-get}
WORK=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORTS=($(free_port) $(free_port) $(free_port))
PROXY=$(free_port)
trap 'kill $(jobs -p) 2>/dev/null; for p in "${PORTS[@]}"; do redis-cli -p $p shutdown nosave >/dev/null 2>&1 || true; done; rm -rf "$WORK"' EXIT
for p in "${PORTS[@]}"; do
  redis-server --port $p --bind 127.0.0.1 --save "" --daemonize yes --dir "$WORK" >/dev/null
done
cat > "$WORK/p.yml" <<EOF
p:
  listen: 127.0.0.1:$PROXY
  redis: true
  servers:
    - 127.0.0.1:${PORTS[0]}:1 s1
    - 127.0.0.1:${PORTS[1]}:1 s2
    - 127.0.0.1:${PORTS[2]}:1 s3
ringproxy:
  admin: off
  threads: 1
EOF
"$BIN" -c "$WORK/p.yml" 2>/dev/null &
PID=$!
sleep 0.5
redis-benchmark -p $PROXY -t set -n 100000 -r 100000 -q >/dev/null
case $WORKLOAD in
  get) LOAD=(-t get -P 1) ;;
  get16) LOAD=(-t get -P 16) ;;
  mget) LOAD=(-P 1 MGET k:__rand_int__ k:__rand_int__ k:__rand_int__ k:__rand_int__ k:__rand_int__ k:__rand_int__ k:__rand_int__ k:__rand_int__ k:__rand_int__ k:__rand_int__) ;;
esac
perf record -F 1999 --all-user -g -p $PID -o "$WORK/perf.data" >/dev/null 2>&1 &
PERF=$!
sleep 0.3
redis-benchmark -p $PROXY -c 50 -n 200000 -r 100000 -q "${LOAD[@]}" | tr '\r' '\n' | tail -1
kill -INT $PERF; wait $PERF 2>/dev/null || true
[ -n "${KEEP_PERF:-}" ] && cp "$WORK/perf.data" "$KEEP_PERF"
perf report -i "$WORK/perf.data" --no-children --sort symbol --percent-limit 1.5 --stdio 2>/dev/null \
  | grep -E '^ +[0-9.]+%' | swift demangle --simplified | cut -c1-150 | head -25
