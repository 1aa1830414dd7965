#!/usr/bin/env bash
# Installs the real XMPP parts of the end-to-end upload tests when they are missing (Debian, root):
# Prosody 0.12 (mod_http_file_share), prosody-modules (mod_http_upload_external), slixmpp with
# aiohttp (its upload plugin imports it) and go-sendxmpp. Idempotent and quiet; it exits non-zero
# with the reason when something cannot be installed.
#   bash scripts/xmpp-env.sh          # install what is missing, then check
#   bash scripts/xmpp-env.sh --check  # only check, never install
set -euo pipefail

log() { echo "xmpp-env: $*" >&2; }
die() { log "$*"; exit 1; }

# Debian's python3 packages live under /usr/bin/python3, not under a pyenv or venv python.
PY=${XMPP_PYTHON:-/usr/bin/python3}

missing() {
	local m=()
	command -v prosody >/dev/null 2>&1 || m+=(prosody)
	command -v prosodyctl >/dev/null 2>&1 || m+=(prosody)
	[ -f /usr/lib/prosody/modules/mod_http_file_share.lua ] || m+=(prosody)
	[ -f /usr/share/prosody-modules/mod_http_upload_external/mod_http_upload_external.lua ] ||
		[ -f /usr/lib/prosody/modules/mod_http_upload_external/mod_http_upload_external.lua ] || m+=(prosody-modules)
	"$PY" -c 'import slixmpp' >/dev/null 2>&1 || m+=(python3-slixmpp)
	"$PY" -c 'import aiohttp' >/dev/null 2>&1 || m+=(python3-aiohttp)
	command -v go-sendxmpp >/dev/null 2>&1 || m+=(go-sendxmpp)
	command -v openssl >/dev/null 2>&1 || m+=(openssl)
	printf '%s\n' "${m[@]}" | awk 'NF && !seen[$0]++'
}

need=$(missing)
if [ -z "$need" ]; then
	exit 0
fi
if [ "${1:-}" = "--check" ]; then
	die "missing: $(echo $need)"
fi
[ "$(id -u)" -eq 0 ] || die "missing $(echo $need) and not root: run as root or apt-get install $(echo $need)"
command -v apt-get >/dev/null 2>&1 || die "missing $(echo $need) and no apt-get (Debian only)"

log "installing $(echo $need)"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
apt-get update -qq >"$out" 2>&1 || { cat "$out" >&2; die "apt-get update failed"; }
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >"$out" 2>&1 ||
	{ tail -20 "$out" >&2; die "apt-get install $(echo $need) failed"; }
# The package starts a system-wide Prosody; the tests run their own, so stop it when it is ours.
if command -v service >/dev/null 2>&1 && echo "$need" | grep -qx prosody; then
	service prosody stop >/dev/null 2>&1 || true
fi

left=$(missing)
[ -z "$left" ] || die "still missing after apt-get install: $(echo $left) (python checked: $PY; set XMPP_PYTHON)"
