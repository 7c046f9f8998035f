#!/usr/bin/env bash
# Black-box tests of the traceproxy command line: help, usage errors (one stderr line naming the
# flag or variable, exit 2) and how flags and environment variables resolve (--print-config).
# None of them starts the proxy. Binary: $TRACEPROXY, else .build/debug/traceproxy.
set -uo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# expect_usage_error NAME NEEDLE [VAR=value ...] -- ARGS...: exit 2, nothing on stdout, exactly one
# stderr line that starts with "traceproxy: " and contains NEEDLE (the flag or variable).
expect_usage_error() {
    local name=$1 needle=$2
    shift 2
    run "$@"
    local lines
    lines=$(printf '%s' "$err" | grep -c '')
    if [[ $rc -ne 2 ]]; then
        fail "$name" "exit $rc, expected 2 (stderr: $err)"
    elif [[ $lines -ne 1 ]]; then
        fail "$name" "$lines stderr lines, expected 1: $err"
    elif [[ $err != "traceproxy: "* ]]; then
        fail "$name" "stderr does not start with 'traceproxy: ': $err"
    elif [[ $err != *"$needle"* ]]; then
        fail "$name" "stderr does not name $needle: $err"
    elif [[ -n $out ]]; then
        fail "$name" "unexpected stdout: $out"
    else
        pass "$name"
    fi
}

# expect_config NAME [VAR=value ...] -- ARGS... ::: "key = value" ...: --print-config exits 0 and
# prints each given line exactly.
expect_config() {
    local name=$1
    shift
    local -a cmd=()
    while [[ $1 != ::: ]]; do cmd+=("$1"); shift; done
    shift
    local -a cmdline=()
    local seen=0
    for a in "${cmd[@]}"; do
        cmdline+=("$a")
        if [[ $a == -- && $seen -eq 0 ]]; then cmdline+=(--print-config); seen=1; fi
    done
    run "${cmdline[@]}"
    if [[ $rc -ne 0 ]]; then
        fail "$name" "exit $rc (stderr: $err)"
        return
    fi
    local line
    for line in "$@"; do
        if ! grep -qxF -- "$line" <<<"$out"; then
            fail "$name" "missing '$line' in: $(tr '\n' ';' <<<"$out")"
            return
        fi
    done
    pass "$name"
}

# --- help -------------------------------------------------------------------------------------
FLAGS=(--listen --upstream --demo --service-name --admin --threads --reporter --sampler
    --propagation --span-kind --no-collapse-ids --no-traceresponse --flush-interval-ms
    --max-batch-spans --max-queue-spans --max-packet-bytes --zipkin-gzip --max-header-bytes
    --max-headers --max-connections --upstream-max-idle --header-timeout-ms --idle-timeout-ms --body-timeout-ms
    --upstream-connect-timeout-ms --upstream-timeout-ms --send-timeout-ms --drain-timeout-ms --access-log
    --allow-connect --headers-with-underscores --print-config --listen-tls --tls-cert --tls-key --tls-client-ca
    --tls-ciphers --tls-min-version --tls-handshake-timeout-ms --upstream-ca --upstream-server-name --upstream-cert
    --upstream-key --upstream-insecure --collector-ca --collector-cert --collector-key --otlp-protocol
    --otlp-compression --otlp-header --otlp-timeout-ms --span-attributes --trust-forwarded --route --routes-file
    --no-trace-path --capture-request-header --capture-response-header --redact-query --access-log-format
    --request-id --ignore-incoming-context --dns-refresh-ms --trace-view --trace-view-spans --trace-ui-url)
ENVS=(OTEL_SERVICE_NAME JAEGER_SERVICE_NAME JAEGER_AGENT_HOST JAEGER_AGENT_PORT
    JAEGER_SAMPLER_TYPE JAEGER_SAMPLER_PARAM OTEL_TRACES_SAMPLER OTEL_TRACES_SAMPLER_ARG OTEL_PROPAGATORS
    OTEL_EXPORTER_OTLP_ENDPOINT OTEL_TRACES_EXPORTER OTEL_RESOURCE_ATTRIBUTES OTEL_SEMCONV_STABILITY_OPT_IN
    OTEL_SDK_DISABLED)

for h in --help -h; do
    run -- "$h"
    missing=()
    for f in "${FLAGS[@]}" "${ENVS[@]}"; do
        grep -qE -- "(^|[^a-z-])$f([^a-z-]|$)" <<<"$out" || missing+=("$f")
    done
    if [[ $rc -ne 0 ]]; then
        fail "help $h exits 0" "exit $rc"
    elif [[ ${#missing[@]} -gt 0 ]]; then
        fail "help $h documents every flag and variable" "missing: ${missing[*]}"
    else
        pass "help $h exits 0 and documents every flag and variable"
    fi
done

# Every option that takes a value shows its default (or says it has none / is required).
run -- --help
undocumented=()
for f in "${FLAGS[@]}"; do
    [[ $f == --print-config || $f == --upstream ]] && continue
    # The option's help entry runs from its name to the next line starting with "  -".
    entry=$(awk -v f="$f" '
        $1 == f || index($1, f) == 1 && substr($1, length(f) + 1, 1) == "" { on = 1; print; next }
        on && /^  -/ { exit }
        on { print }' <<<"$out")
    [[ $entry == *"default"* ]] || undocumented+=("$f")
done
if [[ ${#undocumented[@]} -eq 0 ]]; then
    pass "help gives a default for every option"
else
    fail "help gives a default for every option" "no default shown for: ${undocumented[*]}"
fi
tr -s ' \n' ' ' <<<"$out" | grep -qF "(default: 127.0.0.1:8080)" && pass "help shows the --listen default" \
    || fail "help shows the --listen default" "127.0.0.1:8080 not found"

# --- usage errors -----------------------------------------------------------------------------
expect_usage_error "unknown flag" --bogus-flag -- --demo --bogus-flag
expect_usage_error "unknown short flag" -x -- --demo -x
expect_usage_error "unexpected positional argument" stray -- --demo stray
expect_usage_error "missing value" --listen -- --demo --listen
expect_usage_error "missing --upstream without --demo" --upstream --
expect_usage_error "--upstream with --demo" --upstream -- --demo --upstream http://127.0.0.1:3000
expect_usage_error "upstream with a path" --upstream -- --upstream http://127.0.0.1:3000/api
expect_usage_error "upstream without scheme" --upstream -- --upstream 127.0.0.1:3000
expect_usage_error "upstream port 0" --upstream -- --upstream http://127.0.0.1:0
expect_usage_error "listen without port" --listen -- --demo --listen 127.0.0.1
expect_usage_error "listen port out of range" --listen -- --demo --listen 127.0.0.1:65536
expect_usage_error "listen bare IPv6" --listen -- --demo --listen ::1:8080
expect_usage_error "admin garbage" --admin -- --demo --admin yes
expect_usage_error "threads negative" --threads -- --demo --threads -1
expect_usage_error "threads not a number" --threads -- --demo --threads many
expect_usage_error "reporter unknown scheme" --reporter -- --demo --reporter zipkin://h:9411
expect_usage_error "reporter jaeger without port" --reporter -- --demo --reporter jaeger-udp://h
expect_usage_error "reporter jaeger bad port" --reporter -- --demo --reporter jaeger-udp://h:6831x
expect_usage_error "reporter zipkin https without port" --reporter -- --demo --reporter zipkin+https://h
expect_usage_error "reporter bad among good" --reporter -- --demo --reporter stdout --reporter x
expect_usage_error "sampler unknown" --sampler -- --demo --sampler always
expect_usage_error "sampler const:2" --sampler -- --demo --sampler const:2
expect_usage_error "sampler probabilistic > 1" --sampler -- --demo --sampler probabilistic:1.5
expect_usage_error "sampler probabilistic nan" --sampler -- --demo --sampler probabilistic:nan
expect_usage_error "sampler ratelimiting negative" --sampler -- --demo --sampler ratelimiting:-1
expect_usage_error "sampler traceidratio without ratio" --sampler -- --demo --sampler traceidratio
expect_usage_error "sampler parentbased_traceidratio > 1" --sampler -- --demo --sampler parentbased_traceidratio:2
expect_usage_error "sampler always_on with a parameter" --sampler -- --demo --sampler always_on:1
expect_usage_error "propagation unknown" --propagation -- --demo --propagation w3c,xray
expect_usage_error "propagation empty item" --propagation -- --demo --propagation w3c,,b3
expect_usage_error "propagation none with a format" --propagation -- --demo --propagation none,w3c
expect_usage_error "span-kind unknown" --span-kind -- --demo --span-kind producer
expect_usage_error "max-packet-bytes too large" --max-packet-bytes -- --demo --max-packet-bytes 70000
expect_usage_error "access-log empty" --access-log -- --demo --access-log ""
expect_usage_error "trace-view without admin" --trace-view -- --demo --admin off --trace-view
expect_usage_error "trace-view-spans too small" --trace-view-spans -- --demo --trace-view-spans 5
expect_usage_error "trace-ui-url not http" --trace-ui-url -- --demo --trace-ui-url 'javascript:alert(1)'
expect_usage_error "trace-ui-url with a space" --trace-ui-url -- --demo --trace-ui-url 'http://a b/'
expect_usage_error "service-name empty" --service-name -- --demo --service-name ""
expect_usage_error "headers-with-underscores unknown" --headers-with-underscores -- --demo \
    --headers-with-underscores keep
for f in --flush-interval-ms --max-batch-spans --max-queue-spans --max-header-bytes --max-headers \
    --max-connections --upstream-max-idle --header-timeout-ms --idle-timeout-ms --body-timeout-ms \
    --upstream-connect-timeout-ms --upstream-timeout-ms --send-timeout-ms --drain-timeout-ms --dns-refresh-ms; do
    expect_usage_error "$f abc" "$f" -- --demo "$f" abc
    expect_usage_error "$f 0" "$f" -- --demo "$f" 0
done
expect_usage_error "integer with sign" --max-headers -- --demo --max-headers +5
expect_usage_error "integer overflow" --upstream-timeout-ms -- --demo --upstream-timeout-ms 99999999999999999999
run -- --demo --upstream-timeout-ms abc
[[ $err == 'traceproxy: invalid value "abc" for --upstream-timeout-ms: expected a positive integer' ]] \
    && pass "error message wording" || fail "error message wording" "$err"

# TLS flags: each needs what it applies to, and certificate and key go together.
expect_usage_error "listen-tls without cert" --listen-tls -- --demo --listen-tls 127.0.0.1:8443
expect_usage_error "tls-cert without listen-tls" --tls-cert -- --demo --tls-cert /x.pem
expect_usage_error "tls-min-version 1.1" --tls-min-version -- --demo --listen-tls 127.0.0.1:8443 \
    --tls-cert /x.pem --tls-key /x.key --tls-min-version 1.1
expect_usage_error "listen off alone" "--listen off" -- --demo --listen off
expect_usage_error "upstream-ca with http upstream" --upstream-ca -- --upstream http://127.0.0.1:1 \
    --upstream-ca /ca.pem
expect_usage_error "upstream-cert without key" --upstream-key -- --upstream https://127.0.0.1:1 \
    --upstream-cert /c.pem
expect_usage_error "collector-ca without https reporter" --collector-ca -- --demo --collector-ca /ca.pem
expect_usage_error "upstream ftp" --upstream -- --upstream ftp://127.0.0.1:1

# OTLP, attribute names, routes, capture and request ids.
expect_usage_error "otlp grpc" OTEL_EXPORTER_OTLP_PROTOCOL OTEL_EXPORTER_OTLP_PROTOCOL=grpc \
    OTEL_EXPORTER_OTLP_ENDPOINT=http://c:4318 -- --demo
expect_config "otlp grpc ignored without an OTLP reporter" OTEL_EXPORTER_OTLP_PROTOCOL=grpc -- --demo ::: \
    "reporter = stdout"
# The trace view: off by default, on with --demo (admin on) or --trace-view; a UI URL gets Jaeger's path.
expect_config "trace view off by default" -- --upstream http://127.0.0.1:1 ::: "trace-view = false" \
    "trace-view-spans = 2000" "trace-ui-url = none"
expect_config "trace view on with --demo" -- --demo ::: "trace-view = true"
expect_config "trace view off with --demo --admin off" -- --demo --admin off ::: "trace-view = false"
expect_config "trace view flags" -- --upstream http://127.0.0.1:1 --trace-view --trace-view-spans 500 \
    --trace-ui-url http://jaeger:16686/ ::: "trace-view = true" "trace-view-spans = 500" \
    "trace-ui-url = http://jaeger:16686/trace/{trace_id}"
expect_config "trace ui url template kept" -- --demo --trace-ui-url 'http://z:9411/zipkin/traces/{trace_id}' ::: \
    "trace-ui-url = http://z:9411/zipkin/traces/{trace_id}"
expect_usage_error "otlp protocol flag" --otlp-protocol -- --demo --otlp-protocol grpc
expect_usage_error "otlp header" --otlp-header -- --demo --otlp-header "no-equals"
expect_usage_error "otlp headers env" OTEL_EXPORTER_OTLP_HEADERS "OTEL_EXPORTER_OTLP_HEADERS=a" \
    OTEL_EXPORTER_OTLP_ENDPOINT=http://c:4318 -- --demo
expect_usage_error "traces exporter" OTEL_TRACES_EXPORTER OTEL_TRACES_EXPORTER=prometheus -- --demo
expect_usage_error "span-attributes" --span-attributes -- --demo --span-attributes new
expect_usage_error "route without slash" --route -- --demo --route users/{id}
expect_usage_error "route with query" --route -- --demo --route "/a?b"
expect_usage_error "capture cookie" --capture-request-header -- --demo --capture-request-header Cookie
expect_usage_error "capture authorization" --capture-response-header -- --demo \
    --capture-response-header authorization
expect_usage_error "request-id" --request-id -- --demo --request-id always
expect_usage_error "access-log-format" --access-log-format -- --demo --access-log-format xml
expect_config "otlp from the environment" OTEL_EXPORTER_OTLP_ENDPOINT=http://col:4318 \
    "OTEL_EXPORTER_OTLP_HEADERS=api-key=s%20cret" OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/json \
    OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf OTEL_EXPORTER_OTLP_COMPRESSION=gzip OTEL_EXPORTER_OTLP_TIMEOUT=3000 \
    "OTEL_RESOURCE_ATTRIBUTES=service.name=shop,deployment.environment=prod%2Feu" -- \
    --upstream http://127.0.0.1:1 ::: "reporter = otlp+http://col:4318" "otlp-protocol = http/json" \
    "otlp-compression = gzip" "otlp-headers = api-key" "otlp-timeout-ms = 3000" "service-name = shop" \
    "resource-attributes = service.name=shop,deployment.environment=prod/eu"
expect_config "otlp traces endpoint as is" OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=https://col:4318 \
    OTEL_EXPORTER_OTLP_ENDPOINT=http://other:1 -- --upstream http://127.0.0.1:1 ::: "reporter = otlp+https://col:4318/"
expect_config "flags over otlp env" OTEL_EXPORTER_OTLP_PROTOCOL=http/json OTEL_EXPORTER_OTLP_ENDPOINT=http://c:1 -- \
    --upstream http://127.0.0.1:1 --reporter otlp+http://x --otlp-protocol http/protobuf --otlp-header A=1 ::: \
    "reporter = otlp+http://x:4318" "otlp-protocol = http/protobuf" "otlp-headers = A"
expect_config "traces exporter list" OTEL_TRACES_EXPORTER=otlp,zipkin,console -- --upstream http://127.0.0.1:1 ::: \
    "reporter = otlp+http://localhost:4318 zipkin+http://localhost:9411 stdout"
expect_config "env endpoint without a port takes the scheme's" OTEL_EXPORTER_OTLP_ENDPOINT=https://api.vendor.example \
    -- --upstream http://127.0.0.1:1 ::: "reporter = otlp+https://api.vendor.example:443"
expect_config "sdk disabled" OTEL_SDK_DISABLED=true OTEL_EXPORTER_OTLP_ENDPOINT=http://c:1 -- --demo ::: \
    "reporter = none"
expect_config "semconv opt-in" OTEL_SEMCONV_STABILITY_OPT_IN=messaging,http/dup -- --demo ::: "span-attributes = both"
expect_config "span attributes flag wins" OTEL_SEMCONV_STABILITY_OPT_IN=http -- --demo --span-attributes legacy ::: \
    "span-attributes = legacy"
expect_config "routes, exclusions, capture, ids" -- --demo --route /users/{id} --route /files/* \
    --no-trace-path /healthz --no-trace-path /metrics* --capture-request-header X-Tenant \
    --capture-response-header Content-Type --redact-query --request-id pass --access-log-format json \
    --trust-forwarded ::: "routes = /users/{id} /files/*" "no-trace-paths = /healthz /metrics*" \
    "capture-request-headers = x-tenant" "capture-response-headers = content-type" "redact-query = true" \
    "request-id = pass" "access-log-format = json" "trust-forwarded = true"

# Bad environment values name the variable.
expect_usage_error "env sampler type remote" JAEGER_SAMPLER_TYPE JAEGER_SAMPLER_TYPE=remote -- --demo
expect_usage_error "env sampler param without type" JAEGER_SAMPLER_PARAM JAEGER_SAMPLER_PARAM=1 -- --demo
expect_usage_error "env sampler type without param" JAEGER_SAMPLER_PARAM JAEGER_SAMPLER_TYPE=const -- --demo
expect_usage_error "env probabilistic out of range" JAEGER_SAMPLER_PARAM \
    JAEGER_SAMPLER_TYPE=probabilistic JAEGER_SAMPLER_PARAM=2 -- --demo
expect_usage_error "env agent port" JAEGER_AGENT_PORT JAEGER_AGENT_PORT=http -- --demo
expect_usage_error "env agent host" JAEGER_AGENT_HOST "JAEGER_AGENT_HOST=a b" -- --demo
expect_usage_error "env propagators unknown" OTEL_PROPAGATORS OTEL_PROPAGATORS=xray -- --demo
expect_usage_error "env propagators none with a format" OTEL_PROPAGATORS OTEL_PROPAGATORS=none,b3 -- --demo
expect_usage_error "env propagators flag-only name" OTEL_PROPAGATORS OTEL_PROPAGATORS=w3c -- --demo
expect_usage_error "env traces sampler unknown" OTEL_TRACES_SAMPLER OTEL_TRACES_SAMPLER=sometimes -- --demo
expect_usage_error "env traces sampler remote" OTEL_TRACES_SAMPLER OTEL_TRACES_SAMPLER=jaeger_remote -- --demo
expect_usage_error "env traces sampler arg out of range" OTEL_TRACES_SAMPLER_ARG \
    OTEL_TRACES_SAMPLER=traceidratio OTEL_TRACES_SAMPLER_ARG=1.5 -- --demo
expect_usage_error "env traces sampler arg not a number" OTEL_TRACES_SAMPLER_ARG \
    OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG=half -- --demo
# The winner decides: an invalid Jaeger variable behind OTEL_TRACES_SAMPLER is not read.
expect_config "OTEL_TRACES_SAMPLER wins over an invalid JAEGER_SAMPLER_TYPE" OTEL_TRACES_SAMPLER=always_off \
    JAEGER_SAMPLER_TYPE=remote -- --demo ::: "sampler = always_off"

# --- resolved configuration -------------------------------------------------------------------
expect_config "defaults" -- --upstream http://127.0.0.1:3000 ::: \
    "listen = 127.0.0.1:8080" "upstream = http://127.0.0.1:3000" "admin = 127.0.0.1:9901" \
    "reporter = none" "sampler = const:1" "propagation = w3c,b3multi,jaeger" "span-kind = server" \
    "service-name = traceproxy" "collapse-ids = true" "traceresponse = true" "access-log = none" \
    "ignore-incoming-context = false" \
    "allow-connect = false" "headers-with-underscores = drop" "send-timeout-ms = 60000"
expect_config "demo implies stdout reporter" -- --demo ::: "demo = true" "upstream = none" \
    "reporter = stdout"
expect_config "demo with reporter none" -- --demo --reporter none ::: "reporter = none"
expect_config "every flag" -- --listen [::1]:8081 --upstream http://[::1]:3000/ \
    --service-name svc --admin off --threads 3 --reporter jaeger-udp://127.0.0.1:6831 \
    --reporter zipkin+http://localhost:9411/custom/spans --sampler probabilistic:0.5 \
    --propagation jaeger,W3C --span-kind client --no-collapse-ids --no-traceresponse --ignore-incoming-context \
    --flush-interval-ms 60000 --max-batch-spans 5 --max-queue-spans 50 --max-packet-bytes 1500 \
    --zipkin-gzip --max-header-bytes 8192 --max-headers 20 --max-connections 7 \
    --upstream-max-idle 9 --header-timeout-ms 2000 --idle-timeout-ms 3000 --body-timeout-ms 4000 \
    --upstream-connect-timeout-ms 500 --upstream-timeout-ms 1500 --drain-timeout-ms 2500 \
    --access-log - --allow-connect --headers-with-underscores REJECT --send-timeout-ms 7000 --dns-refresh-ms 5000 ::: \
    "listen = [::1]:8081" "upstream = http://[::1]:3000" "service-name = svc" "admin = off" \
    "threads = 3" "reporter = jaeger-udp://127.0.0.1:6831 zipkin+http://localhost:9411/custom/spans" \
    "sampler = probabilistic:0.5" "propagation = jaeger,w3c" "ignore-incoming-context = true" "span-kind = client" \
    "collapse-ids = false" "traceresponse = false" "flush-interval-ms = 60000" \
    "max-batch-spans = 5" "max-queue-spans = 50" "max-packet-bytes = 1500" "zipkin-gzip = true" \
    "max-header-bytes = 8192" "max-headers = 20" "max-connections = 7" \
    "upstream-max-idle = 9" "header-timeout-ms = 2000" "idle-timeout-ms = 3000" "body-timeout-ms = 4000" \
    "upstream-connect-timeout-ms = 500" "upstream-timeout-ms = 1500" \
    "drain-timeout-ms = 2500" "access-log = -" "allow-connect = true" \
    "headers-with-underscores = reject" "send-timeout-ms = 7000" "dns-refresh-ms = 5000"
expect_config "upstream port defaults to 80" -- --upstream http://backend ::: \
    "upstream = http://backend:80"
expect_config "https upstream, port 443, verification" -- --upstream https://backend --upstream-ca /ca.pem \
    --upstream-server-name svc.internal --upstream-cert /c.pem --upstream-key /c.key ::: \
    "upstream = https://backend:443" "upstream-ca = /ca.pem" "upstream-server-name = svc.internal" \
    "upstream-cert = /c.pem" "upstream-key = /c.key" "upstream-insecure = false"
expect_config "https listener, paths only" -- --demo --listen off --listen-tls [::1]:8443 --tls-cert /s.pem \
    --tls-key /s.key --tls-client-ca /ca.pem --tls-min-version 1.3 --tls-handshake-timeout-ms 2500 \
    --tls-ciphers ECDHE+AESGCM ::: \
    "listen = off" "listen-tls = [::1]:8443" "tls-cert = /s.pem" "tls-key = /s.key" "tls-client-ca = /ca.pem" \
    "tls-min-version = 1.3" "tls-handshake-timeout-ms = 2500" "tls-ciphers = ECDHE+AESGCM"
expect_config "zipkin+https with client certificate" -- --demo --reporter zipkin+https://c:9443 \
    --collector-ca /ca.pem --collector-cert /c.pem --collector-key /c.key ::: \
    "reporter = zipkin+https://c:9443" "collector-ca = /ca.pem" "collector-cert = /c.pem" "collector-key = /c.key"
expect_config "admin none" -- --demo --admin none ::: "admin = off"
expect_config "ratelimiting sampler" -- --demo --sampler ratelimiting:5 ::: "sampler = ratelimiting:5.0"
expect_config "const:0 sampler" -- --demo --sampler const:0 ::: "sampler = const:0"
expect_config "OTEL_SERVICE_NAME before JAEGER_SERVICE_NAME" OTEL_SERVICE_NAME=otel \
    JAEGER_SERVICE_NAME=jaeger -- --demo ::: "service-name = otel"
expect_config "JAEGER_SERVICE_NAME" JAEGER_SERVICE_NAME=jaeger -- --demo ::: "service-name = jaeger"
expect_config "--service-name beats env" OTEL_SERVICE_NAME=otel -- --demo --service-name flag ::: \
    "service-name = flag"
expect_config "empty env counts as unset" OTEL_SERVICE_NAME= JAEGER_SERVICE_NAME=j -- --demo ::: \
    "service-name = j"
expect_config "JAEGER_AGENT_HOST adds a reporter" JAEGER_AGENT_HOST=agent -- --demo ::: \
    "reporter = jaeger-udp://agent:6831"
expect_config "JAEGER_AGENT_PORT" JAEGER_AGENT_HOST=10.0.0.1 JAEGER_AGENT_PORT=6832 \
    -- --upstream http://h:1 ::: "reporter = jaeger-udp://10.0.0.1:6832"
expect_config "IPv6 agent host" JAEGER_AGENT_HOST=::1 -- --demo ::: "reporter = jaeger-udp://[::1]:6831"
expect_config "--reporter replaces the env agent" JAEGER_AGENT_HOST=agent \
    -- --demo --reporter stdout ::: "reporter = stdout"
expect_config "env sampler" JAEGER_SAMPLER_TYPE=probabilistic JAEGER_SAMPLER_PARAM=0.25 \
    -- --demo ::: "sampler = probabilistic:0.25"
expect_config "env const sampler param 0" JAEGER_SAMPLER_TYPE=const JAEGER_SAMPLER_PARAM=0 \
    -- --demo ::: "sampler = const:0"
expect_config "--sampler beats env" JAEGER_SAMPLER_TYPE=const JAEGER_SAMPLER_PARAM=0 \
    -- --demo --sampler const:1 ::: "sampler = const:1"
expect_config "OTEL_PROPAGATORS" OTEL_PROPAGATORS=b3multi,baggage,tracecontext,b3 -- --demo ::: \
    "propagation = b3multi,w3c,b3single"
expect_config "OTEL_PROPAGATORS b3 is the single header" OTEL_PROPAGATORS=b3 -- --demo ::: \
    "propagation = b3single"
expect_config "OTEL_PROPAGATORS default of the SDKs" OTEL_PROPAGATORS=tracecontext,baggage -- --demo ::: \
    "propagation = w3c"
expect_config "OTEL_PROPAGATORS baggage alone" OTEL_PROPAGATORS=baggage -- --demo ::: "propagation = none"
expect_config "OTEL_PROPAGATORS none" OTEL_PROPAGATORS=NONE -- --demo ::: "propagation = none"
expect_config "--propagation b3 stays multi" -- --demo --propagation b3 ::: "propagation = b3multi"
expect_config "--propagation OpenTelemetry names" -- --demo --propagation tracecontext,b3single,b3multi,baggage ::: \
    "propagation = w3c,b3single,b3multi"
expect_config "--propagation none" -- --demo --propagation none ::: "propagation = none"
expect_config "--ignore-incoming-context" -- --demo --ignore-incoming-context ::: "ignore-incoming-context = true"
# Every OTEL_TRACES_SAMPLER value; the parent-based ones print as the Jaeger spelling they equal.
for pair in always_on=always_on always_off=always_off traceidratio=traceidratio:0.25 \
    parentbased_always_on=const:1 parentbased_always_off=const:0 parentbased_traceidratio=probabilistic:0.25; do
    expect_config "OTEL_TRACES_SAMPLER=${pair%%=*}" OTEL_TRACES_SAMPLER="${pair%%=*}" OTEL_TRACES_SAMPLER_ARG=0.25 \
        -- --demo ::: "sampler = ${pair#*=}"
done
expect_config "OTEL_TRACES_SAMPLER_ARG defaults to 1.0" OTEL_TRACES_SAMPLER=traceidratio -- --demo ::: \
    "sampler = traceidratio:1.0"
expect_config "OTEL_TRACES_SAMPLER is case-insensitive" OTEL_TRACES_SAMPLER=ParentBased_TraceIdRatio \
    OTEL_TRACES_SAMPLER_ARG=0.5 -- --demo ::: "sampler = probabilistic:0.5"
expect_config "OTEL_TRACES_SAMPLER_ARG alone is ignored" OTEL_TRACES_SAMPLER_ARG=0.1 -- --demo ::: \
    "sampler = const:1"
expect_config "OTEL_TRACES_SAMPLER wins over JAEGER_SAMPLER_*" OTEL_TRACES_SAMPLER=always_on \
    JAEGER_SAMPLER_TYPE=const JAEGER_SAMPLER_PARAM=0 -- --demo ::: "sampler = always_on"
expect_config "--sampler wins over OTEL_TRACES_SAMPLER" OTEL_TRACES_SAMPLER=always_off -- --demo \
    --sampler ratelimiting:2 ::: "sampler = ratelimiting:2.0"
for pair in always_on=always_on ALWAYS_OFF=always_off traceidratio:0.1=traceidratio:0.1 \
    parentbased_always_on=const:1 parentbased_always_off=const:0 parentbased_traceidratio:0.1=probabilistic:0.1; do
    expect_config "--sampler ${pair%%=*}" -- --demo --sampler "${pair%%=*}" ::: "sampler = ${pair#*=}"
done
expect_config "--propagation beats env" OTEL_PROPAGATORS=jaeger -- --demo --propagation w3c ::: \
    "propagation = w3c"

finish
