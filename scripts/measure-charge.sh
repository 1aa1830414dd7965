#!/usr/bin/env bash
# Bytes charged vs bytes received for downloads a client aborts (issue #13 item 6), against the
# real proxy binary (make build), a file:// folder and real clients (curl, aria2c).
#   scripts/measure-charge.sh bin curl       # curl --limit-rate 5M, killed (SIGKILL) after KILL_AFTER s
#   scripts/measure-charge.sh bin aria       # aria2c -x8 -s8, 10 MB/s, killed after KILL_AFTER s
#   scripts/measure-charge.sh bin full       # a complete curl download
#   scripts/measure-charge.sh bin ariafull   # a complete aria2c -x8 download
# Prints what the client wrote to disk, what the client's TCP stack received just before the
# kill (ss bytes_received), and what the proxy charged (SQLite bw_usage). Needs curl, aria2c,
# ss, sqlite3. A 100GB total quota is on so that builds older than #13 (which recorded usage only
# under a quota) can be measured the same way. Loopback only; the proxy is stopped at the end.
set -euo pipefail
BIN=$(cd "$1" && pwd); CASE=$2
D=$(mktemp -d /tmp/measure-charge.XXXX)
mkdir -p $D/files
head -c 100000000 /dev/urandom > $D/files/big.bin
PORT=$((30000 + RANDOM % 20000)); ADMIN=$((PORT+1))
env -i PATH=$PATH ENV_FILE=/dev/null ADDRESS=file://$D/files SIGN_SECRET=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n') \
  SIGN_CHECK=false HASH_CHECK=false WORKER_CHECK=false IP_CHECK=false ADDITION_CHECK=false \
  QUOTA_LIMIT_TOTAL_ENABLED=true IPSUBNET_BANDWIDTH_LIMIT=100GB \
  LISTEN_ADDR=127.0.0.1:$PORT ADMIN_ADDR=127.0.0.1:$ADMIN SQLITE_PATH=$D/proxy.db LOG_LEVEL=warn \
  $BIN/proxy >$D/proxy.log 2>&1 &
P=$!
trap 'kill $P 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -fsS http://127.0.0.1:$ADMIN/healthz >/dev/null 2>&1 && break; sleep 0.05; done
URL=http://127.0.0.1:$PORT/big.bin
# the client sockets' bytes_received, summed
tcprecv() { ss -tni state established "( dport = :$PORT )" | grep -o 'bytes_received:[0-9]*' | cut -d: -f2 | awk '{s+=$1} END {print s+0}'; }
tcp=
case $CASE in
curl) curl -s --limit-rate 5M -o $D/out.bin $URL & C=$!; sleep ${KILL_AFTER:-4}; tcp=$(tcprecv); kill -9 $C; wait $C 2>/dev/null || true; got=$(stat -c %s $D/out.bin);;
aria) aria2c -q -x8 -s8 -k1M --max-overall-download-limit=10M --disk-cache=0 --file-allocation=none \
        --allow-overwrite=true -d $D -o out.bin $URL & C=$!; sleep ${KILL_AFTER:-4}; tcp=$(tcprecv); kill -9 $C; wait $C 2>/dev/null || true; got=$(du -B1 $D/out.bin | cut -f1);;
full) curl -s -o $D/out.bin $URL; got=$(stat -c %s $D/out.bin);;
ariafull) aria2c -q -x8 -s8 --disk-cache=0 --file-allocation=none --allow-overwrite=true -d $D -o out.bin $URL; got=$(du -B1 $D/out.bin | cut -f1);;
*) echo "unknown case $CASE" >&2; exit 2;;
esac
sleep 0.5
kill -TERM $P; wait $P || true
charged=$(sqlite3 $D/proxy.db "select coalesce(sum(bytes),0) from bw_usage where path_hash = ''") # the subnet's total row
echo "$CASE received=$got charged=$charged charged/received=$(awk "BEGIN{printf \"%.4f\", $charged/$got}")${tcp:+ tcp_received=$tcp charged/tcp=$(awk "BEGIN{printf \"%.4f\", $charged/$tcp}")}"
rm -rf $D
