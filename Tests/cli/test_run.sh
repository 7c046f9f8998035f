#!/usr/bin/env bash
# Black-box tests of the running binary that belong to the command line's promises: README's first
# command (--demo) shows spans at once, --access-log writes one line per request, and the admin
# address rules (a taken default warns, a taken explicit address is a start-up error), and a host
# that does not resolve.
# Binary: $TRACEPROXY, else .build/debug/traceproxy. Needs curl and python3 (for free ports).
set -uo pipefail

BIN=${TRACEPROXY:-.build/debug/traceproxy}
if [[ ! -x $BIN ]]; then
    echo "test_run: no executable at $BIN (build it, or set TRACEPROXY)" >&2
    exit 1
fi
WORK=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT
passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1 | $2"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_for FILE PATTERN SECONDS: true once FILE has a line matching PATTERN.
wait_for() {
    local end=$((SECONDS + $3))
    while ((SECONDS < end)); do
        grep -qE "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# stop PID: SIGTERM, then the exit status (or 124 if it did not exit within 10 s).
stop() {
    kill -TERM "$1" 2>/dev/null
    local end=$((SECONDS + 10))
    while ((SECONDS < end)); do
        if ! kill -0 "$1" 2>/dev/null; then
            wait "$1"
            return $?
        fi
        sleep 0.05
    done
    return 124
}

# 1. README's first command: --demo prints spans to stdout by itself, and stops cleanly.
port=$(free_port)
"$BIN" --demo --listen "127.0.0.1:$port" --admin off >"$WORK/demo.out" 2>"$WORK/demo.err" &
pid=$!
pids+=("$pid")
if wait_for "$WORK/demo.out" '"traceId":"[0-9a-f]{32}".*"name":"GET /demo/' 8; then
    pass "--demo prints its own traffic's spans within seconds"
else
    fail "--demo prints its own traffic's spans within seconds" "stdout: $(head -c 300 "$WORK/demo.out") stderr: $(cat "$WORK/demo.err")"
fi
body=$(curl -s -m 5 "http://127.0.0.1:$port/hello?x=1")
if [[ $body == *'"path":"/hello?x=1"'* && $body == *'"traceparent":"00-'* ]]; then
    pass "--demo upstream answers through the proxy and sees the injected traceparent"
else
    fail "--demo upstream answers through the proxy and sees the injected traceparent" "body: $body"
fi
stop "$pid"
rc=$?
if [[ $rc -eq 0 ]]; then pass "--demo exits 0 on SIGTERM"; else fail "--demo exits 0 on SIGTERM" "exit $rc"; fi

# 2. --access-log: one line per request with status, duration and the trace id the client saw.
port=$(free_port)
"$BIN" --demo --listen "127.0.0.1:$port" --admin off --reporter none --access-log "$WORK/access.log" \
    >"$WORK/al.out" 2>"$WORK/al.err" &
pid=$!
pids+=("$pid")
sleep 0.3
tr=$(curl -s -m 5 -D - -o /dev/null "http://127.0.0.1:$port/orders/42" | tr -d '\r' | awk -F': ' 'tolower($1)=="traceresponse"{print $2}')
trace=$(cut -d- -f2 <<<"$tr")
if [[ ${#trace} -eq 32 ]] && wait_for "$WORK/access.log" "\"GET /orders/42 HTTP/1.1\" 200 .*ms trace=$trace" 3; then
    pass "--access-log line carries status, duration and the client's trace id"
else
    fail "--access-log line carries status, duration and the client's trace id" "traceresponse '$tr'; log: $(cat "$WORK/access.log" 2>/dev/null)"
fi
python3 -c "import socket; s=socket.create_connection(('127.0.0.1',$port)); s.sendall(b'NOT HTTP\r\n\r\n'); s.recv(4096)"
if wait_for "$WORK/access.log" '"-" 400 0 - error=malformed_request' 3; then
    pass "--access-log records a rejected request (400) too"
else
    fail "--access-log records a rejected request (400) too" "log: $(cat "$WORK/access.log" 2>/dev/null)"
fi
stop "$pid" >/dev/null

# 2b. --demo with --reporter none: no reporter, as the start-up line says (--demo's stdout default
# applies only when no reporter is configured at all).
if grep -q 'reporters: none' "$WORK/al.err" && [[ ! -s $WORK/al.out ]]; then
    pass "--demo --reporter none reports nowhere"
else
    fail "--demo --reporter none reports nowhere" "stderr: $(cat "$WORK/al.err") stdout: $(head -c 200 "$WORK/al.out")"
fi

# 2c. --demo turns the trace view on and prints its address; the page and its API answer there.
admin=$(free_port)
port=$(free_port)
"$BIN" --demo --listen "127.0.0.1:$port" --admin "127.0.0.1:$admin" --reporter none >/dev/null \
    2>"$WORK/view.err" &
pid=$!
pids+=("$pid")
if wait_for "$WORK/view.err" "trace view at http://127.0.0.1:$admin/traces" 5 &&
    curl -sf "http://127.0.0.1:$admin/traces" | grep -q '<script src="/traces.js"' &&
    curl -sf "http://127.0.0.1:$admin/api/routes" | grep -q '"routes":'; then
    pass "--demo prints the trace view's address and serves the page there"
else
    fail "--demo prints the trace view's address and serves the page there" "stderr: $(cat "$WORK/view.err")"
fi
kill -TERM "$pid"
wait "$pid" 2>/dev/null

# 3. The default admin address already taken: warn, keep serving.
admin=$(free_port)
python3 -c "import socket,time; s=socket.socket(); s.bind(('127.0.0.1',$admin)); s.listen(); time.sleep(15)" &
holder=$!
pids+=("$holder")
sleep 0.3
port=$(free_port)
"$BIN" --demo --listen "127.0.0.1:$port" --admin "127.0.0.1:$admin" >/dev/null 2>"$WORK/explicit.err" &
pid=$!
pids+=("$pid")
end=$((SECONDS + 5))
while kill -0 "$pid" 2>/dev/null && ((SECONDS < end)); do sleep 0.05; done
if ! kill -0 "$pid" 2>/dev/null; then
    wait "$pid"
    rc=$?
    if [[ $rc -eq 1 ]] && grep -q "bind(127.0.0.1:$admin)" "$WORK/explicit.err"; then
        pass "an explicit --admin address that is taken is a start-up error (exit 1)"
    else
        fail "an explicit --admin address that is taken is a start-up error (exit 1)" "exit $rc: $(cat "$WORK/explicit.err")"
    fi
else
    fail "an explicit --admin address that is taken is a start-up error (exit 1)" "still running"
    kill -9 "$pid"
fi
kill "$holder" 2>/dev/null

# 4. The default admin address (127.0.0.1:9901) taken, as with several sidecars on one host: the
#    proxy warns and serves without an admin listener.
python3 -c "import socket,time; s=socket.socket(); s.bind(('127.0.0.1',9901)); s.listen(); time.sleep(15)" \
    2>/dev/null &
holder=$!
pids+=("$holder")
sleep 0.3
port=$(free_port)
"$BIN" --demo --listen "127.0.0.1:$port" --reporter none >/dev/null 2>"$WORK/default.err" &
pid=$!
pids+=("$pid")
sleep 0.5
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/still-serving")
if [[ $code == 200 ]] && grep -q "warning: admin listener disabled" "$WORK/default.err"; then
    pass "a taken default admin address warns and the proxy still serves"
else
    fail "a taken default admin address warns and the proxy still serves" "HTTP $code; stderr: $(cat "$WORK/default.err")"
fi
stop "$pid" >/dev/null
kill "$holder" 2>/dev/null
# The start-up line must not then claim the admin address it just gave up.
if grep -q "listening on .*, admin off," "$WORK/default.err" && ! grep -q "admin 127.0.0.1:9901" "$WORK/default.err"; then
    pass "with the default admin address taken, the start-up line says admin off"
else
    fail "with the default admin address taken, the start-up line says admin off" "stderr: $(cat "$WORK/default.err")"
fi

# 5. A host that does not resolve is a start-up error (exit 1) that says why, in the resolver's
#    words (gai_strerror), not errno's: getaddrinfo leaves errno at 0, which reads "Success".
for args in "--upstream http://no-such-host.invalid:80" \
    "--upstream http://127.0.0.1:9 --reporter zipkin+http://no-such-host.invalid:9411" \
    "--upstream http://127.0.0.1:9 --reporter jaeger-udp://no-such-host.invalid:6831"; do
    port=$(free_port)
    # shellcheck disable=SC2086 # the arguments are split on purpose
    timeout 10 "$BIN" $args --listen "127.0.0.1:$port" --admin off >/dev/null 2>"$WORK/resolve.err"
    rc=$?
    if [[ $rc -eq 1 ]] && grep -q "no-such-host.invalid.*: [A-Za-z]" "$WORK/resolve.err" &&
        ! grep -q "Success" "$WORK/resolve.err"; then
        pass "an unresolvable host ($args) is a start-up error with the resolver's reason"
    else
        fail "an unresolvable host ($args) is a start-up error with the resolver's reason" \
            "exit $rc: $(cat "$WORK/resolve.err")"
    fi
done

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
