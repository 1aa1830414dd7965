#!/usr/bin/env bash
# make bench-compare: alist-edge's proxy side by side with nginx secure_link and nginx + njs, using
# the shared harness (../shared/bench/run.sh, see its README), then 1,000 slow downloads.
#   - builds the proxy and benchtool into $WORK/bin
#   - starts a throwaway PostgreSQL cluster (scripts/pgtest.sh, own PGTEST_DIR)
#   - starts two proxies: edge (DB_MODE=sqlite, 127.0.0.1:$EDGE_PORT) and edgepg (DB_MODE=postgres,
#     127.0.0.1:$EDGEPG_PORT), both configured as the README says (fakealist on :18082, raised
#     per-subnet request limit, no bandwidth quotas, link cache on, JSON access log to a file)
#   - RUNS times: run.sh compare edge=custom-full:... edgepg=custom-full:...
#   - slow downloads: SLOW_CLIENTS clients reading SLOW_RATE B/s for SLOW_SECONDS from a third
#     proxy (SQLite) in front of benchtool's origin; peak RSS and errors
#   - stops only what it started (by pid) and writes docs/benchmarks.md (the part between the
#     bench-compare markers; the rest of the file is kept)
#   - BASE_REV=<git revision> adds base: the SQLite proxy built from that revision (a before/after
#     comparison of a change in one invocation; the revision is checked out in a temporary worktree)
#   - POLICY=<file> adds edgepol: the SQLite proxy with POLICY_FILE=<file> (e.g.
#     testdata/bench/policy20.toml: 20 rules, the deciding one last), to compare with edge
#   - EDGE1=1 (default) adds edge1: the SQLite proxy again with GOMAXPROCS=1 (the Go scheduler on one
#     thread; on a box whose cores the load generator and origin share, see docs/benchmarks.md)
# Knobs: RUNS=2, DURATION / REPEAT / SCENARIOS (passed to run.sh), EDGE_PORT=8080, EDGEPG_PORT=8083, EDGE1_PORT=8084, BASE_REV=, BASE_PORT=8085,
#        SLOW_CLIENTS=1000, SLOW_RATE=65536, SLOW_SECONDS=30, SKIP_SLOW=0, SKIP_PG=0,
#        BENCH_DIR=../shared/bench, OUT=docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BENCH_DIR=${BENCH_DIR:-$ROOT/../shared/bench}
RUNS=${RUNS:-2}
EDGE_PORT=${EDGE_PORT:-8080}
EDGEPG_PORT=${EDGEPG_PORT:-8083}
EDGE1_PORT=${EDGE1_PORT:-8084}
EDGE1=${EDGE1:-1}
BASE_REV=${BASE_REV:-}
BASE_PORT=${BASE_PORT:-8085}
POLICY=${POLICY:-}
EDGEPOL_PORT=${EDGEPOL_PORT:-8086}
SLOW_CLIENTS=${SLOW_CLIENTS:-1000}
SLOW_RATE=${SLOW_RATE:-65536}
SLOW_SECONDS=${SLOW_SECONDS:-30}
SKIP_SLOW=${SKIP_SLOW:-0}
SKIP_PG=${SKIP_PG:-0}
OUT=${OUT:-$ROOT/docs/benchmarks.md}
KEY=${SIGN_KEY:-bench-hmac-key}
WORK=$(mktemp -d /tmp/alist-edge-compare.XXXXXX)
export PGTEST_DIR=/tmp/alist-edge-benchpg.$$   # outside WORK: the cluster may run as another user

log() { printf '[bench-compare %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

PIDS=()
PG_STARTED=0
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    if [ "$PG_STARTED" = 1 ]; then bash scripts/pgtest.sh stop >/dev/null 2>&1 || true; fi
    log "logs and results kept in $WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ -f "$BENCH_DIR/run.sh" ] || die "no harness at $BENCH_DIR (set BENCH_DIR)"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

log "building into $WORK/bin"
mkdir -p "$WORK/bin" "$WORK/data"
CGO_ENABLED=0 go build -trimpath -o "$WORK/bin/proxy" ./cmd/proxy
go build -o "$WORK/bin/benchtool" ./tools/benchtool
if [ -n "$BASE_REV" ]; then
    git worktree add -q --detach "$WORK/base-src" "$BASE_REV" || die "cannot check out BASE_REV=$BASE_REV"
    (cd "$WORK/base-src" && CGO_ENABLED=0 go build -trimpath -o "$WORK/bin/proxy-base" ./cmd/proxy) || die "building BASE_REV failed"
    git worktree remove --force "$WORK/base-src"
fi
BT=$WORK/bin/benchtool

for port in $EDGE_PORT $EDGEPG_PORT $EDGE1_PORT $BASE_PORT $EDGEPOL_PORT 18080 18081 18082; do
    if "$BT" wait -addr "127.0.0.1:$port" -d 100ms 2>/dev/null; then die "127.0.0.1:$port is already in use"; fi
done

# proxy NAME PORT ADMIN_PORT ALIST_ADDR VAR=value... : start one proxy, log to $WORK/NAME.log
proxy() {
    local name=$1 port=$2 admin=$3 alist=$4; shift 4
    env -i PATH="$PATH" HOME="${HOME:-/tmp}" ENV_FILE=/dev/null \
        ADDRESS="http://$alist" TOKEN="$KEY" WORKER_ADDRESS="http://127.0.0.1:$port" IPV4_ONLY=false \
        LISTEN_ADDR="127.0.0.1:$port" ADMIN_ADDR="127.0.0.1:$admin" \
        IPSUBNET_WINDOWTIME_LIMIT=1000000000 WINDOW_TIME=1h LINK_TTL=30m LOG_LEVEL=info LOG_FORMAT=json "$@" \
        "$WORK/bin/${PROXY_BIN:-proxy}" 2>"$WORK/$name.log" &
    PIDS+=($!)
    eval "${name}_PID=$!"
    "$BT" wait -addr "127.0.0.1:$port" -d 20s || die "$name did not come up (see $WORK/$name.log)"
}

targets=("edge=custom-full:http://127.0.0.1:$EDGE_PORT")
proxy edge "$EDGE_PORT" 9190 127.0.0.1:18082 DB_MODE=sqlite SQLITE_PATH="$WORK/edge.db"
if [ "$SKIP_PG" != 1 ]; then
    PG_STARTED=1
    pgenv=$(bash scripts/pgtest.sh start) || die "could not start PostgreSQL (scripts/pgtest.sh)"
    eval "$pgenv"
    DBURL=$TEST_DATABASE_URL
    env -i PATH="$PATH" ENV_FILE=/dev/null ADDRESS=http://127.0.0.1:18082 TOKEN="$KEY" DB_MODE=postgres DATABASE_URL="$DBURL" WORKER_ADDRESS=http://127.0.0.1:$EDGEPG_PORT \
        "$WORK/bin/proxy" migrate >"$WORK/migrate.log" 2>&1 || die "migrate failed: $(cat "$WORK/migrate.log")"
    proxy edgepg "$EDGEPG_PORT" 9193 127.0.0.1:18082 DB_MODE=postgres DATABASE_URL="$DBURL"
    targets+=("edgepg=custom-full:http://127.0.0.1:$EDGEPG_PORT")
fi
if [ "$EDGE1" = 1 ]; then
    proxy edge1 "$EDGE1_PORT" 9195 127.0.0.1:18082 DB_MODE=sqlite SQLITE_PATH="$WORK/edge1.db" GOMAXPROCS=1
    targets+=("edge1=custom-full:http://127.0.0.1:$EDGE1_PORT")
fi
if [ -n "$BASE_REV" ]; then
    PROXY_BIN=proxy-base proxy base "$BASE_PORT" 9196 127.0.0.1:18082 DB_MODE=sqlite SQLITE_PATH="$WORK/base.db"
    targets+=("base=custom-full:http://127.0.0.1:$BASE_PORT")
fi
if [ -n "$POLICY" ]; then
    [ -f "$POLICY" ] || die "POLICY=$POLICY: no such file"
    proxy edgepol "$EDGEPOL_PORT" 9197 127.0.0.1:18082 DB_MODE=sqlite SQLITE_PATH="$WORK/edgepol.db" POLICY_FILE="$(realpath "$POLICY")"
    targets+=("edgepol=custom-full:http://127.0.0.1:$EDGEPOL_PORT")
fi

CMD="DURATION=${DURATION:-12} REPEAT=${REPEAT:-2} bash run.sh compare ${targets[*]}"
tables=()
for run in $(seq 1 "$RUNS"); do
    log "compare run $run/$RUNS: $CMD"
    out=$WORK/compare-$run.log
    (cd "$BENCH_DIR" && env SIGN_KEY="$KEY" TARGET_ENV_edge="PEER_PID=$edge_PID" \
        TARGET_ENV_edgepg="PEER_PID=${edgepg_PID:-}" TARGET_ENV_edge1="PEER_PID=${edge1_PID:-}" \
        TARGET_ENV_edgestd="PEER_PID=${edgestd_PID:-}" TARGET_ENV_edgepol="PEER_PID=${edgepol_PID:-}" bash run.sh compare "${targets[@]}") >"$out" 2>&1 \
        || die "compare run $run failed (see $out)"
    f=$(sed -n 's/.*combined table in \(.*compare\.md\).*/\1/p' "$out" | tail -1)
    [ -f "$f" ] || die "no compare.md from run $run (see $out)"
    tables+=("$f")
    cat "$f"
done

slow_line=""
if [ "$SKIP_SLOW" != 1 ]; then
    log "slow downloads: $SLOW_CLIENTS clients x $SLOW_RATE B/s for ${SLOW_SECONDS}s"
    head -c $((256 << 20)) /dev/urandom >"$WORK/data/256m.bin"
    "$BT" origin -addr 127.0.0.1:18180 -dir "$WORK/data" 2>"$WORK/slow-origin.log" &
    PIDS+=($!)
    "$BT" alist -addr 127.0.0.1:18181 -origin http://127.0.0.1:18180 -token "$KEY" 2>"$WORK/slow-alist.log" &
    PIDS+=($!)
    "$BT" wait -addr 127.0.0.1:18180 -d 10s && "$BT" wait -addr 127.0.0.1:18181 -d 10s || die "slow origin did not come up"
    proxy slowedge 18182 9194 127.0.0.1:18181 DB_MODE=sqlite SQLITE_PATH="$WORK/slow.db"
    url=$("$BT" url -key "$KEY" -worker http://127.0.0.1:18182 -ip 127.0.0.1 -path /256m.bin -size $((256 << 20)))
    idle=$(awk '/VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$slowedge_PID/status")
    read -r okc bytes peak errs < <(timeout $((SLOW_SECONDS + 90)) "$BT" slow -url "$url" -n "$SLOW_CLIENTS" \
        -rate "$SLOW_RATE" -d "${SLOW_SECONDS}s" -pid "$slowedge_PID")
    slow_line=$(awk -v n="$SLOW_CLIENTS" -v r="$SLOW_RATE" -v s="$SLOW_SECONDS" -v ok="$okc" -v b="$bytes" -v p="$peak" -v e="$errs" -v i="$idle" \
        'BEGIN {printf "| %d clients x %.0f KiB/s, %d s | %d | %d | %.1f MiB/s | %s | %.1f |", n, r / 1024, s, ok, e, b / s / 1048576, i, p / 1024}')
    log "slow: ok=$okc errors=$errs bytes=$bytes peak_rss_kib=$peak"
fi

nginx_v=$(nginx -v 2>&1 | sed 's/.*: //')
{
    echo "<!-- bench-compare:begin (written by scripts/bench-compare.sh; edit outside the markers) -->"
    echo "## Side by side with nginx (make bench-compare)"
    echo
    echo "- date: $(date -u +%FT%TZ); machine: $(nproc) CPUs ($(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)), kernel $(uname -r), $(go version | cut -d' ' -f3-), $nginx_v, loopback"
    echo "- command (in ../shared/bench, run $RUNS times): \`$CMD\`"
    echo "- edge: SQLite (WAL) unified check; edgepg: the same proxy on PostgreSQL 15 (scripts/pgtest.sh: fsync off); both"
    echo "  with the full default checks (five HMACs, path policy, one DB round trip, link cache, JSON access log);"
    echo "  edge1 (when present): edge with GOMAXPROCS=1; base (when present): edge built from $BASE_REV;"
    echo "  edgepol (when present): edge with POLICY_FILE=${POLICY:-}"
    i=0
    for f in "${tables[@]}"; do
        i=$((i + 1))
        echo
        echo "### Run $i"
        echo
        sed '1,2d' "$f"
    done
    if [ -n "$slow_line" ]; then
        echo
        echo "### Slow downloads (benchtool slow, 256 MiB file, SQLite proxy)"
        echo
        echo "| load | clients ok | errors | total | RSS idle MiB | RSS peak MiB |"
        echo "|---|---|---|---|---|---|"
        echo "$slow_line"
    fi
    echo "<!-- bench-compare:end -->"
} >"$WORK/section.md"

if [ -f "$OUT" ] && grep -q 'bench-compare:begin' "$OUT"; then
    awk -v sec="$WORK/section.md" '
        /bench-compare:begin/ { while ((getline l < sec) > 0) print l; skip = 1; next }
        /bench-compare:end/ { skip = 0; next }
        !skip { print }' "$OUT" >"$WORK/out.md"
    cp "$WORK/out.md" "$OUT"
else
    { [ -f "$OUT" ] && cat "$OUT" && echo; cat "$WORK/section.md"; } >"$WORK/out.md"
    cp "$WORK/out.md" "$OUT"
fi
log "wrote $OUT"
