# tests/integration/netns.sh - sourced first by a test that must run in
# a network namespace of its own (unshare -n, so root): the script runs
# itself again inside one where only loopback exists - fixed ports are
# free there, and no packet can leave the machine. Without the
# permission the test is skipped (exit 77).
if [ -z "${FANOUTD_NETNS:-}" ]; then
	if ! unshare -n true 2>/dev/null; then
		echo "unshare -n is not permitted here (needs root): skipped"
		exit 77
	fi
	exec unshare -n env FANOUTD_NETNS=1 bash "$0" "$@"
fi
ip link set lo up || exit 1
