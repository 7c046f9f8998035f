#!/usr/bin/env bash
# Black-box tests of --config FILE, --version and --healthcheck, and of SIGHUP on a running proxy:
#   every flag as a file key (checked through --print-config), the precedence flags > environment
#   > file, files that must be refused (one stderr line with the file and line, exit 2), and, live:
#   a reload under load with no failed request, logrotate's rename + SIGHUP, a broken file kept
#   out, settings that need a restart reported as such.
# Binary: $TRACEPROXY, else .build/debug/traceproxy. Needs python3 and curl.
set -uo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# has_line NAME LINE: the last run printed LINE exactly.
has_line() {
    if [[ $rc -eq 0 ]] && grep -qxF -- "$2" <<<"$out"; then pass "$1"; else fail "$1" "rc=$rc, no line '$2' (stderr: $err)"; fi
}

# refused NAME NEEDLE: the last run exited 2 with one stderr line containing NEEDLE.
refused() {
    local lines
    lines=$(printf '%s' "$err" | grep -c '')
    if [[ $rc -eq 2 && $lines -eq 1 && $err == "traceproxy: "*"$2"* ]]; then
        pass "$1"
    else
        fail "$1" "rc=$rc lines=$lines stderr: $err"
    fi
}

# --- --version -------------------------------------------------------------------------------
run -- --version
if [[ $rc -eq 0 && $out =~ ^traceproxy\ [0-9]+\.[0-9]+\.[0-9]+$ ]]; then pass "--version"; else fail "--version" "rc=$rc out=$out"; fi
version=${out#traceproxy }

# --- every flag as a file key ----------------------------------------------------------------
# key|file value|--print-config line. One file holds them all, so they must agree with each other.
table=(
    "listen|0.0.0.0:18001|listen = 0.0.0.0:18001"
    "upstream|https://127.0.0.1:18002|upstream = https://127.0.0.1:18002"
    "service-name|from-file|service-name = from-file"
    "admin|127.0.0.1:18003|admin = 127.0.0.1:18003"
    "threads|3|threads = 3"
    "listen-tls|127.0.0.1:18004|listen-tls = 127.0.0.1:18004"
    "tls-cert|/etc/tp/cert.pem|tls-cert = /etc/tp/cert.pem"
    "tls-key|/etc/tp/key.pem|tls-key = /etc/tp/key.pem"
    "tls-client-ca|/etc/tp/ca.pem|tls-client-ca = /etc/tp/ca.pem"
    "tls-ciphers|ECDHE-RSA-AES128-GCM-SHA256|tls-ciphers = ECDHE-RSA-AES128-GCM-SHA256"
    "tls-min-version|1.3|tls-min-version = 1.3"
    "tls-handshake-timeout-ms|1500|tls-handshake-timeout-ms = 1500"
    "upstream-ca|/etc/tp/up-ca.pem|upstream-ca = /etc/tp/up-ca.pem"
    "upstream-server-name|svc.internal|upstream-server-name = svc.internal"
    "upstream-cert|/etc/tp/up-cert.pem|upstream-cert = /etc/tp/up-cert.pem"
    "upstream-key|/etc/tp/up-key.pem|upstream-key = /etc/tp/up-key.pem"
    "upstream-insecure|true|upstream-insecure = true"
    "collector-ca|/etc/tp/col-ca.pem|collector-ca = /etc/tp/col-ca.pem"
    "collector-cert|/etc/tp/col-cert.pem|collector-cert = /etc/tp/col-cert.pem"
    "collector-key|/etc/tp/col-key.pem|collector-key = /etc/tp/col-key.pem"
    "reporter|[otlp+https://127.0.0.1:4318, stdout]|reporter = otlp+https://127.0.0.1:4318 stdout"
    "sampler|probabilistic:0.25|sampler = probabilistic:0.25"
    "propagation|b3,w3c|propagation = b3multi,w3c"
    "ignore-incoming-context|yes|ignore-incoming-context = true"
    "span-kind|client|span-kind = client"
    "no-collapse-ids|true|collapse-ids = false"
    "span-attributes|both|span-attributes = both"
    "route|['/users/{id}', /files/*]|routes = /users/{id} /files/* /from/{routes-file}"
    "routes-file|$WORK/routes.txt|"
    "no-trace-path|[/healthz, /static/*]|no-trace-paths = /healthz /static/*"
    "capture-request-header|[X-Tenant]|capture-request-headers = x-tenant"
    "capture-response-header|X-Cache|capture-response-headers = x-cache"
    "redact-query|on|redact-query = true"
    "trust-forwarded|true|trust-forwarded = true"
    "no-traceresponse|true|traceresponse = false"
    "flush-interval-ms|250|flush-interval-ms = 250"
    "max-batch-spans|50|max-batch-spans = 50"
    "max-queue-spans|5000|max-queue-spans = 5000"
    "max-packet-bytes|9000|max-packet-bytes = 9000"
    "zipkin-gzip|true|zipkin-gzip = true"
    "otlp-protocol|http/json|otlp-protocol = http/json"
    "otlp-compression|gzip|otlp-compression = gzip"
    "otlp-header|[x-api-key=secret, x-team=a]|otlp-headers = x-api-key,x-team"
    "otlp-timeout-ms|2500|otlp-timeout-ms = 2500"
    "allow-connect|true|allow-connect = true"
    "headers-with-underscores|reject|headers-with-underscores = reject"
    "max-header-bytes|32768|max-header-bytes = 32768"
    "max-headers|50|max-headers = 50"
    "max-connections|500|max-connections = 500"
    "upstream-max-idle|16|upstream-max-idle = 16"
    "dns-refresh-ms|9999|dns-refresh-ms = 9999"
    "trace-view|true|trace-view = true"
    "trace-view-spans|500|trace-view-spans = 500"
    "trace-ui-url|http://jaeger:16686|trace-ui-url = http://jaeger:16686/trace/{trace_id}"
    "header-timeout-ms|1111|header-timeout-ms = 1111"
    "idle-timeout-ms|2222|idle-timeout-ms = 2222"
    "body-timeout-ms|3333|body-timeout-ms = 3333"
    "upstream-connect-timeout-ms|4444|upstream-connect-timeout-ms = 4444"
    "upstream-timeout-ms|5555|upstream-timeout-ms = 5555"
    "send-timeout-ms|6666|send-timeout-ms = 6666"
    "drain-timeout-ms|7777|drain-timeout-ms = 7777"
    "access-log|/var/log/tp/access.log|access-log = /var/log/tp/access.log"
    "access-log-format|json|access-log-format = json"
    "request-id|pass|request-id = pass"
    "log-level|debug|log-level = debug"
)
echo "/from/{routes-file}" >"$WORK/routes.txt"
: >"$WORK/all.yaml"
declare -A covered=()
for row in "${table[@]}"; do
    IFS='|' read -r key value _ <<<"$row"
    printf '%s: %s\n' "$key" "$value" >>"$WORK/all.yaml"
    covered[$key]=1
done
run -- --config "$WORK/all.yaml" --print-config
for row in "${table[@]}"; do
    IFS='|' read -r key _ line <<<"$row"
    [[ -n $line ]] && has_line "file key $key" "$line"
done
has_line "print-config names the file" "config = $WORK/all.yaml"
# Every flag of --help is in the table (or acts on the invocation), so a new flag gets a file test.
missing=()
while read -r flag; do
    key=${flag#--}
    case $key in config | version | healthcheck | print-config | help | demo) continue ;; esac
    [[ -n ${covered[$key]:-} ]] || missing+=("$key")
done < <("$BIN" --help | grep -oE '^\s+--[a-z0-9-]+' | tr -d ' ' | sort -u)
if [[ ${#missing[@]} -eq 0 ]]; then pass "every flag is a tested file key"; else fail "every flag is a tested file key" "untested: ${missing[*]}"; fi
printf 'demo: true\n' >"$WORK/demo.yaml"
run -- --config "$WORK/demo.yaml" --print-config
has_line "file key demo" "demo = true"

# --- precedence: flags > environment > file ----------------------------------------------------
printf 'upstream: http://127.0.0.1:1\nservice-name: file\nsampler: const:0\nreporter: [stdout]\nlisten: 127.0.0.1:18010\n' >"$WORK/p.yaml"
run -- --config "$WORK/p.yaml" --print-config
has_line "file alone" "service-name = file"
run OTEL_SERVICE_NAME=env -- --config "$WORK/p.yaml" --print-config
has_line "environment beats file" "service-name = env"
run OTEL_SERVICE_NAME=env -- --config "$WORK/p.yaml" --service-name flag --print-config
has_line "flag beats environment and file" "service-name = flag"
run -- --config "$WORK/p.yaml" --service-name=flag2 --print-config
has_line "--flag=value beats file" "service-name = flag2"
run OTEL_TRACES_SAMPLER=always_on -- --config "$WORK/p.yaml" --print-config
has_line "OTEL_TRACES_SAMPLER beats file sampler" "sampler = always_on"
run OTEL_SDK_DISABLED=false -- --config "$WORK/p.yaml" --print-config
has_line "OTEL_SDK_DISABLED=false leaves the file's reporter" "reporter = stdout"
run OTEL_SDK_DISABLED=true -- --config "$WORK/p.yaml" --print-config
has_line "OTEL_SDK_DISABLED=true beats the file's reporter" "reporter = none"
run OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 -- --config "$WORK/p.yaml" --print-config
has_line "OTLP endpoint variable beats file reporter" "reporter = otlp+http://127.0.0.1:4318"
run -- --config "$WORK/p.yaml" --reporter jaeger-udp://127.0.0.1:6831 --print-config
has_line "--reporter replaces the file's list" "reporter = jaeger-udp://127.0.0.1:6831"
run -- --config "$WORK/p.yaml" --listen 127.0.0.1:18011 --print-config
has_line "--listen beats file" "listen = 127.0.0.1:18011"
has_line "other file keys still apply" "sampler = const:0"

# --- files that are refused --------------------------------------------------------------------
bad() { printf -- "$2" >"$WORK/bad.yaml"; run -- --config "$WORK/bad.yaml" --print-config; refused "$1" "$3"; }
bad "unknown key, with its line" 'upstream: http://a:1\nlisen: 1\n' "bad.yaml:2: unknown key \"lisen\""
bad "bad value, with its line" 'upstream: http://a:1\n\nthreads: lots\n' "bad.yaml:3)"
bad "list for a single value" 'upstream: http://a:1\nthreads: [1, 2]\n' "bad.yaml:2: threads takes one value"
bad "switch needs true or false" 'upstream: http://a:1\ndemo: maybe\n' "bad.yaml:2: invalid value \"maybe\" for demo"
bad "key without value" 'upstream:\n' "bad.yaml:1: upstream has no value"
bad "nested mapping" 'upstream:\n  host: a\n' "bad.yaml:2: upstream: expected a value"
bad "broken YAML" 'upstream: [http://a:1\nthreads: 2\n' "not valid YAML"
bad "duplicate key" 'threads: 1\nthreads: 2\n' "threads is set more than once"
bad "command-line-only key" 'upstream: http://a:1\nconfig: other.yaml\n' "bad.yaml:2: config belongs on the command line"
bad "not a mapping" '- listen\n' "expected a mapping of settings"
run -- --config "$WORK/none.yaml" --print-config
refused "missing file" "none.yaml: cannot read the file"

# --- --healthcheck -----------------------------------------------------------------------------
wait_for() { for _ in $(seq 1 100); do eval "$1" && return 0; sleep 0.1; done; return 1; }
up=$(free_port)
for f in a b c x after-rotate; do echo "$f" >"$WORK/$f"; done
python3 -m http.server "$up" --bind 127.0.0.1 --directory "$WORK" >/dev/null 2>&1 &
pids+=($!)
port=$(free_port)
admin=$(free_port)
run -- --healthcheck --admin "127.0.0.1:$admin"
if [[ $rc -eq 1 && $err == *"unhealthy"* ]]; then pass "--healthcheck with nothing listening"; else fail "--healthcheck with nothing listening" "rc=$rc $err"; fi
cat >"$WORK/live.yaml" <<YAML
listen: 127.0.0.1:$port
admin: 0.0.0.0:$admin
upstream: http://127.0.0.1:$up
access-log: $WORK/access.log
sampler: const:1
YAML
"$BIN" --config "$WORK/live.yaml" >"$WORK/live.out" 2>"$WORK/live.err" &
tp=$!
pids+=($tp)
wait_for "curl -sf -o /dev/null http://127.0.0.1:$admin/healthz" || fail "proxy start" "$(cat "$WORK/live.err")"
run -- --healthcheck --config "$WORK/live.yaml"
if [[ $rc -eq 0 && $out == "healthy: http://127.0.0.1:$admin/healthz answered 200" ]]; then pass "--healthcheck reads admin from the file (0.0.0.0 probed on loopback)"; else fail "--healthcheck from the file" "rc=$rc $out $err"; fi
grep -q "traceproxy $version: listening" "$WORK/live.err" && pass "start-up line has the version" || fail "start-up line has the version" "$(cat "$WORK/live.err")"
curl -s "http://127.0.0.1:$admin/metrics" | grep -qx "traceproxy_build_info{version=\"$version\"} 1" \
    && pass "traceproxy_build_info" || fail "traceproxy_build_info" "not in /metrics"

# --- SIGHUP under load ---------------------------------------------------------------------------
load() { # N requests on one keep-alive connection per curl; prints the count of non-200 answers
    local bad=0
    for _ in $(seq 1 "$1"); do
        codes=$(curl -s -w '%{http_code}\n' -o /dev/null "http://127.0.0.1:$port/a" -o /dev/null "http://127.0.0.1:$port/b" \
            -o /dev/null "http://127.0.0.1:$port/c")
        bad=$((bad + $(grep -vc '^200$' <<<"$codes")))
    done
    echo "$bad"
}
load 150 >"$WORK/load1" &
l1=$!
load 150 >"$WORK/load2" &
l2=$!
for i in $(seq 1 10); do
    sed -i "s/^sampler: .*/sampler: probabilistic:0.$i/" "$WORK/live.yaml"
    kill -HUP "$tp"
    sleep 0.1
done
wait "$l1" "$l2"
reloads=$(grep -c "SIGHUP: reloaded" "$WORK/live.err")
if [[ $(cat "$WORK/load1") == 0 && $(cat "$WORK/load2") == 0 && $reloads -ge 1 ]]; then
    pass "10 SIGHUPs under load: 900 requests, none failed ($reloads reload lines)"
else
    fail "SIGHUP under load" "failed: $(cat "$WORK/load1")+$(cat "$WORK/load2"), reloads $reloads: $(tail -3 "$WORK/live.err")"
fi
grep -q "changed: sampler" "$WORK/live.err" && pass "reload says what changed" || fail "reload says what changed" "$(tail -2 "$WORK/live.err")"
kill -0 "$tp" 2>/dev/null && pass "still running after SIGHUPs" || fail "still running after SIGHUPs" "exited"

# --- logrotate: rename, SIGHUP, new file -------------------------------------------------------
mv "$WORK/access.log" "$WORK/access.log.1"
kill -HUP "$tp"
wait_for "grep -c 'SIGHUP: reloaded' '$WORK/live.err' | grep -qx $((reloads + 1))"
curl -s -o /dev/null "http://127.0.0.1:$port/after-rotate"
if wait_for "grep -q /after-rotate '$WORK/access.log' 2>/dev/null" && ! grep -q /after-rotate "$WORK/access.log.1"; then
    pass "access log reopened after rename + SIGHUP"
else
    fail "access log reopened" "new file: $(cat "$WORK/access.log" 2>&1 | tail -1)"
fi

# --- a broken file is kept out; restart-only settings are reported -----------------------------
cp "$WORK/live.yaml" "$WORK/live.good"
printf 'lisen: 1\n' >>"$WORK/live.yaml"
kill -HUP "$tp"
if wait_for "grep -q 'kept the running configuration: config file .*live.yaml:[0-9]*: unknown key' '$WORK/live.err'" \
    && [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/x") == 200 ]]; then
    pass "invalid file on SIGHUP: kept the running configuration"
else
    fail "invalid file on SIGHUP" "$(tail -2 "$WORK/live.err")"
fi
curl -s "http://127.0.0.1:$admin/metrics" | grep -qx 'traceproxy_config_reloads_total{result="failed"} 1' \
    && pass "failed reload counted" || fail "failed reload counted" "$(curl -s "http://127.0.0.1:$admin/metrics" | grep reloads)"
cp "$WORK/live.good" "$WORK/live.yaml"
printf 'threads: 7\nlog-level: warning\n' >>"$WORK/live.yaml"
kill -HUP "$tp"
if wait_for "grep -q 'changed: .*log-level.*; needs restart (kept as running): threads' '$WORK/live.err'"; then
    pass "restart-only setting reported, the rest applied"
else
    fail "restart-only setting reported" "$(tail -2 "$WORK/live.err")"
fi
kill -TERM "$tp"
wait "$tp"
rc=$?
[[ $rc -eq 0 ]] && pass "SIGTERM after reloads drains and exits 0" || fail "SIGTERM after reloads" "exit $rc"

# --- log-level on SIGHUP: a dead collector's warning is hidden at error, shown at warning --------
# (changing flush-interval-ms as well rebuilds the reporter, whose warnings are throttled per lane)
dead=$(free_port)
port=$(free_port)
cat >"$WORK/level.yaml" <<YAML
listen: 127.0.0.1:$port
admin: off
upstream: http://127.0.0.1:$up
reporter: [zipkin+http://127.0.0.1:$dead]
flush-interval-ms: 100
log-level: error
YAML
"$BIN" --config "$WORK/level.yaml" >/dev/null 2>"$WORK/level.err" &
tp=$!
pids+=($tp)
wait_for "curl -sf -o /dev/null http://127.0.0.1:$port/a"
sleep 1.5 # several flushes to the dead collector
if grep -q "reporter zipkin" "$WORK/level.err"; then
    fail "log-level error hides the reporter warning" "$(cat "$WORK/level.err")"
else
    pass "log-level error hides the reporter warning"
fi
sed -i 's/^log-level: .*/log-level: warning/; s/^flush-interval-ms: .*/flush-interval-ms: 101/' "$WORK/level.yaml"
kill -HUP "$tp"
wait_for "grep -q 'SIGHUP: reloaded' '$WORK/level.err'"
curl -s -o /dev/null "http://127.0.0.1:$port/b"
if wait_for "grep -q 'reporter zipkin' '$WORK/level.err'"; then
    pass "log-level warning after SIGHUP shows it"
else
    fail "log-level warning after SIGHUP shows it" "$(cat "$WORK/level.err")"
fi
kill -TERM "$tp"

finish
