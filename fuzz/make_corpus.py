#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/<target>/ (run from anywhere; rewrites the seed files).

Seeds are small valid messages of every shape the parsers must handle, plus a few near misses, so
that the fuzzer starts from deep inside the grammar. Propagation seeds come from the W3C and B3 spec
examples (W3C Trace Context, openzipkin/b3-propagation) and the acceptance matrix.
The response_parser target reads its first byte as a HEAD mask: bit k set = the k-th final
response answers a HEAD request. '@' (0x40) = no HEAD, 'A' = the first response answers HEAD.

tls_server_handshake: real ClientHellos made here by Python's ssl module (TLS 1.2 and 1.3, SNI,
ALPN) and captured from `openssl s_client` on a loopback socket, with their random, session id and
X25519 key share replaced by fixed bytes so the seeds do not change from one run to the next; an
SSLv2-compatible ClientHello; near misses (plain HTTP, an alert, a heartbeat, a truncated record).
Each starts with the target's control byte (0x00: raw mode, plain server, fed whole). The seeds
named recorded-* (whole handshakes that replay, and the mutual-mode setups) are written by the
target itself and kept here; see fuzz/README.md.
"""
import hashlib
import os
import shutil
import socket
import ssl
import subprocess

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

REQUESTS = {
    "get": b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
    "get_query_10": b"GET /a/b?x=1&y=%20 HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\n",
    "post_length": b"POST /submit HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
    "post_chunked": b"POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"5\r\nhello\r\n6;ext=1;name=\"v\"\r\n world\r\n0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n",
    "pipelined": b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\nPOST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
                 b"PUT /3 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n"
                 b"DELETE /4 HTTP/1.1\r\nConnection: close\r\n\r\n",
    "expect_continue": b"PUT /big HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
    "upgrade": b"GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, keep-alive\r\nUpgrade: websocket\r\n\r\n",
    "hop_by_hop": b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close, X-Secret\r\nX-Secret: 1\r\nKeep-Alive: 5\r\n"
                  b"TE: trailers\r\nProxy-Connection: keep-alive\r\nTrailer: X\r\ntraceparent: x\r\n\r\n",
    "lf_only": b"GET / HTTP/1.1\nHost: h\n\n",
    "leading_crlf": b"\r\n\r\nOPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
    "cl_list": b"POST / HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\nabc",
    "bad_cl_te": b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "bad_te_gzip": b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    "bad_obs_fold": b"GET / HTTP/1.1\r\nX-A: 1\r\n  folded\r\n\r\n",
    "bad_space_colon": b"GET / HTTP/1.1\r\nHost : h\r\n\r\n",
    "bad_chunk_size": b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n",
    "bad_version": b"GET / HTTP/2.0\r\n\r\n",
    "connect": b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    # Request rules, round 2: target forms, Host values, underscores, early refusal.
    "absolute_form": b"GET http://a.example:8080/x?y=1#frag HTTP/1.1\r\nHost: b.example\r\n\r\n",
    "absolute_empty_path": b"OPTIONS HTTPS://[::1]:8443 HTTP/1.1\r\nHost: h\r\n\r\n",
    "absolute_userinfo": b"GET http://u:p@a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n",
    "asterisk_not_options": b"M-SEARCH * HTTP/1.1\r\nHost: 239.255.255.250:1900\r\n\r\n",
    "no_form": b"GET ! HTTP/1.1\r\nHost: h\r\n\r\nPOST = HTTP/1.1\r\nHost: h\r\n\r\n",
    "target_chars": b"GET /a%2Fb;x=1/~c?q[]={1}|^`\\&r=%20#f HTTP/1.1\r\nHost: h\r\n\r\n",
    "target_utf8": b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n",
    "connect_body": b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nContent-Length: 4\r\n\r\nping",
    "host_values": b"GET / HTTP/1.1\r\nHost: [2001:db8::1]:65535\r\n\r\nGET / HTTP/1.1\r\nHost:: x\r\n\r\n",
    "underscores": b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nTransfer_Encoding: chunked\r\n"
                   b"X_Forwarded_For: 1.2.3.4\r\n\r\nok",
    "tls_hello": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(32)),
}

RESPONSES = {
    "length": b"@HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello",
    "chunked": b"@HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"4;a=b\r\nwiki\r\n5\r\npedia\r\n0\r\nExpires: never\r\n\r\n",
    "until_close": b"@HTTP/1.0 200 OK\r\nServer: old\r\n\r\nbody until the connection closes",
    "no_content": b"@HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n",
    "not_modified": b"@HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\nContent-Length: 100\r\n\r\n",
    "head_length": b"AHTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n",
    "head_chunked": b"AHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "continue_then_ok": b"@HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                        b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
    "head_after_interim": b"AHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n",
    "switching": b"@HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x05hello",
    "pipelined": b"\x02HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"
                 b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n"
                 b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    "no_reason": b"@HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
    "keepalive_10": b"@HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi",
    "bad_cl_te": b"@HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
    "bad_two_cl": b"@HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    "bad_status": b"@HTTP/1.1 2x0 OK\r\n\r\n",
    "garbage": b"@SSH-2.0-OpenSSH_9.2\r\n",
}

CHUNKED = {
    "simple": b"5\r\nhello\r\n0\r\n\r\n",
    "extensions": b"3;name=value;flag\r\nabc\r\n1 ; x=\"q\"\r\nd\r\n0;last\r\n\r\n",
    "trailers": b"2\r\nhi\r\n0\r\nX-Trailer: one\r\nX-Another: two\r\n\r\n",
    "upper_hex": b"A\r\n0123456789\r\n0\r\n\r\n",
    "lf_only": b"4\nwiki\n0\n\n",
    "next_message": b"1\r\na\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n",
    "bad_size": b"g\r\n",
    "bad_overflow": b"1000000000000000\r\n",
    "bad_missing_crlf": b"3\r\nabcX",
}

T = "0af7651916cd43dd8448eb211c80319c"
S = "b7ad6b7169203331"
P = "05e3ac9a4f6e3b90"
B3T = "80f198ee56343ba864fe8b2a57d3eff7"
B3S = "e457b5a2e4d86bd1"

PROP_W3C = {
    "spec_sampled": f"traceparent: 00-{T}-{S}-01\ntracestate: congo=t61rcWkgMzE\n",
    "spec_two_vendors": f"traceparent: 00-{T}-00f067aa0ba902b7-01\ntracestate: rojo=00f067aa0ba902b7,congo=t61rcWkgMzE\n",
    "not_sampled": "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-d75597dee50b0cac-00\n",
    "split_tracestate": f"traceparent: 00-{T}-{S}-01\ntracestate: a=1, ,b=2\ntracestate: c@t=x y\n",
    "future_version": f"traceparent: cc-{T}-{S}-09-what-the-future-holds\n",
    "tracestate_alone": "tracestate: foo=1,bar=2\n",
    "zero_ids": "traceparent: 00-00000000000000000000000000000000-0000000000000000-01\n",
    "uppercase": f"traceparent: 00-{T.upper()}-{S}-01\n",
    "two_traceparents": f"traceparent: 00-{T}-{S}-01\ntraceparent: 00-{T}-{S}-00\n",
}
PROP_B3 = {
    "single_full": f"b3: {B3T}-{B3S}-1-{P}\n",
    "single_deny": "b3: 0\n",
    "single_debug": f"b3: {B3T}-{B3S}-d\n",
    "single_64": f"b3: 64fe8b2a57d3eff7-{B3S}\n",
    "multi_128": f"X-B3-TraceId: {B3T}\nX-B3-SpanId: {B3S}\nX-B3-ParentSpanId: {P}\nX-B3-Sampled: 1\n",
    "multi_64_flags": f"X-B3-TraceId: 64fe8b2a57d3eff7\nX-B3-SpanId: {B3S}\nX-B3-Flags: 1\n",
    "multi_sampled_only": "X-B3-Sampled: 0\n",
    "multi_true": f"x-b3-traceid: {B3T}\nx-b3-spanid: {B3S}\nx-b3-sampled: true\n",
    "single_over_multi": f"b3: {B3T}-{B3S}-1\nX-B3-TraceId: {T}\nX-B3-SpanId: {S}\nX-B3-Sampled: 0\n",
    "bad_single_then_multi": f"b3: {B3T}-zz\nX-B3-TraceId: {T}\nX-B3-SpanId: {S}\n",
}
PROP_JAEGER = {
    "full_128": f"uber-trace-id: {T}:{S}:{P}:1\n",
    "short_64": "uber-trace-id: 64fe8b2a57d3eff7:e457b5a2e4d86bd1:0:1\n",
    "unpadded": "uber-trace-id: af765191:b7ad6b71:0:1\n",
    "url_encoded": f"uber-trace-id: {T}%3A{S}%3A0%3A1\n",
    "debug": f"uber-trace-id: {T}:{S}:0:3\n",
    "not_sampled": f"uber-trace-id: {T}:{S}:0:0\n",
    "debug_id_only": "jaeger-debug-id: some-correlation-id\n",
    "baggage": f"uber-trace-id: {T}:{S}:0:1\nuberctx-user: alice\n",
    "bad_three_fields": f"uber-trace-id: {T}:{S}:1\n",
}
PROP_ALL = {
    "all_three": f"traceparent: 00-{T}-{S}-01\ntracestate: congo=t61rcWkgMzE\n"
                 f"X-B3-TraceId: {B3T}\nX-B3-SpanId: {B3S}\nX-B3-Sampled: 1\nb3: 0\n"
                 f"uber-trace-id: {T}:{S}:0:1\njaeger-debug-id: x\n",
    "b3_and_jaeger": f"b3: {B3T}-{B3S}-d\r\nuber-trace-id: {T}:{S}:0:0\r\n",
    "bad_w3c_good_b3": f"traceparent: 00-{T}-0000000000000000-01\nX-B3-TraceId: {B3T}\nX-B3-SpanId: {B3S}\n",
}


def fixed(label, n):
    """n bytes that stay the same from run to run."""
    out = b""
    while len(out) < n:
        out += hashlib.sha256(f"{label}/{len(out)}".encode()).digest()
    return out[:n]


def normalize_hello(record):
    """Replaces the random, the session id and any X25519 key share of a ClientHello record with
    fixed bytes; returns the record unchanged if it is not one."""
    b = bytearray(record)
    if len(b) < 5 + 4 + 35 or b[0] != 22 or b[5] != 1:
        return bytes(b)
    pos = 5 + 4 + 2
    b[pos:pos + 32] = fixed("random", 32)
    pos += 32
    sid = b[pos]
    b[pos + 1:pos + 1 + sid] = fixed("session id", sid)
    pos += 1 + sid
    pos += 2 + int.from_bytes(b[pos:pos + 2], "big")  # cipher suites
    pos += 1 + b[pos]  # compression methods
    end = pos + 2 + int.from_bytes(b[pos:pos + 2], "big")
    pos += 2
    while pos + 4 <= end:
        kind = int.from_bytes(b[pos:pos + 2], "big")
        length = int.from_bytes(b[pos + 2:pos + 4], "big")
        body = pos + 4
        if kind == 0x33:  # key_share: client_shares<..> of group, key_exchange<..>
            share = body + 2
            while share + 4 <= body + length:
                group = int.from_bytes(b[share:share + 2], "big")
                size = int.from_bytes(b[share + 2:share + 4], "big")
                if group == 0x1D:
                    b[share + 4:share + 4 + size] = fixed("x25519", size)
                share += 4 + size
        pos = body + length
    return bytes(b)


def first_record(data):
    if len(data) < 5:
        return data
    return data[:5 + int.from_bytes(data[3:5], "big")]


def python_hello(maximum=None, sni="localhost", alpn=("h2", "http/1.1")):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if maximum:
        ctx.maximum_version = maximum
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    conn = ctx.wrap_bio(incoming, outgoing, server_hostname=sni)
    try:
        conn.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return normalize_hello(first_record(outgoing.read()))


def s_client_hello(*args):
    """The ClientHello `openssl s_client` sends, read off a loopback socket (None without openssl)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(10)
        port = listener.getsockname()[1]
        try:
            proc = subprocess.Popen(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *args],
                                    stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
        except FileNotFoundError:
            return None
        try:
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(10)
                data = b""
                while len(data) < 5 or len(data) < 5 + int.from_bytes(data[3:5], "big"):
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
        finally:
            proc.kill()
            proc.wait()
    return normalize_hello(first_record(data))


def tls_seeds():
    raw = b"\x00"  # raw mode, plain server, fed whole, 16 KB reads
    seeds = {
        "py-tls13-sni-alpn": python_hello(),
        "py-tls12-sni-alpn": python_hello(ssl.TLSVersion.TLSv1_2),
        "py-tls13-nosni-h2": python_hello(sni=None, alpn=("h2",)),
        "py-tls12-noalpn": python_hello(ssl.TLSVersion.TLSv1_2, alpn=()),
    }
    for name, args in {
        "s_client-tls13-sni-alpn": ["-tls1_3", "-servername", "localhost", "-alpn", "h2,http/1.1"],
        "s_client-tls12-sni-alpn-status": ["-tls1_2", "-servername", "localhost", "-alpn", "http/1.1", "-status"],
        "s_client-default-nosni": ["-noservername", "-no_ticket"],
    }.items():
        hello = s_client_hello(*args)
        if hello:
            seeds[name] = hello
    # SSLv2-compatible ClientHello (RFC 5246 E.2) asking for TLS 1.2: cipher specs are 3 bytes.
    specs = b"\x00\xc0\x2b\x00\xc0\x2f\x00\x00\x9c\x00\x00\xff"
    body = b"\x01\x03\x03" + len(specs).to_bytes(2, "big") + b"\x00\x00\x00\x10" + specs + fixed("challenge", 16)
    seeds["sslv2-compat-hello"] = bytes([0x80 | (len(body) >> 8), len(body) & 0xFF]) + body
    seeds["plain-http"] = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
    seeds["alert-close-notify"] = b"\x15\x03\x03\x00\x02\x01\x00"
    seeds["heartbeat"] = b"\x18\x03\x03\x00\x03\x01\x40\x00"
    seeds["ccs-then-hello"] = b"\x14\x03\x03\x00\x01\x01" + seeds["py-tls13-sni-alpn"]
    seeds["truncated-hello"] = seeds["py-tls12-sni-alpn"][:60]
    return {name: raw + data for name, data in seeds.items()}


def write(target, seeds, keep_prefix=None):
    """Rewrites fuzz/corpus/<target>/; files named keep_prefix* are someone else's and stay."""
    d = os.path.join(ROOT, target)
    if keep_prefix is None:
        shutil.rmtree(d, ignore_errors=True)
    elif os.path.isdir(d):
        for name in os.listdir(d):
            if not name.startswith(keep_prefix):
                os.remove(os.path.join(d, name))
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())


write("request_parser", REQUESTS)
write("response_parser", RESPONSES)
write("chunked_decoder", CHUNKED)
write("propagation_w3c", PROP_W3C)
write("propagation_b3", PROP_B3)
write("propagation_jaeger", PROP_JAEGER)
write("propagation_all", {**PROP_W3C, **PROP_B3, **PROP_JAEGER, **PROP_ALL})
write("tls_server_handshake", tls_seeds(), keep_prefix="recorded-")
