#!/usr/bin/env bash
# Bytes delivered vs the bandwidth quota with parallel connections (issue #13 item 5), against
# real binaries (make build), a file:// folder and real clients.
#   scripts/measure-quota.sh bin aria       # aria2c -x8 twice, 60MB subnet quota, 50 MiB file
#   scripts/measure-quota.sh bin parallel   # 20 parallel curl, 100MB total + 1x per file
# Postgres: PGURL=postgres://.../emptydb PGENV="DB_MODE=postgres DATABASE_URL=$PGURL" ...
# Needs curl, python3, sqlite3 (psql for Postgres), aria2c for "aria".
set -euo pipefail
BIN=$(cd "$1" && pwd); MODE=$2
D=$(mktemp -d /tmp/measure-quota.XXXX)
mkdir -p $D/files $D/dl
head -c $((50*1024*1024)) /dev/urandom > $D/files/big.bin
PP=$((30000 + RANDOM % 20000)); PA=$((PP+1)); LP=$((PP+2)); LA=$((PP+3))
TOKEN=measure-token-0123456789abcdef
common="TOKEN=$TOKEN ADDRESS=file://$D/files WORKER_ADDRESS=http://127.0.0.1:$PP LOG_LEVEL=info"
if [ "$MODE" = aria ]; then
  quota="QUOTA_LIMIT_TOTAL_ENABLED=true IPSUBNET_BANDWIDTH_LIMIT=60MB"
else
  quota="QUOTA_LIMIT_TOTAL_ENABLED=true IPSUBNET_BANDWIDTH_LIMIT=100MB QUOTA_LIMIT_FILEPATH_ENABLED=true IPSUBNET_FILEPATH_BANDWIDTH_LIMIT=1x"
fi
env -i PATH=$PATH $common $quota LISTEN_ADDR=127.0.0.1:$PP ADMIN_ADDR=127.0.0.1:$PA SQLITE_PATH=$D/proxy.db ${PGENV:-} \
  $BIN/proxy > $D/proxy.log 2>&1 &
PPID1=$!
env -i PATH=$PATH $common LISTEN_ADDR=127.0.0.1:$LP ADMIN_ADDR=127.0.0.1:$LA SQLITE_PATH=$D/landing.db FAST_REDIRECT=true WORKER_ADDRESS_DOWNLOAD=http://127.0.0.1:$PP \
  $BIN/landing > $D/landing.log 2>&1 &
LPID=$!
trap 'kill $PPID1 $LPID 2>/dev/null; wait 2>/dev/null' EXIT
for _ in $(seq 50); do curl -fs http://127.0.0.1:$PA/healthz >/dev/null && curl -fs http://127.0.0.1:$LA/healthz >/dev/null && break; sleep 0.1; done
LURL=$(env -i TOKEN=$TOKEN LANDING_URL=http://127.0.0.1:$LP $BIN/landing sign /big.bin)
URL=$(curl -s -o /dev/null -w '%{redirect_url}' "$LURL")
case $URL in http://127.0.0.1:$PP/*) ;; *) echo "no proxy URL: $URL"; cat $D/landing.log; exit 1;; esac
if [ "$MODE" = aria ]; then
  for run in 1 2; do
    timeout 120 aria2c -q -x8 --allow-overwrite=true --auto-file-renaming=false -d $D/dl -o run$run.bin "$URL" >/dev/null 2>&1 || true
  done
  echo "cmd: aria2c -x8 <url>   (twice, one after the other)  limit 60MB total"
else
  for i in $(seq 20); do curl -s -o $D/dl/p$i.bin -w '%{http_code} %{size_download}\n' "$URL" & done > $D/curl.out
  wait $(jobs -p | grep -v -e $PPID1 -e $LPID) 2>/dev/null || true
  sleep 0.5
  echo "cmd: 20 x curl <url> in parallel   limit 100MB total + 1x per file (file 50MiB)"
  sort $D/curl.out | uniq -c | sed 's/^/  status count: /'
fi
sleep 3 # usage flush
python3 - "$D/proxy.log" <<'PY'
import json,sys,collections
tot=0; st=collections.Counter()
for l in open(sys.argv[1]):
    try: r=json.loads(l)
    except Exception: continue
    if r.get('msg')!='access': continue
    st[(r.get('status'), r.get('reason',''))]+=1
    if r.get('status') in (200,206): tot+=r.get('bytes',0)
print("  answers:", dict(st))
print("  body bytes written to clients (200/206): %d (%.1f MiB)" % (tot, tot/1048576))
PY
if [ -n "${PGURL:-}" ]; then
  echo "  recorded usage (bw_usage total row, postgres): $(psql -At "$PGURL" -c "SELECT COALESCE(SUM(bytes),0) FROM bw_usage WHERE path_hash=''")"
else
  echo "  recorded usage (bw_usage total row): $(sqlite3 -readonly $D/proxy.db "SELECT COALESCE(SUM(bytes),0) FROM bw_usage WHERE path_hash=''" 2>/dev/null || echo n/a)"
fi
rm -rf $D/files $D/dl
