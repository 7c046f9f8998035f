#!/usr/bin/env python3
"""Request rules, side by side: nginx and traceproxy given the same raw request bytes.

Each proxy sits in front of its own raw recording upstream (a socket server on 127.0.0.1 that
keeps every byte it receives and answers each request with a 2-byte 200). Every case is sent on a
fresh connection to each proxy; the table shows the status each proxy answered and the request
line and relevant header fields its upstream received ("nothing" when none arrived).

Only traceproxy's column is judged, against the expectation written in each case; nginx is the
reference, shown for comparison (differences are deliberate and explained in the case's note).
Exit status: 0 when every traceproxy row matches, 1 when one does not (or traceproxy crashed or
hung), 2 for a usage problem. Without nginx the traceproxy column still runs.

    python3 Tests/conformance/compare_nginx.py [--traceproxy PATH] [--nginx PATH] [--out FILE]
"""

import argparse
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

READ_TIMEOUT = 2.0  # seconds to wait for a response head
START_TIMEOUT = 10.0  # seconds for a proxy to accept connections

# --------------------------------------------------------------------------------------------
# HTTP/1.1 request framing, just enough to answer and to report


def parse_request(buf):
    """The request at the front of buf, or None while it is incomplete.

    Returns a dict: length (bytes consumed), line, headers [(name, value)], body (dechunked),
    tunnel (True for CONNECT: whatever follows the head is tunnel data, not another request).
    """
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = buf[:end].split(b"\r\n")
    headers = []
    for field in lines[1:]:
        name, _, value = field.partition(b":")
        headers.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))
    req = {"line": lines[0].decode("latin-1"), "headers": headers, "body": b"", "tunnel": False}
    pos = end + 4
    if lines[0].split(b" ", 1)[0] == b"CONNECT":
        req["tunnel"] = True
        req["length"] = pos
        return req
    te = [v.lower() for n, v in headers if n.lower() == "transfer-encoding"]
    cl = [v for n, v in headers if n.lower() == "content-length"]
    if te and te[-1].replace(" ", "").split(",")[-1] == "chunked":
        body = b""
        while True:
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                return None
            try:
                size = int(buf[pos:eol].split(b";")[0].strip(), 16)
            except ValueError:
                size = 0
            pos = eol + 2
            if size == 0:
                # Trailer fields, then the empty line.
                while True:
                    eol = buf.find(b"\r\n", pos)
                    if eol < 0:
                        return None
                    line_empty = eol == pos
                    pos = eol + 2
                    if line_empty:
                        break
                break
            if len(buf) < pos + size + 2:
                return None
            body += buf[pos : pos + size]
            pos += size + 2
        req["body"] = body
    elif cl:
        try:
            n = int(cl[0])
        except ValueError:
            n = 0
        if len(buf) < pos + n:
            return None
        req["body"] = buf[pos : pos + n]
        pos += n
    req["length"] = pos
    return req


def parse_all(data):
    """Every complete request in one connection's bytes, and the bytes left over after them."""
    reqs = []
    while data:
        req = parse_request(data)
        if req is None:
            break
        data = data[req["length"] :]
        if req["tunnel"]:
            req["tunnel_data"] = data
            data = b""
        reqs.append(req)
    return reqs, data


def header_values(req, name):
    return [v for n, v in req["headers"] if n.lower() == name.lower()]


# --------------------------------------------------------------------------------------------
# The raw recording upstream


class RecordingUpstream:
    """Records every byte per connection; answers each request with 200 "ok".

    CONNECT is answered with 200 Connection Established, after which the connection echoes.
    """

    OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    ESTABLISHED = b"HTTP/1.1 200 Connection Established\r\n\r\n"

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.events = []  # (connection number, bytes), in arrival order
        self.connections = 0
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                number = self.connections
            threading.Thread(target=self._serve, args=(conn, number), daemon=True).start()

    def _serve(self, conn, number):
        buf = b""
        tunnel = False
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                with self.lock:
                    self.events.append((number, data))
                if tunnel:
                    conn.sendall(data)
                    continue
                buf += data
                while True:
                    req = parse_request(buf)
                    if req is None:
                        break
                    buf = buf[req["length"] :]
                    if req["tunnel"]:
                        conn.sendall(self.ESTABLISHED)
                        tunnel = True
                        if buf:
                            conn.sendall(buf)
                            buf = b""
                        break
                    conn.sendall(self.OK)
                    if any("close" in v.lower() for v in header_values(req, "connection")):
                        conn.shutdown(socket.SHUT_WR)
                        return
        except OSError:
            return
        finally:
            conn.close()

    def mark(self):
        with self.lock:
            return len(self.events)

    def since(self, mark):
        """Bytes received since mark, per connection (in the order connections first sent)."""
        with self.lock:
            events = self.events[mark:]
        per = {}
        for number, data in events:
            per[number] = per.get(number, b"") + data
        return list(per.values())

    def close(self):
        self.closed = True
        self.sock.close()


# --------------------------------------------------------------------------------------------
# The proxies


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def tail(path, n=3):
    """The last lines of a log, as ": line / line", or "" when it is empty."""
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").strip().splitlines()
    except OSError:
        return ""
    return ": " + " / ".join(lines[-n:]) if lines else ""


class Proxy:
    """A proxy process in front of its own recording upstream."""

    label = "proxy"

    def __init__(self, tmp):
        self.tmp = tmp
        self.upstream = RecordingUpstream()
        self.port = free_port()
        self.proc = None
        self.error = None  # why it is not running, when it is not
        self.started = False  # it has accepted connections at least once
        self.killed = False  # it needed SIGKILL to stop (a drain that did not finish in 2 s)
        self.log = os.path.join(tmp, "%s-%d.log" % (self.label, self.port))

    def command(self):
        raise NotImplementedError

    def start(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JAEGER_", "OTEL_"))}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.time() + START_TIMEOUT
        while time.time() < deadline:
            if self.proc.poll() is not None:
                self.error = "exited with status %d%s" % (self.proc.returncode, tail(self.log))
                self.proc = None
                return False
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                self.error = None
                self.started = True
                return True
            except OSError:
                time.sleep(0.05)
        self.error = "did not accept connections within %d s" % START_TIMEOUT
        self.stop()
        return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except OSError:
                pass
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.killed = True
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None


class Traceproxy(Proxy):
    label = "traceproxy"

    def __init__(self, tmp, binary, flags):
        self.binary = binary
        self.flags = list(flags)
        super().__init__(tmp)

    def command(self):
        return [self.binary, "--listen", "127.0.0.1:%d" % self.port,
                "--upstream", "http://127.0.0.1:%d" % self.upstream.port,
                "--admin", "off", "--reporter", "none"] + self.flags


class Nginx(Proxy):
    label = "nginx"

    def __init__(self, tmp, binary):
        self.binary = binary
        super().__init__(tmp)
        self.dir = os.path.join(tmp, "nginx")
        os.makedirs(self.dir, exist_ok=True)
        # Workers run as nobody when the master is root; they must be able to reach the temp paths.
        os.chmod(tmp, 0o755)
        os.chmod(self.dir, 0o755)
        temps = "".join("    %s_temp_path %s/%s_temp;\n" % (k, self.dir, k)
                        for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        conf = """worker_processes 1;
daemon off;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log info;
events { worker_connections 256; }
http {
    access_log %(dir)s/access.log;
%(temps)s    server {
        listen 127.0.0.1:%(port)d;
        location / {
            proxy_pass http://127.0.0.1:%(up)d;
            proxy_http_version 1.1;
            proxy_set_header Host $host;
        }
    }
}
""" % {"dir": self.dir, "temps": temps, "port": self.port, "up": self.upstream.port}
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(conf)

    def command(self):
        return [self.binary, "-p", self.dir + "/", "-e", self.dir + "/error.log", "-c", self.conf]


# --------------------------------------------------------------------------------------------
# The client side


def exchange(port, raw, tunnel=False):
    """Sends raw on a fresh connection and reads the response head.

    Returns a dict: status (int, or "closed", "reset", "timeout", "refused", "garbled"),
    headers [(name, value)] of the response, elapsed seconds until the outcome was known, echo
    (bytes read back after sending "ping" through an established tunnel; tunnel cases only).
    """
    out = {"status": None, "headers": [], "elapsed": 0.0, "echo": None}
    t0 = time.monotonic()
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=READ_TIMEOUT)
    except OSError:
        out["status"] = "refused"
        return out
    try:
        try:
            s.sendall(raw)
        except OSError:
            pass  # the proxy may close while we write; its answer may still be readable
        buf = b""
        deadline = t0 + READ_TIMEOUT
        while b"\r\n\r\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                out["status"] = "timeout" if not buf else "garbled"
                break
            s.settimeout(left)
            try:
                data = s.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                out["status"] = "reset" if not buf else "garbled"
                break
            if not data:
                out["status"] = "closed" if not buf else "garbled"
                break
            buf += data
        out["elapsed"] = time.monotonic() - t0
        if out["status"] is not None:
            return out
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ")
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
            out["status"] = "garbled"
            return out
        out["status"] = int(parts[1])
        for field in lines[1:]:
            name, _, value = field.partition(b":")
            out["headers"].append((name.decode("latin-1"), value.strip().decode("latin-1")))
        if tunnel and 200 <= out["status"] < 300:
            echo = rest
            try:
                s.sendall(b"ping")
                deadline = time.monotonic() + READ_TIMEOUT
                while len(echo) < 4 and time.monotonic() < deadline:
                    s.settimeout(max(0.01, deadline - time.monotonic()))
                    data = s.recv(65536)
                    if not data:
                        break
                    echo += data
            except OSError:
                pass
            out["echo"] = echo
        return out
    finally:
        s.close()


def resp_values(res, name):
    return [v for n, v in res["headers"] if n.lower() == name.lower()]


# --------------------------------------------------------------------------------------------
# Cases


class Check:
    """One named check; fn(value) -> bool."""

    def __init__(self, label, fn, show=None):
        self.label = label
        self.fn = fn
        self.show = show  # a header name worth showing in the "upstream got" column


def one(name, value):
    return Check("%s == %s (once)" % (name, value),
                 lambda r: header_values(r, name) == [value], show=name)


def absent(name):
    return Check("no %s" % name, lambda r: not header_values(r, name), show=name)


def body(expected):
    return Check("body %r" % expected.decode("latin-1"), lambda r: r["body"] == expected)


def resp_has(name):
    return Check("%s present" % name, lambda res: bool(resp_values(res, name)), show=name)


def resp_lacks(name):
    return Check("no %s" % name, lambda res: not resp_values(res, name), show=name)


ECHO = Check("echoes ping", lambda res: res["echo"] is not None and res["echo"][:4] == b"ping")


class Case:
    def __init__(self, name, raw, status, line, checks=(), resp=(), flags=(), within=None,
                 tunnel=False, note=""):
        self.name = name
        self.raw = raw
        self.status = status  # an int, or "2xx"
        self.line = line  # the request line the upstream must get, or None: nothing may reach it
        self.checks = list(checks)  # on the request the upstream got
        self.resp = list(resp)  # on the response the client got
        self.flags = tuple(flags)
        self.within = within  # the status must be known within this many seconds
        self.tunnel = tunnel
        self.note = note

    def shown_headers(self):
        names = ["Host"]
        for c in self.checks:
            if c.show and c.show.lower() not in [n.lower() for n in names]:
                names.append(c.show)
        return names


def tls_prefix():
    # A ClientHello's record and handshake headers, then 32 "random" bytes (fixed, and without
    # CR or LF so that nothing could take it for a line).
    rng = random.Random(9112)
    rand = bytes(b for b in (rng.randrange(256) for _ in range(64)) if b not in (10, 13))[:32]
    return b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + rand


H = b"Host: a.example\r\n"
ALLOW = ("--headers-with-underscores", "allow")
REJECT = ("--headers-with-underscores", "reject")

CASES = [
    # Baselines both proxies forward.
    Case("0a baseline GET", b"GET /hello?q=1 HTTP/1.1\r\n" + H + b"\r\n", 200,
         "GET /hello?q=1 HTTP/1.1", [one("Host", "a.example")], note="Harness check."),
    Case("0b baseline POST, Content-Length", b"POST /submit HTTP/1.1\r\n" + H
         + b"Content-Length: 5\r\n\r\nhello", 200, "POST /submit HTTP/1.1", [body(b"hello")],
         note="Harness check."),
    Case("0c baseline POST, chunked", b"POST /submit HTTP/1.1\r\n" + H
         + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 200,
         "POST /submit HTTP/1.1", [body(b"hello")],
         note="Harness check (nginx buffers the body and sends it with Content-Length)."),
    # 1. Request-targets that match none of the four forms (RFC 9112 3.2).
    Case("1a `GET ! HTTP/1.1`", b"GET ! HTTP/1.1\r\n" + H + b"\r\n", 400, None,
         note="Not origin-, absolute-, authority- or asterisk-form."),
    Case("1b `GET J1 HTTP/1.1`", b"GET J1 HTTP/1.1\r\n" + H + b"\r\n", 400, None,
         note="Origin-form must start with `/`."),
    Case("1c `POST = HTTP/1.1`", b"POST = HTTP/1.1\r\n" + H + b"Content-Length: 0\r\n\r\n",
         400, None, note="No form starts with `=`."),
    # 2. Asterisk-form is for OPTIONS only.
    Case("2a `M-SEARCH * HTTP/1.1`", b"M-SEARCH * HTTP/1.1\r\n" + H + b"\r\n", 400, None,
         note="`*` only with OPTIONS (RFC 9112 3.2.4); SSDP is not HTTP to proxy."),
    Case("2b `PRI * HTTP/1.1`", b"PRI * HTTP/1.1\r\n" + H + b"\r\n", 400, None,
         note="`*` only with OPTIONS; PRI is the HTTP/2 preface's method."),
    Case("2c `OPTIONS * HTTP/1.1`", b"OPTIONS * HTTP/1.1\r\n" + H + b"\r\n", 200,
         "OPTIONS * HTTP/1.1", [one("Host", "a.example")],
         note="nginx refuses every `*` target; RFC 9112 3.2.4 defines it for OPTIONS (the "
         "server as a whole), so traceproxy forwards it."),
    # 3-4. Absolute-form: forwarded in origin-form, Host from the target.
    Case("3 absolute-form, other Host", b"GET http://a.example/x?y=1 HTTP/1.1\r\n"
         b"Host: b.example\r\n\r\n", 200, "GET /x?y=1 HTTP/1.1", [one("Host", "a.example")],
         note="RFC 9112 3.2.2: the target's authority wins over Host; sent on in origin-form."),
    Case("4a `GET http://a.example`", b"GET http://a.example HTTP/1.1\r\n" + H + b"\r\n", 200,
         "GET / HTTP/1.1", [one("Host", "a.example")],
         note="An empty path is sent as `/` (RFC 9112 3.2.1)."),
    Case("4b `OPTIONS http://a.example`", b"OPTIONS http://a.example HTTP/1.1\r\n" + H + b"\r\n",
         200, "OPTIONS * HTTP/1.1", [one("Host", "a.example")],
         note="nginx sends `OPTIONS /`; RFC 9112 3.2.4 says the last proxy MUST send `*` for "
         "OPTIONS with an empty path and no query."),
    # 5. Absolute-forms we do not take.
    Case("5a userinfo in target", b"GET http://user:pw@a.example/ HTTP/1.1\r\n" + H + b"\r\n",
         400, None, note="RFC 9110 4.2.4: userinfo is not allowed in http(s) URIs."),
    Case("5b `ftp://` target", b"GET ftp://a.example/ HTTP/1.1\r\n" + H + b"\r\n", 400, None,
         note="nginx ignores the scheme and serves it as http; traceproxy only proxies http "
         "targets (it is not a gateway to ftp)."),
    Case("5c `http:///x` (no host)", b"GET http:///x HTTP/1.1\r\n" + H + b"\r\n", 400, None,
         note="RFC 9110 4.2.1: an http URI with an empty host is invalid."),
    # 6. Fragments are never forwarded.
    Case("6 `GET /a#frag`", b"GET /a#frag HTTP/1.1\r\n" + H + b"\r\n", 200, "GET /a HTTP/1.1",
         note="nginx passes the target through untouched (proxy_pass without a URI), fragment "
         "and all; a fragment is not part of a request-target (RFC 9112 3.2), so traceproxy "
         "drops it rather than hand the upstream a target it may read differently."),
    # 7. Characters in the target.
    Case("7a raw UTF-8 `/caf\\xc3\\xa9`", b"GET /caf\xc3\xa9 HTTP/1.1\r\n" + H + b"\r\n", 400,
         None, note="nginx passes raw non-ASCII bytes on; they are not URI characters (RFC "
         "3986), clients percent-encode them, and upstreams disagree on what they mean."),
    Case("7b bad escape `/%zz`", b"GET /%zz HTTP/1.1\r\n" + H + b"\r\n", 400, None,
         note="`%` must start a pct-encoded octet (RFC 3986 2.1)."),
    Case('7c `/a"b`', b'GET /a"b HTTP/1.1\r\n' + H + b"\r\n", 400, None,
         note="nginx passes `\"` on; it is not a URI character and browsers always encode it "
         "in paths."),
    Case("7d `/a<b`", b"GET /a<b HTTP/1.1\r\n" + H + b"\r\n", 400, None,
         note="nginx passes `<` on; not a URI character, browsers always encode it."),
    Case("7e `/a?x[]=1&y={2}|^`", b"GET /a?x[]=1&y={2}|^ HTTP/1.1\r\n" + H + b"\r\n", 200,
         "GET /a?x[]=1&y={2}|^ HTTP/1.1",
         note="Not RFC 3986 either, but browsers send these raw: accepted and passed unchanged."),
    # 8. Authority-form only with CONNECT, and CONNECT only with authority-form.
    Case("8a `GET a.example:443`", b"GET a.example:443 HTTP/1.1\r\n" + H + b"\r\n", 400, None,
         note="Authority-form is only for CONNECT (RFC 9112 3.2.3)."),
    Case("8b `CONNECT /x`", b"CONNECT /x HTTP/1.1\r\n" + H + b"\r\n", 400, None,
         note="nginx answers 405 (it refuses the method); traceproxy checks the form first: "
         "CONNECT takes only authority-form, so the request is malformed (400)."),
    # 9-10. CONNECT.
    Case("9 CONNECT (default)", b"CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n",
         405, None, resp=[resp_has("Allow")],
         note="nginx cannot tunnel and calls an authority-form target a bad request (400, no "
         "Allow); traceproxy understands it and says the method is not allowed here (RFC 9110 "
         "15.5.6: 405 with Allow)."),
    Case("10 CONNECT `--allow-connect`",
         b"CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n", "2xx",
         "CONNECT a.example:443 HTTP/1.1",
         resp=[resp_lacks("Content-Length"), resp_lacks("Transfer-Encoding"), ECHO],
         flags=("--allow-connect",), tunnel=True,
         note="nginx has no CONNECT (400); traceproxy tunnels when allowed, and a 2xx to "
         "CONNECT has no body framing (RFC 9110 9.3.6)."),
    # 11-13. Underscores in field names.
    Case("11a `Transfer_Encoding` + CL (default)", b"POST /u HTTP/1.1\r\n" + H
         + b"Content-Length: 5\r\nTransfer_Encoding: chunked\r\n\r\nhello", 200,
         "POST /u HTTP/1.1", [absent("Transfer_Encoding"), body(b"hello")],
         note="Same as nginx's default (underscores_in_headers off): the field is dropped, so "
         "no hop that folds `_` into `-` can see a second framing."),
    Case("11b `X_Custom` (default)", b"GET /u HTTP/1.1\r\n" + H + b"X_Custom: 1\r\n\r\n", 200,
         "GET /u HTTP/1.1", [absent("X_Custom")],
         note="Dropped by default, like nginx (CGI-style servers fold `_` and `-` together)."),
    Case("12 `X_Custom` (reject)", b"GET /u HTTP/1.1\r\n" + H + b"X_Custom: 1\r\n\r\n", 400,
         None, flags=REJECT,
         note="nginx has no reject policy (its config here stays at the default: drop); "
         "traceproxy's reject is the stricter opt-in."),
    Case("13a `X_Custom` (allow)", b"GET /u HTTP/1.1\r\n" + H + b"X_Custom: 1\r\n\r\n", 200,
         "GET /u HTTP/1.1", [one("X_Custom", "1")], flags=ALLOW,
         note="nginx's config stays at the default (drop); `underscores_in_headers on` would "
         "forward it too."),
    Case("13b `Transfer_Encoding` + CL (allow)", b"POST /u HTTP/1.1\r\n" + H
         + b"Content-Length: 5\r\nTransfer_Encoding: chunked\r\n\r\nhello", 200,
         "POST /u HTTP/1.1", [absent("Transfer_Encoding"), body(b"hello")], flags=ALLOW,
         note="Even when allowing, the underscore twin of a framing field is never forwarded "
         "(nginx with `underscores_in_headers on` would forward it)."),
    # 14. Host values (RFC 9110 7.2, RFC 3986 authority without userinfo).
    Case("14a `Host: a\\tb`", b"GET / HTTP/1.1\r\nHost: a\tb\r\n\r\n", 400, None,
         note="Whitespace inside a host."),
    Case("14b `Host:: x`", b"GET / HTTP/1.1\r\nHost:: x\r\n\r\n", 400, None,
         note="The value `: x` is no uri-host."),
    Case("14c `Host: a b`", b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, None,
         note="Whitespace inside a host."),
    Case("14d `Host: a:99999`", b"GET / HTTP/1.1\r\nHost: a:99999\r\n\r\n", 400, None,
         note="nginx does not range-check the port (and `$host` drops it); a port above 65535 "
         "names nothing, so traceproxy refuses the authority."),
    Case("14e `Host: user@a`", b"GET / HTTP/1.1\r\nHost: user@a\r\n\r\n", 400, None,
         note="nginx passes `user@a` on; Host is uri-host [ \":\" port ] (RFC 9110 7.2), no "
         "userinfo."),
    Case("14f `Host:` (empty)", b"GET / HTTP/1.1\r\nHost:\r\n\r\n", 400, None,
         note="An empty Host with an origin-form target names no authority to forward to."),
    Case("14g `Host: [::1]:8080`", b"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", 200,
         "GET / HTTP/1.1", [one("Host", "[::1]:8080")],
         note="IPv6 literal with a port; nginx's `$host` drops the port, traceproxy forwards "
         "Host as received."),
    Case("14h `Host: a.example:8080`", b"GET / HTTP/1.1\r\nHost: a.example:8080\r\n\r\n", 200,
         "GET / HTTP/1.1", [one("Host", "a.example:8080")],
         note="nginx's `$host` drops the port, traceproxy forwards Host as received."),
    # 15-16. Early rejection: no waiting for the header timeout when the head is already wrong.
    Case("15 TLS ClientHello prefix", tls_prefix(), 400, None, within=1.0,
         note="TLS spoken to a plain-HTTP port: the first byte already rules out a method."),
    Case("16 `GET /\\x01`, head unfinished", b"GET /\x01 HTTP/1.1\r\n", 400, None, within=1.0,
         note="A control byte in the target: refused as soon as the request line is in."),
]

# --------------------------------------------------------------------------------------------
# Running and judging


def self_check():
    """The recording upstream and the client, with no proxy between: why they are unsound, or None.

    Checks that requests are answered and recorded whole (Content-Length and chunked bodies) and
    that a CONNECT gets its tunnel and echo, so a proxy's column reflects the proxy alone.
    """
    up = RecordingUpstream()
    try:
        for raw, line, want_body, tunnel in [
            (b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n", "GET /a HTTP/1.1", b"", False),
            (b"POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc", "POST /b HTTP/1.1",
             b"abc", False),
            (b"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"2;x=y\r\nab\r\n1\r\nc\r\n0\r\nT: 1\r\n\r\n", "POST /c HTTP/1.1", b"abc", False),
            (b"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", "CONNECT h:443 HTTP/1.1", b"", True),
        ]:
            mark = up.mark()
            res = exchange(up.port, raw, tunnel=tunnel)
            time.sleep(0.02)
            reqs, left = parse_all(b"".join(up.since(mark)))
            if res["status"] != 200:
                return "%s: the upstream answered %s" % (line, res["status"])
            if len(reqs) != 1 or left or reqs[0]["line"] != line or reqs[0]["body"] != want_body:
                return "%s: recorded %r" % (line, reqs)
            if tunnel and (res["echo"] != b"ping" or reqs[0].get("tunnel_data") != b"ping"):
                return "%s: no echo through the tunnel (%r)" % (line, res["echo"])
    finally:
        up.close()
    return None


def status_ok(expected, got):
    if expected == "2xx":
        return isinstance(got, int) and 200 <= got < 300
    return got == expected


def run_case(proxy, case):
    """Sends the case to one proxy; returns (client result, requests the upstream got, leftover)."""
    mark = proxy.upstream.mark()
    res = exchange(proxy.port, case.raw, tunnel=case.tunnel)
    # A rejected request must not show up late: give the upstream a moment either way.
    time.sleep(0.02 if isinstance(res["status"], int) and res["status"] < 300 else 0.1)
    reqs, leftover = [], b""
    for data in proxy.upstream.since(mark):
        r, rest = parse_all(data)
        reqs.extend(r)
        leftover += rest
    return res, reqs, leftover


def judge(case, res, reqs, leftover):
    """Reasons the traceproxy row fails its expectation (empty when it matches)."""
    why = []
    if not status_ok(case.status, res["status"]):
        why.append("status %s, expected %s" % (res["status"], case.status))
    if case.within is not None and res["elapsed"] > case.within:
        why.append("answered after %.1f s (limit %.0f s)" % (res["elapsed"], case.within))
    for c in case.resp:
        if not c.fn(res):
            why.append("response: not %s" % c.label)
    if case.line is None:
        if reqs or leftover:
            why.append("the upstream got something")
    else:
        if len(reqs) != 1:
            why.append("the upstream got %d requests, expected 1" % len(reqs))
        if reqs:
            if reqs[0]["line"] != case.line:
                why.append("request line %s" % code(reqs[0]["line"]))
            for c in case.checks:
                if not c.fn(reqs[0]):
                    why.append("not %s" % c.label)
    return why


def printable(text):
    out = []
    for ch in text:
        o = ord(ch)
        if ch == "\t":
            out.append("\\t")
        elif o < 0x20 or 0x7F <= o:
            out.append("\\x%02x" % o)
        else:
            out.append(ch)
    return "".join(out)


def code(text):
    """Markdown code span for text (escaped: control bytes shown as \\xNN, | as \\|)."""
    return "`%s`" % printable(text).replace("`", "'").replace("|", "\\|")


def describe_status(case, res):
    s = res["status"]
    text = str(s)
    if s in ("timeout",):
        text += " (%.0f s)" % READ_TIMEOUT
    elif case.within is not None:
        text += " (%.2f s)" % res["elapsed"]
    extra = []
    for c in case.resp:
        if c.show:
            vals = resp_values(res, c.show)
            extra.append("%s: %s" % (c.show, code(", ".join(vals)) if vals else "none"))
    if case.tunnel and res["echo"] is not None:
        extra.append("echo %s" % code(res["echo"].decode("latin-1")))
    elif case.tunnel:
        extra.append("no tunnel")
    if extra:
        text += " (" + "; ".join(extra) + ")"
    return text


def describe_upstream(case, reqs, leftover):
    if not reqs and not leftover:
        return "nothing"
    parts = []
    if reqs:
        r = reqs[0]
        bits = [code(r["line"])]
        for name in case.shown_headers():
            fields = [(n, v) for n, v in r["headers"] if n.lower() == name.lower()]
            if fields:
                bits.extend(code("%s: %s" % f) for f in fields)
            else:
                bits.append("no %s" % name)
        if r["body"]:
            bits.append("body %s" % code(r["body"].decode("latin-1")))
        if r.get("tunnel_data"):
            bits.append("then tunnel %s" % code(r["tunnel_data"].decode("latin-1")))
        parts.append(" ".join(bits))
        if len(reqs) > 1:
            parts.append("+%d more request(s): %s" % (len(reqs) - 1,
                                                      ", ".join(code(x["line"]) for x in reqs[1:])))
    if leftover:
        parts.append("%d unparsed bytes %s" % (len(leftover),
                                                code(leftover[:60].decode("latin-1"))))
    return "; ".join(parts)


def describe_expected(case):
    bits = [str(case.status)]
    if case.within is not None:
        bits[0] += " within %.0f s" % case.within
    bits.extend(c.label for c in case.resp)
    if case.line is None:
        bits.append("nothing upstream")
    else:
        bits.append(code(case.line))
        bits.extend(c.label for c in case.checks)
    text = ", ".join(bits)
    if case.flags:
        text += " [%s]" % " ".join(case.flags)
    return text


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--traceproxy",
                    default=os.environ.get("TRACEPROXY", ".build/release/traceproxy"),
                    help="traceproxy binary (default: $TRACEPROXY or .build/release/traceproxy)")
    ap.add_argument("--nginx", default=None,
                    help="nginx binary, or none to skip it (default: from PATH or /usr/sbin)")
    ap.add_argument("--out", default=os.path.join(HERE, "results.md"),
                    help="Markdown file for the table (default: Tests/conformance/results.md)")
    ap.add_argument("--only", default=None, help="run only cases whose name starts with this")
    args = ap.parse_args()

    binary = args.traceproxy
    if not os.path.isabs(binary) and not os.path.exists(binary):
        binary = os.path.join(ROOT, binary)  # relative to the project root when not to the cwd
    binary = os.path.abspath(binary)
    if not os.access(binary, os.X_OK):
        print("compare_nginx: no traceproxy binary at %s (build it: swift build -c release "
              "--product traceproxy, or set TRACEPROXY)" % binary, file=sys.stderr)
        return 2
    nginx_bin = args.nginx or shutil.which("nginx")
    if nginx_bin is None and os.access("/usr/sbin/nginx", os.X_OK):
        nginx_bin = "/usr/sbin/nginx"
    if nginx_bin == "none":
        nginx_bin = None
    cases = [c for c in CASES if args.only is None or c.name.startswith(args.only)]

    broken = self_check()
    if broken:
        print("compare_nginx: the harness itself is broken: %s" % broken, file=sys.stderr)
        return 2

    tmp = tempfile.mkdtemp(prefix="traceproxy-conformance-")
    proxies = []
    notes = []  # lines printed under the table
    t_start = time.monotonic()
    try:
        nginx = None
        if nginx_bin is None:
            notes.append("nginx: skipped (not installed, or --nginx none); only traceproxy's "
                         "column was run.")
        else:
            nginx = Nginx(tmp, nginx_bin)
            proxies.append(nginx)
            if not nginx.start():
                notes.append("nginx: skipped (%s did not start: %s)." % (nginx_bin, nginx.error))
                nginx = None
        tps = {}
        for flags in sorted({c.flags for c in cases}):
            tp = Traceproxy(tmp, binary, flags)
            proxies.append(tp)
            if not tp.start():
                notes.append("traceproxy %s: did not start: %s"
                             % (" ".join(flags) or "(default flags)", tp.error))
            tps[flags] = tp

        rows = []
        details = []
        failures = 0
        differs = []  # cases where nginx's result does not meet traceproxy's expectation
        for case in cases:
            n_status = n_up = "skipped"
            differ = False
            if nginx is not None:
                nres, nreqs, nleft = run_case(nginx, case)
                n_status = describe_status(case, nres)
                n_up = describe_upstream(case, nreqs, nleft)
                details.append(("nginx", case, nreqs))
                differ = bool(judge(case, nres, nreqs, nleft))
                if differ:
                    differs.append(case)
                if not nginx.alive():
                    notes.append("nginx: exited during case %s%s" % (case.name, tail(nginx.log)))
                    nginx = None

            tp = tps[case.flags]
            if tp.started and not tp.alive():
                tp.start()  # it crashed during an earlier case (reported there): carry on
            if not tp.alive():
                t_status, t_up = "not running", "-"
                why = ["traceproxy%s %s" % ("".join(" " + f for f in case.flags), tp.error)]
            else:
                tres, treqs, tleft = run_case(tp, case)
                t_status = describe_status(case, tres)
                t_up = describe_upstream(case, treqs, tleft)
                why = judge(case, tres, treqs, tleft)
                if not tp.alive():
                    why.append("traceproxy crashed (exit %s)%s"
                               % (tp.proc.returncode, tail(tp.log)))
                    tp.proc = None
                details.append(("traceproxy", case, treqs))
            ok = "ok" if not why else "**FAIL**: " + "; ".join(why)
            failures += bool(why)
            name = case.name + (" [%s]" % " ".join(case.flags) if case.flags else "")
            note = ("**differs**: " if differ else "") + case.note
            rows.append([name, n_status, n_up, t_status, t_up, describe_expected(case), ok, note])

        for p in proxies:
            p.stop()
            if p.killed:
                notes.append("%s%s: needed SIGKILL at the end (still draining after 2 s)."
                             % (p.label, "".join(" " + f for f in getattr(p, "flags", []))))

        elapsed = time.monotonic() - t_start
        out = []
        out.append("# Request rules: nginx vs traceproxy\n")
        out.append("Same raw bytes to each proxy on a fresh connection; each proxy in front of its "
                   "own recording upstream. nginx: `proxy_pass` with `proxy_http_version 1.1`, "
                   "`proxy_set_header Host $host`, `underscores_in_headers off` (default). Only "
                   "traceproxy's column is judged (\"expected\"); nginx is the reference.\n")
        out.append("| case | nginx status | nginx upstream got | traceproxy status | "
                   "traceproxy upstream got | expected (traceproxy) | ok? | note |")
        out.append("|---|---|---|---|---|---|---|---|")
        for r in rows:
            out.append("| " + " | ".join(c.replace("\n", " ") for c in r) + " |")
        out.append("")
        for n in notes:
            out.append("- " + n)
        if nginx_bin is not None and nginx is not None:
            out.append("- nginx (%s) differs from traceproxy's expectation (status or what its "
                       "upstream got) in %d of %d cases." % (nginx_bin, len(differs), len(cases)))
            undocumented = [c.name for c in differs if not c.note]
            if undocumented:
                out.append("- differences from nginx without a note: " + ", ".join(undocumented))
        out.append("- traceproxy (%s): %d of %d cases match their expectation; %d fail. "
                   "(%.1f s)" % (binary, len(cases) - failures, len(cases), failures, elapsed))
        table = "\n".join(out) + "\n"
        sys.stdout.write(table)
        if args.out:
            os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
            with open(args.out, "w") as f:
                f.write(table)
                f.write("\n## What each upstream received (heads, and bodies)\n\n")
                for who, case, reqs in details:
                    f.write("### %s: %s\n\n" % (case.name, who))
                    if not reqs:
                        f.write("nothing\n\n")
                        continue
                    f.write("```\n")
                    for r in reqs:
                        f.write(printable(r["line"]) + "\n")
                        for n, v in r["headers"]:
                            f.write(printable("%s: %s" % (n, v)) + "\n")
                        if r["body"]:
                            f.write("\n" + printable(r["body"].decode("latin-1")) + "\n")
                    f.write("```\n\n")
            print("(written to %s)" % args.out)
        return 1 if failures else 0
    finally:
        for p in proxies:
            p.stop()
            p.upstream.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
