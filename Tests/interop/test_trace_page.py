"""The trace view's page in a real browser: Debian's chromium, headless, driven by Selenium through
Debian's chromium-driver (no browser or driver is downloaded). After traffic through the release
binary the page must show the routes, the statuses and a trace's waterfall; a filter must narrow the
list; a new request must appear without a reload; data that looks like markup must stay text; and
the browser console must stay free of errors. Screenshots go to $TRACE_PAGE_ARTIFACTS (default
Tests/interop/artifacts/, ignored by git)."""
from __future__ import annotations

import http.client
import os
import shutil
import time
import urllib.parse
import uuid

import pytest

import support

HOST = support.HOST
CHROMIUM = shutil.which("chromium")
DRIVER = shutil.which("chromedriver")
ARTIFACTS = os.environ.get("TRACE_PAGE_ARTIFACTS",
                           os.path.join(os.path.dirname(os.path.abspath(__file__)), "artifacts"))

if not (CHROMIUM and DRIVER):
    if os.environ.get("CI"):
        raise RuntimeError("chromium and chromium-driver are required (.ci/run installs them)")
    pytest.skip("chromium and chromium-driver not installed (apt-get install chromium chromium-driver)",
                allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

XSS_PATH = "/xss/%3Cscript%3Ewindow.__xss%3D1%3C%2Fscript%3E&lt;b&gt;bold&lt;/b&gt;"
XSS_AGENT = '<script>window.__xss=2</script><img src=x onerror="window.__xss=3">'


def request(port: int, target: str, headers: dict | None = None) -> int:
    c = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        c.request("GET", target, headers=headers or {})
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        c.close()


@pytest.fixture
def browser():
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1400,1000", "--no-first-run", "--disable-extensions"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=opts)
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()


def shot(driver, name: str):
    os.makedirs(ARTIFACTS, exist_ok=True)
    driver.save_screenshot(os.path.join(ARTIFACTS, name))


def wait(driver, cond, timeout: float = 15, msg: str = ""):
    # the page re-renders its tables every 2 s: an element found a moment ago may be gone
    return WebDriverWait(driver, timeout, poll_frequency=0.1,
                         ignored_exceptions=(StaleElementReferenceException,)).until(lambda d: cond(d), msg)


def rows(driver, table: str):
    return driver.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr")


def snapshot(driver, table: str) -> list[dict]:
    """The table's rows as the page shows them, read in one go (no stale element halfway)."""
    return driver.execute_script("""
        return [...document.querySelectorAll('#' + arguments[0] + ' tbody tr')].map((tr) => ({
          route: tr.dataset.route || null, trace: tr.dataset.traceId || null, text: tr.textContent,
          status: (tr.querySelector('td.status') || {}).textContent || null,
          path: (tr.querySelector('td.path') || {}).textContent || null,
          statusClass: (tr.querySelector('td.status') || {}).className || null}));""", table)


def click_row(driver, pred):
    for _ in range(20):
        try:
            for r in rows(driver, "spans"):
                if pred(r.text):
                    trace = r.get_attribute("data-trace-id")
                    r.find_element(By.CSS_SELECTOR, "td.path").click()
                    return trace
        except StaleElementReferenceException:
            pass
        time.sleep(0.1)
    raise AssertionError("no row to click")


def test_page_in_chromium(upstream, proxy_factory, browser):
    p = proxy_factory(upstream.url, [], extra=["--trace-view", "--flush-interval-ms", "100",
                                               "--trace-ui-url", "http://127.0.0.1:16686/trace/{trace_id}"])
    for i in range(12):
        assert request(p.port, f"/users/{i}") == 200
    assert request(p.port, "/slow/300") == 200
    for code in (404, 503):
        assert request(p.port, f"/status/{code}") == code
    assert request(p.port, "/api/orders?limit=5") == 200
    assert request(p.port, XSS_PATH, {"User-Agent": XSS_AGENT}) == 200
    assert support.wait_until(lambda: p.metrics().get(("traceproxy_trace_view_spans", frozenset())) == 17, 10)

    d = browser
    d.get(f"http://{HOST}:{p.admin_port}/")  # redirects to /traces
    assert d.current_url.endswith("/traces")
    wait(d, lambda d: len(snapshot(d, "routes")) >= 5, msg="routes table")
    wait(d, lambda d: len(snapshot(d, "spans")) == 17, msg="requests list")
    d.execute_script("window.__loaded = 'same page';")
    routes = {r["route"] for r in snapshot(d, "routes")}
    assert {"GET /users/{id}", "GET /slow/{id}", "GET /status/{id}", "GET /api/orders"} <= routes
    # every route row has its sparkline with a p50 line
    assert len(d.find_elements(By.CSS_SELECTOR, "#routes tbody svg.spark .p50")) >= 5
    assert len(d.find_elements(By.CSS_SELECTOR, "#routes tbody svg.spark rect.count")) >= 5
    spans = snapshot(d, "spans")
    assert {"200", "404", "503"} <= {r["status"] for r in spans}
    assert any("s5xx" in r["statusClass"] and "failed" in r["statusClass"] for r in spans)
    # sorting: by p99, slowest first
    d.find_element(By.CSS_SELECTOR, '#routes th[data-key="p99"]').click()
    wait(d, lambda d: snapshot(d, "routes")[0]["route"] == "GET /slow/{id}", msg="sort by p99")
    shot(d, "traces-overview.png")

    # markup in the data stays text: the path cell shows it as it was, nothing ran, no element made
    xss = [r for r in snapshot(d, "spans") if r["path"].startswith("/xss/")]
    assert len(xss) == 1 and xss[0]["path"] == XSS_PATH
    assert not d.find_elements(By.CSS_SELECTOR, "#spans tbody b, #spans tbody script")
    d.execute_script("location.hash = arguments[0];", "trace=" + xss[0]["trace"])
    wait(d, lambda d: XSS_AGENT in d.find_element(By.ID, "waterfall").get_attribute("textContent"),
         msg="xss trace with its user agent as text")
    assert not d.find_elements(By.CSS_SELECTOR, "#waterfall script, #waterfall img, #waterfall b")
    assert d.execute_script("return window.__xss;") is None

    # the waterfall of the slow request, opened by clicking its row: bar, upstream-connect and
    # first-byte marks, timings, tags, and the link to the tracing UI
    slow_trace = click_row(d, lambda text: "/slow/300" in text)
    wait(d, lambda d: d.find_element(By.ID, "trace-id").text == slow_trace, msg="trace view")
    wait(d, lambda d: "/slow/300" in d.find_element(By.ID, "waterfall").get_attribute("textContent"),
         msg="waterfall of the slow request")
    assert d.find_elements(By.CSS_SELECTOR, "#waterfall .span-row .span-bar")
    assert d.find_elements(By.CSS_SELECTOR, "#waterfall .mark.connect")
    assert d.find_elements(By.CSS_SELECTOR, "#waterfall .mark.first-byte")
    text = d.find_element(By.ID, "waterfall").get_attribute("textContent")
    assert "first response byte +" in text and "http.url" in text and "upstream connected +" in text
    assert d.find_element(By.ID, "trace-ui").get_attribute("href") == f"http://127.0.0.1:16686/trace/{slow_trace}"
    shot(d, "traces-waterfall.png")
    d.execute_script("window.scrollTo(0, 0);")
    shot(d, "traces-page.png")

    # filters: status 5xx, then a minimum duration, then cleared
    d.find_element(By.ID, "trace-close").click()
    Select(d.find_element(By.ID, "f-status")).select_by_value("5xx")
    wait(d, lambda d: [r["status"] for r in snapshot(d, "spans")] == ["503"], msg="status filter")
    Select(d.find_element(By.ID, "f-status")).select_by_value("")
    d.find_element(By.ID, "f-min").send_keys("250")
    wait(d, lambda d: [r["path"] for r in snapshot(d, "spans")] == ["/slow/300"], msg="min ms filter")
    d.find_element(By.ID, "f-clear").click()
    wait(d, lambda d: len(snapshot(d, "spans")) == 17, msg="filters cleared")

    # live: a new request shows up without a reload
    live = f"/live/{uuid.uuid4().hex[:8]}"
    assert request(p.port, live) == 200
    wait(d, lambda d: snapshot(d, "spans")[0]["path"] == live, timeout=10, msg="live update")
    assert d.execute_script("return window.__loaded;") == "same page"
    shot(d, "traces-live.png")

    errors = [e for e in d.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert not errors, errors
