#!/bin/bash
# cli.sh - the command line: --version, --help, -t on good and bad
# files (exit status, and file, line and key in the message), flags
# override the file, unknown flags are refused, built-in defaults need
# no file.
. "${TESTLIB:?TESTLIB must point to tests/integration/lib.sh}"

check "--version prints the version" \
	"$("$FANOUTD" --version | cut -d' ' -f1)" fanoutd
check_true "--help prints the usage" sh -c '"$FANOUTD" --help | grep -q -- "--listen"'
"$FANOUTD" --bogus >/dev/null 2>&1
check "an unknown flag exits 2" "$?" 2

printf '[limits]\nconcurrency = 10\n' >"$T/good.conf"
check "-t accepts a good file" "$("$FANOUTD" -t -c "$T/good.conf" >/dev/null 2>&1; echo $?)" 0
check "-t accepts the built-in defaults" "$("$FANOUTD" -t >/dev/null 2>&1; echo $?)" 0
check "-t accepts the shipped example" \
	"$("$FANOUTD" -t -c "$(dirname "$TESTLIB")/../../etc/fanoutd.conf" >/dev/null 2>&1; echo $?)" 0

printf '[limits]\nconcurrency = 10\n\nper_host_concurency = 5\n' >"$T/bad.conf"
msg=$("$FANOUTD" -t -c "$T/bad.conf" 2>&1)
check "-t refuses a bad file with exit 1" "$?" 1
check "the message names the file, line and key" "$msg" \
	"fanoutd: configuration error: $T/bad.conf:4: [limits] per_host_concurency: unknown key"
printf '[limits]\nconcurrency = 10\nbatch_concurrency = 20\n' >"$T/rel.conf"
check "-t accepts a default above its cap" \
	"$("$FANOUTD" -t -c "$T/rel.conf" >/dev/null 2>&1; echo $?)" 0
check "but warns that batches get the cap" \
	"$("$FANOUTD" -t -c "$T/rel.conf" 2>&1 >/dev/null | grep -c 'batch_concurrency (20) is above \[limits\] concurrency (10); batches get 10')" 1
check "a missing file is an error" \
	"$("$FANOUTD" -t -c "$T/nope.conf" >/dev/null 2>&1; echo $?)" 1
check "a bad --listen is an error" \
	"$("$FANOUTD" -t --listen nowhere >/dev/null 2>&1; echo $?)" 1

# --listen overrides [server] listen from the file.
printf '[server]\nlisten = 127.0.0.1:1\n' >"$T/listen.conf"
"$FANOUTD" -c "$T/listen.conf" --listen 127.0.0.1:0 2>"$T/fanoutd.log" &
FANOUTD_PID=$!
wait_until 10 grep -q 'listening on http://' "$T/fanoutd.log"
FO=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$T/fanoutd.log")
check "--listen wins over the file" "${FO##*:}" "$(printf '%s' "${FO##*:}" | grep -v '^1$')"
check "the daemon answers there" "$(curl -sS "$FO/healthz" | jq -r .status)" ok
stop_fanoutd

# Under systemd (JOURNAL_STREAM set) lines carry sd-daemon priorities
# and no timestamp; otherwise an ISO timestamp and the level.
printf '[upstream]\ntls_verify = false\n' >"$T/w.conf"
JOURNAL_STREAM=8:1234 "$FANOUTD" -c "$T/w.conf" --listen 127.0.0.1:0 \
	2>"$T/journal.log" &
FANOUTD_PID=$!
wait_until 10 grep -q 'listening on' "$T/journal.log"
stop_fanoutd
check "journal lines: <4> for a warning, no timestamp" \
	"$(grep -c '^<4>configuration: \[upstream\] tls_verify is false' "$T/journal.log")" 1
check "<6> for info" "$(grep -c '^<6>listening on http://' "$T/journal.log")" 1
check "every journal line has a priority" "$(grep -vc '^<[3467]>' "$T/journal.log")" 0
check "plain stderr lines start with an ISO timestamp and the level" \
	"$(head -n 1 "$T/fanoutd.log" | grep -cE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{12}Z info  ')" 1

# Without -c, the default file (DESIGN.md §3) when it exists. Its path
# is the build's sysconfdir: shown in --help, faked here under a tmpfs
# in a mount namespace of our own (root), on the nearest existing
# ancestor of its directory.
def=$("$FANOUTD" --help | sed -n 's/^ *\(\/[^ ]*fanoutd\.conf\) when it$/\1/p')
anc=$(dirname "$def")
while [ ! -d "$anc" ]; do anc=$(dirname "$anc"); done
case $anc in
/ | /usr | /etc | "$HOME")
	echo "ok - the default file # SKIP its nearest directory is $anc" ;;
*)
	if ! unshare -m true 2>/dev/null; then
		echo "ok - the default file # SKIP unshare -m needs root"
	else
		out=$(unshare -m sh -c 'mount -t tmpfs tmpfs "$1" &&
			mkdir -p "$(dirname "$2")" &&
			printf "[limits]\nconcurrency = lots\n" >"$2" &&
			"$3" -t 2>&1; rm "$2"; "$3" -t 2>&1' sh "$anc" "$def" "$FANOUTD")
		check "without -c, the default file is read" \
			"$(printf '%s\n' "$out" | head -n 1)" \
			"fanoutd: configuration error: $def:2: [limits] concurrency: expected an integer from 1 to 1000000"
		check "and without it, the built-in defaults" \
			"$(printf '%s\n' "$out" | tail -n 1)" \
			"fanoutd: configuration (built-in defaults) is valid"
	fi ;;
esac

finish
