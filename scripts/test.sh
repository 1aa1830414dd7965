#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, vet, staticcheck, and every test with the race detector
# against a real SQLite file, a throwaway PostgreSQL cluster and headless Chromium, which this
# script installs and starts itself when the machine lacks them.
set -euo pipefail
cd "$(dirname "$0")/.."

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './vendor/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:" $unformatted >&2
  exit 1
fi
go vet ./...
# staticcheck, pinned; `go run` fetches it through the module proxy without touching go.mod.
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

# Chromium for the landing page's browser test.
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing chromium (Debian package) for the browser test"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
fi

# nginx in front of the landing for the forward-auth end-to-end test (auth_request module).
if ! command -v nginx >/dev/null 2>&1 && ! [ -x /usr/sbin/nginx ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing nginx (Debian package) for the forward-auth test"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
  fi
fi

# systemd-analyze, fail2ban, promtool (Debian) and dockerfilelint (npm) for the deploy/ checks.
bash scripts/check-deploy.sh --install
export ALIST_EDGE_REQUIRE_DEPLOY_TOOLS=1

# PostgreSQL: a throwaway cluster unless TEST_DATABASE_URL points at a server already.
if [ -z "${TEST_DATABASE_URL:-}" ]; then
  export PGTEST_DIR="${PGTEST_DIR:-$(mktemp -d /tmp/alist-edge-pgtest.XXXXXX)}"
  eval "$(bash scripts/pgtest.sh start)"
  trap 'bash scripts/pgtest.sh stop >/dev/null 2>&1 || true' EXIT
fi
# Prosody, prosody-modules, slixmpp and go-sendxmpp (Debian) for the XMPP upload end-to-end tests.
bash scripts/xmpp-env.sh
export ALIST_EDGE_REQUIRE_PG=1 ALIST_EDGE_REQUIRE_BROWSER=1 ALIST_EDGE_REQUIRE_XMPP=1 ALIST_EDGE_REQUIRE_NGINX=1

go test -race -count=1 -timeout 20m ./... "$@"
