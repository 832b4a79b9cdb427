#!/bin/bash
# fanout.sh - the fanout(1) client against the real fanoutd and the test
# upstream: every input form (arguments, -i FILE, -i -, --json FILE),
# the batch flags made from the option table, -X/-H/-A, the output forms
# (NDJSON, --format table, -o), progress only where asked, downloads
# (-d: names, collisions, --overwrite, hostile names, .part), where the
# daemon is (--server, FANOUTD_URL, --unix-socket), the token (env and
# --token-file), every exit status, --fail-fast and Ctrl-C cancelling
# the batch, and whole lines under load. FANOUT_WRAPPER (script/test's
# valgrind pass) runs fanout itself under a checker.
. "${TESTLIB:?TESTLIB must point to tests/integration/lib.sh}"
: "${FANOUT:?FANOUT must point to the fanout binary}"

start_upstream
start_fanoutd "listen = 127.0.0.1:0, unix:$T/fo.sock"
export FANOUTD_URL=$FO
cd "$T" || exit 1
export LC_ALL=C

# fo ARGS...: run fanout, stdout to $T/out, stderr to $T/err; sets RC.
fo() {
	RC=0
	# shellcheck disable=SC2086
	timeout 120 ${FANOUT_WRAPPER:-} "$FANOUT" "$@" >"$T/out" 2>"$T/err" || RC=$?
}

# --- input and NDJSON output
fo --headers false "$UP/text/3" "$UP/text/5"
check "URLs as arguments: exit 0 when every item is ok" "$RC" 0
check "one line per item, then the summary" \
	"$(jq -c 'if .summary then .summary.total else [.index, .body] end' "$T/out" | sort | tr '\n' ' ')" \
	'2 [0,"abc"] [1,"abcde"] '
check "nothing on stderr" "$(cat "$T/err")" ""

printf '# urls\n%s/text/1\n\n   %s/text/2  \r\n#%s/text/9\n' "$UP" "$UP" "$UP" >urls.txt
fo -i urls.txt
check "-i FILE: comments and blank lines skipped" \
	"$(jq -c 'select(.index != null) | .body' "$T/out" | sort | tr '\n' ' ')" \
	'"a" "ab" '
RC=0
# shellcheck disable=SC2086
printf '%s/text/4\n' "$UP" | ${FANOUT_WRAPPER:-} "$FANOUT" -i - >"$T/out" 2>"$T/err" || RC=$?
check "-i - reads stdin" "$RC/$(jq -r 'select(.index == 0) | .body' "$T/out")" "0/abcd"
RC=0
# shellcheck disable=SC2086
jq -n --arg u "$UP" '[$u + "/text/2"]' |
	${FANOUT_WRAPPER:-} "$FANOUT" --json - >"$T/out" 2>"$T/err" || RC=$?
check "--json - reads stdin too" "$RC/$(jq -r 'select(.index == 0) | .body' "$T/out")" "0/ab"
RC=0
# shellcheck disable=SC2086
echo '{"requests": [' | ${FANOUT_WRAPPER:-} "$FANOUT" --json - >"$T/out" 2>"$T/err" || RC=$?
check "--json - with bad JSON: exit 1, stdin's line named" \
	"$RC $(head -n 1 "$T/err")" "1 fanout: stdin:2: ']' expected near end of file"

jq -n --arg u "$UP" '{requests: [$u + "/text/2", {url: ($u + "/text/3"), id: "x"}],
	options: {retries: 4, headers: false}}' >batch.json
fo --json batch.json --retries 1
check "--json FILE: the batch as written" \
	"$(jq -c 'select(.id) | [.id, .body]' "$T/out")" '["x","abc"]'
check "--json: its own options kept, a flag takes the place of one" \
	"$(jq -c '.summary.effective | select(.) | [.headers, .retries]' "$T/out")" '[false,1]'

# --- batch options: every table row is a flag, - or _ alike
fo -j 3 --per-host-concurrency 2 --timeout_ms 700 --max-body-bytes 5 \
	--body none "$UP/text/10"
check "-j and table options reach the daemon" \
	"$(jq -c '.summary.effective | select(.) | [.concurrency, .per_host_concurrency, .timeout_ms, .max_body_bytes, .body]' "$T/out")" \
	'[3,2,700,5,"none"]'
check "--body none and --max-body-bytes applied" \
	"$(jq -c 'select(.index == 0) | [has("body"), .body_bytes, .truncated]' "$T/out")" \
	'[false,5,true]'
fo --retry-on timeout,503 --rate 1000 --burst 5 "$UP/text/1"
check "list and rate options" \
	"$(jq -c '.summary.effective | select(.) | [.retry_on, .rate, .burst]' "$T/out")" \
	'[["timeout","503"],1000,5]'

# --- exact flag names (no getopt prefix completion), and the aliases
fo --timeout 500 --per-host 2 "$UP/text/1"
check "--timeout and --per-host: timeout_ms and per_host_concurrency" \
	"$RC $(jq -c '.summary.effective | select(.) | [.timeout_ms, .per_host_concurrency]' "$T/out")" \
	'0 [500,2]'
fo --ret 0 "$UP/text/1"
check "a prefix of flags is no flag: exit 1, named as typed" \
	"$RC $(head -n 1 "$T/err")" "1 fanout: --ret: unknown flag"
fo --timeout-m 500 "$UP/text/1"
check "a prefix of one flag is no flag either" \
	"$RC $(head -n 1 "$T/err")" "1 fanout: --timeout-m: unknown flag"
fo --token sekrit "$UP/text/1"
check "--token SECRET: an unknown flag, and the value is never echoed" \
	"$RC $(grep -c sekrit "$T/err") $(head -n 1 "$T/err")" \
	"1 0 fanout: --token: unknown flag"

# --- URLs in the command line's order: arguments and -i files alike
printf '%s/text/2\n%s/text/3\n' "$UP" "$UP" >two.txt
fo --headers false "$UP/text/1" -i two.txt "$UP/text/4"
check "indexes follow the command line: argument, -i file, argument" \
	"$(jq -c 'select(.index != null) | [.index, .body]' "$T/out" | sort | tr '\n' ' ')" \
	'[0,"a"] [1,"ab"] [2,"abc"] [3,"abcd"] '

# --- usage errors: exit 1, nothing sent
fo --concurrency 0 "$UP/text/1"
check "a value the option table refuses: exit 1" "$RC" 1
check "and says which and why" \
	"$(head -n 1 "$T/err")" "fanout: --concurrency 0: expected a positive integer"
fo --no-such-flag "$UP/text/1"
check "an unknown flag: exit 1" "$RC" 1
fo
check "no URLs: exit 1" "$RC" 1
fo --json nope.json
check "a missing --json file: exit 1, no line number" "$RC $(head -n 1 "$T/err")" \
	"1 fanout: --json nope.json: unable to open nope.json: No such file or directory"
fo -i nope.txt
check "a missing -i file: exit 1" "$RC" 1
fo --format xml "$UP/text/1"
check "--format xml: exit 1" "$RC" 1
fo --progress sometimes "$UP/text/1"
check "--progress sometimes: exit 1" "$RC" 1
fo -H 'no colon' "$UP/text/1"
check "-H without a colon: exit 1" "$RC" 1
fo --server notaurl "$UP/text/1"
check "--server that is not an http(s) URL: exit 1, before any lookup" \
	"$RC $(head -n 1 "$T/err")" \
	"1 fanout: --server notaurl: expected an http:// or https:// URL"
fo stauts abc
check "a mistyped command is not two URLs: exit 1, the commands named" \
	"$RC $(head -n 1 "$T/err")" \
	"1 fanout: stauts: not a URL (no scheme, such as http://) nor a command (jobs, status, results, retry, cancel)"
fo -X put "$UP/echo"
check "-X put: methods are case-sensitive, exit 1" \
	"$RC $(grep -c '^fanout: -X put: not a method fanoutd sends' "$T/err")" "1 1"
fo --method FETCH "$UP/echo"
check "-X FETCH: not a method fanoutd sends, exit 1" \
	"$RC $(grep -c '^fanout: -X FETCH: not a method' "$T/err")" "1 1"
fo --help
check "--help: exit 0, on stdout" "$RC/$(grep -c 'Exit: 0 all ok' "$T/out")" "0/1"
fo --version
check "--version" "$RC/$(cut -d' ' -f1 "$T/out")" "0/fanout"

# --- method and headers for every item
fo -X PUT -H 'X-Test: yes' -A 'fanout-test/1' "$UP/echo"
check "-X, -H, -A reach the upstream" \
	"$(jq -r 'select(.index == 0) | .body' "$T/out" | jq -c '[.method, (.headers | map(select(.[0] == "X-Test" or .[0] == "User-Agent")) | map(.[1]))]')" \
	'["PUT",["fanout-test/1","yes"]]'

# --- exit statuses 3 and 4, errors printed in words
fo --retries 0 "$UP/text/1" "$UP/status/500"
check "some items failed: exit 3" "$RC" 3
fo --retries 0 "$UP/status/500" "$UP/status/404"
check "every item failed: exit 4" "$RC" 4
check "a failure is a result line, not an error" "$(grep -c '"index"' "$T/out")" 2
fo --server "http://127.0.0.1:1" "$UP/text/1"
check "daemon unreachable: exit 2" "$RC" 2
check "and says so" "$(grep -c "cannot reach fanoutd at http://127.0.0.1:1" "$T/err")" 1
FANOUTD_URL=http://127.0.0.1:1 fo "$UP/text/1"
check "FANOUTD_URL names the daemon" "$RC" 2
FANOUTD_URL=http://127.0.0.1:1 fo --server "$FO" "$UP/text/1"
check "--server wins over FANOUTD_URL" "$RC" 0
FANOUTD_URL=http://127.0.0.1:1 fo --unix-socket "$T/fo.sock" "$UP/text/1"
check "--unix-socket" "$RC/$(jq -r 'select(.index == 0) | .body' "$T/out")" "0/a"
fo --unix-socket "$T/nonexistent.sock" "$UP/text/1"
check "a unix socket that is not there: exit 2, its path and errno" \
	"$RC $(cat "$T/err")" \
	"2 fanout: cannot reach fanoutd at the unix socket $T/nonexistent.sock: connect: No such file or directory"

# --- output forms
fo --format table --retries 0 "$UP/text/3" "$UP/status/404" "http://no-such.invalid/"
check "--format table: a header, a row per item, a summary" "$(wc -l <"$T/out")" 5
check "table rows: status, error type" \
	"$(awk 'NR > 1 && NR < 5 {print $2}' "$T/out" | sort | tr '\n' ' ')" '200 404! dns '
check "table summary" "$(tail -n 1 "$T/out" | cut -d' ' -f1-6)" "3 items: 1 ok, 2 failed"
fo --format table "$UP/text/3"
check "one item is one item" "$(tail -n 1 "$T/out" | cut -d' ' -f1-6)" "1 item: 1 ok, 0 failed"
fo -o results.ndjson "$UP/text/3"
check "-o FILE: nothing on stdout" "$(wc -c <"$T/out")" 0
check "-o FILE: the lines in the file" "$(jq -r 'select(.index == 0) | .body' results.ndjson)" abc

# --- progress: stderr only when asked or a terminal, never stdout
fo --progress always "$UP/delay/300" "$UP/text/1"
check "--progress always draws on stderr" "$(grep -c 'ok 2 failed 0' "$T/err")" 1
check "and erases itself at the end" "$(tail -c 4 "$T/err" | od -An -c | tr -d ' ')" '\r033[K'
check "stdout is only result lines" "$(jq -c 'keys[0]' "$T/out" | sort -u | tr '\n' ' ')" '"attempts" "summary" '
fo "$UP/delay/300"
check "--progress auto on a pipe: no escape codes" "$(grep -c $'\033' "$T/err")" 0
fo --progress never --progress-ms 50 "$UP/delay/300"
check "--progress never: nothing on stderr, progress lines not printed" \
	"$(wc -c <"$T/err")/$(grep -c '^{"progress"' "$T/out")" "0/0"

# --- downloads
mkdir dl
echo "mine" >dl/a.txt
fo -d dl "$UP/text/3?x=/a.txt" "$UP/bytes/300" "$UP/text/5#/a.txt" "$UP/status/404"
check "-d: the ok bodies saved (exit 3 for the 404)" "$RC" 3
check "an existing file is never overwritten" "$(cat dl/a.txt)" mine
ls dl | sort >listing
check "names from the last segment; the 404 is not saved" \
	"$(tr '\n' ' ' <listing)" "3 300 5 a.txt "
check "text body byte for byte" "$(cat dl/3)" abc
check "binary body: 300 bytes, base64 decoded" "$(wc -c <dl/300)" 300
check "each saved line names its file" \
	"$(jq -r 'select(.saved_path) | .saved_path' "$T/out" | sort | tr '\n' ' ')" "dl/3 dl/300 dl/5 "
check "the 404's line has no saved_path" \
	"$(jq -c 'select(.status == 404) | has("saved_path")' "$T/out")" false
fo -d dl "$UP/files/4/a.txt" "$UP/files/6/x/a.txt"
check "collisions get a suffix, in one run and with what is there" \
	"$(jq -r 'select(.saved_path) | .saved_path' "$T/out" | sort | tr '\n' ' ')" "dl/a-1.txt dl/a-2.txt "
check "still not overwritten" "$(cat dl/a.txt)" mine
fo -d dl --overwrite "$UP/files/2/a.txt"
check "--overwrite replaces" "$(cat dl/a.txt)/$(jq -r 'select(.saved_path) | .saved_path' "$T/out")" "ab/dl/a.txt"
fo -d dl "$UP/files/2/..%2f..%2fescape" "$UP/files/2/%2e%2e" \
	"$UP/files/1/.hidden" "$UP/files/1/a%0ab"
check "hostile names stay inside DIR" \
	"$(jq -r 'select(.saved_path) | .saved_path' "$T/out" | sort | tr '\n' ' ')" \
	"dl/_. dl/_._.._escape dl/_hidden dl/a_b "
check "nothing escaped" "$(ls "$T" | grep -c escape)" 0
check "no .part file is left" "$(ls dl | grep -c '\.part$')" 0

# --- the token: from FANOUTD_TOKEN or --token-file, never argv
stop_fanoutd
echo "s3cret" >tokens
start_fanoutd "auth_tokens_file = $T/tokens"
export FANOUTD_URL=$FO
fo "$UP/text/1"
check "no token: refused, exit 2" "$RC" 2
check "the daemon's error in words" \
	"$(grep -c '^fanout: fanoutd refused the batch (HTTP 401, unauthorized)' "$T/err")" 1
FANOUTD_TOKEN=s3cret fo "$UP/text/1"
check "FANOUTD_TOKEN" "$RC" 0
echo s3cret >tokfile
FANOUTD_TOKEN=wrong fo --token-file tokfile "$UP/text/1"
check "--token-file (wins over the environment)" "$RC" 0
fo --token=s3cret "$UP/text/1"
check "no --token flag: a token never goes on the command line" "$RC" 1
stop_fanoutd

# --- a batch the daemon refuses for its size: exit 2
start_fanoutd 'max_items = 2'
export FANOUTD_URL=$FO
fo "$UP/text/1" "$UP/text/2" "$UP/text/3"
check "refused batch: exit 2" "$RC" 2
check "refusal in words" "$(grep -c '^fanout: fanoutd refused the batch (HTTP 4' "$T/err")" 1
stop_fanoutd
start_fanoutd
export FANOUTD_URL=$FO

# --- --fail-fast: the first failure cancels the rest
jq -n --arg u "$UP" '[range(20) | $u + "/delay/20000?tag=ff"] + [$u + "/status/500"]' >ff.json
t0=$(ms_now)
fo --fail-fast --retries 0 -j 30 --json ff.json
check "--fail-fast: exit 3 at the first failure" "$RC" 3
check "at once, not after the 20 s items" "$(( $(ms_now) - t0 < 10000 ))" 1
check "the failure is printed" "$(jq -c 'select(.index == 20) | .status' "$T/out")" 500
check "and the cancel said" "$(grep -c 'fail-fast: item 20 failed' "$T/err")" 1
ff_aborted() { test "$(upstream_stats | jq '.tags.ff.aborted')" = 20; }
check_true "the daemon closed the 20 in flight (batch cancelled)" wait_until 10 ff_aborted
fo --fail-fast --retries 0 --progress always "$UP/status/500"
check "--fail-fast with every item failed: exit 4" "$RC" 4
check "the bar is erased before the message, which ends stderr" \
	"$(tail -n 1 "$T/err" | sed 's/.*\x1b\[K//')" \
	"fanout: --fail-fast: item 0 failed; the rest of the batch is cancelled"

# --- Ctrl-C: the batch is cancelled, the status says so
# shellcheck disable=SC2086
${FANOUT_WRAPPER:-} "$FANOUT" "$UP/delay/20000?tag=int" "$UP/text/1" >"$T/out" 2>"$T/err" &
fpid=$!
wait_until 10 grep -q '"index":1' "$T/out"
kill -INT "$fpid"
rc=0
wait "$fpid" || rc=$?
check "SIGINT: exit 130" "$rc" 130
int_aborted() { test "$(upstream_stats | jq '.tags.int.aborted')" = 1; }
check_true "SIGINT cancels the batch upstream" wait_until 10 int_aborted

# --- many items of many sizes: every line whole, one per item
jq -n --arg u "$UP" '[range(3000) | $u + "/text/\(. * 37 % 20000)"]' >many.json
fo -j 200 --json many.json
check "3000 items: exit 0" "$RC" 0
check "3000 whole JSON result lines, each index once" \
	"$(jq -c 'select(.index != null) | .index' "$T/out" | sort -un | wc -l)" 3000
check "no line is cut or joined" "$(jq -c . "$T/out" | wc -l)" 3001

# -x is --extract (issue #17): a text/plain body is not HTML, and says so
fo -x title,links --headers false "$UP/text/3"
check "-x asks for the extract: not HTML here, and why" \
	"$RC $(jq -c 'select(.index != null) | [.extract, .extract_skipped]' "$T/out")" \
	"0 [null,\"content type text/plain is not HTML\"]"

finish
