# shellcheck shell=bash
# shellcheck source-path=SCRIPTDIR
# tools/lib/harness.sh: what the namespace checks (tools/lib/check-e2e, tools/lib/check-failover, and any check
# written the same way) share: setup and cleanup, skips, verdicts, Tandem's start and stop, the final summary.
# Source it; do not run it. It sources common.sh and netns-topology.sh (the topology the checks build).
#
# A check looks like this:
#
#   set -euo pipefail
#   source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
#   TANDEM_BINARY="$(realpath "${1:?usage: check-x TANDEM_BINARY}")"
#   harness_init check-x                  # work dir, cleanup trap
#   harness_require_root                  # each: skip (exit 0), or fail under CI=true
#   harness_require_tun
#   harness_require_tools ip python3
#   topology_create
#   section "what is checked"
#   expect_tandem_start "$work/x.yaml" "x" && { expect_equal ...; expect_tandem_stop "x"; }
#   harness_finish                        # "N passed, N failed"; exits 1 on any FAIL
#
# Setup and cleanup
#   harness_init NAME
#       NAME (e.g. check-e2e) names the check in its messages. Makes the work directory
#       /tmp/tandem-<NAME without "check-">.XXXXXX and sets `work` (and HARNESS_WORK) to it; sets HARNESS_LIB
#       (tools/lib). Traps EXIT to harness_cleanup, and INT/TERM to exit 130/143 (which runs the cleanup too), so
#       the topology and the work directory go whatever way the check ends: a FAIL, a command that fails half way
#       under set -e, Ctrl-C, a kill. Call it once, before anything that needs cleaning up.
#       KEEP_WORK=1 (or the check's own KEEP_<NAME>_WORK=1, e.g. KEEP_E2E_WORK, KEEP_FAILOVER_WORK) keeps the
#       work directory (logs, configurations, receiver summaries) and says where it is.
#   harness_on_cleanup FUNCTION
#       FUNCTION (no arguments) runs at cleanup, before the topology goes; the last registered runs first.
#       For what the topology does not know about (a process not started with topology_spawn, say).
#   harness_cleanup
#       Runs the registered functions, then topology_destroy (it stops every process started with
#       topology_spawn, Tandem included, and everything else inside the namespaces, then removes them; nothing
#       when no topology was made), then removes the work directory. Ignores INT and TERM while it runs; runs
#       once (a second call does nothing); keeps the check's exit status. The EXIT trap calls it; a check need
#       not.
#
# Skips (each exits 0 with "skip: NAME: REASON"; under CI=true each is a failure and exits 1)
#   skip_or_fail REASON          the check cannot run here.
#   harness_require_root         root (network namespaces need it).
#   harness_require_tun          /dev/net/tun (Tandem's TUN devices).
#   harness_require_tools TOOL...  each TOOL on the PATH.
#
# Verdicts: one line each on standard output, counted (in a file in the work directory, so that a verdict given
# in a subshell or a pipeline counts too)
#   pass TEXT                    "PASS TEXT".
#   fail TEXT                    "FAIL TEXT".
#   info TEXT                    "     TEXT": a figure or a detail, not counted.
#   section TITLE                a blank line and "== TITLE".
#   expect_equal WHAT EXPECTED ACTUAL
#       PASS "WHAT: ACTUAL" when the strings are equal, else FAIL "WHAT: expected 'EXPECTED', got 'ACTUAL'".
#   verdicts CMD...
#       Runs CMD (tools/lib/failover-analysis.py, say) and turns its "PASS text", "FAIL text" and "INFO text" lines
#       into verdicts; any other line it prints (a traceback, say) is a FAIL "analysis: LINE". Its exit status is
#       ignored: its lines are the verdict.
#   harness_finish
#       The summary: a blank line, "== NAME: summary" and "N passed, N failed" on a line of its own. Exits 1 when
#       anything failed (the EXIT trap then cleans up), else returns 0: the last thing a check calls.
#
# Tandem (`tandem run` in the gateway namespace, TOPO_GW; set TANDEM_BINARY to the binary first, and TANDEM_SOCKET
# to give it a control socket of the check's own instead of /run/tandem/<gateway.name>.sock, which a check running at
# the same time with the same gateway name would share)
#   tandem_spawn CONFIG [STDERR]
#       Starts `tandem run --config CONFIG` (with --control-socket TANDEM_SOCKET if set) in the gateway namespace and
#       does not wait: TANDEM_PID, and TANDEM_LOG ($work/tandem-N.log, N counting the starts) with its standard
#       output and error. STDERR sends standard error elsewhere: a path (a FIFO, say), or "closed" (2>&-). Stopped
#       by tandem_stop, and by the cleanup like every process of topology_spawn's.
#   tandem_start CONFIG
#       tandem_spawn CONFIG (with the arguments in the array TANDEM_RUN_ARGS, if any), then waits up to 20 s for
#       "tandem: ready" (topology_wait_tandem_ready). Returns 1 (and
#       shows the log on standard error) when it exits or does not get ready; TANDEM_PID is set either way.
#   tandem_stop [SIGNAL]
#       Sends SIGNAL (TERM) to the running Tandem and waits for it (KILL after 5 s); its exit status in
#       TANDEM_STATUS (0 when none runs), TANDEM_PID cleared. Always returns 0. `tandem_stop KILL` leaves its
#       routes behind, as a crash would.
#   expect_tandem_start CONFIG WHAT
#       `tandem check-config CONFIG` (FAIL "WHAT: tandem check-config rejects the configuration: ..." if it does),
#       then tandem_start: PASS "WHAT: <its 'tandem: ready' line>" or FAIL "WHAT: tandem run did not become
#       ready". Returns 1 on a FAIL.
#   expect_tandem_stop WHAT
#       tandem_stop TERM: PASS "WHAT: tandem run stopped by SIGTERM, exit status 0", or FAIL with the status and
#       the end of its log. Nothing when no Tandem runs.
#   tandem_wait_log SECONDS EXTENDED_REGEX
#       Waits up to SECONDS for a line of Tandem's log (TANDEM_LOG) that matches; returns 1 if none comes.
#   expect_log WHAT EXTENDED_REGEX [SECONDS]
#       tandem_wait_log (5 s by default): PASS "WHAT: log line '...'" or FAIL with the end of the log.
#   tandem_show ARG...
#       `tandem show ARG... --socket TANDEM_SOCKET` (at most 5 s): the running Tandem's answer on standard output.
#
# BIRD 2 (in the gateway namespace, TOPO_GW; bird.conf, bird.ctl and bird.log in the work directory)
#   write_bird_config [--static4-file FILE] [--static6-file FILE] ROUTE...
#       $work/bird.conf: static protocols static4 and static6 with these routes ("PREFIX via ADDRESS") and, with the
#       options, FILE's (included: one "route PREFIX via ADDRESS;" per line, for a table too large for arguments),
#       and kernel protocols that export them into the gateway's main table (254), marked proto bird.
#   start_bird [SECONDS]
#       BIRD in the foreground inside the gateway (topology_spawn: our child, stopped by its pid), BIRD_PID; waits up
#       to SECONDS (default 5; BIRD reads its whole configuration first) for `birdc show status`. Returns 1 if it
#       does not answer.
#   reconfigure_bird ROUTE...
#       write_bird_config ROUTE..., applied with `birdc configure`.
#   birdc_gw ARGS...
#       birdc on this BIRD's socket, in the gateway namespace.
#
# Variables: work, HARNESS_NAME, HARNESS_WORK, HARNESS_LIB; TANDEM_BINARY, TANDEM_SOCKET and TANDEM_RUN_ARGS (the caller's);
# TANDEM_PID, TANDEM_LOG, TANDEM_STATUS, TANDEM_STARTS; BIRD_PID. Functions and variables of netns-topology.sh
# (topology_*, TOPO_*) and common.sh (log, TANDEM_ROOT, ...) come with it.

# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck source=netns-topology.sh
source "$(dirname "${BASH_SOURCE[0]}")/netns-topology.sh"

# shellcheck disable=SC2034  # for the checks
HARNESS_LIB="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
HARNESS_NAME="check"
HARNESS_WORK=""
HARNESS_CLEANED=0
HARNESS_CLEANUPS=()
work=""

TANDEM_BINARY="${TANDEM_BINARY:-}"
TANDEM_SOCKET="${TANDEM_SOCKET:-}"
TANDEM_PID=""
TANDEM_LOG=""
TANDEM_STATUS=""
TANDEM_STARTS=0
TANDEM_RUN_ARGS=()

# --- setup and cleanup ------------------------------------------------------------------------------------------

harness_init() {
    HARNESS_NAME="${1:?usage: harness_init NAME}"
    local short="${HARNESS_NAME#check-}"
    HARNESS_WORK="$(mktemp -d "/tmp/tandem-$short.XXXXXX")"
    work="$HARNESS_WORK"
    : > "$HARNESS_WORK/.tally"
    trap harness_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

harness_on_cleanup() {
    HARNESS_CLEANUPS+=("${1:?usage: harness_on_cleanup FUNCTION}")
}

# harness_keep_work: the work directory is to be kept (KEEP_WORK=1 or KEEP_<NAME>_WORK=1).
harness_keep_work() {
    local own
    own="KEEP_$(tr '[:lower:]-' '[:upper:]_' <<< "${HARNESS_NAME#check-}")_WORK"
    [ "${KEEP_WORK:-0}" = 1 ] || [ "${!own:-0}" = 1 ]
}

harness_cleanup() {
    trap '' INT TERM
    [ "$HARNESS_CLEANED" = 0 ] || return 0
    HARNESS_CLEANED=1
    # Whatever fails from here on, the rest still runs (errexit comes back after, for a check that calls this).
    local errexit=0 i
    [[ $- != *e* ]] || errexit=1
    set +e
    for ((i = ${#HARNESS_CLEANUPS[@]} - 1; i >= 0; i--)); do
        "${HARNESS_CLEANUPS[$i]}"
    done
    topology_destroy
    if [ -n "$HARNESS_WORK" ] && [ -d "$HARNESS_WORK" ]; then
        if harness_keep_work; then
            echo "$HARNESS_NAME: work files kept in $HARNESS_WORK" >&2
        else
            rm -rf "$HARNESS_WORK"
        fi
    fi
    [ "$errexit" = 0 ] || set -e
    return 0
}

# --- skips ------------------------------------------------------------------------------------------------------

skip_or_fail() {
    if [ "${CI:-}" = "true" ]; then
        echo "error: $HARNESS_NAME cannot run: $*; CI=true makes a skip a failure" >&2
        exit 1
    fi
    echo "skip: $HARNESS_NAME: $*" >&2
    exit 0
}

harness_require_root() {
    [ "$(id -u)" -eq 0 ] || skip_or_fail "needs root to make network namespaces (run tools/test as root)"
}

harness_require_tun() {
    [ -c /dev/net/tun ] || skip_or_fail "/dev/net/tun is missing (no TUN support in this kernel or container)"
}

harness_require_tools() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || skip_or_fail "$tool is not installed (tools/test installs it)"
    done
}

# --- verdicts ---------------------------------------------------------------------------------------------------

# harness_tally P|F: one verdict more (a character per verdict in the work directory's tally).
harness_tally() {
    if [ -n "$HARNESS_WORK" ]; then
        printf '%s' "$1" >> "$HARNESS_WORK/.tally"
    else
        echo "error: $HARNESS_NAME: a verdict before harness_init" >&2
        exit 2
    fi
}

pass() { printf 'PASS %s\n' "$*"; harness_tally P; }
fail() { printf 'FAIL %s\n' "$*"; harness_tally F; }
info() { printf '     %s\n' "$*"; }
section() { printf '\n== %s\n' "$*"; }

expect_equal() {
    if [ "$2" = "$3" ]; then pass "$1: $3"; else fail "$1: expected '$2', got '$3'"; fi
}

verdicts() {
    local line output
    output="$("$@" 2>&1)" || true
    while IFS= read -r line; do
        case "$line" in
            "PASS "*) pass "${line#PASS }" ;;
            "FAIL "*) fail "${line#FAIL }" ;;
            "INFO "*) info "${line#INFO }" ;;
            "") ;;
            *) fail "analysis: $line" ;;
        esac
    done <<< "$output"
}

# harness_count P|F: how many verdicts of that kind so far.
harness_count() {
    local tally
    tally="$(cat "$HARNESS_WORK/.tally" 2>/dev/null || true)"
    tally="${tally//[!$1]/}"
    echo "${#tally}"
}

harness_finish() {
    local passes failures
    passes="$(harness_count P)"
    failures="$(harness_count F)"
    section "$HARNESS_NAME: summary"
    echo "$passes passed, $failures failed"
    # (Returns 0 rather than exit 0: a check ends with it, and shellcheck then still follows the functions a check
    # calls only through another, like topology_wait_until CMD.)
    [ "$failures" -eq 0 ] || exit 1
}

# --- Tandem -----------------------------------------------------------------------------------------------------

tandem_spawn() {
    local config="$1" stderr="${2:-}" command
    TANDEM_STARTS=$((TANDEM_STARTS + 1))
    TANDEM_LOG="$work/tandem-$TANDEM_STARTS.log"
    command=(ip netns exec "$TOPO_GW" "${TANDEM_BINARY:?set TANDEM_BINARY before tandem_spawn}" run --config "$config")
    [ -z "$TANDEM_SOCKET" ] || command+=(--control-socket "$TANDEM_SOCKET")
    command+=("${TANDEM_RUN_ARGS[@]}")
    case "$stderr" in
        "") "${command[@]}" > "$TANDEM_LOG" 2>&1 & ;;
        closed) "${command[@]}" > "$TANDEM_LOG" 2>&- & ;;
        *) "${command[@]}" > "$TANDEM_LOG" 2> "$stderr" & ;;
    esac
    TANDEM_PID=$!
    TOPO_PIDS+=("$TANDEM_PID")
}

tandem_start() {
    tandem_spawn "$1"
    topology_wait_tandem_ready "$TANDEM_PID" "$TANDEM_LOG"
}

tandem_stop() {
    TANDEM_STATUS=0
    [ -n "$TANDEM_PID" ] || return 0
    topology_stop "$TANDEM_PID" "${1:-TERM}" || TANDEM_STATUS=$?
    TANDEM_PID=""
    return 0
}

expect_tandem_start() {
    local config="$1" what="$2" output
    if ! output="$("$TANDEM_BINARY" check-config "$config" 2>&1)"; then
        fail "$what: tandem check-config rejects the configuration: $(tr '\n' '|' <<< "$output")"
        return 1
    fi
    if ! tandem_start "$config"; then
        fail "$what: tandem run did not become ready"
        return 1
    fi
    pass "$what: $(grep -m1 '^tandem: ready' "$TANDEM_LOG")"
}

expect_tandem_stop() {
    [ -n "$TANDEM_PID" ] || return 0
    tandem_stop TERM
    if [ "$TANDEM_STATUS" -eq 0 ]; then
        pass "$1: tandem run stopped by SIGTERM, exit status 0"
    else
        fail "$1: tandem run exit status after SIGTERM: $TANDEM_STATUS; its log ends: $(harness_log_tail)"
    fi
}

# harness_log_tail: the last 3 lines of Tandem's log, on one line.
harness_log_tail() { tail -3 "$TANDEM_LOG" | tr '\n' '|'; }

tandem_wait_log() {
    topology_wait_until "$1" grep -Eq "$2" "$TANDEM_LOG"
}

tandem_show() {
    timeout 5 "$TANDEM_BINARY" show "$@" --socket "${TANDEM_SOCKET:?set TANDEM_SOCKET before tandem_show}"
}

expect_log() {
    local what="$1" regex="$2" line
    if tandem_wait_log "${3:-5}" "$regex"; then
        line="$(grep -E -m1 "$regex" "$TANDEM_LOG")"
        pass "$what: log line '$line'"
    else
        fail "$what: no log line matching /$regex/ in $TANDEM_LOG; the log ends with: $(harness_log_tail)"
    fi
}

# --- BIRD -------------------------------------------------------------------------------------------------------

BIRD_PID=""

write_bird_config() {
    local route v4=() v6=() file4="" file6=""
    while [ $# -gt 0 ]; do
        case "$1" in
            --static4-file) file4="$2"; shift 2 ;;
            --static6-file) file6="$2"; shift 2 ;;
            *) break ;;
        esac
    done
    for route in "$@"; do
        if [[ "$route" == *:* ]]; then v6+=("    route $route;"); else v4+=("    route $route;"); fi
    done
    {
        echo "router id $TOPO_GW_SITE_V4;"
        echo "protocol device { scan time 1; }"
        echo "protocol static static4 {"
        echo "    ipv4;"
        [ ${#v4[@]} -eq 0 ] || printf '%s\n' "${v4[@]}"
        [ -z "$file4" ] || echo "    include \"$file4\";"
        echo "}"
        echo "protocol static static6 {"
        echo "    ipv6;"
        [ ${#v6[@]} -eq 0 ] || printf '%s\n' "${v6[@]}"
        [ -z "$file6" ] || echo "    include \"$file6\";"
        echo "}"
        echo "protocol kernel kernel4 { ipv4 { export all; }; kernel table 254; }"
        echo "protocol kernel kernel6 { ipv6 { export all; }; kernel table 254; }"
    } > "$work/bird.conf"
}

birdc_gw() { ip netns exec "$TOPO_GW" birdc -s "$work/bird.ctl" "$@"; }

start_bird() {
    topology_spawn "$TOPO_GW" "$work/bird.log" bird -f -c "$work/bird.conf" -s "$work/bird.ctl" -P "$work/bird.pid"
    # shellcheck disable=SC2034  # for the checks
    BIRD_PID="$TOPO_LAST_PID"
    topology_wait_until "${1:-5}" birdc_gw show status
}

reconfigure_bird() {
    write_bird_config "$@"
    birdc_gw configure >/dev/null
}
