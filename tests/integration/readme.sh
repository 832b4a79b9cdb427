#!/bin/bash
# readme.sh - the shell examples of README.md and of the man pages'
# EXAMPLES sections, run as printed against the set-up the README's
# quick start makes (script/server: fanoutd on 127.0.0.1:7878, the test
# upstream on 127.0.0.1:7879), and compared with the output shown.
#
# Markers say what is run. In README.md, a line before each ```sh block:
#   <!-- example -->                    run it; the fenced block right
#                                       after it (blank lines between,
#                                       no prose) is the output it prints
#   <!-- example exit=N -->             the same, exiting with status N
#   <!-- example not run: REASON -->    shown only (say why)
#   <!-- example setup -->              run before every example, in
#                                       the same shell (the quick
#                                       start's PATH)
# In a man page, the same words in a roff comment before `.nf`
# (`.\" example`, `.\" example not run: REASON`), and `.\" output` before
# the `.nf` block that shows the output. A shell block without a marker
# fails the test, so no example escapes it.
#
# Comparing: the output shown may elide with `...`: a line of its own
# (more lines), `{...}` or `[...]` (any value), `,...` at the end of an
# object (more keys), or inside a string (any string). JSON output is
# compared value by value: an item line with the actual line of the same
# `index`, the summary with the summary, other documents in order; every
# key shown must hold the value shown, except measured times (keys in
# `timings` and keys ending in `_ms`, outside `effective`), which must be
# within 1.5x + 100 ms of the figure shown. Without a `...` line, the
# number of lines must match too. A ```text block is compared line by
# line, in order, `...` matching anything.
#
# Every man page must also format without a warning from groff (-ww).
#
# It runs inside its own network namespace (unshare -n, root), so the
# README's fixed ports are free and nothing leaves the machine.
. "$(dirname "${TESTLIB:?TESTLIB must point to tests/integration/lib.sh}")/netns.sh"
. "$TESTLIB"
: "${SRCDIR:?SRCDIR must point to the source tree}"

mkdir "$T/ex" "$T/cwd"

# The awk functions both extractors share: complain(MSG) names the
# file and line; start_example() opens example number base+n (its .cmd,
# .where and .exit files, the status from an exit=N in the marker).
AWK_COMMON='
	function complain(msg) {
		printf "%s:%d: %s\n", name, FNR, msg > "/dev/stderr"; bad = 1
	}
	function start_example(   f, status) {
		n++
		f = sprintf("%s/%04d", dir, base + n)
		cur = f ".cmd"
		printf "%s:%d\n", name, FNR > (f ".where")
		close(f ".where")
		status = 0
		if (match(marker, /exit=[0-9]+/))
			status = substr(marker, RSTART + 5, RLENGTH - 5)
		printf "%s\n", status > (f ".exit")
		close(f ".exit")
		last = base + n
	}
'

# extract_markdown FILE: the marked blocks of FILE into $T/ex/.
extract_markdown() {
	awk -v dir="$T/ex" -v name="$(basename "$1")" -v base="$(ls "$T/ex" | grep -c "\.cmd$")" "$AWK_COMMON"'
	infence {
		if ($0 ~ /^[ \t]*```[ \t]*$/) {
			infence = 0
			if (cur != "")
				close(cur)
			follow = (kind == "cmd" && cur != "") ? last : 0
			cur = ""
			next
		}
		if (cur != "")
			print > cur
		next
	}
	/^<!-- example/ {
		if (marker != "")
			complain("a marker with no shell block after it")
		marker = $0
		next
	}
	/^[ \t]*```/ {
		lang = $0
		sub(/^[ \t]*```/, "", lang)
		gsub(/[ \t]/, "", lang)
		infence = 1
		cur = ""
		if (lang ~ /^(sh|bash|shell|console)$/) {
			kind = "cmd"
			if (marker == "")
				complain("a shell block with no <!-- example --> marker")
			else if (marker ~ /^<!-- example setup/) {
				kind = "setup"
				cur = dir "/setup.sh"
			} else if (marker !~ /not run/)
				start_example()
			marker = ""
		} else {
			kind = "out"
			if (follow) {
				cur = sprintf("%s/%04d.out", dir, follow)
				printf "%s\n", lang > sprintf("%s/%04d.lang", dir, follow)
				close(sprintf("%s/%04d.lang", dir, follow))
			}
		}
		follow = 0
		next
	}
	/^[ \t]*$/ { next }
	{
		follow = 0
		if (marker != "") {
			complain("a marker with no shell block after it")
			marker = ""
		}
	}
	END { exit bad }' "$1"
}

# extract_man FILE: the marked .nf blocks of a man page into $T/ex/.
# Unescapes what roff needs escaped: \e \- \(aq \(dq \&.
extract_man() {
	awk -v dir="$T/ex" -v name="$(basename "$1")" -v base="$(ls "$T/ex" | grep -c "\.cmd$")" "$AWK_COMMON"'
	/^\.SH/ { examples = ($0 ~ /EXAMPLES/); next }
	/^\.\\" example/ { marker = $0; next }
	/^\.\\" output/ { output = 1; next }
	/^\.nf/ {
		inblock = 1
		cur = ""
		if (output) {
			if (last) {
				cur = sprintf("%s/%04d.out", dir, last)
				printf "auto\n" > sprintf("%s/%04d.lang", dir, last)
				close(sprintf("%s/%04d.lang", dir, last))
			}
			output = 0
		} else if (examples || marker != "") {
			last = 0
			if (marker == "") {
				complain("an example with no .\\\" example marker")
			} else if (marker !~ /not run/) {
				start_example()
			}
			marker = ""
		}
		next
	}
	/^\.fi/ { inblock = 0; if (cur != "") close(cur); next }
	inblock && /^\./ { next }
	inblock {
		line = $0
		gsub(/\\e/, "\\", line)
		gsub(/\\-/, "-", line)
		gsub(/\\\(aq/, "\047", line)
		gsub(/\\\(dq/, "\"", line)
		gsub(/\\&/, "", line)
		if (cur != "")
			print line > cur
	}
	END { exit bad }' "$1"
}

# normalise_json FILE: the shown output with its elisions made JSON.
normalise_json() {
	sed -E -e '/^[[:space:]]*(\.\.\.|…)[[:space:]]*$/d' \
		-e 's/\{(\.\.\.|…)\}/"..."/g; s/\[(\.\.\.|…)\]/"..."/g' \
		-e 's/,[[:space:]]*(\.\.\.|…)[[:space:]]*,/,/g' \
		-e 's/,[[:space:]]*(\.\.\.|…)[[:space:]]*([]}])/\2/g' \
		-e 's/([[{])[[:space:]]*(\.\.\.|…)[[:space:]]*,/\1/g' "$1"
}

# The JSON comparison (see the header); prints one line per difference.
JQ_COMPARE='
def kind: if type != "object" then "doc"
	elif has("results") then "doc"
	elif has("summary") then "summary" elif has("progress") then "progress"
	elif has("index") then "item" else "doc" end;
def where($p): $p | map(tostring) | join(".");
def timed($p): ($p | index(["effective"])) == null and ($p | length) > 0 and
	($p[-1] | type) == "string" and
	(($p[-1] | endswith("_ms")) or (($p | length) > 1 and $p[-2] == "timings"));
def elided: type == "string" and (contains("...") or contains("…"));
def diffs($e; $a; $p):
	if ($e | elided) then empty
	elif ($e | type) == "number" and timed($p) then
		if ($a | type) == "number" and $a <= 1.5 * $e + 100 and
		   $a >= $e / 1.5 - 100 then empty
		else "\(where($p)): shown \($e), got \($a | tojson) (a time: within 1.5x + 100 ms)" end
	elif ($e | type) == "object" then
		if ($a | type) != "object" then "\(where($p)): shown an object, got \($a | tojson)"
		else $e | keys_unsorted[] as $k | diffs($e[$k]; $a[$k]; $p + [$k]) end
	elif ($e | type) == "array" then
		if ($a | type) != "array" or ($a | length) != ($e | length) then
			"\(where($p)): shown \($e | tojson), got \($a | tojson)"
		else range($e | length) as $i | diffs($e[$i]; $a[$i]; $p + [$i]) end
	elif $e == $a then empty
	else "\(where($p)): shown \($e | tojson), got \($a | tojson)" end;
[$exp[] | select(kind == "item")] as $ei |
[$act[] | select(kind == "item")] as $ai |
[$exp[] | select(kind == "summary")] as $es |
[$act[] | select(kind == "summary")] as $sa |
[$exp[] | select(kind == "doc")] as $ed |
[$act[] | select(kind == "doc")] as $ad |
($ei[] | . as $e | [$ai[] | select(.index == $e.index)] as $m |
	if ($m | length) == 0 then "no line with index \($e.index)"
	else diffs($e; $m[0]; ["index=\($e.index)"]) end),
($ai | group_by(.index)[] | select(length > 1) |
	"index \(.[0].index) has \(length) lines (one per item)"),
(if ($sa | length) == 1 and ($sa[0].summary.total | type) == "number" and
	($ai | length) != $sa[0].summary.total then
	"\($ai | length) item lines for a summary total of \($sa[0].summary.total)"
 else empty end),
(if ($es | length) > 0 then
	if ($sa | length) != 1 then "\($sa | length) summary lines"
	else diffs($es[0]; $sa[0]; []) end
 else empty end),
(range($ed | length) as $i | diffs($ed[$i]; $ad[$i]; ["document \($i + 1)"])),
(if $elided then
	if ($ai | length) < ($ei | length) then
		"\($ai | length) item lines, fewer than the \($ei | length) shown" else empty end
 else
	if ($ai | length) != ($ei | length) then
		"\($ai | length) item lines, the output shows \($ei | length)" else empty end,
	if ($ad | length) != ($ed | length) then
		"\($ad | length) JSON documents, the output shows \($ed | length)" else empty end
 end)'

# The text comparison: every shown line, in order, `...` matching
# anything; prints the first line not found.
JQ_TEXT='
def rx: gsub("(?<c>[.^$*+?()\\[\\]{}|\\\\])"; "\\\(.c)") | gsub("\\\\\\.\\\\\\.\\\\\\."; ".*") |
	"^" + . + "$";
reduce ($exp[] | select(test("^\\s*(\\.\\.\\.|…)\\s*$") | not)) as $l
	({at: 0, missing: null};
	 if .missing then . else
		([range(.at; $act | length) | select($act[.] | test($l | rx))] | first) as $i |
		if $i == null then .missing = $l else .at = $i + 1 end end) |
.missing // empty | "shown, but not printed (in this order): \(.)"'

# output_mode N: how example N's output is compared: none (no output
# shown), text (a ```text block, or a man page's output that does not
# start like JSON) or json.
output_mode() {
	local f=$T/ex/$1
	if [ ! -f "$f.out" ]; then
		echo none
	elif [ "$(cat "$f.lang")" = text ]; then
		echo text
	elif [ "$(cat "$f.lang")" = auto ] &&
		! grep -vE '^[[:space:]]*(\.\.\.|…)[[:space:]]*$' "$f.out" |
		head -n 1 | grep -q '^[[:space:]]*[[{]'; then
		echo text
	else
		echo json
	fi
}

# compare_output N MODE: print the differences between what example N
# printed and what it shows; nothing when they agree.
compare_output() {
	local f=$T/ex/$1 elided=false
	if [ "$2" = text ]; then
		jq -nr --slurpfile exp <(jq -R . "$f.out") \
			--slurpfile act <(jq -R . "$f.actual") "$JQ_TEXT" 2>&1 ||
			echo "the comparison itself failed"
		return
	fi
	grep -qE '^[[:space:]]*(\.\.\.|…)[[:space:]]*$' "$f.out" && elided=true
	normalise_json "$f.out" >"$f.shown"
	if ! jq -e . "$f.shown" >/dev/null 2>&1; then
		echo "the output shown is not JSON even with its elisions removed"
		return
	fi
	if ! jq -e . "$f.actual" >/dev/null 2>&1; then
		echo "the command did not print JSON"
		return
	fi
	jq -nr --argjson elided "$elided" --slurpfile exp "$f.shown" \
		--slurpfile act "$f.actual" "$JQ_COMPARE" 2>&1 ||
		echo "the comparison itself failed"
}

# run_example N: run example N as printed, from a scratch directory, and
# check its exit status and output. Text is compared with what the
# terminal would show (stdout and stderr), JSON with stdout.
run_example() {
	local f=$T/ex/$1 where rc diffs mode
	where=$(cat "$f.where")
	mode=$(output_mode "$1")
	rc=0
	# As a user would: in a directory laid out like the checkout, the
	# quick start's set-up (its PATH) first, in the same shell, on a
	# PATH that has no fanout or fanoutd of its own; the Python client
	# (clients/python) on PYTHONPATH as if pip had installed it
	# (python.sh tests that install), and no bytecode written into the
	# source tree.
	cat "$T/ex/setup.sh" "$f.cmd" >"$f.run"
	if [ "$mode" = text ]; then
		(cd "$T/cwd" && PATH=$CLEAN_PATH \
			PYTHONPATH=$SRCDIR/clients/python PYTHONDONTWRITEBYTECODE=1 \
			timeout 60 bash "$f.run") >"$f.actual" 2>&1 || rc=$?
		cp "$f.actual" "$f.stderr"
	else
		(cd "$T/cwd" && PATH=$CLEAN_PATH \
			PYTHONPATH=$SRCDIR/clients/python PYTHONDONTWRITEBYTECODE=1 \
			timeout 60 bash "$f.run") >"$f.actual" 2>"$f.stderr" || rc=$?
	fi
	if [ "$rc" != "$(cat "$f.exit")" ]; then
		fail "$where: exit status $rc, not $(cat "$f.exit")"
		sed 's/^/  | /' "$f.cmd" "$f.stderr" >&2
		return
	fi
	if [ "$mode" = none ]; then
		check "$where: runs" "$rc" "$(cat "$f.exit")"
		return
	fi
	diffs=$(compare_output "$1" "$mode")
	check "$where: prints what it shows" "$diffs" ""
	if [ -n "$diffs" ]; then
		echo "  printed:" >&2
		head -c 4000 "$f.actual" | sed 's/^/  | /' >&2
	fi
}

check_true "README.md: every shell block is marked" \
	extract_markdown "$SRCDIR/README.md"
check_true "README.md: its quick start has the set-up the examples need" \
	test -s "$T/ex/setup.sh"

# The scratch directory stands for the checkout: its src/ is the build's
# (the programs are there after script/server, as in a checkout). The
# PATH the examples start from has no fanout or fanoutd: only the set-up
# puts them on it, as for a user who followed the quick start.
ln -s "$(dirname "$FANOUT")" "$T/cwd/src"
CLEAN_PATH=
IFS=: read -ra path_dirs <<<"$PATH"
for d in "${path_dirs[@]}"; do
	[ -x "$d/fanout" ] || [ -x "$d/fanoutd" ] && continue
	CLEAN_PATH=${CLEAN_PATH:+$CLEAN_PATH:}$d
done
for m in "$SRCDIR"/man/*.[1-8]; do
	check_true "$(basename "$m"): every example is marked" extract_man "$m"
	# groff exits 0 on a warning: a line that starts with '.' or "'"
	# is read as a request and dropped, an unknown escape vanishes
	check "$(basename "$m"): groff -man -ww -z warns of nothing" \
		"$(groff -man -ww -z "$m" 2>&1)" ""
done
nex=$(ls "$T/ex" | grep -c '\.cmd$')
check_true "there are examples to run ($nex)" test "$nex" -ge 5

# The quick start's set-up, as the README says: script/server, on the
# binaries under test; the man pages' examples use it too.
FANOUTD=$FANOUTD UPSTREAM=$UPSTREAM "$SRCDIR/script/server" \
	>"$T/server.out" 2>&1 &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
if ! wait_until 30 grep -q '^script/server: ready' "$T/server.out"; then
	cat "$T/server.out" >&2
	kill "$SERVER_PID"
	fail "script/server did not say it was ready"
	exit 1
fi
check "script/server names both addresses" \
	"$(grep -c '^script/server: .*http://127.0.0.1:78\(78\|79\)' "$T/server.out")" 2

for f in "$T"/ex/*.cmd; do
	run_example "$(basename "$f" .cmd)"
done

kill -TERM "$SERVER_PID"
rc=0
wait "$SERVER_PID" || rc=$?
check "script/server drains and exits 0 on SIGTERM" "$rc" 0
check "fanoutd said it stopped" \
	"$(grep -c 'fanoutd stopped' "$T/server.out")" 1
finish
