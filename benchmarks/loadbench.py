#!/usr/bin/env python3
"""Interleaved load benchmark: direct, nginx, HAProxy and traceproxy (tracing off / Jaeger / Zipkin),
then HTTPS in: nginx and traceproxy (tracing off / Jaeger) terminating TLS with one certificate.

Started by run.sh (which installs the tools and builds traceproxy). Everything here runs on
loopback: a fast nginx upstream, the proxies under test, a Jaeger UDP sink and a Zipkin collector
that count spans, and wrk as the load generator. The test CA and server certificate are made
with the openssl CLI in the run's temp dir. Every process started here is stopped on exit.
"""

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CLK_TCK = os.sysconf("SC_CLK_TCK")
SMALL_BODY = b"hello, world\n"
BIG_BODY_SIZE = 16 * 1024

# --------------------------------------------------------------------------------------------
# Span sinks


class CompactReader:
    """Just enough of the Thrift compact protocol to find emitBatch's span list."""

    def __init__(self, data):
        self.d = data
        self.i = 0

    def byte(self):
        b = self.d[self.i]
        self.i += 1
        return b

    def varint(self):
        shift = 0
        out = 0
        while True:
            b = self.byte()
            out |= (b & 0x7F) << shift
            if b < 0x80:
                return out
            shift += 7

    def skip(self, t):
        if t in (1, 2):  # bool true/false, value in the type nibble
            return
        if t == 3:
            self.i += 1
        elif t in (4, 5, 6):
            self.varint()
        elif t == 7:
            self.i += 8
        elif t == 8:
            n = self.varint()  # read before adding: `self.i += self.varint()` loses the varint
            self.i += n
        elif t in (9, 10):
            h = self.byte()
            n = h >> 4
            if n == 15:
                n = self.varint()
            et = h & 0x0F
            for _ in range(n):
                self.skip_elem(et)
        elif t == 11:
            n = self.varint()
            if n:
                kv = self.byte()
                for _ in range(n):
                    self.skip_elem(kv >> 4)
                    self.skip_elem(kv & 0x0F)
        elif t == 12:
            self.skip_struct()
        else:
            raise ValueError("compact type %d" % t)

    def skip_elem(self, t):
        if t in (1, 2):  # bool list elements take a byte
            self.i += 1
        else:
            self.skip(t)

    def field(self, last):
        h = self.byte()
        if h == 0:
            return None, 0
        t = h & 0x0F
        delta = h >> 4
        if delta:
            fid = last + delta
        else:
            z = self.varint()
            fid = (z >> 1) ^ -(z & 1)
        return fid, t

    def skip_struct(self):
        last = 0
        while True:
            fid, t = self.field(last)
            if fid is None:
                return
            self.skip(t)
            last = fid


def count_emit_batch_spans(data):
    """Spans in one Agent.emitBatch datagram: message header, args struct, Batch.spans list."""
    r = CompactReader(data)
    if r.byte() != 0x82:
        raise ValueError("not a compact message")
    r.byte()  # version and message type
    r.varint()  # seqid
    n = r.varint()  # method name
    r.i += n
    fid, t = r.field(0)
    if fid != 1 or t != 12:
        raise ValueError("emitBatch arg 1 is not a struct")
    last = 0
    while True:
        fid, t = r.field(last)
        if fid is None:
            raise ValueError("Batch without spans")
        if fid == 2 and t == 9:
            h = r.byte()
            n = h >> 4
            return r.varint() if n == 15 else n
        r.skip(t)
        last = fid


class JaegerSink:
    def __init__(self, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:  # root may exceed rmem_max; a burst of 100-span datagrams must not be lost here
            self.sock.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)  # SO_RCVBUFFORCE
        except OSError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
        self.sock.bind(("127.0.0.1", port))
        self.datagrams = 0
        self.spans = 0
        self.bad = 0
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                data = self.sock.recv(70000)
            except socket.timeout:
                continue
            except OSError:
                return
            self.datagrams += 1
            try:
                self.spans += count_emit_batch_spans(data)
            except (ValueError, IndexError):
                self.bad += 1

    def close(self):
        self.stop = True
        self.sock.close()


def _pb_fields(buf):
    """(field number, wire type, value) of one protobuf message; length-delimited values as bytes."""
    i, n = 0, len(buf)
    def varint():
        nonlocal i
        v = shift = 0
        while True:
            b = buf[i]
            i += 1
            v |= (b & 0x7F) << shift
            if b < 0x80:
                return v
            shift += 7
    while i < n:
        key = varint()
        wt = key & 7
        if wt == 0:
            yield key >> 3, wt, varint()
        elif wt == 1:
            i += 8
        elif wt == 2:
            length = varint()
            yield key >> 3, wt, buf[i:i + length]
            i += length
        elif wt == 5:
            i += 4
        else:
            raise ValueError("wire type %d" % wt)


def count_otlp_spans(body):
    """Spans in an ExportTraceServiceRequest: resource_spans (1) > scope_spans (2) > spans (2)."""
    count = 0
    for f, _, rs in _pb_fields(body):
        if f != 1:
            continue
        for g, _, ss in _pb_fields(rs):
            if g != 2:
                continue
            count += sum(1 for h, _, _ in _pb_fields(ss) if h == 2)
    return count


class CountingCollector:
    """A collector on loopback that answers every POST with `status` and counts the spans in it:
    `count(body)` returns them, or raises ValueError or IndexError for a body it cannot decode
    (counted in `bad`)."""

    def __init__(self, port, count, status, headers=()):
        collector = self
        self.lock = threading.Lock()
        self.posts = 0
        self.spans = 0
        self.bad = 0

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                try:
                    spans, bad = count(body), 0
                except (ValueError, IndexError):
                    spans, bad = 0, 1
                with collector.lock:
                    collector.posts += 1
                    collector.spans += spans
                    collector.bad += bad
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def OTLPCollector(port):
    """Answers POST /v1/traces with an empty ExportTraceServiceResponse and counts the spans."""
    return CountingCollector(port, count_otlp_spans, 200, [("Content-Type", "application/x-protobuf")])


def ZipkinCollector(port):
    """Answers a Zipkin v2 POST with 202 and counts the spans in its JSON list."""
    return CountingCollector(port, lambda body: len(json.loads(body)), 202)


# --------------------------------------------------------------------------------------------
# Processes


def proc_tree(pid):
    """pid and its descendants (nginx master + worker)."""
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    s = f.read()
                ppid = int(s[s.rindex(")") + 2 :].split()[1])
                children.setdefault(ppid, []).append(int(d))
            except (OSError, ValueError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def stat_ticks(path):
    """utime + stime, in clock ticks, from a /proc stat file (a process's or a thread's)."""
    with open(path) as f:
        s = f.read()
    fields = s[s.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


def cpu_seconds(pids):
    return sum(stat_ticks("/proc/%d/stat" % p) for p in pids) / CLK_TCK


def thread_cpu_seconds(pid, name):
    """utime + stime of the threads of `pid` named `name` (traceproxy names each span lane's
    thread `lane <reporter>`); None when it has no such thread."""
    ticks = []
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return None
    for t in tids:
        try:
            with open("/proc/%d/task/%s/comm" % (pid, t)) as f:
                if f.read().strip() == name:
                    ticks.append(stat_ticks("/proc/%d/task/%s/stat" % (pid, t)))
        except OSError:
            continue
    return sum(ticks) / CLK_TCK if ticks else None


def rss_kib(pids):
    total = 0
    for p in pids:
        with open("/proc/%d/status" % p) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def wait_port(port, timeout=15.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def port_free(port, udp=False):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: TIME_WAIT is fine
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


class Setup:
    def __init__(self, key, name, port, tracing=None, note="", tls=False):
        self.key, self.name, self.port, self.tracing, self.note = key, name, port, tracing, note
        self.tls = tls
        self.proc = None
        self.pids = []
        self.failed = None


# --------------------------------------------------------------------------------------------
# Load

# What a cell measures. Plain HTTP cells run setups A-F against nginx B; HTTPS cells run G-I
# against nginx G. "close" sends `Connection: close`, so every request is a new TCP connection
# and a new TLS handshake; "full" preloads wrk_full_handshake.c into wrk so that the handshake
# cannot resume the previous connection's session.
MODES = {
    "http": {"tls": False, "close": False, "full": False, "ref": "B",
             "title": "plain HTTP, keep-alive", "short": "HTTP"},
    "https": {"tls": True, "close": False, "full": False, "ref": "G",
              "title": "HTTPS in, keep-alive", "short": "HTTPS k-a"},
    "https-full": {"tls": True, "close": True, "full": True, "ref": "G",
                   "title": "HTTPS in, new connection per request, full handshake", "short": "TLS full hs"},
    "https-resume": {"tls": True, "close": True, "full": False, "ref": "G",
                     "title": "HTTPS in, new connection per request, session resumed", "short": "TLS resumed hs"},
}
MODE_ORDER = ["http", "https", "https-full", "https-resume"]

# The plain-HTTP setup each HTTPS one is the TLS version of (for the "TLS costs" column).
PLAIN_TWIN = {"G": "B", "H": "D", "I": "E"}

# One certificate and one cipher configuration for both TLS terminators.
TLS12_CIPHERS = "ECDHE-ECDSA-AES256-GCM-SHA384"


def parse_duration_us(s):
    for unit, mul in (("us", 1), ("ms", 1e3), ("s", 1e6), ("m", 60e6)):
        if s.endswith(unit):
            return float(s[: -len(unit)]) * mul
    return float(s)


def run_wrk(port, path, conns, seconds, tls=False, close=False, preload=None):
    cmd = ["wrk", "-t1", "-c%d" % conns, "-d%ds" % seconds, "--latency", "--timeout", "5s"]
    if close:
        cmd += ["-H", "Connection: close"]
    cmd.append("%s://127.0.0.1:%d%s" % ("https" if tls else "http", port, path))
    env = None
    if preload:
        env = dict(os.environ, LD_PRELOAD=preload)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30, env=env)
    out = p.stdout
    res = {"requests": 0, "rps": 0.0, "p50_us": None, "p99_us": None, "errors": 0, "non2xx": 0}
    in_dist = False
    for line in out.splitlines():
        t = line.split()
        if not t:
            continue
        if "Latency Distribution" in line:
            in_dist = True
            continue
        if in_dist and t[0] in ("50%", "99%"):
            res["p50_us" if t[0] == "50%" else "p99_us"] = parse_duration_us(t[1])
        if "requests in" in line:
            res["requests"] = int(t[0])
            in_dist = False
        if t[0] == "Requests/sec:":
            res["rps"] = float(t[1])
        if line.strip().startswith("Socket errors:"):
            res["errors"] = sum(int(x.strip(",")) for x in t if x.strip(",").isdigit())
        if line.strip().startswith("Non-2xx or 3xx responses:"):
            res["non2xx"] = int(t[-1])
    if p.returncode != 0:
        res["stderr"] = p.stderr.strip()[-300:]
    return res


def hold_connections(port, n, path="/small", tls_ca=None):
    """Opens n keep-alive connections, one complete request on each, and keeps them open. With
    tls_ca: TLS connections (handshake verified against that CA, ALPN http/1.1), so the server
    also holds each connection's TLS state after the handshake and one request."""
    req = ("GET %s HTTP/1.1\r\nHost: bench\r\n\r\n" % path).encode()
    ctx = None
    if tls_ca:
        import ssl

        ctx = ssl.create_default_context(cafile=tls_ca)
        ctx.set_alpn_protocols(["http/1.1"])
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        if ctx:
            s = ctx.wrap_socket(s, server_hostname="localhost")
        s.sendall(req)
        socks.append(s)
    for s in socks:  # read each response: head, then Content-Length bytes
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                raise OSError("connection closed before a response")
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v.strip())
        while len(rest) < length:
            chunk = s.recv(65536)
            if not chunk:
                break
            rest += chunk
    return socks


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


# --------------------------------------------------------------------------------------------
# Main


class Bench:
    def __init__(self, args):
        self.a = args
        self.tmp = tempfile.mkdtemp(prefix="tpbench-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
        os.chmod(self.tmp, 0o755)  # nginx workers run as nobody and read the bodies from here
        self.procs = []
        self.sinks = []
        base = args.ports
        self.up_port = base
        self.udp_port = base + 10
        self.zipkin_port = base + 11
        self.otlp_port = base + 12
        self.setups = [
            Setup("A", "direct (upstream nginx)", base),
            Setup("B", "nginx proxy_pass, keepalive pool", base + 1),
            Setup("C", "HAProxy http mode", base + 2),
            Setup("D", "traceproxy, tracing off", base + 3),
            Setup("E", "traceproxy -> Jaeger UDP", base + 4, tracing="jaeger"),
            Setup("F", "traceproxy -> Zipkin HTTP", base + 5, tracing="zipkin"),
            Setup("G", "nginx proxy_pass, HTTPS in", base + 6, tls=True),
            Setup("H", "traceproxy HTTPS in, tracing off", base + 7, tls=True),
            Setup("I", "traceproxy HTTPS in -> Jaeger UDP", base + 8, tracing="jaeger", tls=True),
            Setup("J", "traceproxy -> OTLP/HTTP (protobuf)", base + 9, tracing="otlp"),
            # E with the trace view on (--trace-view, admin listener on base+14): its cost is K vs E.
            Setup("K", "traceproxy -> Jaeger UDP + trace view", base + 13, tracing="jaeger"),
        ]
        self.tls_dir = os.path.join(self.tmp, "tls")
        self.tls_info = {}  # key -> what openssl s_client negotiated
        self.shim = None  # wrk_full_handshake.so, when it could be built
        self.notes = []
        self.tls_mismatch = None

    # -- lifecycle --

    def spawn(self, name, cmd):
        logf = open(os.path.join(self.tmp, name + ".log"), "w")
        p = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True)
        self.procs.append(p)
        return p

    def cleanup(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except OSError:
                    pass
        deadline = time.time() + 5
        for p in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass
        for s in self.sinks:
            s.close()
        if not self.a.keep_tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def make_certificates(self):
        """A test CA and a server certificate it signs (ECDSA P-256, SAN localhost and 127.0.0.1),
        made here with the openssl CLI: both TLS terminators load the same leaf and key."""
        d = self.tls_dir
        os.makedirs(d)

        def ossl(*args):
            subprocess.run(["openssl"] + list(args), check=True, capture_output=True, cwd=d, timeout=60)

        ossl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "ca.key")
        ossl("req", "-x509", "-new", "-key", "ca.key", "-sha256", "-days", "2",
             "-subj", "/CN=traceproxy benchmark CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", "ca.pem")
        ossl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "server.key")
        ossl("req", "-new", "-key", "server.key", "-subj", "/CN=localhost", "-out", "server.csr")
        with open(os.path.join(d, "server.ext"), "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                    "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n")
        ossl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "2",
             "-days", "2", "-sha256", "-extfile", "server.ext", "-out", "server.pem")
        os.chmod(d, 0o755)
        return os.path.join(d, "ca.pem"), os.path.join(d, "server.pem"), os.path.join(d, "server.key")

    def build_shim(self):
        """wrk_full_handshake.so for the full-handshake cell; without a C compiler that cell is
        skipped (and said so in the report)."""
        src = os.path.join(self.a.bench_dir, "wrk_full_handshake.c")
        lib = os.path.join(self.tmp, "wrk_full_handshake.so")
        cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
        if not cc:
            self.notes.append("no C compiler: the full-handshake cell was skipped")
            return None
        p = subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", lib, src, "-ldl"], capture_output=True, text=True)
        if p.returncode != 0:
            self.notes.append("wrk_full_handshake.c did not build (%s): the full-handshake cell was skipped"
                              % p.stderr.strip()[-200:])
            return None
        return lib

    def start(self):
        a = self.a
        tcp = [self.up_port] + [s.port for s in self.setups[1:]] + [self.zipkin_port, self.otlp_port]
        busy = [p for p in tcp if not port_free(p)] + ([self.udp_port] if not port_free(self.udp_port, True) else [])
        if busy:
            sys.exit("ports in use: %s (choose another base with --ports)" % busy)

        www = os.path.join(self.tmp, "www")
        os.makedirs(www)
        with open(os.path.join(www, "small"), "wb") as f:
            f.write(SMALL_BODY)
        with open(os.path.join(www, "big"), "wb") as f:
            f.write((b"0123456789abcdef" * (BIG_BODY_SIZE // 16)))
        os.chmod(www, 0o755)

        common = """
worker_processes 1;
daemon off;
worker_rlimit_nofile 65536;
events { worker_connections 16384; multi_accept on; }
"""
        temps = "".join("  %s_temp_path %s/%s_temp;\n" % (k, self.tmp, k)
                        for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        up_conf = common + """pid %(tmp)s/upstream.pid;
http {
  access_log off;
%(temps)s  keepalive_requests 100000000;
  keepalive_timeout 600s;
  sendfile on;
  tcp_nopush on;
  open_file_cache max=16 inactive=600s;
  open_file_cache_valid 600s;
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:%(port)d backlog=4096;
    root %(www)s;
  }
}
""" % {"tmp": self.tmp, "temps": temps, "port": self.up_port, "www": www}
        px_conf = common + """pid %(tmp)s/nginxproxy.pid;
http {
  access_log off;
%(temps)s  keepalive_requests 100000000;
  keepalive_timeout 600s;
  upstream up {
    server 127.0.0.1:%(up)d;
    keepalive 512;
    keepalive_requests 100000000;
    keepalive_timeout 600s;
  }
  server {
    listen 127.0.0.1:%(port)d backlog=4096;
    location / {
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
""" % {"tmp": self.tmp, "temps": temps, "up": self.up_port, "port": self.setups[1].port}
        self.ca, cert, key = self.make_certificates()
        # G: the same proxy as B, terminating TLS. Cipher configuration as traceproxy's: TLS 1.2
        # pinned to one suite by both (ssl_ciphers / --tls-ciphers), TLS 1.3 suites and groups at
        # OpenSSL's defaults on both (traceproxy has no flag for them), server preference on (as
        # traceproxy sets it), OpenSSL's built-in session cache and stateless tickets on both
        # (traceproxy leaves OpenSSL's defaults: internal cache, 2 tickets per TLS 1.3 handshake).
        tls_conf = px_conf.replace("nginxproxy.pid", "nginxtls.pid").replace(
            "    listen 127.0.0.1:%d backlog=4096;\n" % self.setups[1].port,
            "    listen 127.0.0.1:%d ssl backlog=4096;\n"
            "    ssl_certificate %s;\n    ssl_certificate_key %s;\n"
            "    ssl_protocols TLSv1.2 TLSv1.3;\n    ssl_ciphers %s;\n    ssl_prefer_server_ciphers on;\n"
            "    ssl_session_cache builtin;\n    ssl_session_tickets on;\n" % (
                self.setups[6].port, cert, key, TLS12_CIPHERS))
        assert "ssl_certificate" in tls_conf
        ha_conf = """global
  nbthread 1
  maxconn 8000
defaults
  mode http
  timeout connect 5s
  timeout client 600s
  timeout server 600s
  timeout http-keep-alive 600s
  option http-keep-alive
  http-reuse always
frontend fe
  bind 127.0.0.1:%(port)d
  default_backend be
backend be
  server up 127.0.0.1:%(up)d
""" % {"port": self.setups[2].port, "up": self.up_port}

        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
        p = self.spawn("upstream", [nginx, "-p", self.tmp, "-e", self.tmp + "/upstream-error.log",
                                    "-c", self.write("upstream.conf", up_conf)])
        self.setups[0].proc = p
        p = self.spawn("nginxproxy", [nginx, "-p", self.tmp, "-e", self.tmp + "/proxy-error.log",
                                      "-c", self.write("nginxproxy.conf", px_conf)])
        self.setups[1].proc = p
        p = self.spawn("haproxy", [haproxy, "-db", "-f", self.write("haproxy.cfg", ha_conf)])
        self.setups[2].proc = p
        p = self.spawn("nginxtls", [nginx, "-p", self.tmp, "-e", self.tmp + "/tls-error.log",
                                    "-c", self.write("nginxtls.conf", tls_conf)])
        self.setups[6].proc = p
        if any(MODES[c[0]]["full"] for c in a.cells):
            self.shim = self.build_shim()

        self.jaeger = JaegerSink(self.udp_port)
        self.zipkin = ZipkinCollector(self.zipkin_port)
        self.otlp = OTLPCollector(self.otlp_port)
        self.sinks = [self.jaeger, self.zipkin, self.otlp]
        tp_common = [a.traceproxy, "--upstream", "http://127.0.0.1:%d" % self.up_port,
                     "--threads", "1", "--admin", "off", "--service-name", "bench",
                     "--max-queue-spans", "100000"]
        jaeger = "jaeger-udp://127.0.0.1:%d" % self.udp_port
        variants = {
            "D": ["--sampler", "const:0", "--reporter", jaeger],
            "E": ["--sampler", "const:1", "--reporter", jaeger],
            "F": ["--sampler", "const:1", "--reporter", "zipkin+http://127.0.0.1:%d" % self.zipkin_port],
            "J": ["--sampler", "const:1", "--reporter", "otlp+http://127.0.0.1:%d" % self.otlp_port],
            "H": ["--sampler", "const:0", "--reporter", jaeger],
            "I": ["--sampler", "const:1", "--reporter", jaeger],
            "K": ["--sampler", "const:1", "--reporter", jaeger, "--trace-view"],
        }
        for s in self.setups:
            if s.key not in variants:
                continue
            if s.tls:
                listen = ["--listen", "off", "--listen-tls", "127.0.0.1:%d" % s.port, "--tls-cert", cert,
                          "--tls-key", key, "--tls-ciphers", TLS12_CIPHERS, "--tls-min-version", "1.2"]
            else:
                listen = ["--listen", "127.0.0.1:%d" % s.port]
            common = tp_common
            if s.key == "K":  # the page lives on the admin listener
                common = [x if x != "off" else "127.0.0.1:%d" % (self.a.ports + 14) for x in tp_common]
            s.proc = self.spawn("traceproxy-" + s.key, common + listen + variants[s.key])
        for s in self.setups:
            if not wait_port(s.port):
                s.failed = "did not start listening (see %s logs)" % s.key
                log = os.path.join(self.tmp, [f for f in os.listdir(self.tmp) if f.endswith(".log")][0])
                print("setup %s did not start; logs in %s" % (s.key, self.tmp), file=sys.stderr)
                self.a.keep_tmp = True
        time.sleep(0.3)
        for s in self.setups:
            s.pids = proc_tree(s.proc.pid)

    # -- measurements --

    def s_client(self, port, extra, stdin=b""):
        cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-servername", "localhost",
               "-CAfile", self.ca] + extra
        try:
            p = subprocess.run(cmd, input=stdin, capture_output=True, timeout=15)
        except subprocess.TimeoutExpired:
            return ""
        return (p.stdout + p.stderr).decode("utf-8", "replace")

    def check_tls(self):
        """What each TLS setup negotiates with a default OpenSSL 3 client (the same library and
        defaults as wrk's), read from openssl s_client: one TLS 1.3 connection with one request
        (ALPN http/1.1) read to the end, so the session tickets sent after the handshake are
        counted; a second connection resuming the first's session; one TLS 1.2 connection."""
        req = b"GET /small HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        for s in self.setups:
            if not s.tls or s.failed:
                continue
            sess = os.path.join(self.tls_dir, "session-%s.pem" % s.key)
            out = self.s_client(s.port, ["-alpn", "http/1.1", "-sess_out", sess, "-ign_eof"], req)
            info = {"protocol": None, "cipher": None, "group": None, "signature": None, "alpn": None,
                    "verified": False, "status": None, "tickets": out.count("Post-Handshake New Session Ticket"),
                    "resumed": None, "tls12_cipher": None}
            for line in out.splitlines():
                t = line.strip()
                if t.startswith("New, TLS") and ", Cipher is " in t:
                    info["protocol"] = t.split(",")[1].strip()
                    info["cipher"] = t.split("Cipher is ")[1].strip()
                elif t.startswith("Server Temp Key:"):
                    info["group"] = t.split(":", 1)[1].strip()
                elif t.startswith("Peer signature type:"):
                    info["signature"] = t.split(":", 1)[1].strip()
                elif t.startswith("ALPN protocol:"):
                    info["alpn"] = t.split(":", 1)[1].strip()
                elif t == "Verify return code: 0 (ok)":
                    info["verified"] = True
                elif t.startswith("HTTP/1.1 ") and info["status"] is None:
                    info["status"] = t
            if os.path.exists(sess):
                again = self.s_client(s.port, ["-sess_in", sess], b"")
                info["resumed"] = any(l.startswith("Reused, TLS") for l in again.splitlines())
            old = self.s_client(s.port, ["-tls1_2"], b"")
            for line in old.splitlines():
                if line.startswith("New, TLSv1.2, Cipher is "):
                    info["tls12_cipher"] = line.split("Cipher is ")[1].strip()
            self.tls_info[s.key] = info
            print("  TLS %s: %s %s, %s, %s signature, ALPN %s, verified %s, %s, %d tickets, resumed %s, "
                  "TLS 1.2: %s" % (s.key, info["protocol"], info["cipher"], info["group"], info["signature"],
                                   info["alpn"], info["verified"], info["status"], info["tickets"],
                                   info["resumed"], info["tls12_cipher"]), file=sys.stderr)
            if not (info["protocol"] and info["verified"] and info["status"] and " 200 " in info["status"] + " "):
                s.failed = "no verified TLS 1.3 handshake with a 200 answer (openssl s_client)"
        seen = {k: (v["protocol"], v["cipher"], v["group"], v["signature"], v["tls12_cipher"])
                for k, v in self.tls_info.items()}
        if len(set(seen.values())) > 1:
            return "TLS setups negotiate different parameters: %s" % seen
        return None

    def measure_rss(self):
        """RSS idle (fresh process), then with --hold idle keep-alive connections held open
        (--hold-tls TLS connections for the HTTPS setups)."""
        mem = {}
        for s in self.setups:
            if s.failed:
                continue
            n = self.a.hold_tls if s.tls else self.a.hold
            s.pids = proc_tree(s.proc.pid)
            idle = rss_kib(s.pids)
            socks = []
            t0 = time.time()
            try:
                socks = hold_connections(s.port, n, tls_ca=self.ca if s.tls else None)
                time.sleep(0.3)
                held = rss_kib(s.pids)
            except OSError as e:
                held = None
                print("  %s: holding %d connections failed: %s" % (s.key, n, e), file=sys.stderr)
            finally:
                for sk in socks:
                    sk.close()
            mem[s.key] = {"idle_kib": idle, "held_kib": held, "conns": n, "tls": s.tls}
            print("  RSS %s: idle %.1f MiB, %d %sconns %s (%.1f s)" % (
                s.key, idle / 1024, n, "TLS " if s.tls else "", "%.1f MiB" % (held / 1024) if held else "-",
                time.time() - t0), file=sys.stderr)
        time.sleep(0.5)  # let the proxies notice the closes before load starts
        return mem

    def sink_count(self, s):
        if s.tracing == "jaeger":
            return self.jaeger.spans
        if s.tracing == "zipkin":
            return self.zipkin.spans
        if s.tracing == "otlp":
            return self.otlp.spans
        if s.key in ("D", "H"):  # tracing off, a Jaeger reporter configured: nothing may arrive
            return self.jaeger.spans
        return None

    def wait_flush(self, s, before, requests, conns):
        """Waits until the sink has what the cell produced: counts stop growing for 1.5 flush
        intervals after reaching the request count, bounded by --flush-wait seconds."""
        deadline = time.time() + self.a.flush_wait
        last, stable_since = self.sink_count(s), time.time()
        while time.time() < deadline:
            time.sleep(0.1)
            now = self.sink_count(s)
            if now != last:
                last, stable_since = now, time.time()
            elif now - before >= requests and time.time() - stable_since > 1.5:
                break
        return self.sink_count(s) - before

    def cell(self, s, mode, path, conns, seconds):
        if s.failed:
            return None
        m = MODES[mode]
        before_spans = self.sink_count(s)
        cpu0 = cpu_seconds(s.pids)
        lane0 = thread_cpu_seconds(s.proc.pid, VIEW_LANE) if s.key == "K" else None
        r = run_wrk(s.port, path, conns, seconds, tls=m["tls"], close=m["close"],
                    preload=self.shim if m["full"] else None)
        if s.tracing or s.key in ("D", "H"):
            r["spans"] = self.wait_flush(s, before_spans, r["requests"] if s.tracing else 0, conns)
        else:
            time.sleep(0.2)
        r["cpu_s"] = cpu_seconds(s.pids) - cpu0
        lane1 = thread_cpu_seconds(s.proc.pid, VIEW_LANE) if lane0 is not None else None
        if lane1 is not None:
            r["view_lane_s"] = lane1 - lane0
        if s.proc.poll() is not None:
            s.failed = "exited with status %s during load" % s.proc.returncode
        elif r["requests"] == 0:
            s.failed = "served no requests (%s)" % r.get("stderr", "")
        elif r["non2xx"] > r["requests"] * 0.01:
            s.failed = "%d of %d responses were not 2xx" % (r["non2xx"], r["requests"])
        return r

    def run(self):
        a = self.a
        t0 = time.time()
        self.start()
        print("temp dir %s; traceproxy --threads 1 (one event loop, like 1 nginx worker / HAProxy "
              "nbthread 1)" % self.tmp, file=sys.stderr)
        self.tls_mismatch = self.check_tls()
        mem = self.measure_rss()
        cells = [c for c in a.cells if not (MODES[c[0]]["full"] and not self.shim)]
        paths = {"small": "/small", "16k": "/big"}
        chosen = [s for s in self.setups if not a.setups or s.key in a.setups.split(",")]
        # warm-up: every setup serves every body it will serve once under load (not recorded)
        for s in chosen:
            mode = "https" if s.tls else "http"
            for b in sorted({c[2] for c in cells if MODES[c[0]]["tls"] == s.tls}):
                self.cell(s, mode, paths[b], 64, 1)
        results = {}  # (mode, conns, body, key) -> [round results]
        for rnd in range(a.rounds):
            for mode, conns, body in cells:
                # Every other round in reverse order, so that no setup always runs right after
                # the same neighbour (whose collector may still be busy) or always first.
                for s in (chosen if rnd % 2 == 0 else list(reversed(chosen))):
                    if s.tls != MODES[mode]["tls"]:
                        continue
                    r = self.cell(s, mode, paths[body], conns, a.duration)
                    if r is None:
                        continue
                    r["round"] = rnd + 1
                    results.setdefault((mode, conns, body, s.key), []).append(r)
                    print("  round %d  %-12s %3d conns %-5s %s  %9.0f req/s  p99 %7.2f ms  cpu %.2fs%s%s" % (
                        rnd + 1, mode, conns, body, s.key, r["rps"], (r["p99_us"] or 0) / 1000, r["cpu_s"],
                        "  spans %d/%d" % (r["spans"], r["requests"]) if "spans" in r else "",
                        "  socket errors %d" % r["errors"] if r["errors"] else ""),
                        file=sys.stderr)
        for key in (a.perf.split(",") if a.perf else []):
            self.profile(key.strip(), cells, paths)
        elapsed = time.time() - t0
        return mem, results, elapsed

    def profile(self, key, cells, paths):
        """perf record -e cpu-clock -g of one setup's processes during one extra cell (not in the
        results: perf's own cost would be in its CPU column); flat reports by symbol and by DSO."""
        s = next((x for x in self.setups if x.key == key), None)
        cell = next((c for c in cells if s and MODES[c[0]]["tls"] == s.tls), None)
        if s is None or s.failed or cell is None or not shutil.which("perf"):
            self.notes.append("--perf %s: no profile (unknown or failed setup, no cell for it, or no perf)" % key)
            return
        mode, conns, body = cell
        data = os.path.join(self.tmp, "perf-%s.data" % key)
        seconds = self.a.duration
        perf = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-g", "-o", data,
                                 "-p", ",".join(str(p) for p in s.pids), "--", "sleep", str(seconds + 1)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(0.5)
        r = self.cell(s, mode, paths[body], conns, seconds)
        perf.wait(timeout=seconds + 60)
        demangler = shutil.which("swift-demangle")

        def report(*extra):
            p = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "-g", "none"] + list(extra),
                               capture_output=True, text=True, timeout=300)
            text = p.stdout
            if demangler:
                text = subprocess.run([demangler, "--simplified"], input=text, capture_output=True,
                                      text=True, timeout=60).stdout or text
            lines = [re.sub(r"(\s+-)*\s*$", "", l) for l in text.splitlines() if l and not l.startswith("#")]
            return "\n".join(l for l in lines if l)

        # A second unrecorded cell under `perf trace -s`: system calls and context switches per
        # request (perf trace slows the process, so not in the same cell as the profile).
        trace = subprocess.Popen(["perf", "trace", "-s", "-p", ",".join(str(p) for p in s.pids), "--",
                                  "sleep", str(seconds + 1)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        stat = subprocess.Popen(["perf", "stat", "-x", ",", "-e", "context-switches", "-p",
                                 ",".join(str(p) for p in s.pids), "--", "sleep", str(seconds + 1)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(0.5)
        r2 = self.cell(s, mode, paths[body], conns, seconds)
        trace_out = trace.communicate(timeout=seconds + 60)[0]
        stat_out = stat.communicate(timeout=seconds + 60)[0]
        calls = {}
        for line in trace_out.splitlines():
            m = re.match(r"^\s+([a-z_0-9]+)\s+(\d+)\s+(\d+)\s+[\d.]+\s", line)
            if m:
                calls[m.group(1)] = calls.get(m.group(1), 0) + int(m.group(2))
        switches = None
        for line in stat_out.splitlines():
            f = line.split(",")
            if len(f) > 2 and f[2] == "context-switches" and f[0].strip().isdigit():
                switches = int(f[0])
        n = (r2 or {}).get("requests") or 0

        path = os.path.join(self.a.out_dir, "perf-%s-%s.txt" % (key, mode))
        with open(path, "w") as f:
            f.write("perf record -e cpu-clock -g -p <%s's processes> during one %s cell, %d connections, %s body, "
                    "%d s (%s req/s under perf), %s UTC\n\n" % (
                        s.name, mode, conns, body, seconds, fmt(r and r["rps"], ".0f"),
                        time.strftime("%Y-%m-%d %H:%M", time.gmtime())))
            f.write("== self time by shared object\n%s\n\n" % report("--sort", "dso"))
            f.write("== self time by symbol (>= 0.5 %%)\n%s\n\n" % report("--sort", "dso,symbol", "--percent-limit", "0.5"))
            f.write("== system calls per request (perf trace -s, a second cell, %d requests, %s req/s under "
                    "perf trace); context switches per request: %s\n" % (
                        n, fmt(r2 and r2["rps"], ".0f"), fmt(switches / n if switches is not None and n else None, ".2f")))
            for name, count in sorted(calls.items(), key=lambda kv: -kv[1]):
                if n and count / n >= 0.01:
                    f.write("    %-20s %8.2f\n" % (name, count / n))
        print("  profile of %s in %s: %s" % (key, mode, path), file=sys.stderr)


# --------------------------------------------------------------------------------------------
# Report


def summarize(bench, mem, results):
    rows = []
    for (mode, conns, body, key), rs in results.items():
        s = next(x for x in bench.setups if x.key == key)
        req = sum(r["requests"] for r in rs)
        cpu = sum(r["cpu_s"] for r in rs)
        rps = [r["rps"] for r in rs]
        row = {
            "mode": mode, "conns": conns, "body": body, "key": key, "name": s.name,
            "rps": median(rps), "rps_min": min(rps), "rps_max": max(rps),
            "p50_us": median([r["p50_us"] for r in rs]), "p99_us": median([r["p99_us"] for r in rs]),
            "cpu_per_10k": median([r["cpu_s"] / r["requests"] * 10000 for r in rs if r["requests"]]),
            "cpu_total_s": cpu, "requests": req, "rounds": len(rs),
            "errors": sum(r["errors"] for r in rs), "non2xx": sum(r["non2xx"] for r in rs),
            "spans": sum(r["spans"] for r in rs) if "spans" in rs[0] else None,
            "per_round": [{k: r.get(k) for k in ("round", "rps", "requests", "cpu_s", "p99_us", "errors",
                                                "view_lane_s")}
                          for r in rs],
        }
        rows.append(row)
    by = {(r["mode"], r["conns"], r["body"], r["key"]): r for r in rows}
    for r in rows:
        n = by.get((r["mode"], r["conns"], r["body"], MODES[r["mode"]]["ref"]))
        d = by.get((r["mode"], r["conns"], r["body"], "A"))
        r["rps_vs_nginx"] = r["rps"] / n["rps"] if n and n["rps"] else None
        r["rps_vs_direct"] = r["rps"] / d["rps"] if d and d["rps"] else None
        r["p99_vs_nginx"] = r["p99_us"] / n["p99_us"] if n and n["p99_us"] and r["p99_us"] else None
        r["cpu_vs_nginx"] = r["cpu_per_10k"] / n["cpu_per_10k"] if n and n["cpu_per_10k"] and r["cpu_per_10k"] else None
        # Paired by round against nginx, then the median and range over rounds.
        pairs = paired_rounds(r, n) if n else []
        pairs_cpu = [cpu_per_request(x) / cpu_per_request(y) for x, y in pairs]
        pairs_rps = [x["rps"] / y["rps"] for x, y in pairs]
        r["cpu_vs_nginx_paired"] = median(pairs_cpu)
        r["cpu_vs_nginx_paired_range"] = [min(pairs_cpu), max(pairs_cpu)] if pairs_cpu else None
        r["rps_vs_nginx_paired"] = median(pairs_rps)
        r["rps_vs_nginx_paired_range"] = [min(pairs_rps), max(pairs_rps)] if pairs_rps else None
    return rows


def paired_rounds(row, ref):
    """(row's round, ref's round) for each round both measured, with requests, CPU and a rate:
    the setups of a round ran back to back, so their ratio is less sensitive to the machine's
    load drifting between rounds than the ratio of the medians."""
    theirs = {x["round"]: x for x in ref["per_round"]}
    pairs = []
    for x in row["per_round"]:
        y = theirs.get(x["round"])
        if y and all(z["requests"] and z["cpu_s"] and z["rps"] for z in (x, y)):
            pairs.append((x, y))
    return pairs


def cpu_per_request(x):
    return x["cpu_s"] / x["requests"]


BOOTSTRAP_RESAMPLES = 2000
VIEW_LANE = "lane trace-view"


def trace_view_cost(rows):
    """K against E, paired by round, per cell: the median per-round CPU-per-request ratio with a
    percentile bootstrap interval (seeded, so a report can be recomputed from latest.json)."""
    by = {(r["mode"], r["conns"], r["body"], r["key"]): r for r in rows}
    out = []
    for (mode, conns, body, key), k in sorted(by.items(), key=lambda kv: cell_sort_key(kv[0][:3])):
        e = by.get((mode, conns, body, "E"))
        if key != "K" or not e:
            continue
        pairs = paired_rounds(k, e)
        cpu = [cpu_per_request(x) / cpu_per_request(y) for x, y in pairs]
        rps = [x["rps"] / y["rps"] for x, y in pairs]
        timed = [(x, y) for x, y in pairs if x.get("view_lane_s") is not None]
        lane = [x["view_lane_s"] / x["requests"] * 1e6 for x, _ in timed]
        lane_share = [x["view_lane_s"] / x["requests"] / cpu_per_request(y) for x, y in timed]
        if not cpu:
            continue
        rng = random.Random(12)
        meds = sorted(median([rng.choice(cpu) for _ in cpu]) for _ in range(BOOTSTRAP_RESAMPLES))
        ci = (meds[int(0.025 * len(meds))], meds[int(0.975 * len(meds)) - 1])
        out.append({"mode": mode, "conns": conns, "body": body, "rounds": len(cpu), "cpu_median": median(cpu),
                    "cpu_ci": ci, "cpu_range": (min(cpu), max(cpu)), "rps_median": median(rps),
                    "lane_us_median": median(lane), "lane_share_median": median(lane_share)})
    return out


def fmt(x, spec, none="-"):
    return none if x is None else format(x, spec)


def machine_description():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    osname = "?"
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    osname = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    def ver(cmd):
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            return (p.stdout + p.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"
    return {
        "cpu": "%s, %d cores visible" % (model, os.cpu_count()),
        "kernel": os.uname().release, "os": osname,
        "nginx": ver(["nginx", "-v"]), "haproxy": ver(["haproxy", "-v"]), "wrk": ver(["wrk", "-v"]),
        "openssl": ver(["openssl", "version"]),
        "load": "loadavg at end %s" % " ".join(open("/proc/loadavg").read().split()[:3]),
    }


def cell_sort_key(c):
    mode, conns, body = c
    return (MODE_ORDER.index(mode), conns, body != "small")


def markdown(bench, mem, rows, elapsed, args, failures):
    m = machine_description()
    out = []
    out.append("# traceproxy load benchmark\n")
    out.append("%s mode, %s. %d interleaved round(s) (every setup per cell, cells in turn), %d s per cell, "
               "medians across rounds; wrk -t1. Run took %.0f s.\n" % (
                   "smoke" if args.smoke else "quick" if args.quick else "full",
                   time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), args.rounds, args.duration, elapsed))
    if args.only_cells:
        out.append("Only the cells asked for with --cells: `%s`.\n" % args.only_cells)
    out.append("Machine: %s; %s; kernel %s. %s; %s; %s; %s. %s.\n" % (
        m["cpu"], m["os"], m["kernel"], m["nginx"], m["haproxy"].split(" - ")[0], m["wrk"], m["openssl"],
        m["load"]))
    out.append("Every proxy gets one core's worth of workers: nginx `worker_processes 1`, HAProxy "
               "`nbthread 1`, traceproxy `--threads 1` (one event loop; its span reporter runs on "
               "its own thread and its CPU is included). wrk, the upstream and the proxy share the "
               "same 2 cores, so requests/s is bounded by the machine, not only by the proxy: "
               "**trust CPU per request more than req/s.**\n")
    out.append("CPU s/10k = the proxy process's utime+stime (/proc/PID/stat, all threads; for direct: "
               "the upstream nginx) during the cell, per 10,000 completed requests. For the tracing "
               "rows it is read after the spans were flushed, so encoding and sending are included.\n")
    if failures:
        out.append("**FAILED:** " + "; ".join(failures) + "\n")
    for note in bench.notes:
        out.append("**Note:** %s\n" % note)
    by = {(r["mode"], r["conns"], r["body"], r["key"]): r for r in rows}
    cells = sorted({(r["mode"], r["conns"], r["body"]) for r in rows}, key=cell_sort_key)

    def paired(r, what):
        m, rng = r.get(what + "_vs_nginx_paired"), r.get(what + "_vs_nginx_paired_range")
        if m is None:
            return "-"
        return "%.2f (%.2f-%.2f)" % (m, rng[0], rng[1]) if rng[0] != rng[1] else "%.2f" % m

    def spans_cell(r):
        return "-" if r["spans"] is None else "%d / %d" % (r["spans"], r["requests"])

    def body_name(body):
        return "13-byte" if body == "small" else "16 KiB"

    for mode, conns, body in [c for c in cells if c[0] == "http"]:
        out.append("\n## %d connections, %s body\n" % (conns, body_name(body)))
        out.append("| | setup | req/s (min-max) | p50 ms | p99 ms | CPU s/10k req | req/s vs nginx | req/s vs direct | p99 vs nginx | CPU vs nginx | spans received / requests |")
        out.append("|---|---|---|---|---|---|---|---|---|---|---|")
        for r in sorted([r for r in rows if (r["mode"], r["conns"], r["body"]) == (mode, conns, body)],
                        key=lambda r: r["key"]):
            out.append("| %s | %s | %s (%s-%s) | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                r["key"], r["name"], fmt(r["rps"], ",.0f"), fmt(r["rps_min"], ".0f"), fmt(r["rps_max"], ".0f"),
                fmt(r["p50_us"] and r["p50_us"] / 1000, ".2f"), fmt(r["p99_us"] and r["p99_us"] / 1000, ".2f"),
                fmt(r["cpu_per_10k"], ".3f"), fmt(r["rps_vs_nginx"], ".2f"), fmt(r["rps_vs_direct"], ".2f"),
                fmt(r["p99_vs_nginx"], ".2f"), fmt(r["cpu_vs_nginx"], ".2f"), spans_cell(r)))
    out.append("\nspans received / requests: summed over rounds; requests = responses wrk completed. "
               "A request in flight when wrk stops is still proxied and traced, so up to one span per "
               "connection per round more than requests is expected; fewer means spans were lost. "
               "Jaeger sink: %d datagrams, %d spans, %d undecodable; Zipkin collector: %d POSTs, %d spans, "
               "%d undecodable; OTLP collector: %d POSTs, %d spans, %d undecodable (whole run, warm-up "
               "included).\n" % (
                   bench.jaeger.datagrams, bench.jaeger.spans, bench.jaeger.bad,
                   bench.zipkin.posts, bench.zipkin.spans, bench.zipkin.bad,
                   bench.otlp.posts, bench.otlp.spans, bench.otlp.bad))

    # ---- HTTPS in
    tls_setups = [s for s in bench.setups if s.tls]
    out.append("\n# HTTPS in: nginx and traceproxy terminating TLS\n")
    out.append("G, H and I load the same certificate: a server certificate for `localhost` and "
               "`127.0.0.1` (ECDSA P-256, SHA-256, signed by a test CA; both made with the openssl CLI "
               "in the run's temp dir; the leaf alone is sent). Cipher configuration, the same on both: "
               "TLS 1.2 and 1.3 accepted; TLS 1.2 pinned to `%s` (nginx `ssl_ciphers`, traceproxy "
               "`--tls-ciphers`); TLS 1.3 suites and key-exchange groups left at OpenSSL's defaults on "
               "both (traceproxy has no flag for them); server preference on (traceproxy sets it, nginx "
               "`ssl_prefer_server_ciphers on`). Session resumption, the same on both: OpenSSL's "
               "built-in session cache and stateless session tickets with automatic keys (traceproxy "
               "leaves OpenSSL's defaults; nginx `ssl_session_cache builtin; ssl_session_tickets on`). "
               "Both proxy to the same upstream over plain HTTP with a keep-alive pool. wrk (Debian's, "
               "linked to the system OpenSSL) speaks TLS 1.3 with OpenSSL's default client offer, as "
               "openssl s_client does.\n" % TLS12_CIPHERS)
    out.append("What each setup negotiated with `openssl s_client` (TLS 1.3: one request read to the end, "
               "so the tickets sent after the handshake are counted; then a second connection with "
               "`-sess_in` the first one's session; then `-tls1_2`):\n")
    out.append("| | setup | protocol | cipher suite | key exchange | signature | ALPN | verified | tickets per handshake | session resumed | TLS 1.2 cipher |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for s in tls_setups:
        i = bench.tls_info.get(s.key)
        if not i:
            out.append("| %s | %s | - | - | - | - | - | - | - | - | - |" % (s.key, s.name))
            continue
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %d | %s | %s |" % (
            s.key, s.name, i["protocol"] or "-", i["cipher"] or "-", i["group"] or "-", i["signature"] or "-",
            i["alpn"] or "-", "yes" if i["verified"] else "no", i["tickets"],
            {True: "yes", False: "no", None: "-"}[i["resumed"]], i["tls12_cipher"] or "-"))
    out.append("")
    out.append("Same protocol, cipher suite, key exchange and signature on every setup: **%s**.\n" % (
        "no (%s)" % bench.tls_mismatch if bench.tls_mismatch else "yes"))

    targets = []
    for mode, conns, body in [c for c in cells if MODES[c[0]]["tls"]]:
        sel = sorted([r for r in rows if (r["mode"], r["conns"], r["body"]) == (mode, conns, body)],
                     key=lambda r: r["key"])
        if mode == "https":
            out.append("\n## HTTPS in, keep-alive: %d connections, %s body\n" % (conns, body_name(body)))
            out.append("| | setup | req/s (min-max) | p50 ms | p99 ms | CPU s/10k req | req/s vs nginx | p99 vs nginx | CPU vs nginx | CPU vs nginx, per round: median (min-max) | CPU vs its plain-HTTP row | spans received / requests |")
            out.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
            for r in sel:
                plain = by.get(("http", conns, body, PLAIN_TWIN.get(r["key"])))
                vs_plain = r["cpu_per_10k"] / plain["cpu_per_10k"] if plain and plain["cpu_per_10k"] else None
                out.append("| %s | %s | %s (%s-%s) | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                    r["key"], r["name"], fmt(r["rps"], ",.0f"), fmt(r["rps_min"], ".0f"), fmt(r["rps_max"], ".0f"),
                    fmt(r["p50_us"] and r["p50_us"] / 1000, ".2f"), fmt(r["p99_us"] and r["p99_us"] / 1000, ".2f"),
                    fmt(r["cpu_per_10k"], ".3f"), fmt(r["rps_vs_nginx"], ".2f"), fmt(r["p99_vs_nginx"], ".2f"),
                    fmt(r["cpu_vs_nginx"], ".2f"), paired(r, "cpu"),
                    "%s (%s)" % (fmt(vs_plain, ".2f"), plain["key"]) if vs_plain else "-", spans_cell(r)))
            ri = by.get((mode, conns, body, "I"))
            if ri and ri["cpu_vs_nginx"] is not None:
                targets.append(("traceproxy -> Jaeger, HTTPS keep-alive %d conns %s: CPU per request <= 1.05x nginx"
                                % (conns, body_name(body)),
                                "%.2fx (per round: %s)" % (ri["cpu_vs_nginx"], paired(ri, "cpu")),
                                ri["cpu_vs_nginx"] <= 1.05))
        else:
            out.append("\n## %s: %d connections, %s body\n" % (MODES[mode]["title"], conns, body_name(body)))
            out.append("| | setup | handshakes/s = req/s (min-max) | p99 ms | CPU us per handshake | handshakes/s vs nginx | per round: median (min-max) | CPU vs nginx | per round: median (min-max) | socket errors | spans received / requests |")
            out.append("|---|---|---|---|---|---|---|---|---|---|---|")
            for r in sel:
                out.append("| %s | %s | %s (%s-%s) | %s | %s | %s | %s | %s | %s | %d | %s |" % (
                    r["key"], r["name"], fmt(r["rps"], ",.0f"), fmt(r["rps_min"], ".0f"), fmt(r["rps_max"], ".0f"),
                    fmt(r["p99_us"] and r["p99_us"] / 1000, ".2f"),
                    fmt(r["cpu_per_10k"] and r["cpu_per_10k"] * 100, ".0f"), fmt(r["rps_vs_nginx"], ".2f"),
                    paired(r, "rps"), fmt(r["cpu_vs_nginx"], ".2f"), paired(r, "cpu"), r["errors"], spans_cell(r)))
            for k in ("H", "I"):
                rk = by.get((mode, conns, body, k))
                if rk and rk["rps_vs_nginx"] is not None:
                    targets.append(("%s, %s: handshakes/s >= 0.9x nginx" % (rk["name"], MODES[mode]["title"][10:]),
                                    "%.2fx (per round: %s); CPU per handshake %sx (per round: %s)" % (
                                        rk["rps_vs_nginx"], paired(rk, "rps"), fmt(rk["cpu_vs_nginx"], ".2f"),
                                        paired(rk, "cpu")),
                                    rk["rps_vs_nginx"] >= 0.9))
    if any(MODES[c[0]]["close"] for c in cells):
        out.append("\nNew connection per request: wrk with `-H 'Connection: close'`; the proxy answers and "
                   "closes, wrk reconnects and handshakes again, so handshakes/s = requests/s and the CPU "
                   "column is per handshake plus its one proxied request. wrk reuses its SSL object and, "
                   "as it is, resumes the previous connection's session from its TLS 1.3 ticket "
                   "(PSK + ECDHE: no certificate, no signature): the *resumed* cell. The *full handshake* "
                   "cell preloads `wrk_full_handshake.c` into wrk, which gives each new connection an "
                   "empty session first, so every handshake is a full one (ECDHE + the server's "
                   "certificate and ECDSA signature). wrk's latency starts when the request is written, "
                   "after the handshake, so p99 there leaves the handshake out.\n")

    view_cost = trace_view_cost(rows)
    if view_cost:
        out.append("\n## The trace view's cost (K against E)\n")
        out.append("K is E with `--trace-view` on. Per round, K's CPU per request over E's in the same "
                   "round; the median over rounds, its 95%% bootstrap interval (%d resamples) and the "
                   "range. Issue 12's target: within noise, at most 1.03x.\n" % BOOTSTRAP_RESAMPLES)
        out.append("The view's lane thread (`lane trace-view`) is timed on its own as well, from "
                   "/proc/PID/task/TID/stat: the view's own work, per request and as a share of E's "
                   "CPU per request in the same round, free of the noise of the other threads.\n")
        out.append("| cell | rounds | CPU per request K/E: median | 95% interval | range | req/s K/E: median "
                   "| view lane µs per request | lane / E's CPU |")
        out.append("|---|---|---|---|---|---|---|---|")
        for c in view_cost:
            out.append("| %s %d conns %s | %d | %.3f | %.3f-%.3f | %.2f-%.2f | %.3f | %s | %s |" % (
                c["mode"], c["conns"], c["body"], c["rounds"], c["cpu_median"], c["cpu_ci"][0], c["cpu_ci"][1],
                c["cpu_range"][0], c["cpu_range"][1], c["rps_median"], fmt(c["lane_us_median"], ".2f"),
                fmt(c["lane_share_median"] and 100 * c["lane_share_median"], ".1f") + " %"))
        out.append("")

    out.append("\n## Memory (RSS)\n")
    out.append("Fresh process, before any load; then with N idle keep-alive connections open "
               "(one request served on each; for the HTTPS setups, TLS connections from Python's ssl "
               "module, handshake done and one request served). Proxies: all their processes "
               "(nginx master + worker).\n")
    out.append("| | setup | RSS idle MiB | idle connections | RSS with them MiB | KiB per connection |")
    out.append("|---|---|---|---|---|---|")
    for s in bench.setups:
        mm = mem.get(s.key)
        if not mm:
            out.append("| %s | %s | - | - | - | - |" % (s.key, s.name))
            continue
        n = mm.get("conns", args.hold)
        per = (mm["held_kib"] - mm["idle_kib"]) / n if mm["held_kib"] else None
        out.append("| %s | %s | %.1f | %d%s | %s | %s |" % (
            s.key, s.name, mm["idle_kib"] / 1024, n, " TLS" if mm.get("tls") else "",
            fmt(mm["held_kib"] and mm["held_kib"] / 1024, ".1f"), fmt(per, ".1f")))
        if s.tls and s.key != "G" and per is not None:
            targets.append(("%s: <= 40 KiB per idle TLS connection" % s.name, "%.1f KiB" % per, per <= 40))
    out.append("")
    if targets:
        out.append("\n## HTTPS targets (from the issue)\n")
        out.append("| target | result | met |")
        out.append("|---|---|---|")
        for what, result, ok in targets:
            out.append("| %s | %s | %s |" % (what, result, "yes" if ok else "**no**"))
        out.append("\nJudged on the ratio of the medians (the tables' \"vs nginx\" columns); \"per round\" is "
                   "the median and range over rounds of the same ratio taken within each round, where "
                   "the setups ran back to back. One run on a shared 2-core machine: see the load "
                   "average above, and the per-round ranges, before trusting a single ratio.\n")
    return "\n".join(out)


def chart(rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not available: no chart", file=sys.stderr)
        return False
    for r in rows:  # a latest.json from before the HTTPS rows
        r.setdefault("mode", "http")
    families = [f for f in (False, True) if any(MODES[r["mode"]]["tls"] == f for r in rows)]
    colors = {"A": "#9e9e9e", "B": "#2e7d32", "C": "#1565c0", "D": "#ffb300", "E": "#e65100", "F": "#8e24aa",
              "G": "#2e7d32", "H": "#ffb300", "I": "#e65100", "J": "#00897b",
              "K": "#6d4c41"}
    metrics = [("rps", "requests/s (median)", 1), ("p99_us", "p99 latency, ms", 1e-3),
               ("cpu_per_10k", "proxy CPU s per 10k requests", 1)]
    # HTTPS: handshake cells cost ~20x a keep-alive request, so req/s on a log scale and CPU as
    # the ratio to nginx (G = 1) keep every cell readable.
    tls_metrics = [("rps", "req/s (= handshakes/s in hs cells), log", 1),
                   ("p99_us", "p99 latency, ms", 1e-3), ("cpu_vs_nginx", "proxy CPU per request vs nginx (G = 1)", 1)]
    fig, axes = plt.subplots(len(families), 3, figsize=(17, 6.2 * len(families)), squeeze=False)
    for row_axes, tls in zip(axes, families):
        sel = [r for r in rows if MODES[r["mode"]]["tls"] == tls]
        cells = sorted({(r["mode"], r["conns"], r["body"]) for r in sel}, key=cell_sort_key)
        keys = sorted({r["key"] for r in sel})
        names = {r["key"]: r["name"] for r in sel}
        by = {(r["mode"], r["conns"], r["body"], r["key"]): r for r in sel}
        width = 0.8 / max(1, len(keys))
        for ax, (field, title, scale) in zip(row_axes, tls_metrics if tls else metrics):
            for i, k in enumerate(keys):
                xs, ys = [], []
                for j, c in enumerate(cells):
                    r = by.get(c + (k,))
                    if r and r[field] is not None:
                        xs.append(j + (i - (len(keys) - 1) / 2) * width)
                        ys.append(r[field] * scale)
                ax.bar(xs, ys, width, label="%s %s" % (k, names[k]), color=colors.get(k),
                       hatch="//" if tls and k == "G" else None)
            ax.set_xticks(range(len(cells)))
            ax.set_xticklabels(["%s\n%d conns, %s" % (MODES[c[0]]["short"], c[1], "13 B" if c[2] == "small" else "16 KiB")
                                for c in cells], fontsize=8)
            ax.set_title(("HTTPS in: " if tls else "plain HTTP: ") + title)
            ax.grid(axis="y", alpha=0.3)
            ax.set_xlim(-0.6, len(cells) - 0.4)
            if tls and field == "rps":
                ax.set_yscale("log")
            if tls and field == "cpu_vs_nginx":
                ax.axhline(1.05, color="#c62828", linestyle="--", linewidth=1, label="_target 1.05")
                ax.text(len(cells) - 0.45, 1.06, "target 1.05x", color="#c62828", ha="right", va="bottom", fontsize=8)
        row_axes[1].legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, frameon=False)
    fig.suptitle("traceproxy vs nginx vs HAProxy, 1 worker each, wrk -t1, loopback "
                 "(higher req/s, lower p99 and CPU are better)")
    fig.subplots_adjust(left=0.05, right=0.98, top=0.93, bottom=0.1 if len(families) > 1 else 0.2,
                        hspace=0.5, wspace=0.2)
    fig.savefig(path, dpi=90)
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--traceproxy")
    ap.add_argument("--replot", metavar="JSON", help="only redraw the chart from a latest.json")
    ap.add_argument("--bench-dir", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--smoke", action="store_true", help="--quick; exit non-zero if a setup failed")
    ap.add_argument("--out")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--duration", type=int)
    ap.add_argument("--ports", type=int, default=27080, help="base port (uses base..base+14)")
    ap.add_argument("--hold", type=int, default=1000, help="idle connections for the RSS column")
    ap.add_argument("--hold-tls", type=int, help="idle TLS connections for the HTTPS setups' RSS column "
                    "(default 2000; 200 with --smoke)")
    ap.add_argument("--cells", dest="only_cells", help="only these cells, MODE:CONNS:BODY,... (modes %s; bodies small, 16k)"
                    % ", ".join(MODE_ORDER))
    ap.add_argument("--perf", metavar="KEY[,KEY]", help="after the rounds, profile these traceproxy setups "
                    "(perf record -e cpu-clock -g) during one extra, unrecorded cell of their first mode; "
                    "the report goes to perf-KEY-MODE.txt beside latest.md")
    ap.add_argument("--setups", metavar="KEY[,KEY]", help="measure only these setups (the others still start "
                    "and idle), e.g. E,K for the trace view's cost over many short rounds")
    ap.add_argument("--flush-wait", type=float, default=6.0)
    ap.add_argument("--keep-tmp", action="store_true")
    a = ap.parse_args()
    if a.replot:
        with open(a.replot) as f:
            rows = json.load(f)["rows"]
        return 0 if chart(rows, os.path.splitext(a.replot)[0] + ".png") else 1
    if not a.traceproxy:
        ap.error("--traceproxy is required")
    if a.smoke:
        a.quick = True
    # (mode, connections, body) cells; see MODES.
    if a.smoke:  # CI: one HTTPS keep-alive cell, so every setup must have served over TLS
        a.cells = [("http", 64, "small"), ("https", 64, "small")]
    elif a.quick:
        a.cells = [("http", 64, "small"), ("https", 64, "small"), ("https-full", 64, "small"),
                   ("https-resume", 64, "small")]
    else:
        a.cells = [("http", c, b) for c in (64, 256) for b in ("small", "16k")] + [
            ("https", 64, "small"), ("https", 64, "16k"), ("https-full", 64, "small"), ("https-resume", 64, "small")]
    if a.only_cells:
        a.cells = [(m, int(c), b) for m, c, b in (x.split(":") for x in a.only_cells.split(","))]
        bad = [c for c in a.cells if c[0] not in MODES or c[2] not in ("small", "16k")]
        if bad:
            ap.error("unknown cell(s) %s" % bad)
    a.rounds = a.rounds or (1 if a.quick else 3)
    a.duration = a.duration or (2 if a.quick else 5)
    a.hold_tls = a.hold_tls or (200 if a.smoke else 2000)
    out = a.out or os.path.join(a.bench_dir, "results", "quick" if a.quick else "")
    os.makedirs(out, exist_ok=True)
    a.out_dir = out

    bench = Bench(a)
    unknown = [k for k in (a.setups or "").split(",") if k and k not in {x.key for x in bench.setups}]
    if unknown:
        ap.error("unknown setup(s) %s" % ",".join(unknown))

    def on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        mem, results, elapsed = bench.run()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        bench.cleanup()
        return 130
    except BaseException:
        bench.a.keep_tmp = True
        bench.cleanup()
        raise
    failures = ["%s (%s): %s" % (s.key, s.name, s.failed) for s in bench.setups if s.failed]
    rows = summarize(bench, mem, results)
    for r in rows:
        if r["key"] in ("E", "F", "I", "J") and not r["spans"]:
            failures.append("%s (%s) at %s %d conns %s: 0 spans received" % (
                r["key"], r["name"], r["mode"], r["conns"], r["body"]))
    if bench.tls_mismatch:
        failures.append(bench.tls_mismatch)
    bench.cleanup()
    md = markdown(bench, mem, rows, elapsed, a, failures)
    with open(os.path.join(out, "latest.md"), "w") as f:
        f.write(md)
    with open(os.path.join(out, "latest.json"), "w") as f:
        json.dump({"rows": rows, "memory": mem, "elapsed_s": elapsed, "tls": bench.tls_info,
                   "trace_view_cost": trace_view_cost(rows),
                   "tls12_ciphers": TLS12_CIPHERS, "modes": MODES, "notes": bench.notes,
                   "time_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime())}, f, indent=1)
    print(md)
    if chart(rows, os.path.join(out, "latest.png")):
        print("wrote %s/latest.md, latest.png, latest.json" % out, file=sys.stderr)
    if failures:
        print("FAILED: " + "; ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
