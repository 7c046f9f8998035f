#!/usr/bin/env python3
"""Interleaved load benchmark: direct, nginx, HAProxy and traceproxy (tracing off / Jaeger / Zipkin).

Started by run.sh (which installs the tools and builds traceproxy). Everything here runs on
loopback: a fast nginx upstream, the proxies under test, a Jaeger UDP sink and a Zipkin collector
that count spans, and wrk as the load generator. Every process started here is stopped on exit.
"""

import argparse
import json
import os
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


class ZipkinCollector:
    def __init__(self, port):
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
                    count = len(json.loads(body))
                    bad = 0
                except ValueError:
                    count, bad = 0, 1
                with collector.lock:
                    collector.posts += 1
                    collector.spans += count
                    collector.bad += bad
                self.send_response(202)
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


def cpu_seconds(pids):
    total = 0
    for p in pids:
        with open("/proc/%d/stat" % p) as f:
            s = f.read()
        fields = s[s.rindex(")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLK_TCK


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
    def __init__(self, key, name, port, tracing=None, note=""):
        self.key, self.name, self.port, self.tracing, self.note = key, name, port, tracing, note
        self.proc = None
        self.pids = []
        self.failed = None


# --------------------------------------------------------------------------------------------
# Load


def parse_duration_us(s):
    for unit, mul in (("us", 1), ("ms", 1e3), ("s", 1e6), ("m", 60e6)):
        if s.endswith(unit):
            return float(s[: -len(unit)]) * mul
    return float(s)


def run_wrk(port, path, conns, seconds):
    cmd = ["wrk", "-t1", "-c%d" % conns, "-d%ds" % seconds, "--latency", "--timeout", "5s",
           "http://127.0.0.1:%d%s" % (port, path)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30)
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


def hold_connections(port, n, path="/small"):
    """Opens n keep-alive connections, one complete request on each, and keeps them open."""
    req = ("GET %s HTTP/1.1\r\nHost: bench\r\n\r\n" % path).encode()
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
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
        self.setups = [
            Setup("A", "direct (upstream nginx)", base),
            Setup("B", "nginx proxy_pass, keepalive pool", base + 1),
            Setup("C", "HAProxy http mode", base + 2),
            Setup("D", "traceproxy, tracing off", base + 3),
            Setup("E", "traceproxy -> Jaeger UDP", base + 4, tracing="jaeger"),
            Setup("F", "traceproxy -> Zipkin HTTP", base + 5, tracing="zipkin"),
        ]

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

    def start(self):
        a = self.a
        tcp = [self.up_port] + [s.port for s in self.setups[1:]] + [self.zipkin_port]
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

        self.jaeger = JaegerSink(self.udp_port)
        self.zipkin = ZipkinCollector(self.zipkin_port)
        self.sinks = [self.jaeger, self.zipkin]
        tp_common = [a.traceproxy, "--upstream", "http://127.0.0.1:%d" % self.up_port,
                     "--threads", "1", "--admin", "off", "--service-name", "bench",
                     "--max-queue-spans", "100000"]
        jaeger = "jaeger-udp://127.0.0.1:%d" % self.udp_port
        variants = {
            "D": ["--sampler", "const:0", "--reporter", jaeger],
            "E": ["--sampler", "const:1", "--reporter", jaeger],
            "F": ["--sampler", "const:1", "--reporter", "zipkin+http://127.0.0.1:%d" % self.zipkin_port],
        }
        for s in self.setups[3:]:
            s.proc = self.spawn("traceproxy-" + s.key,
                                tp_common + ["--listen", "127.0.0.1:%d" % s.port] + variants[s.key])
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

    def measure_rss(self):
        """RSS idle (fresh process), then with 1000 idle keep-alive connections held open."""
        mem = {}
        for s in self.setups:
            if s.failed:
                continue
            s.pids = proc_tree(s.proc.pid)
            idle = rss_kib(s.pids)
            socks = []
            try:
                socks = hold_connections(s.port, self.a.hold)
                time.sleep(0.3)
                held = rss_kib(s.pids)
            except OSError as e:
                held = None
                print("  %s: holding %d connections failed: %s" % (s.key, self.a.hold, e), file=sys.stderr)
            finally:
                for sk in socks:
                    sk.close()
            mem[s.key] = {"idle_kib": idle, "held_kib": held}
            print("  RSS %s: idle %.1f MiB, %d conns %s" % (
                s.key, idle / 1024, self.a.hold, "%.1f MiB" % (held / 1024) if held else "-"), file=sys.stderr)
        time.sleep(0.5)  # let the proxies notice the closes before load starts
        return mem

    def sink_count(self, s):
        if s.tracing == "jaeger":
            return self.jaeger.spans
        if s.tracing == "zipkin":
            return self.zipkin.spans
        if s.key == "D":
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

    def cell(self, s, path, conns, seconds):
        if s.failed:
            return None
        before_spans = self.sink_count(s)
        cpu0 = cpu_seconds(s.pids)
        r = run_wrk(s.port, path, conns, seconds)
        if s.tracing or s.key == "D":
            r["spans"] = self.wait_flush(s, before_spans, r["requests"] if s.tracing else 0, conns)
        else:
            time.sleep(0.2)
        r["cpu_s"] = cpu_seconds(s.pids) - cpu0
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
        mem = self.measure_rss()
        cells = [(c, b) for c in a.conns for b in a.bodies]
        paths = {"small": "/small", "16k": "/big"}
        # warm-up: every setup serves every body once under load (not recorded)
        for s in self.setups:
            for b in a.bodies:
                self.cell(s, paths[b], a.conns[0], 1)
        results = {}  # (conns, body, key) -> [round results]
        for rnd in range(a.rounds):
            for conns, body in cells:
                for s in self.setups:
                    r = self.cell(s, paths[body], conns, a.duration)
                    if r is None:
                        continue
                    results.setdefault((conns, body, s.key), []).append(r)
                    print("  round %d  %3d conns %-5s %s  %9.0f req/s  p99 %7.2f ms  cpu %.2fs%s" % (
                        rnd + 1, conns, body, s.key, r["rps"], (r["p99_us"] or 0) / 1000, r["cpu_s"],
                        "  spans %d/%d" % (r["spans"], r["requests"]) if "spans" in r else ""),
                        file=sys.stderr)
        elapsed = time.time() - t0
        return mem, results, elapsed


# --------------------------------------------------------------------------------------------
# Report


def summarize(bench, mem, results):
    rows = []
    for (conns, body, key), rs in results.items():
        s = next(x for x in bench.setups if x.key == key)
        req = sum(r["requests"] for r in rs)
        cpu = sum(r["cpu_s"] for r in rs)
        rps = [r["rps"] for r in rs]
        row = {
            "conns": conns, "body": body, "key": key, "name": s.name,
            "rps": median(rps), "rps_min": min(rps), "rps_max": max(rps),
            "p50_us": median([r["p50_us"] for r in rs]), "p99_us": median([r["p99_us"] for r in rs]),
            "cpu_per_10k": median([r["cpu_s"] / r["requests"] * 10000 for r in rs if r["requests"]]),
            "cpu_total_s": cpu, "requests": req, "rounds": len(rs),
            "errors": sum(r["errors"] for r in rs), "non2xx": sum(r["non2xx"] for r in rs),
            "spans": sum(r["spans"] for r in rs) if "spans" in rs[0] else None,
        }
        rows.append(row)
    by = {(r["conns"], r["body"], r["key"]): r for r in rows}
    for r in rows:
        n = by.get((r["conns"], r["body"], "B"))
        d = by.get((r["conns"], r["body"], "A"))
        r["rps_vs_nginx"] = r["rps"] / n["rps"] if n and n["rps"] else None
        r["rps_vs_direct"] = r["rps"] / d["rps"] if d and d["rps"] else None
        r["p99_vs_nginx"] = r["p99_us"] / n["p99_us"] if n and n["p99_us"] and r["p99_us"] else None
        r["cpu_vs_nginx"] = r["cpu_per_10k"] / n["cpu_per_10k"] if n and n["cpu_per_10k"] and r["cpu_per_10k"] else None
    return rows


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
        "load": "loadavg at end %s" % " ".join(open("/proc/loadavg").read().split()[:3]),
    }


def markdown(bench, mem, rows, elapsed, args, failures):
    m = machine_description()
    out = []
    out.append("# traceproxy load benchmark\n")
    out.append("%s mode, %s. %d interleaved round(s) (A..F per cell, cells in turn), %d s per cell, "
               "medians across rounds; wrk -t1. Run took %.0f s.\n" % (
                   "quick" if args.quick else "full", time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                   args.rounds, args.duration, elapsed))
    out.append("Machine: %s; %s; kernel %s. %s; %s; %s. %s.\n" % (
        m["cpu"], m["os"], m["kernel"], m["nginx"], m["haproxy"].split(" - ")[0], m["wrk"], m["load"]))
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
    cells = []
    for r in rows:
        if (r["conns"], r["body"]) not in cells:
            cells.append((r["conns"], r["body"]))
    cells.sort(key=lambda c: (c[0], c[1] != "small"))
    for conns, body in cells:
        out.append("\n## %d connections, %s body\n" % (conns, "13-byte" if body == "small" else "16 KiB"))
        out.append("| | setup | req/s (min-max) | p50 ms | p99 ms | CPU s/10k req | req/s vs nginx | req/s vs direct | p99 vs nginx | CPU vs nginx | spans received / requests |")
        out.append("|---|---|---|---|---|---|---|---|---|---|---|")
        for r in sorted([r for r in rows if r["conns"] == conns and r["body"] == body], key=lambda r: r["key"]):
            spans = "-"
            if r["spans"] is not None:
                spans = "%d / %d" % (r["spans"], r["requests"])
            out.append("| %s | %s | %s (%s-%s) | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                r["key"], r["name"], fmt(r["rps"], ",.0f"), fmt(r["rps_min"], ".0f"), fmt(r["rps_max"], ".0f"),
                fmt(r["p50_us"] and r["p50_us"] / 1000, ".2f"), fmt(r["p99_us"] and r["p99_us"] / 1000, ".2f"),
                fmt(r["cpu_per_10k"], ".3f"), fmt(r["rps_vs_nginx"], ".2f"), fmt(r["rps_vs_direct"], ".2f"),
                fmt(r["p99_vs_nginx"], ".2f"), fmt(r["cpu_vs_nginx"], ".2f"), spans))
    out.append("\nspans received / requests: summed over rounds; requests = responses wrk completed. "
               "A request in flight when wrk stops is still proxied and traced, so up to one span per "
               "connection per round more than requests is expected; fewer means spans were lost. "
               "Jaeger sink: %d datagrams, %d spans, %d undecodable; Zipkin collector: %d POSTs, %d spans, "
               "%d undecodable (whole run, warm-up included).\n" % (
                   bench.jaeger.datagrams, bench.jaeger.spans, bench.jaeger.bad,
                   bench.zipkin.posts, bench.zipkin.spans, bench.zipkin.bad))
    out.append("\n## Memory (RSS)\n")
    out.append("Fresh process, before any load; then with %d idle keep-alive connections open "
               "(one request served on each). Proxies: all their processes (nginx master + worker).\n" % args.hold)
    out.append("| | setup | RSS idle MiB | RSS with %d conns MiB | KiB per connection |" % args.hold)
    out.append("|---|---|---|---|---|")
    for s in bench.setups:
        mm = mem.get(s.key)
        if not mm:
            out.append("| %s | %s | - | - | - |" % (s.key, s.name))
            continue
        per = (mm["held_kib"] - mm["idle_kib"]) / args.hold if mm["held_kib"] else None
        out.append("| %s | %s | %.1f | %s | %s |" % (
            s.key, s.name, mm["idle_kib"] / 1024, fmt(mm["held_kib"] and mm["held_kib"] / 1024, ".1f"),
            fmt(per, ".1f")))
    out.append("")
    return "\n".join(out)


def chart(rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not available: no chart", file=sys.stderr)
        return False
    cells = sorted({(r["conns"], r["body"]) for r in rows}, key=lambda c: (c[0], c[1] != "small"))
    keys = sorted({r["key"] for r in rows})
    names = {r["key"]: r["name"] for r in rows}
    by = {(r["conns"], r["body"], r["key"]): r for r in rows}
    colors = {"A": "#9e9e9e", "B": "#2e7d32", "C": "#1565c0", "D": "#ffb300", "E": "#e65100", "F": "#8e24aa"}
    metrics = [("rps", "requests/s (median)", 1), ("p99_us", "p99 latency, ms", 1e-3),
               ("cpu_per_10k", "proxy CPU s per 10k requests", 1)]
    fig, axes = plt.subplots(1, 3, figsize=(17, 5.8))
    width = 0.8 / max(1, len(keys))
    for ax, (field, title, scale) in zip(axes, metrics):
        for i, k in enumerate(keys):
            xs, ys = [], []
            for j, c in enumerate(cells):
                r = by.get((c[0], c[1], k))
                if r and r[field] is not None:
                    xs.append(j + (i - (len(keys) - 1) / 2) * width)
                    ys.append(r[field] * scale)
            ax.bar(xs, ys, width, label="%s %s" % (k, names[k]), color=colors.get(k))
        ax.set_xticks(range(len(cells)))
        ax.set_xticklabels(["%d conns\n%s" % (c[0], "13 B" if c[1] == "small" else "16 KiB") for c in cells])
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
        ax.set_xlim(-0.6, len(cells) - 0.4)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=10, frameon=False)
    fig.suptitle("traceproxy vs nginx vs HAProxy, 1 worker each, wrk -t1, loopback "
                 "(higher req/s, lower p99 and CPU are better)")
    fig.tight_layout(rect=(0, 0.1, 1, 0.95))
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
    ap.add_argument("--ports", type=int, default=27080, help="base port (uses base..base+11)")
    ap.add_argument("--hold", type=int, default=1000, help="idle connections for the RSS column")
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
    if a.quick:
        a.rounds = a.rounds or 1
        a.duration = a.duration or 2
        a.conns, a.bodies = [64], ["small"]
    else:
        a.rounds = a.rounds or 3
        a.duration = a.duration or 5
        a.conns, a.bodies = [64, 256], ["small", "16k"]
    out = a.out or os.path.join(a.bench_dir, "results", "quick" if a.quick else "")
    os.makedirs(out, exist_ok=True)

    bench = Bench(a)

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
        if r["key"] in ("E", "F") and not r["spans"]:
            failures.append("%s (%s) at %d conns %s: 0 spans received" % (r["key"], r["name"], r["conns"], r["body"]))
    bench.cleanup()
    md = markdown(bench, mem, rows, elapsed, a, failures)
    with open(os.path.join(out, "latest.md"), "w") as f:
        f.write(md)
    with open(os.path.join(out, "latest.json"), "w") as f:
        json.dump({"rows": rows, "memory": mem, "elapsed_s": elapsed}, f, indent=1)
    print(md)
    if chart(rows, os.path.join(out, "latest.png")):
        print("wrote %s/latest.md, latest.png, latest.json" % out, file=sys.stderr)
    if failures:
        print("FAILED: " + "; ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
