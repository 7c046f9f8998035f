#!/usr/bin/env bash
# Idempotently create the interop test virtualenv and print its python path (last line of stdout).
#   INTEROP_VENV    venv location (default: $HOME/.cache/traceproxy-interop-venv)
#   INTEROP_PYTHON  interpreter used to create it (default: python3.11 if present, else python3)
# Debian's python3 needs the python3-venv package for `python3 -m venv` (ensurepip).
set -euo pipefail

VENV="${INTEROP_VENV:-$HOME/.cache/traceproxy-interop-venv}"
PY="${INTEROP_PYTHON:-}"
if [ -z "$PY" ]; then
    if command -v python3.11 >/dev/null 2>&1; then PY=python3.11; else PY=python3; fi
fi

# Pinned set. jaeger-client 4.8.0 vendors jaeger_client.thrift_gen (the independent decoder used by
# the UDP agent); its reporter needs tornado + threadloop; Flask-OpenTracing 2.0.0 traces the app.
# websockets (its sync client and server) drives the WebSocket upgrade over TLS in test_tls.py.
# opentelemetry-proto decodes what the OTLP collector receives (protobuf and, through its JSON mapping,
# OTLP/JSON); the SDK, its OTLP/HTTP exporter and the Flask and requests instrumentations trace the
# OpenTelemetry app (otel_app.py). The instrumentations pin their exact API/SDK/semconv versions:
# 0.66b1 goes with 1.45.1. selenium drives Debian's chromium through chromium-driver (the trace page
# test, test_trace_page.py); the driver path is given, so Selenium Manager downloads nothing.
REQS=(
    "jaeger-client==4.8.0"
    "thrift>=0.13,<0.30"
    "six>=1.16"
    "opentracing>=2.4,<3"
    "tornado>=6,<7"
    "threadloop>=1,<2"
    "flask>=2.2,<4"
    "Flask-OpenTracing==2.0.0"
    "jsonschema>=4.17,<5"
    "requests>=2.28,<3"
    "websockets>=13,<16"
    "pytest>=7,<9"
    "opentelemetry-api==1.45.1"
    "opentelemetry-sdk==1.45.1"
    "opentelemetry-proto==1.45.1"
    "opentelemetry-exporter-otlp-proto-http==1.45.1"
    "opentelemetry-instrumentation-flask==0.66b1"
    "opentelemetry-instrumentation-requests==0.66b1"
    "selenium>=4.20,<5"
)
STAMP="$(printf '%s\n' "${REQS[@]}")"
IMPORTS='import six, jaeger_client, jaeger_client.thrift_gen.agent.Agent, thrift.protocol.TCompactProtocol
import tornado, threadloop, opentracing, flask, flask_opentracing, jsonschema, requests, pytest
import websockets.sync.client, websockets.sync.server
import opentelemetry.proto.collector.trace.v1.trace_service_pb2, google.protobuf.json_format
import opentelemetry.sdk.trace, opentelemetry.exporter.otlp.proto.http.trace_exporter
import opentelemetry.instrumentation.flask, opentelemetry.instrumentation.requests
import selenium.webdriver'

if [ ! -x "$VENV/bin/python" ]; then
    if ! "$PY" -c 'import ensurepip, venv' >/dev/null 2>&1; then
        echo "setup_venv.sh: $PY has no venv/ensurepip; install python3-venv (apt-get install python3-venv)" >&2
        exit 1
    fi
    mkdir -p "$(dirname "$VENV")"
    "$PY" -m venv "$VENV" >&2
fi

if [ "$(cat "$VENV/.interop-reqs" 2>/dev/null || true)" != "$STAMP" ] ||
    ! "$VENV/bin/python" -W ignore -c "$IMPORTS" >/dev/null 2>&1; then
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "${REQS[@]}" >&2
    "$VENV/bin/python" -W ignore -c "$IMPORTS"
    printf '%s' "$STAMP" >"$VENV/.interop-reqs"
fi

echo "$VENV/bin/python"
