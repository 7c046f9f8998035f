# Shared by the black-box scripts in Tests/cli (sourced, after `set -uo pipefail`): the binary
# under test, a scratch directory, the pass/fail tally and a clean-environment runner.
# Binary: $TRACEPROXY, else .build/debug/traceproxy.

BIN=${TRACEPROXY:-.build/debug/traceproxy}
if [[ ! -x $BIN ]]; then
    echo "$(basename "$0"): no executable at $BIN (build it, or set TRACEPROXY)" >&2
    exit 1
fi
WORK=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
passed=0
failed=0

pass() { passed=$((passed + 1)); echo "PASS $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1 | $2"; }

# run [VAR=value ...] -- ARGS...: runs the binary with a clean environment plus the given
# variables; sets rc, out and err.
run() {
    local -a envs=()
    while [[ $# -gt 0 && $1 != -- ]]; do envs+=("$1"); shift; done
    shift
    env -i PATH="$PATH" "${envs[@]}" timeout 10 "$BIN" "$@" >"$WORK/out" 2>"$WORK/err"
    rc=$?
    out=$(cat "$WORK/out")
    err=$(cat "$WORK/err")
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# finish: the tally line and the exit status.
finish() {
    echo "$passed passed, $failed failed"
    [[ $failed -eq 0 ]]
}
