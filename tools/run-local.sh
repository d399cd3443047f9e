#!/usr/bin/env bash
# Starts the three redis-server upstreams that conf/local.yml names (127.0.0.1:7001-7003)
# and ringproxy in front of them on 127.0.0.1:6380; Ctrl-C stops all of them.
set -euo pipefail
bin=${1:-.build/release/ringproxy}
conf=${2:-conf/local.yml}
dir=$(mktemp -d /tmp/ringproxy-local.XXXXXX)
pids=()
stop() {
    trap - INT TERM EXIT
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$dir"
    echo "stopped"
}
trap stop INT TERM EXIT
for port in 7001 7002 7003; do
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" \
        --logfile "$dir/redis-$port.log" &
    pids+=($!)
done
for port in 7001 7002 7003; do
    for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
done
echo "redis-server on 127.0.0.1:7001-7003; ringproxy on 127.0.0.1:6380 (Ctrl-C stops everything)"
"$bin" -c "$conf" &
pids+=($!)
wait "${pids[-1]}"
