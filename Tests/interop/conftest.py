"""Fixtures for the interop suite (see support.py for the pieces themselves)."""
from __future__ import annotations

import os
import resource
import warnings

import pytest

warnings.filterwarnings("ignore", category=DeprecationWarning)

import support  # noqa: E402
import zipkin_schema  # noqa: E402


def _raise_nofile():
    # the proxy (a child) inherits this; 10k keep-alive requests never need many, but be safe
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard if hard != resource.RLIM_INFINITY else 65536, 65536)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


_raise_nofile()


def pytest_report_header(config):
    return [f"traceproxy: {support.traceproxy_path()}", f"zipkin spec: {zipkin_schema.schema_path()}"]


@pytest.fixture(scope="session", autouse=True)
def _binary_exists():
    path = support.traceproxy_path()
    if not os.access(path, os.X_OK):
        pytest.exit(f"traceproxy binary not found at {path}: build it with "
                    "`swift build -c release --product traceproxy` or set $TRACEPROXY", returncode=2)


@pytest.fixture
def free_port():
    return support.free_port


@pytest.fixture
def upstream():
    up = support.Upstream().start()
    yield up
    up.stop()


@pytest.fixture
def agent():
    a = support.JaegerAgent().start()
    yield a
    a.stop()


@pytest.fixture
def collector():
    c = support.ZipkinCollector().start()
    yield c
    c.stop()


@pytest.fixture
def proxy_factory(tmp_path):
    """proxy_factory(upstream_url, reporters, **kw) -> started Proxy. At teardown every proxy still
    running gets SIGTERM and must exit 0; one a test already stopped must have exited 0 too."""
    proxies: list[support.Proxy] = []

    def make(upstream_url, reporters, **kw) -> support.Proxy:
        p = support.Proxy(upstream_url, reporters, log_dir=str(tmp_path), **kw)
        proxies.append(p)
        return p.start()

    yield make
    failures = []
    for p in reversed(proxies):
        code = p.stop()  # SIGTERM if still running; the exit code either way
        if code != 0:
            failures.append(f"{' '.join(p.args)}\n  exit code {code}\n{p.log_tail()}")
    if failures:
        pytest.fail("traceproxy did not exit 0 on SIGTERM:\n" + "\n".join(failures), pytrace=False)
