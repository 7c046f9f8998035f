#!/usr/bin/env bash
# The interop suite: traceproxy (the release binary) against independent implementations from PyPI
# (jaeger-client's Thrift code, Flask-OpenTracing + jaeger-client, jsonschema over our Zipkin v2 span
# schema, zipkin2-span.schema.json, opentelemetry-proto for OTLP, the OpenTelemetry Python SDK),
# over real loopback sockets. test_tls.py covers TLS with certificates it makes at run time with the
# `openssl` CLI: the HTTPS listener against curl, requests, Python's ssl, openssl s_client and the
# websockets client (keep-alive, pipelining, 20 MB bodies, WebSocket upgrade, garbage and plain HTTP,
# handshake timeout, old versions, ciphers, mTLS, SIGHUP certificate swap under load), https://
# upstreams and zipkin+https:// collectors (http.server in ssl; verification, mTLS, --upstream-insecure)
# and start-up errors; it needs `openssl` and `curl` on PATH. test_otlp.py covers the OTLP/HTTP
# reporter against opentelemetry-proto's decoder and an app traced by the OpenTelemetry Python SDK.
# test_trace_view.py checks the trace view's JSON API after real traffic; test_trace_page.py loads the
# page in Debian's headless chromium through chromium-driver and Selenium (screenshots under
# Tests/interop/artifacts/ or $TRACE_PAGE_ARTIFACTS).
# Run from anywhere; it works from the repository root.
#   TRACEPROXY                  binary under test (default .build/release/traceproxy, repo-relative)
#   INTEROP_VENV                venv location (see setup_venv.sh)
#   ZIPKIN_SPEC                 another ListOfSpans JSON Schema (default Tests/interop/zipkin2-span.schema.json)
#   INTEROP_ENCODER_FIXTURES=0  skip stage 2 (it runs `swift test --filter EncoderFixtureExportTests`,
#                               which builds the debug test bundle if it is not built yet)
# Extra arguments go to pytest (e.g. -k flask). Exit status: non-zero if any stage failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export TRACEPROXY="${TRACEPROXY:-.build/release/traceproxy}"

PY="$(bash Tests/interop/setup_venv.sh | tail -n 1)" || { echo "interop: venv setup failed" >&2; exit 1; }
failed=0

echo "=== interop stage 1: pytest Tests/interop (TRACEPROXY=$TRACEPROXY)"
# The suite takes ~95 s (test_otlp.py ~45 s of it, the trace page in chromium ~15 s); the bound keeps a
# hung proxy from stalling CI.
timeout -k 10 "${INTEROP_PYTEST_TIMEOUT_S:-240}" \
    "$PY" -W ignore::DeprecationWarning -m pytest -q -rfE -p no:cacheprovider Tests/interop "$@"
rc=$?
[ "$rc" -eq 124 ] && echo "interop: pytest stopped by the time bound" >&2
[ "$rc" -ne 0 ] && failed=1

if [ "${INTEROP_ENCODER_FIXTURES:-1}" != 0 ]; then
    echo "=== interop stage 2: SpanEncoding fixtures vs jaeger-client Thrift and the Zipkin span schema"
    ENCODER_VENV="$(dirname "$(dirname "$PY")")" timeout -k 10 "${INTEROP_ENCODER_TIMEOUT_S:-240}" \
        bash Tests/interop/run_encoder_interop.sh || failed=1
fi

if [ "$failed" -ne 0 ]; then
    echo "=== interop: FAILED"
else
    echo "=== interop: all stages passed"
fi
exit "$failed"
