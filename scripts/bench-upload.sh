#!/usr/bin/env bash
# Upload throughput of cmd/upload against nginx's WebDAV PUT (dav_methods PUT) in ONE invocation,
# same box, same client (curl -T): one 256 MiB PUT and 16 parallel 1 MiB PUTs, ROUNDS times
# each, alternating targets; the upload service's peak RSS is sampled during the large PUT
# (it must stay flat in the file size: bodies are streamed to disk, never buffered).
#   scripts/bench-upload.sh            # ROUNDS=3; needs nginx (Debian: nginx-light or nginx), curl, python3
# Loopback only; stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
W=$(mktemp -d /tmp/bench-upload.XXXXXX)
mkdir -p "$W/up" "$W/dav" "$W/src" "$W/nginx"
head -c $((256 << 20)) /dev/urandom > "$W/src/big.bin"
for i in $(seq 16); do head -c $((1 << 20)) /dev/urandom > "$W/src/s$i.bin"; done
CGO_ENABLED=0 go build -trimpath -o "$W/upload" ./cmd/upload
UP=$((30000 + RANDOM % 20000)); UA=$((UP+1)); NP=$((UP+2))
SECRET=bench-upload-secret-0123456789abcdef
cat > "$W/nginx/nginx.conf" <<NGX
user root;
worker_processes 1;
pid $W/nginx/nginx.pid;
error_log $W/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $W/nginx/tmp;
  server {
    listen 127.0.0.1:$NP;
    client_max_body_size 0;
    location /dav/ { root $W; dav_methods PUT; create_full_put_path on; }
  }
}
NGX
mkdir -p "$W/nginx/tmp"
nginx -c "$W/nginx/nginx.conf" -p "$W/nginx"
env -i PATH="$PATH" ENV_FILE=/dev/null UPLOAD_DIR="$W/up" UPLOAD_SECRET=$SECRET UPLOAD_MAX_SIZE=1GB UPLOAD_MIN_FREE=0 \
  LISTEN_ADDR=127.0.0.1:$UP ADMIN_ADDR=127.0.0.1:$UA SQLITE_PATH="$W/up.db" LOG_LEVEL=warn "$W/upload" 2>"$W/upload.log" &
UPID=$!
trap 'kill $UPID 2>/dev/null; nginx -c "$W/nginx/nginx.conf" -p "$W/nginx" -s stop 2>/dev/null; wait 2>/dev/null; rm -rf "$W"' EXIT
for _ in $(seq 100); do curl -fs http://127.0.0.1:$UA/healthz >/dev/null && break; sleep 0.1; done
# v1 slot URL (mod_http_upload_external): HMAC-SHA256(secret, P + " " + L), lowercase hex
slot() { python3 - "$SECRET" "$1" "$2" <<'PY'
import hmac, hashlib, sys, urllib.parse
secret, p, size = sys.argv[1], sys.argv[2], sys.argv[3]
print(urllib.parse.quote(p) + "?v=" + hmac.new(secret.encode(), (p + " " + size).encode(), hashlib.sha256).hexdigest())
PY
}
peak_rss() { local pid=$1 peak=0 r; while kill -0 "$2" 2>/dev/null; do r=$(awk '/VmRSS/{print $2}' /proc/$pid/status); [ "$r" -gt "$peak" ] && peak=$r; sleep 0.05; done; echo $peak; }
big() { # target url -> status and seconds for one 256 MiB PUT
  local url=$1
  curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -T "$W/src/big.bin" -H 'Content-Type: application/octet-stream' "$url"
}
small() { # target round -> seconds for 16 parallel 1 MiB PUTs (URLs signed before the clock starts)
  local t=$1 r=$2 start end urls=()
  for i in $(seq 16); do
    if [ "$t" = upload ]; then urls+=("http://127.0.0.1:$UP/upload/$(slot "r$r/s$i.bin" $((1 << 20)))"); else urls+=("http://127.0.0.1:$NP/dav/r$r/s$i.bin"); fi
  done
  start=$(date +%s.%N)
  for i in $(seq 16); do
    curl -s -o /dev/null -w '%{http_code}\n' -T "$W/src/s$i.bin" -H 'Content-Type: application/octet-stream' "${urls[$((i-1))]}" >> "$W/small.codes" &
  done
  wait
  end=$(date +%s.%N)
  awk "BEGIN{print $end - $start}"
}
echo "| round | target | 256 MiB PUT (status, s, MB/s) | 16 × 1 MiB parallel (s, MB/s) | upload peak RSS during the 256 MiB PUT |"
echo "|---|---|---|---|---|"
for r in $(seq "$ROUNDS"); do
  for t in upload nginx; do
    if [ "$t" = upload ]; then
      u="http://127.0.0.1:$UP/upload/$(slot "r$r/big.bin" $((256 << 20)))"
      big "$u" > "$W/big.out" & B=$!
      rss="$(peak_rss $UPID $B) KiB"; wait $B
    else
      big "http://127.0.0.1:$NP/dav/r$r/big.bin" > "$W/big.out"; rss="-"
    fi
    : > "$W/small.codes"
    read -r code secs < "$W/big.out"
    s=$(small $t "$r")
    codes=$(sort "$W/small.codes" | uniq -c | awk '{printf "%s×%s ", $1, $2}')
    echo "| $r | $t | $code, $secs s, $(awk "BEGIN{printf \"%.0f\", 256*1.048576/$secs}") MB/s | ${codes}$s s, $(awk "BEGIN{printf \"%.0f\", 16*1.048576/$s}") MB/s | $rss |"
  done
  rm -rf "$W/up/r$r" "$W/dav/r$r"
done
