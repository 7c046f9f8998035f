"""A small Flask app traced with Flask-OpenTracing and jaeger-client: the service that traceproxy
fronts in the Compose and Kubernetes recipes.

jaeger-client reads the caller's uber-trace-id header (traceproxy injects it), so the app's span is
a child of the proxy's span in the same trace. Its spans go to a Jaeger agent endpoint over UDP
(Thrift compact, port 6831): Jaeger v2's all-in-one and the OpenTelemetry Collector's `jaeger`
receiver both accept it.

Environment:
  APP_HOST                 address to listen on (default 0.0.0.0; 127.0.0.1 when traceproxy shares
                           the network namespace, as in a Kubernetes pod)
  APP_PORT                 port (default 5000)
  JAEGER_SERVICE_NAME      service name on the app's spans (default flask-app)
  JAEGER_AGENT_HOST        where the spans go (default 127.0.0.1)
  JAEGER_AGENT_PORT        its UDP port (default 6831)
  JAEGER_FLUSH_INTERVAL_S  how long a finished span may wait before it is sent (default 1)
"""
import logging
import os
import signal
import sys
import time
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)

from flask import Flask, jsonify, request  # noqa: E402
from flask_opentracing import FlaskTracing  # noqa: E402
from jaeger_client import Config  # noqa: E402

logging.basicConfig(level=logging.WARNING)

config = Config(
    config={
        "sampler": {"type": "const", "param": 1},
        "local_agent": {
            "reporting_host": os.environ.get("JAEGER_AGENT_HOST", "127.0.0.1"),
            "reporting_port": int(os.environ.get("JAEGER_AGENT_PORT", "6831")),
        },
        "reporter_flush_interval": float(os.environ.get("JAEGER_FLUSH_INTERVAL_S", "1")),
        "logging": False,
    },
    service_name=os.environ.get("JAEGER_SERVICE_NAME", "flask-app"),
    validate=True,
)
tracer = config.new_tracer()
app = Flask(__name__)
tracing = FlaskTracing(tracer, True, app)


@app.route("/")
def index():
    return "Hello from the Flask app. Try /hello/NAME.\n"


@app.route("/hello/<name>")
def hello(name):
    ctx = tracing.get_span().context
    # The app's own view of its span, so that a reader (or a test) can find it in the tracing UI.
    return jsonify(greeting=f"Hello, {name}!", trace_id="%032x" % ctx.trace_id,
                   span_id="%016x" % ctx.span_id, parent_id="%016x" % (ctx.parent_id or 0),
                   uber_trace_id=request.headers.get("uber-trace-id"))


def _stop(signum, _frame):
    # As PID 1 in a container Python would ignore SIGTERM. close() flushes the reporter on the
    # tracer's own IOLoop thread: wait for it a little, then leave.
    future = tracer.close()
    deadline = time.monotonic() + 2
    while not future.done() and time.monotonic() < deadline:
        time.sleep(0.02)
    sys.exit(0)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _stop)
    app.run(host=os.environ.get("APP_HOST", "0.0.0.0"), port=int(os.environ.get("APP_PORT", "5000")),
            threaded=True, use_reloader=False)
