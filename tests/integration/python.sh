#!/bin/bash
# python.sh - the Python client (clients/python, issue #18) against the
# real daemon: its unittest suite (python3 -m unittest), with fanoutd
# listening on loopback TCP and on a unix socket with auth_tokens_file,
# and the test upstream to fetch from; first mypy --strict checks the
# package's type hints. The suite also installs the package into a venv
# with pip, offline, and uses it from there.
#
# Debian's /usr/bin/python3 runs the suite, as on CI (a python3 earlier
# on the PATH, pyenv's, is not the one Debian's packages serve). Nothing
# is written into the source tree (read-only under distcheck): no
# bytecode, and pip builds from a copy.
. "${TESTLIB:?TESTLIB must point to tests/integration/lib.sh}"
: "${SRCDIR:?SRCDIR must point to the source tree}"

PY=/usr/bin/python3
if [ ! -x "$PY" ]; then
	echo "python.sh: $PY is missing (script/bootstrap installs python3)"
	exit 1
fi

start_upstream
echo "py-test-token" >"$T/tokens"
start_fanoutd "listen = 127.0.0.1:0
listen = unix:$T/fanoutd.sock
auth_tokens_file = $T/tokens
max_items = 1000
[jobs]
max_items = 100"

# FANOUTD_TEST_BIN: the job tests start (and restart) a fanoutd of their
# own, on a unix socket and a store under $T, to resume a follow.
export FANOUTD_TEST_URL=$FO FANOUTD_TEST_UNIX=$T/fanoutd.sock \
	FANOUTD_TEST_TOKEN=py-test-token FANOUTD_TEST_UPSTREAM=$UP \
	FANOUTD_TEST_BIN=$FANOUTD \
	PYTHONPATH=$SRCDIR/clients/python PYTHONDONTWRITEBYTECODE=1
unset FANOUTD_URL FANOUTD_TOKEN
# The suite's scratch files (the venv) go under $T, removed at exit.
export TMPDIR=$T

# The type hints hold: Debian's mypy, strict, on the package.
rc=0
(cd "$SRCDIR/clients/python" && timeout 120 mypy --strict \
	--cache-dir="$T/mypy" fanoutd) >"$T/mypy.log" 2>&1 || rc=$?
cat "$T/mypy.log"
check "the package's type hints check (mypy --strict)" "$rc" 0

rc=0
(cd "$T" && timeout 300 "$PY" -m unittest discover -v \
	-s "$SRCDIR/clients/python/tests" -t "$SRCDIR/clients/python") \
	>"$T/unittest.log" 2>&1 || rc=$?
cat "$T/unittest.log"
check "the Python client's unittest suite passes" "$rc" 0
check "it ran tests, and skipped none" \
	"$(grep -cE '^(OK|FAILED).*skipped' "$T/unittest.log"; grep -cE '^Ran [1-9]' "$T/unittest.log")" \
	"0
1"
finish
