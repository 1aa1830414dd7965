#!/usr/bin/env bash
# Soak test of the download proxy (`make soak`; not part of `make test`): builds bin/proxy and
# runs tools/soaktool, which starts a fake AList and the proxy on loopback and drives it for
# SOAK_DURATION (default 60s) with SOAK_CONNS (default 1000) concurrent keep-alive connections:
# valid downloads, Range requests, forged links and hostile paths, and one client over the rate
# limit. It reports requests served, the 5xx count (must be 0), p50/p99 latency, RSS at start and
# end with samples, and go_goroutines from the proxy's admin /metrics (end must equal start).
set -euo pipefail
cd "$(dirname "$0")/.."
SOAK_DURATION="${SOAK_DURATION:-60}"
SOAK_CONNS="${SOAK_CONNS:-1000}"
case "$SOAK_DURATION" in *[!0-9]*) ;; *) SOAK_DURATION="${SOAK_DURATION}s" ;; esac
# Each connection is one descriptor on both ends, plus the upstream pool.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
CGO_ENABLED=0 go build -trimpath -o bin/proxy ./cmd/proxy
go build -o bin/soaktool ./tools/soaktool
# Bounded in time whatever happens: the duration plus startup and drain.
secs=$(( ${SOAK_DURATION%s} + 120 ))
exec timeout --signal=TERM --kill-after=10 "$secs" bin/soaktool -proxy bin/proxy -duration "$SOAK_DURATION" -conns "$SOAK_CONNS"
