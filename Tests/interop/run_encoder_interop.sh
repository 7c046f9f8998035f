#!/usr/bin/env bash
# Writes SpanEncoding fixtures (EncoderFixtureExportTests) and checks them with independent
# decoders (check_encoder_fixtures.py). Run from the repository root.
#   ENCODER_VENV   venv with jaeger-client==4.8.0 thrift six jsonschema
#                  (default /tmp/encvenv; created with pip if missing)
#   ZIPKIN_SPEC    another ListOfSpans JSON Schema (default Tests/interop/zipkin2-span.schema.json)
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV="${ENCODER_VENV:-/tmp/encvenv}"
if ! "$VENV/bin/python" -c "import jaeger_client, thrift, six, jsonschema" 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q "jaeger-client==4.8.0" "thrift>=0.13,<0.30" six jsonschema
fi
FIXTURES="$(mktemp -d)"
trap 'rm -rf "$FIXTURES"' EXIT
TRACEPROXY_FIXTURE_DIR="$FIXTURES" swift test --filter EncoderFixtureExportTests >/dev/null
"$VENV/bin/python" Tests/interop/check_encoder_fixtures.py "$FIXTURES"
