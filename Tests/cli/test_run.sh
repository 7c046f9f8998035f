#!/usr/bin/env bash
# Black-box tests of the running binary that belong to the command line's promises: README's first
# command (--demo) shows spans at once, --access-log writes one line per request, and the admin
# address rules (a taken default warns, a taken explicit address is a start-up error), and names
# that resolve late.
# Binary: $TRACEPROXY, else .build/debug/traceproxy. Needs curl and python3 (for free ports).
set -uo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

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

# 5. Late names (issue 11): an upstream and a collector whose names do not resolve yet do not stop
#    start-up. Requests get 502 meanwhile, the log gives the resolver's reason (gai_strerror, not
#    errno's "Success") once, and /metrics counts the failures; once the names resolve (lines added
#    to /etc/hosts, which glibc's `files` source reads on every lookup) requests reach the upstream
#    and spans the collector. Editing /etc/hosts needs root: skipped, and said so, otherwise.
up_name="tp-late-up-$$-$RANDOM.test"
col_name="tp-late-col-$$-$RANDOM.test"
hosts_added=0
# Removes only our lines, rewriting the file in place (it may be a bind mount: no rename).
remove_hosts() {
    if ((hosts_added)); then
        grep -v -e "$up_name" -e "$col_name" /etc/hosts >"$WORK/hosts.new" && cat "$WORK/hosts.new" >/etc/hosts
        hosts_added=0
    fi
}
trap 'remove_hosts; cleanup' EXIT
metric() { curl -s -m 5 "http://127.0.0.1:$admin/metrics" | awk -v s="$1" 'index($0, s" ") == 1 {print $2}'; }
if [[ $(id -u) -ne 0 || ! -w /etc/hosts ]]; then
    echo "SKIP late names: /etc/hosts is not writable (needs root)"
else
    up_port=$(free_port)
    col_port=$(free_port)
    port=$(free_port)
    admin=$(free_port)
    mkdir -p "$WORK/www" && echo hello >"$WORK/www/index.html"
    python3 -m http.server "$up_port" --bind 127.0.0.1 --directory "$WORK/www" >/dev/null 2>&1 &
    pids+=("$!")
    python3 - "$col_port" "$WORK/collector.log" <<'PY' &
import http.server, sys
port, log = int(sys.argv[1]), sys.argv[2]
class Collector(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        self.rfile.read(n)
        with open(log, "a") as f:
            f.write(f"POST {self.path} {n}\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), Collector).serve_forever()
PY
    pids+=("$!")
    "$BIN" --upstream "http://$up_name:$up_port" --reporter "otlp+http://$col_name:$col_port" \
        --listen "127.0.0.1:$port" --admin "127.0.0.1:$admin" --dns-refresh-ms 200 --flush-interval-ms 100 \
        >"$WORK/late.log" 2>&1 &
    pid=$!
    pids+=("$pid")
    if wait_for "$WORK/late.log" "listening on" 10; then
        pass "names that do not resolve yet do not stop start-up"
    else
        fail "names that do not resolve yet do not stop start-up" "$(cat "$WORK/late.log")"
    fi
    code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/early")
    up_label="target=\"upstream\",name=\"$up_name:$up_port\""
    col_label="target=\"reporter\",name=\"$col_name:$col_port\""
    sleep 1 # a few retries (250, 500 ms) and a span flush
    if [[ $code == 502 ]] && grep -q "upstream $up_name:$up_port does not resolve (.*[A-Za-z])" "$WORK/late.log" &&
        ! grep -q "Success" "$WORK/late.log" &&
        [[ $(grep -c "upstream $up_name:$up_port does not resolve (" "$WORK/late.log") -eq 1 ]] &&
        [[ $(metric "traceproxy_dns_failures_total{$up_label}") -ge 2 ]] &&
        [[ $(metric "traceproxy_dns_resolved{$up_label}") == 0 ]] &&
        [[ $(metric "traceproxy_dns_resolved{$col_label}") == 0 ]] &&
        [[ $(metric "traceproxy_upstream_errors_total{kind=\"unresolved\"}") -ge 1 ]]; then
        pass "while the upstream does not resolve: 502, the resolver's reason logged once, counted in /metrics"
    else
        fail "while the upstream does not resolve: 502, the resolver's reason logged once, counted in /metrics" \
            "code $code; log: $(cat "$WORK/late.log"); metrics: $(curl -s "http://127.0.0.1:$admin/metrics" | grep dns_)"
    fi
    dropped_series="traceproxy_spans_dropped_total{reporter=\"otlp+http://$col_name:$col_port\",reason=\"unresolved\"}"
    dropped=0
    end=$((SECONDS + 5))
    while ((SECONDS < end)) && [[ ${dropped:-0} -lt 1 ]]; do
        dropped=$(metric "$dropped_series")
        sleep 0.1
    done
    if [[ ${dropped:-0} -ge 1 ]]; then
        pass "while the collector does not resolve, its spans are dropped as unresolved"
    else
        fail "while the collector does not resolve, its spans are dropped as unresolved" \
            "$(curl -s "http://127.0.0.1:$admin/metrics" | grep dropped)"
    fi
    printf '127.0.0.1 %s\n127.0.0.1 %s\n' "$up_name" "$col_name" >>/etc/hosts
    hosts_added=1
    code=000
    end=$((SECONDS + 10))
    while ((SECONDS < end)) && [[ $code != 200 ]]; do
        sleep 0.1
        code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/index.html")
    done
    if [[ $code == 200 ]] && wait_for "$WORK/collector.log" "^POST /v1/traces [1-9]" 10 &&
        grep -q "upstream $up_name:$up_port resolves now to 127.0.0.1:$up_port" "$WORK/late.log" &&
        [[ $(metric "traceproxy_dns_resolved{$up_label}") == 1 ]] &&
        [[ $(metric "traceproxy_dns_resolved{$col_label}") == 1 ]]; then
        pass "once the names resolve, requests reach the upstream and spans the collector"
    else
        fail "once the names resolve, requests reach the upstream and spans the collector" \
            "code $code; collector: $(cat "$WORK/collector.log" 2>/dev/null); log: $(cat "$WORK/late.log")"
    fi
    remove_hosts
    stop "$pid"
    rc=$?
    if [[ $rc -eq 0 ]]; then pass "it still stops cleanly"; else fail "it still stops cleanly" "exit $rc"; fi
fi

finish
