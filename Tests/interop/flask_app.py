"""The user's service: a Flask app traced with Flask-OpenTracing and jaeger-client's Tracer.

Usage: flask_app.py PORT AGENT_PORT
Reports to the Jaeger agent on 127.0.0.1:AGENT_PORT (UDP, compact emitBatch, jaeger-client's own
sender) with a const sampler and the client's default propagation (uber-trace-id). GET /flush
closes the tracer, which flushes its reporter, and answers once that is done; then the process is
meant to be stopped.
"""
import logging
import sys
import time
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)

from flask import Flask, jsonify, request  # noqa: E402
from flask_opentracing import FlaskTracing  # noqa: E402
from jaeger_client import Config  # noqa: E402

port, agent_port = int(sys.argv[1]), int(sys.argv[2])
logging.basicConfig(level=logging.WARNING)

config = Config(
    config={
        "sampler": {"type": "const", "param": 1},
        "local_agent": {"reporting_host": "127.0.0.1", "reporting_port": agent_port},
        "reporter_flush_interval": 0.1,
        "logging": False,
    },
    service_name="flask-app",
    validate=True,
)
tracer = config.new_tracer()
app = Flask(__name__)
tracing = FlaskTracing(tracer, True, app)


@app.route("/hello/<name>")
def hello(name):
    span = tracing.get_span()
    ctx = span.context
    # The app's own view of its span, so that the test can find it on the agent.
    return jsonify(name=name, trace_id="%x" % ctx.trace_id, span_id="%016x" % ctx.span_id,
                   parent_id="%016x" % (ctx.parent_id or 0),
                   uber=request.headers.get("uber-trace-id"))


@app.route("/flush")
def flush():
    # close() returns a tornado future that resolves once the reporter has sent what it held; it
    # lives on the tracer's own IOLoop thread, so poll it instead of blocking on it.
    future = tracer.close()
    deadline = time.monotonic() + 5
    while not future.done() and time.monotonic() < deadline:
        time.sleep(0.02)
    return ("flushed\n", 200) if future.done() else ("flush timed out\n", 504)


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=port, threaded=True, use_reloader=False)
