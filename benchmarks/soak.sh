#!/usr/bin/env bash
# Soak test: steady load through the release proxy with a dead or hanging span collector, sampling
# the proxy's memory (VmRSS) and open descriptors. Fails when memory keeps growing or fds leak.
#
#   benchmarks/soak.sh [--duration SECONDS] [--interval SECONDS] [--collector dead|hang]
#                      [--connections N] [--out FILE.csv] [--rss-growth-pct P] [--fd-slack N]
#
# - upstream: nginx on 127.0.0.1 if installed, else a small threaded Python HTTP/1.1 server;
# - collector: `dead` points a Zipkin and a Jaeger reporter at closed ports; `hang` is a TCP
#   server that accepts Zipkin POSTs and never answers (the Jaeger reporter still hits a closed
#   UDP port);
# - load: wrk if installed (keep-alive, N connections), else a Python keep-alive loader;
# - samples every --interval seconds into the CSV: elapsed_s, rss_kb, fds, queue depth and
#   dropped spans from /metrics;
# - verdict: RSS at the end must be within --rss-growth-pct (default 50) of RSS after warm-up
#   (the first fifth of the run, at least 10 s), and fds at the end within --fd-slack (default
#   16) of fds after warm-up, measured while the load is still running.
set -euo pipefail

DURATION=180
INTERVAL=5
COLLECTOR=dead
CONNECTIONS=16
OUT=""
RSS_GROWTH_PCT=50
FD_SLACK=16
while [[ $# -gt 0 ]]; do
    case "$1" in
        --duration) DURATION="$2"; shift 2 ;;
        --interval) INTERVAL="$2"; shift 2 ;;
        --collector) COLLECTOR="$2"; shift 2 ;;
        --connections) CONNECTIONS="$2"; shift 2 ;;
        --out) OUT="$2"; shift 2 ;;
        --rss-growth-pct) RSS_GROWTH_PCT="$2"; shift 2 ;;
        --fd-slack) FD_SLACK="$2"; shift 2 ;;
        -h|--help) sed -n 2,17p "$0"; exit 0 ;;
        *) echo "soak.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
case "$COLLECTOR" in dead|hang) ;; *) echo "soak.sh: --collector must be dead or hang" >&2; exit 2 ;; esac

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d /tmp/traceproxy-soak.XXXXXX)"
OUT="${OUT:-$WORK/soak.csv}"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

BIN="${TRACEPROXY:-$ROOT/.build/release/traceproxy}"
if [[ ! -x "$BIN" ]]; then
    echo "building the release binary..." >&2
    (cd "$ROOT" && swift build -c release --product traceproxy >&2)
fi

# --- upstream ---------------------------------------------------------------------------------
UP_PORT="$(free_port)"
if command -v nginx >/dev/null 2>&1; then
    mkdir -p "$WORK/nginx/logs"
    cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$UP_PORT;
        location / { return 200 "ok\n"; }
    }
}
EOF
    nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" &
    PIDS+=($!)
    UPSTREAM_KIND=nginx
else
    python3 - "$UP_PORT" <<'EOF' &
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "3"); self.end_headers()
        self.wfile.write(b"ok\n")
    def log_message(self, *a): pass
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
    PIDS+=($!)
    UPSTREAM_KIND=python
fi

# --- collector --------------------------------------------------------------------------------
ZIPKIN_PORT="$(free_port)"
JAEGER_PORT="$(free_port)"  # nothing listens on it: ICMP port unreachable
if [[ "$COLLECTOR" == hang ]]; then
    python3 - "$ZIPKIN_PORT" <<'EOF' &
import socket, sys, threading, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(128)
held = []
while True:
    c, _ = s.accept(); held.append(c)  # read nothing, answer nothing
    if len(held) > 200: held.pop(0).close()
EOF
    PIDS+=($!)
fi

# --- proxy ------------------------------------------------------------------------------------
PROXY_PORT="$(free_port)"
ADMIN_PORT="$(free_port)"
"$BIN" --listen "127.0.0.1:$PROXY_PORT" --upstream "http://127.0.0.1:$UP_PORT" \
    --admin "127.0.0.1:$ADMIN_PORT" --threads 1 \
    --reporter "zipkin+http://127.0.0.1:$ZIPKIN_PORT" --reporter "jaeger-udp://127.0.0.1:$JAEGER_PORT" \
    --max-queue-spans 10000 2>"$WORK/proxy.log" &
PROXY_PID=$!
PIDS+=($PROXY_PID)
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$PROXY_PORT/ready" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fsS "http://127.0.0.1:$PROXY_PORT/ready" >/dev/null || { echo "proxy did not start" >&2; cat "$WORK/proxy.log" >&2; exit 1; }

# --- load -------------------------------------------------------------------------------------
LOAD_SECONDS=$((DURATION + 2 * INTERVAL))
if command -v wrk >/dev/null 2>&1; then
    wrk -t 1 -c "$CONNECTIONS" -d "${LOAD_SECONDS}s" "http://127.0.0.1:$PROXY_PORT/soak" >"$WORK/load.txt" 2>&1 &
    LOADER=wrk
else
    python3 - "$PROXY_PORT" "$CONNECTIONS" "$LOAD_SECONDS" >"$WORK/load.txt" 2>&1 <<'EOF' &
import http.client, sys, threading, time
port, conns, secs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
end = time.time() + secs; counts = [0] * conns; errors = [0] * conns
def run(i):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    while time.time() < end:
        try:
            c.request("GET", "/soak"); r = c.getresponse(); r.read()
            counts[i] += 1 if r.status == 200 else 0
        except Exception:
            errors[i] += 1; c.close(); c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
ts = [threading.Thread(target=run, args=(i,)) for i in range(conns)]
[t.start() for t in ts]; [t.join() for t in ts]
print(f"requests {sum(counts)} errors {sum(errors)} rps {sum(counts)/secs:.0f}")
EOF
    LOADER=python
fi
LOAD_PID=$!
PIDS+=($LOAD_PID)

# --- sampling ---------------------------------------------------------------------------------
metric() {  # sum of the samples whose series starts with $1
    curl -fsS "http://127.0.0.1:$ADMIN_PORT/metrics" 2>/dev/null |
        awk -v p="$1" 'index($0, p) == 1 { s += $NF } END { printf "%d", s }'
}
echo "elapsed_s,rss_kb,fds,queue_depth,spans_dropped,requests_2xx" >"$OUT"
START=$(date +%s)
WARMUP=$((DURATION / 5 > 10 ? DURATION / 5 : 10))
WARM_RSS=""
WARM_FDS=""
while :; do
    NOW=$(( $(date +%s) - START ))
    kill -0 "$PROXY_PID" 2>/dev/null || { echo "soak: the proxy died" >&2; cat "$WORK/proxy.log" >&2; exit 1; }
    RSS=$(awk '/^VmRSS:/ { print $2 }' "/proc/$PROXY_PID/status")
    FDS=$(ls "/proc/$PROXY_PID/fd" | wc -l)
    echo "$NOW,$RSS,$FDS,$(metric traceproxy_span_queue_depth),$(metric traceproxy_spans_dropped_total),$(metric 'traceproxy_requests_total{code="2xx"}')" >>"$OUT"
    if [[ -z "$WARM_RSS" && $NOW -ge $WARMUP ]]; then WARM_RSS=$RSS; WARM_FDS=$FDS; fi
    [[ $NOW -ge $DURATION ]] && break
    sleep "$INTERVAL"
done
wait "$LOAD_PID" 2>/dev/null || true

# --- verdict ----------------------------------------------------------------------------------
read -r START_RSS START_FDS < <(awk -F, 'NR == 2 { print $2, $3 }' "$OUT")
read -r END_RSS END_FDS < <(tail -n 1 "$OUT" | awk -F, '{ print $2, $3 }')
read -r MAX_RSS MAX_FDS < <(awk -F, 'NR > 1 { if ($2 > r) r = $2; if ($3 > f) f = $3 } END { print r, f }' "$OUT")
WARM_RSS=${WARM_RSS:-$START_RSS}
WARM_FDS=${WARM_FDS:-$START_FDS}
echo "soak: ${DURATION}s, collector $COLLECTOR, upstream $UPSTREAM_KIND, loader $LOADER ($CONNECTIONS connections)"
echo "load: $(grep -E 'Requests/sec|requests|Non-2xx|Socket errors' "$WORK/load.txt" | tr '\n' ' ')"
echo "rss_kb: start $START_RSS, after warm-up $WARM_RSS, end $END_RSS, max $MAX_RSS"
echo "fds:    start $START_FDS, after warm-up $WARM_FDS, end $END_FDS, max $MAX_FDS"
echo "final:  $(tail -n 1 "$OUT")  (elapsed_s,rss_kb,fds,queue_depth,spans_dropped,requests_2xx)"
echo "csv:    $OUT"
FAIL=0
LIMIT=$(( WARM_RSS * (100 + RSS_GROWTH_PCT) / 100 ))
if (( END_RSS > LIMIT )); then
    echo "FAIL: RSS grew from $WARM_RSS to $END_RSS kB (limit $LIMIT kB, +$RSS_GROWTH_PCT%)" >&2
    FAIL=1
fi
if (( END_FDS > WARM_FDS + FD_SLACK )); then
    echo "FAIL: open fds grew from $WARM_FDS to $END_FDS (slack $FD_SLACK)" >&2
    FAIL=1
fi
(( FAIL == 0 )) && echo "PASS"
exit $FAIL
