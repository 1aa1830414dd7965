#!/usr/bin/env bash
# A quick same-box A/B of proxy binaries on one small file: for each binary in turn, ROUNDS times,
# start it in front of benchtool's origin and fake AList (loopback), run wrk (-t2 -c64, D s) on a
# cached signed link, and print req/s and the proxy's CPU per request (/proc). Not a harness run:
# use it to compare builds while tuning, then confirm with make bench-compare.
#   scripts/bench-ab.sh /path/to/old/proxy bin/proxy          # ROUNDS=3 D=10 SIZE=1024
# Extra proxy settings: PROXY_ENV="GOMAXPROCS=1 ...". Needs wrk and curl.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}; D=${D:-10}; SIZE=${SIZE:-1024}
W=$(mktemp -d /tmp/bench-ab.XXXXXX)
go build -o "$W/benchtool" ./tools/benchtool
mkdir -p "$W/files"; head -c "$SIZE" /dev/urandom > "$W/files/f.bin"
OP=$((30000 + RANDOM % 20000)); AP=$((OP+1)); PP=$((OP+2)); MP=$((OP+3))
"$W/benchtool" origin -addr 127.0.0.1:$OP -dir "$W/files" >/dev/null 2>&1 & O=$!
"$W/benchtool" alist -addr 127.0.0.1:$AP -origin http://127.0.0.1:$OP -token ab-key >/dev/null 2>&1 & A=$!
trap 'kill $O $A 2>/dev/null || true; rm -rf "$W"' EXIT
"$W/benchtool" wait -addr 127.0.0.1:$AP
U=$("$W/benchtool" url -key ab-key -worker http://127.0.0.1:$PP -path /f.bin -size "$SIZE")
for r in $(seq "$ROUNDS"); do
  for b in "$@"; do
    env -i PATH="$PATH" HOME=/tmp ENV_FILE=/dev/null ADDRESS=http://127.0.0.1:$AP TOKEN=ab-key \
      WORKER_ADDRESS=http://127.0.0.1:$PP IPV4_ONLY=false LISTEN_ADDR=127.0.0.1:$PP ADMIN_ADDR=127.0.0.1:$MP \
      IPSUBNET_WINDOWTIME_LIMIT=1000000000 WINDOW_TIME=1h LINK_TTL=30m SQLITE_PATH="$W/p-$r.db" ${PROXY_ENV:-} \
      "$b" 2>/dev/null & P=$!
    "$W/benchtool" wait -addr 127.0.0.1:$PP
    curl -s -o /dev/null "$U"; sleep 0.3
    c0=$(awk '{print $14+$15}' /proc/$P/stat)
    out=$(wrk -t2 -c64 -d"${D}s" "$U")
    c1=$(awk '{print $14+$15}' /proc/$P/stat)
    n=$(awk '/requests in/{print $1}' <<<"$out"); rps=$(awk '/Requests\/sec/{print $2}' <<<"$out")
    echo "round $r $b: $rps req/s, $(( (c1-c0) * 1000000 / $(getconf CLK_TCK) / n )) us CPU per request"
    kill $P; wait $P 2>/dev/null || true
    rm -f "$W/p-$r.db"*
  done
done
