#!/usr/bin/env bash
# Throwaway PostgreSQL 15 cluster for the tests.
#   eval "$(bash scripts/pgtest.sh start)"   # prints: export TEST_DATABASE_URL=...
#   bash scripts/pgtest.sh stop
# State lives in $PGTEST_DIR (default /tmp/alist-edge-pgtest). The cluster is for tests only:
# trust auth, fsync off, listening on a unix socket in the state dir and on 127.0.0.1.
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
DIR=${PGTEST_DIR:-/tmp/alist-edge-pgtest}
DB=alist_edge_test
PGUSER_NAME=postgres

log() { echo "pgtest: $*" >&2; }

# Postgres refuses to run as root; when we are root, run it as an unprivileged user.
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u "$RUN_AS" -- "$@"
	else
		"$@"
	fi
}

pick_run_as() {
	RUN_AS=$(id -un)
	if [ "$(id -u)" -eq 0 ]; then
		if id postgres >/dev/null 2>&1; then
			RUN_AS=postgres
		else
			RUN_AS=nobody
		fi
	fi
}

free_port() {
	local p
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	log "no free port found"
	exit 1
}

print_url() {
	echo "export TEST_DATABASE_URL='postgres://$PGUSER_NAME@127.0.0.1:$(cat "$DIR/port")/$DB?sslmode=disable'"
}

start() {
	[ -x "$PGBIN/initdb" ] || { log "no PostgreSQL binaries in $PGBIN (apt-get install postgresql-15)"; exit 1; }
	pick_run_as
	if [ -f "$DIR/port" ] && as_pg "$PGBIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
		log "already running on port $(cat "$DIR/port")"
		print_url
		return
	fi
	rm -rf "$DIR"
	mkdir -p "$DIR"
	chmod 700 "$DIR"
	if [ "$(id -u)" -eq 0 ]; then
		chown "$RUN_AS" "$DIR"
	fi
	as_pg "$PGBIN/initdb" -D "$DIR/data" -U "$PGUSER_NAME" --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
		--no-sync >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; exit 1; }
	local port
	port=$(free_port)
	as_pg sh -c "echo $port >'$DIR/port'"
	as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 30 \
		-o "-p $port -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
		start >&2 || { cat "$DIR/server.log" >&2; exit 1; }
	as_pg "$PGBIN/createdb" -h "$DIR" -p "$port" -U "$PGUSER_NAME" "$DB"
	log "started on 127.0.0.1:$port and socket $DIR"
	print_url
}

stop() {
	pick_run_as
	if [ -d "$DIR/data" ]; then
		as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -m fast -w stop >&2 || true
	fi
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
