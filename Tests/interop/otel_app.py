"""A user's service instrumented with the OpenTelemetry Python SDK: Flask (opentelemetry-instrumentation-flask)
with an outgoing call through `requests` (opentelemetry-instrumentation-requests), W3C trace context (the
SDK's default propagators), spans exported over OTLP/HTTP protobuf by the SDK's own exporter.

Usage: otel_app.py PORT OTLP_ENDPOINT DOWNSTREAM_URL
  OTLP_ENDPOINT   full URL of the collector's traces path (http://127.0.0.1:N/v1/traces)
  DOWNSTREAM_URL  base URL the app calls on GET /hello/NAME (GET DOWNSTREAM_URL/backend/NAME)
SimpleSpanProcessor exports each span as it ends, so a span is at the collector by the time the
response that made it is complete (the client span) or shortly after (the server span).
"""
import logging
import sys
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)

import requests  # noqa: E402
from flask import Flask, jsonify, request  # noqa: E402
from opentelemetry import trace  # noqa: E402
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: E402
from opentelemetry.instrumentation.flask import FlaskInstrumentor  # noqa: E402
from opentelemetry.instrumentation.requests import RequestsInstrumentor  # noqa: E402
from opentelemetry.sdk.resources import Resource  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402

port, endpoint, downstream = int(sys.argv[1]), sys.argv[2], sys.argv[3].rstrip("/")
logging.basicConfig(level=logging.WARNING)

provider = TracerProvider(resource=Resource.create({"service.name": "otel-app"}))
provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint, timeout=5)))
trace.set_tracer_provider(provider)

app = Flask(__name__)
FlaskInstrumentor().instrument_app(app)
RequestsInstrumentor().instrument()
session = requests.Session()


@app.route("/hello/<name>")
def hello(name):
    span = trace.get_current_span()
    ctx = span.get_span_context()
    parent = getattr(span, "parent", None)
    r = session.get(f"{downstream}/backend/{name}", timeout=10)
    # The app's own view of its server span, so that the test can find it at the collector.
    return jsonify(name=name, trace_id=format(ctx.trace_id, "032x"), span_id=format(ctx.span_id, "016x"),
                   parent_id=format(parent.span_id, "016x") if parent else "",
                   traceparent=request.headers.get("traceparent"), downstream_status=r.status_code)


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=port, threaded=True, use_reloader=False)
