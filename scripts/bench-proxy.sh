#!/usr/bin/env bash
# make bench: the download proxy against the same fake origin in the same run.
#   1 KiB file:   requests/s straight from the origin vs through the proxy (CONNS keep-alive
#                 connections, wrk when installed, else benchtool's Go load generator)
#   large file:   MiB/s of STREAMS parallel full downloads of a LARGE_MB file, direct vs proxy,
#                 and the proxy's peak RSS while they run
# The proxy runs as in production: SQLite quota store (one round trip per request, link cache),
# JSON access log, full signature chain, fetching the link from a fake AList /api/fs/link.
# Loopback only; every load run is time-bounded; only processes started here are stopped.
#
# Knobs: DURATION=8 (s per small-file run), CONNS=32, STREAMS=4, LARGE_MB=256,
#        BENCH_PORT_BASE=18190 (uses 4 ports from there), BENCH_WORK (default: a temp dir).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-8}
CONNS=${CONNS:-32}
STREAMS=${STREAMS:-4}
LARGE_MB=${LARGE_MB:-256}
BASE=${BENCH_PORT_BASE:-18190}
ORIGIN=127.0.0.1:$BASE ALIST=127.0.0.1:$((BASE + 1)) PROXY=127.0.0.1:$((BASE + 2)) ADMIN=127.0.0.1:$((BASE + 3))
KEY=bench-token
if [ -n "${BENCH_WORK:-}" ]; then WORK=$BENCH_WORK; OWN_WORK=0; mkdir -p "$WORK"; else WORK=$(mktemp -d /tmp/alist-edge-bench.XXXXXX); OWN_WORK=1; fi

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    if [ "$OWN_WORK" = 1 ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

command -v go >/dev/null || die "go not found"
log "building into $WORK/bin"
mkdir -p "$WORK/bin" "$WORK/data"
CGO_ENABLED=0 go build -trimpath -o "$WORK/bin/proxy" ./cmd/proxy
go build -o "$WORK/bin/benchtool" ./tools/benchtool
BT=$WORK/bin/benchtool

log "creating 1k.bin and large.bin (${LARGE_MB} MiB)"
head -c 1024 /dev/urandom >"$WORK/data/1k.bin"
head -c $((LARGE_MB * 1024 * 1024)) /dev/urandom >"$WORK/data/large.bin"

for a in $ORIGIN $ALIST $PROXY $ADMIN; do
    if "$BT" wait -addr "$a" -d 100ms 2>/dev/null; then die "$a is already in use (set BENCH_PORT_BASE)"; fi
done

"$BT" origin -addr "$ORIGIN" -dir "$WORK/data" 2>"$WORK/origin.log" &
PIDS+=($!); ORIGIN_PID=$!
"$BT" alist -addr "$ALIST" -origin "http://$ORIGIN" -token "$KEY" 2>"$WORK/alist.log" &
PIDS+=($!)
env ADDRESS="http://$ALIST" TOKEN="$KEY" WORKER_ADDRESS="http://$PROXY" IPV4_ONLY=false \
    LISTEN_ADDR="$PROXY" ADMIN_ADDR="$ADMIN" DB_MODE=sqlite SQLITE_PATH="$WORK/quota.db" \
    IPSUBNET_WINDOWTIME_LIMIT=1000000000 WINDOW_TIME=1h LOG_LEVEL=info LOG_FORMAT=json ENV_FILE=/dev/null \
    "$WORK/bin/proxy" 2>"$WORK/proxy.log" &
PIDS+=($!); PROXY_PID=$!
for a in $ORIGIN $ALIST $PROXY; do "$BT" wait -addr "$a" -d 15s || die "$a did not come up (see $WORK/*.log)"; done

SMALL_DIRECT="http://$ORIGIN/1k.bin"
LARGE_DIRECT="http://$ORIGIN/large.bin"
SMALL_PROXY=$("$BT" url -key "$KEY" -worker "http://$PROXY" -ip 127.0.0.1 -path /1k.bin -size 1024)
LARGE_PROXY=$("$BT" url -key "$KEY" -worker "http://$PROXY" -ip 127.0.0.1 -path /large.bin -size $((LARGE_MB * 1024 * 1024)))

# Correctness gate: byte-exact through the proxy, and a forged signature refused.
if command -v curl >/dev/null; then
    want=$(sha256sum <"$WORK/data/1k.bin" | cut -d' ' -f1)
    got=$(curl -sf --max-time 10 "$SMALL_PROXY" | sha256sum | cut -d' ' -f1) || die "proxy download failed (see $WORK/proxy.log)"
    [ "$want" = "$got" ] || die "proxy returned different bytes for 1k.bin"
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "${SMALL_PROXY/sign=/sign=A}")
    [ "$code" = 401 ] || die "forged signature answered $code, want 401"
fi

LOADER=go
if ! command -v wrk >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing wrk (Debian package)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1 || true
fi
command -v wrk >/dev/null && LOADER=wrk

# small URL -> requests per second
small() {
    if [ "$LOADER" = wrk ]; then
        timeout $((DURATION + 30)) wrk -t2 -c"$CONNS" -d"${DURATION}s" "$1" >"$WORK/wrk.out" 2>&1 || die "wrk failed: $(cat "$WORK/wrk.out")"
        grep -q 'Non-2xx' "$WORK/wrk.out" && die "non-2xx answers under load: $(cat "$WORK/wrk.out")"
        awk '/Requests\/sec:/ {print $2}' "$WORK/wrk.out"
    else
        read -r reqs _ secs errs < <(timeout $((DURATION + 30)) "$BT" load -url "$1" -c "$CONNS" -d "${DURATION}s")
        [ "$errs" = 0 ] || die "$errs failed requests under load"
        awk -v r="$reqs" -v s="$secs" 'BEGIN {printf "%.0f", r / s}'
    fi
}

# large URL PID -> "MiB/s peakRSS_MiB"
large() {
    read -r bytes secs peak errs < <(timeout 300 "$BT" stream -url "$1" -n "$STREAMS" -d 240s -pid "$2")
    [ "$errs" = 0 ] || die "$errs failed large downloads"
    [ "$bytes" = $((STREAMS * LARGE_MB * 1024 * 1024)) ] || die "large downloads delivered $bytes bytes"
    awk -v b="$bytes" -v s="$secs" -v p="$peak" 'BEGIN {printf "%.0f %.1f\n", b / s / 1048576, p / 1024}'
}

rss_mib() { awk '/VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }

log "warm-up"
small "$SMALL_PROXY" >/dev/null
log "1 KiB x $CONNS connections, ${DURATION}s each ($LOADER)"
small_direct=$(small "$SMALL_DIRECT")
small_proxy=$(small "$SMALL_PROXY")
idle_rss=$(rss_mib "$PROXY_PID")
log "${LARGE_MB} MiB x $STREAMS parallel streams"
read -r large_direct _ < <(large "$LARGE_DIRECT" "$ORIGIN_PID")
read -r large_proxy peak_rss < <(large "$LARGE_PROXY" "$PROXY_PID")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a > 0) printf "%.2f", b / a; else print "-"}'; }
echo
echo "alist-edge proxy benchmark ($(nproc) CPUs, loopback, load: $LOADER)"
echo
printf '| %-38s | %12s | %12s | %11s |\n' scenario direct "via proxy" proxy/direct
printf '|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..40})" "$(printf -- '-%.0s' {1..14})" "$(printf -- '-%.0s' {1..14})" "$(printf -- '-%.0s' {1..13})"
printf '| %-38s | %12s | %12s | %11s |\n' "1 KiB, $CONNS conns (requests/s)" "$small_direct" "$small_proxy" "$(ratio "$small_direct" "$small_proxy")"
printf '| %-38s | %12s | %12s | %11s |\n' "$LARGE_MB MiB x $STREAMS streams (MiB/s total)" "$large_direct" "$large_proxy" "$(ratio "$large_direct" "$large_proxy")"
printf '| %-38s | %12s | %12s | %11s |\n' "proxy RSS idle / peak in streams (MiB)" "" "$idle_rss / $peak_rss" ""
echo
