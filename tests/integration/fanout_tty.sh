#!/bin/bash
# fanout_tty.sh - fanout(1) on a real terminal, as a person sees it: it
# runs in a tmux pane (its own tmux server), the screen is read with
# `capture-pane`, and the progress bar must be drawn, move on as items
# complete, stay on one line however narrow the terminal (100, 50 and 30
# columns), and be gone when fanout exits; the results piped on stdout
# meanwhile must carry no escape code.
. "${TESTLIB:?TESTLIB must point to tests/integration/lib.sh}"
: "${FANOUT:?FANOUT must point to the fanout binary}"
command -v tmux >/dev/null || { echo "tmux is missing (script/bootstrap)"; exit 1; }

start_upstream
start_fanoutd

TMUX_SOCK=$T/tmux.sock
tm() { tmux -S "$TMUX_SOCK" "$@"; }
tmux_stop() { tm kill-server 2>/dev/null; }
trap 'rc=$?; tmux_stop; (exit $rc); cleanup' EXIT

# 16 items of 400 ms, 2 at a time: about 3.2 s of progress. stdout goes
# through a pipe to a file; stderr is the pane. When fanout is done the
# pane says so and waits (cat reads the terminal) for the screen check.
for i in $(seq 16); do echo "$UP/delay/400?n=$i"; done >"$T/urls"
cat >"$T/run.sh" <<EOF
FANOUTD_URL=$FO "$FANOUT" -j 2 -i "$T/urls" | cat >"$T/out"
echo "fanout-exit=\${PIPESTATUS[0]}"
exec cat
EOF

screen() { tm capture-pane -p -t fo; }
# The bar, as the screen shows it: "[###---] 3/16 ok 3 failed 0 ...", or
# at least the count after the bar when the terminal is narrow.
bar_done() { screen | sed -n 's/^\[[#-]*\] \([0-9]*\)\/16\( .*\)\{0,1\}$/\1/p'; }
# How many lines of the screen have anything on them.
used_lines() { screen | grep -c '[^[:space:]]'; }

# bar_run COLS: fanout in a pane COLS columns wide, on a tmux server of
# its own (a new socket: one killed may still be going away when the
# next starts on its socket).
bar_run() {
	local cols=$1 seen=() last= d n most=0 deadline=$((SECONDS + 30))
	TMUX_SOCK=$T/tmux-$cols.sock
	rm -f "$T/out"
	tm new-session -d -s fo -x "$cols" -y 10 "bash $T/run.sh"
	check "$cols columns: the pane is that wide" \
		"$(tm display-message -p -t fo '#{pane_width}')" "$cols"
	while [ "$SECONDS" -lt "$deadline" ]; do
		screen | grep -q 'fanout-exit=' && break
		d=$(bar_done)
		if [ -n "$d" ] && [ "$d" != "$last" ]; then
			seen+=("$d")
			last=$d
		fi
		n=$(used_lines)
		[ "$n" -gt "$most" ] && most=$n
		sleep 0.05 # polling the screen: tmux has no event for "redrawn"
	done
	check_true "$cols columns: the bar is drawn (${#seen[@]} states seen: ${seen[*]})" \
		test "${#seen[@]}" -ge 1
	check_true "$cols columns: the bar moves on as items complete" \
		test "${#seen[@]}" -ge 3
	check_true "$cols columns: its count only grows" \
		test "$(printf '%s\n' "${seen[@]}" | sort -n | tr '\n' ' ')" = \
		"$(printf '%s\n' "${seen[@]}" | tr '\n' ' ')"
	# a bar wider than the terminal wraps, and each redraw leaves a line
	check "$cols columns: the bar never took more than one line" "$most" 1
	check "$cols columns: fanout exited 0" "$(screen | sed -n 's/^fanout-exit=//p')" 0
	check "$cols columns: the bar is gone from the screen" "$(screen | grep -c '/16')" 0
	check "$cols columns: the exit line took the bar's place, nothing else is left" \
		"$(screen | head -n 1) $(used_lines)" "fanout-exit=0 1"
	check "$cols columns: 16 results and the summary went through the pipe" \
		"$(wc -l <"$T/out")" 17
	check "$cols columns: no escape code in the piped output" "$(grep -c $'\033' "$T/out")" 0
	check "$cols columns: no carriage return in the piped output" "$(grep -c $'\r' "$T/out")" 0
	check "$cols columns: every piped line is whole JSON" "$(jq -c . "$T/out" | wc -l)" 17
	tm kill-server
}

# A wide terminal, then narrow ones: the bar gives up fields, then
# columns, but is never wider than the terminal.
bar_run 100
bar_run 50
bar_run 30

# --progress never on the same terminal: the screen shows nothing.
TMUX_SOCK=$T/tmux2.sock
cat >"$T/run2.sh" <<EOF
FANOUTD_URL=$FO "$FANOUT" --progress never -i "$T/urls" >"$T/out2"
echo "fanout-exit=\$?"
exec cat
EOF
tm new-session -d -s fo -x 100 -y 10 "bash $T/run2.sh"
bar_seen=0
poll_never() {
	local sc
	sc=$(screen)
	case $sc in *ok\ [0-9]*\ failed*) bar_seen=1 ;; esac
	case $sc in *fanout-exit=*) return 0 ;; esac
	return 1
}
wait_until 30 poll_never
check "--progress never: no bar on a terminal" "$bar_seen" 0
check "--progress never: exit 0" "$(screen | sed -n 's/^fanout-exit=//p')" 0
finish
