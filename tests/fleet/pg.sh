# tests/fleet/pg.sh - a throwaway PostgreSQL for the tests, sourced
# after tests/integration/lib.sh: initdb in a directory under $T, the
# server on a free loopback port with its unix socket in that directory,
# no system service. The binaries are Debian's (/usr/lib/postgresql/N/bin;
# package postgresql, installed by script/bootstrap). PostgreSQL refuses
# to run as root: as root, every command runs as the `postgres` user.
#
# start_pg sets PG_URI (postgresql://...), PG_DIR, PG_PORT; pg_stop and
# pg_start stop and start that server again (the database is kept);
# pg_sql SQL runs a query and prints its rows, unaligned.

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)

# pg_run CMD...: run a PostgreSQL program, as postgres when we are root.
pg_run() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# pg_start: start the server of $PG_DIR on $PG_PORT; waits until ready.
pg_start() {
	pg_run "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" \
		-o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60" \
		-w -t 30 start >/dev/null
}

# pg_stop [MODE]: stop it (fast by default: clients are cut off).
pg_stop() {
	pg_run "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m "${1:-fast}" -w -t 30 stop >/dev/null
}

pg_sql() {
	pg_run "$PG_BIN/psql" -X -q -A -t -h "$PG_DIR" -p "$PG_PORT" -U postgres -d fanoutd -c "$1"
}

start_pg() {
	local try
	[ -x "$PG_BIN/initdb" ] || { echo "PostgreSQL is missing (script/bootstrap)"; exit 1; }
	PG_DIR="$T/pg"
	mkdir -p "$PG_DIR"
	chmod 711 "$T"
	if [ "$(id -u)" = 0 ]; then
		chown postgres "$PG_DIR"
	fi
	pg_run "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust \
		--no-sync >"$PG_DIR/initdb.log" 2>&1 || {
		cat "$PG_DIR/initdb.log"
		exit 1
	}
	for try in 1 2 3 4 5 6 7 8 9 10; do
		PG_PORT=$((20000 + RANDOM % 40000))
		pg_start && break
		PG_PORT=
	done
	[ -n "$PG_PORT" ] || { echo "PostgreSQL did not start"; cat "$PG_DIR/server.log"; exit 1; }
	PIDS+=("$(head -n 1 "$PG_DIR/data/postmaster.pid")")
	pg_run "$PG_BIN/createdb" -h "$PG_DIR" -p "$PG_PORT" -U postgres fanoutd
	PG_URI="postgresql://postgres@127.0.0.1:$PG_PORT/fanoutd"
}
