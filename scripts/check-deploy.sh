#!/usr/bin/env bash
# Checks deploy/ with the tools that read its files, through the Go tests that drive them
# (deploy/*_test.go, plus the docs/config, metrics and logging tests the deploy files rely
# on):
#   systemd units     systemd-analyze verify (no warning allowed) and security --offline
#   compose files     compose-go (docker compose's loader and compose-spec schema), references
#   Dockerfile        dockerfilelint (npm), own rules, and a build from the dockerignored context
#   Grafana/Prometheus metric and label names against internal/metrics/testdata/metrics.golden;
#                     promtool check config / rules
#   fail2ban          fail2ban-regex over logx.Access lines; fail2ban-client -t of the jail
#
#   bash scripts/check-deploy.sh             install missing tools (as root), then check
#   bash scripts/check-deploy.sh --install   only install the tools (scripts/test.sh runs this)
#
# With the tools required (ALIST_EDGE_REQUIRE_DEPLOY_TOOLS=1, or CI set) a missing tool fails
# its test instead of skipping it.
set -euo pipefail
cd "$(dirname "$0")/.."

install_tools() {
  local apt=()
  command -v systemd-analyze >/dev/null 2>&1 || apt+=(systemd)
  command -v fail2ban-regex >/dev/null 2>&1 || apt+=(fail2ban python3-systemd)
  command -v promtool >/dev/null 2>&1 || apt+=(prometheus)
  if [ ${#apt[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "installing ${apt[*]} (Debian packages) for the deploy checks"
      apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
      DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${apt[@]}" >/dev/null
    else
      echo "deploy checks: missing ${apt[*]}; install them as root (apt-get install ${apt[*]})" >&2
    fi
  fi
  if ! command -v dockerfilelint >/dev/null 2>&1; then
    if command -v npm >/dev/null 2>&1 && [ -w "$(npm prefix -g 2>/dev/null)" ]; then
      echo "installing dockerfilelint (npm) for the deploy checks"
      npm install -g --no-audit --no-fund --loglevel=error dockerfilelint@1.8.0 >/dev/null
    else
      echo "deploy checks: missing dockerfilelint; npm install -g dockerfilelint@1.8.0" >&2
    fi
  fi
}

install_tools
if [ "${1:-}" = "--install" ]; then
  exit 0
fi

export ALIST_EDGE_REQUIRE_DEPLOY_TOOLS=1
go test -count=1 ./deploy/... ./internal/config/ ./internal/metrics/ ./internal/logx/ ./internal/server/ "$@"
