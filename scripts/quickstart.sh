#!/usr/bin/env bash
# Quick start: the landing and the proxy on the embedded SQLite default, in front of the folder
# ./data/files (a local-directory origin, so no AList is needed), on 127.0.0.1:8081 and :8080.
# Prints a signed landing URL and a curl line; Ctrl-C stops both (graceful shutdown).
# Point ADDRESS/TOKEN at your AList instead with a .env file: see .env.example.
set -euo pipefail
cd "$(dirname "$0")/.."

mkdir -p data/files bin
[ -f data/files/hello.txt ] || echo "Hello from alist-edge." > data/files/hello.txt
[ -s data/sign-secret ] || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > data/sign-secret

echo "building bin/proxy and bin/landing ..."
CGO_ENABLED=0 go build -trimpath -o bin/ ./cmd/proxy ./cmd/landing

PROXY_PORT="${PROXY_PORT:-8080}"
LANDING_PORT="${LANDING_PORT:-8081}"
export ADDRESS="file://$PWD/data/files"
export SIGN_SECRET="$(cat data/sign-secret)"
export WORKER_ADDRESS="http://127.0.0.1:$PROXY_PORT"
export WORKER_ADDRESS_DOWNLOAD="$WORKER_ADDRESS"
export LOG_FORMAT="${LOG_FORMAT:-text}"

pids=()
stop() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop EXIT INT TERM

LISTEN_ADDR="127.0.0.1:$PROXY_PORT" ADMIN_ADDR="127.0.0.1:9090" SQLITE_PATH=./data/proxy.db bin/proxy &
pids+=($!)
LISTEN_ADDR="127.0.0.1:$LANDING_PORT" ADMIN_ADDR="127.0.0.1:9091" SQLITE_PATH=./data/landing.db bin/landing &
pids+=($!)

for _ in $(seq 1 100); do
  if curl -fsS http://127.0.0.1:9090/healthz >/dev/null 2>&1 && curl -fsS http://127.0.0.1:9091/healthz >/dev/null 2>&1; then
    break
  fi
  sleep 0.1
done

url=$(bin/landing sign -base "http://127.0.0.1:$LANDING_PORT" /hello.txt)
# What the page's button does: /info answers with the proxy's signed download URL.
dl=$(curl -fsS "http://127.0.0.1:$LANDING_PORT/info?path=%2Fhello.txt&${url#*\?}" | sed -E 's/.*"url":"([^"]*)".*/\1/')
cat <<TXT

alist-edge is running on SQLite (./data/*.db), serving ./data/files:
  landing  http://127.0.0.1:$LANDING_PORT   (admin: http://127.0.0.1:9091/metrics)
  proxy    http://127.0.0.1:$PROXY_PORT   (admin: http://127.0.0.1:9090/metrics)

Open this signed link in a browser (landing page -> proxy -> file):
  $url

or download straight from the proxy with the URL the landing signed for this client:
  curl '$dl'

Ctrl-C stops both.
TXT
wait
