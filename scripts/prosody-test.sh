#!/usr/bin/env bash
# Throwaway Prosody 0.12 for the end-to-end upload tests: VirtualHost "localhost" with two users and
# the upload component "upload.localhost" handing out slots for an external upload service.
#   eval "$(XMPPTEST_MODE=ext-v1 XMPPTEST_BASE_URL=http://127.0.0.1:8082/upload/ \
#           XMPPTEST_SECRET=s3cret bash scripts/prosody-test.sh start)"
#   bash scripts/prosody-test.sh stop
# Modes: ext-v1 (mod_http_upload_external, protocol v1), ext-v2 (the same with protocol v2),
# share (mod_http_file_share in external mode: JWT in the Authorization header).
# State lives in $XMPPTEST_DIR (default /tmp/alist-edge-xmpptest). c2s listens on a free
# 127.0.0.1 port with STARTTLS on a self-signed certificate; no s2s, no HTTP listener.
# `start` prints `export X=...` lines: XMPP_C2S_PORT, XMPP_DOMAIN, XMPP_UPLOAD_JID, XMPP_USER,
# XMPP_PASSWORD, XMPP_USER2, XMPP_PASSWORD2, XMPPTEST_DIR. With XMPPTEST_WATCH_PID set, Prosody
# dies with that process.
set -euo pipefail

DIR=${XMPPTEST_DIR:-/tmp/alist-edge-xmpptest}
MODE=${XMPPTEST_MODE:-ext-v1}
DOMAIN=localhost
UPLOAD_JID=upload.localhost

log() { echo "prosody-test: $*" >&2; }
die() { log "$*"; exit 1; }

free_port() {
	local p
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	die "no free port found"
}

# lua_str quotes a value as a Lua long string; it refuses values that would end it.
lua_str() {
	case "$1" in *']==]'*) die "value contains ]==]: $1" ;; esac
	printf '[==[%s]==]' "$1"
}

component_config() {
	local base secret
	base=$(lua_str "${XMPPTEST_BASE_URL:?XMPPTEST_BASE_URL is required (the upload service URL prefix)}")
	secret=$(lua_str "${XMPPTEST_SECRET:?XMPPTEST_SECRET is required (the shared secret)}")
	case "$MODE" in
	ext-v1 | ext-v2)
		local proto=v1
		[ "$MODE" = ext-v2 ] && proto=v2
		cat <<-LUA
		Component "$UPLOAD_JID" "http_upload_external"
		    http_upload_external_base_url = $base
		    http_upload_external_secret = $secret
		    http_upload_external_protocol = "$proto"
		    http_upload_external_file_size_limit = ${XMPPTEST_SIZE_LIMIT:-104857600}
		LUA
		;;
	share)
		cat <<-LUA
		Component "$UPLOAD_JID" "http_file_share"
		    http_file_share_base_url = $base
		    http_file_share_secret = $secret
		    http_file_share_size_limit = ${XMPPTEST_SIZE_LIMIT:-104857600}
		    http_file_share_daily_quota = 1073741824
		LUA
		;;
	*) die "unknown XMPPTEST_MODE $MODE (ext-v1, ext-v2 or share)" ;;
	esac
}

write_config() {
	local port=$1
	cat >"$DIR/prosody.cfg.lua" <<-LUA
	-- written by scripts/prosody-test.sh; throwaway, tests only
	run_as_root = true
	daemonize = false
	pidfile = "$DIR/prosody.pid"
	data_path = "$DIR/data"
	log = { debug = "$DIR/prosody.log" }
	interfaces = { "127.0.0.1" }
	local_interfaces = { "127.0.0.1" }
	c2s_ports = { $port }
	c2s_direct_tls_ports = { }
	s2s_ports = { }
	component_ports = { }
	http_ports = { }
	https_ports = { }
	modules_enabled = { "roster", "saslauth", "tls", "disco", "posix", "ping" }
	modules_disabled = { "s2s" }
	authentication = "internal_hashed"
	storage = "internal"
	c2s_require_encryption = true
	certificates = "$DIR"
	ssl = { certificate = "$DIR/cert.pem", key = "$DIR/key.pem" }
	VirtualHost "$DOMAIN"
	    ssl = { certificate = "$DIR/cert.pem", key = "$DIR/key.pem" }
	$(component_config)

	LUA
}

print_env() {
	cat "$DIR/env"
}

alive() {
	[ -f "$DIR/pid" ] && kill -0 "$(cat "$DIR/pid")" 2>/dev/null
}

start() {
	command -v prosody >/dev/null 2>&1 || die "prosody not installed (bash scripts/xmpp-env.sh)"
	# A previous instance in this state dir may run another mode: replace it.
	stop_quiet
	rm -rf "$DIR"
	mkdir -p "$DIR/data"
	chmod 700 "$DIR"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$DOMAIN" \
		-addext "subjectAltName=DNS:$DOMAIN,DNS:$UPLOAD_JID" \
		-keyout "$DIR/key.pem" -out "$DIR/cert.pem" >"$DIR/openssl.log" 2>&1 ||
		{ cat "$DIR/openssl.log" >&2; die "openssl could not make the certificate"; }
	local port
	port=$(free_port)
	write_config "$port"
	local user=alice pass=alice-pw user2=bob pass2=bob-pw
	for up in "$user $pass" "$user2 $pass2"; do
		set -- $up
		prosodyctl --config "$DIR/prosody.cfg.lua" register "$1" "$DOMAIN" "$2" >"$DIR/register.log" 2>&1 ||
			{ cat "$DIR/register.log" >&2; die "prosodyctl register $1 failed"; }
	done
	# Foreground process in the background: stop kills exactly this pid.
	prosody -F --config "$DIR/prosody.cfg.lua" >"$DIR/stdout.log" 2>&1 </dev/null &
	echo $! >"$DIR/pid"
	# XMPPTEST_WATCH_PID (the test process): Prosody is killed when that process is gone, so a
	# killed or timed-out test leaves nothing running.
	if [ -n "${XMPPTEST_WATCH_PID:-}" ]; then
		local ppid=$!
		(
			while kill -0 "$XMPPTEST_WATCH_PID" 2>/dev/null && kill -0 "$ppid" 2>/dev/null; do
				sleep 1
			done
			kill -9 "$ppid" 2>/dev/null || true
		) >/dev/null 2>&1 </dev/null &
	fi
	local ok=
	for _ in $(seq 1 100); do
		if ! alive; then
			break
		fi
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			ok=1
			break
		fi
		sleep 0.1
	done
	if [ -z "$ok" ]; then
		tail -30 "$DIR/stdout.log" "$DIR/prosody.log" >&2 2>/dev/null || true
		stop_quiet
		die "prosody did not listen on 127.0.0.1:$port within 10 s (mode $MODE)"
	fi
	cat >"$DIR/env" <<-ENV
	export XMPP_C2S_PORT=$port
	export XMPP_DOMAIN=$DOMAIN
	export XMPP_UPLOAD_JID=$UPLOAD_JID
	export XMPP_USER=$user@$DOMAIN
	export XMPP_PASSWORD=$pass
	export XMPP_USER2=$user2@$DOMAIN
	export XMPP_PASSWORD2=$pass2
	export XMPPTEST_DIR=$DIR
	ENV
	log "started (mode $MODE) on 127.0.0.1:$port, pid $(cat "$DIR/pid")"
	print_env
}

stop_quiet() {
	if [ -f "$DIR/pid" ]; then
		local pid
		pid=$(cat "$DIR/pid")
		if kill -0 "$pid" 2>/dev/null; then
			# Prosody's graceful shutdown takes about a second; its state is thrown away, so
			# give it half of that before killing it.
			kill "$pid" 2>/dev/null || true
			for _ in $(seq 1 10); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.05
			done
			kill -9 "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
		fi
	fi
}

stop() {
	stop_quiet
	rm -rf "$DIR"
	log "stopped"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
*)
	echo "usage: $0 start|stop" >&2
	exit 2
	;;
esac
