#!/usr/bin/env python3
"""Heap allocations per proxied request.

Runs the release binary with a small malloc counter preloaded (benchmarks/malloc_count.c, built
here with cc) in front of a keep-alive upstream, sends N and then 3N requests over one keep-alive
connection (two separate runs), and reads the process's total at exit. The difference divided by
2N is what one more request costs, with start-up and shutdown cancelled out. The count covers the
whole process: the event loop and, with a reporter, the reporter thread that renders, encodes and
sends the spans. Unlike a timing it does not depend on how busy the machine is.

    python3 benchmarks/allocs.py [--binary .build/release/traceproxy] [--requests 2000]

Needs a C compiler (cc). Everything listens on 127.0.0.1 only.
"""

import argparse
import http.server
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time


class Upstream(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        # One write: a head and a body in two small segments would meet Nagle's algorithm and a
        # delayed ACK (40 ms), which is the harness's latency, not the proxy's.
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nhello, world\n")

    def log_message(self, *args):
        pass


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def udp_sink():
    """A Jaeger agent stand-in that only drains datagrams (the count is the proxy's, not ours)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))

    def loop():
        while True:
            try:
                s.recv(65536)
            except OSError:
                return

    threading.Thread(target=loop, daemon=True).start()
    return s.getsockname()[1]


ZIPKIN_COLLECTOR = r"""
import http.server, sys
class Collector(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Collector)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def zipkin_sink():
    """A Zipkin collector that only accepts, in a process of its own (sharing this one's
    interpreter lock with the upstream would slow the upstream, not the proxy)."""
    proc = subprocess.Popen([sys.executable, "-c", ZIPKIN_COLLECTOR], stdout=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline())
    return port, proc


def send_requests(port, n):
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    request = b"GET /users/42?x=1 HTTP/1.1\r\nHost: svc.local\r\nUser-Agent: allocs/1\r\n\r\n"
    buf = b""
    for _ in range(n):
        sock.sendall(request)
        while True:
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                head = buf[:end].decode("latin-1")
                length = int(re.search(r"(?i)content-length: *(\d+)", head).group(1))
                if len(buf) >= end + 4 + length:
                    buf = buf[end + 4 + length:]
                    break
            chunk = sock.recv(65536)
            if not chunk:
                raise RuntimeError("proxy closed the connection")
            buf += chunk
        if not head.startswith("HTTP/1.1 200"):
            raise RuntimeError("unexpected answer: " + head.splitlines()[0])
    sock.close()


def build_counter(workdir):
    here = os.path.dirname(os.path.abspath(__file__))
    lib = os.path.join(workdir, "libmalloc_count.so")
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", lib, os.path.join(here, "malloc_count.c")], check=True)
    return lib


def run_once(binary, counter, upstream_port, reporter, n):
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="tp-allocs-", suffix=".count", delete=False).name
    env = dict(os.environ, LD_PRELOAD=counter, MALLOC_COUNT_OUT=log)
    args = [binary, "--listen", f"127.0.0.1:{port}", "--upstream", f"http://127.0.0.1:{upstream_port}",
            "--admin", "off", "--threads", "1", "--reporter", reporter, "--flush-interval-ms", "100"]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise RuntimeError("proxy did not start")
                time.sleep(0.2)
        send_requests(port, n)
        time.sleep(0.5)  # let the last spans leave
        proc.send_signal(signal.SIGTERM)
        if proc.wait(timeout=120) != 0:
            raise RuntimeError("proxy did not exit cleanly")
        text = open(log).read().strip()
    finally:
        if proc.poll() is None:
            proc.kill()
        os.unlink(log)
    if not text:
        raise RuntimeError("the malloc counter wrote nothing")
    return int(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", default=".build/release/traceproxy")
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--setups", default="off,jaeger,zipkin", help="comma-separated: off, jaeger, zipkin")
    args = ap.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    upstream_port = server.server_address[1]
    known = {
        "off": ("tracing off", lambda: "none"),
        "jaeger": ("Jaeger UDP", lambda: f"jaeger-udp://127.0.0.1:{udp_sink()}"),
        "zipkin": ("Zipkin HTTP", lambda: f"zipkin+http://127.0.0.1:{zipkin_sink_url()}"),
    }
    collectors = []

    def zipkin_sink_url():
        port, proc = zipkin_sink()
        collectors.append(proc)
        return port

    n = args.requests
    workdir = tempfile.mkdtemp(prefix="tp-allocs-")
    counter = build_counter(workdir)
    print(f"heap allocations per proxied request ({n} vs {3 * n} requests on one keep-alive "
          "connection, 13-byte body; the whole process)\n")
    print("| setup | allocations at N | at 3N | per request |")
    print("|---|---|---|---|")
    for key in args.setups.split(","):
        name, reporter = known[key][0], known[key][1]()
        a = run_once(args.binary, counter, upstream_port, reporter, n)
        b = run_once(args.binary, counter, upstream_port, reporter, 3 * n)
        print(f"| {name} | {a:,} | {b:,} | {(b - a) / (2 * n):.2f} |", flush=True)
    for proc in collectors:
        proc.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
