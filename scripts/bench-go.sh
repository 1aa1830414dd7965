#!/usr/bin/env bash
# make bench-go: the testing.B benchmarks of the hot paths, with -benchmem.
#   pkg/sign        chain verify (five HMACs) and reject
#   pkg/quota       unified Check on SQLite and on PostgreSQL (a throwaway cluster from
#                   scripts/pgtest.sh, stopped at the end unless TEST_DATABASE_URL was given)
#   internal/origin upstream round trip through the tuned http.Transport
#   internal/logx   the JSON access line, slog vs hand-rendered
#   internal/proxy  the whole handler over real listeners (cached link 1 KiB, reject, 64 KiB Range)
# Knobs: COUNT=3 (-count), BENCHTIME=1s, BENCH='.' (regexp), CPU (-cpu list, default unset).
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-3}
BENCHTIME=${BENCHTIME:-1s}
BENCH=${BENCH:-.}
cpu=()
[ -n "${CPU:-}" ] && cpu=(-cpu "$CPU")

started_pg=0
cleanup() { if [ "$started_pg" = 1 ]; then bash scripts/pgtest.sh stop >/dev/null 2>&1 || true; fi; }
trap cleanup EXIT
if [ -z "${TEST_DATABASE_URL:-}" ]; then
    if eval "$(bash scripts/pgtest.sh start 2>/dev/null)"; then
        started_pg=1
    else
        echo "bench-go: no PostgreSQL cluster; the Postgres Check benchmark is skipped" >&2
    fi
fi

echo "# go test -run '^$' -bench '$BENCH' -benchmem -count $COUNT -benchtime $BENCHTIME ${cpu[*]}"
echo "# $(date -u +%FT%TZ), $(nproc) CPUs, $(uname -r), $(go version | cut -d' ' -f3-)"
for pkg in ./pkg/sign/ ./pkg/quota/ ./internal/origin/ ./internal/logx/ ./internal/proxy/; do
    go test -run '^$' -bench "$BENCH" -benchmem -count "$COUNT" -benchtime "$BENCHTIME" "${cpu[@]}" "$pkg"
done
