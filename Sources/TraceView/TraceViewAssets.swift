// swift-format-ignore-file
// The page's three files, compiled into the binary (no CDN, no fonts: the page works offline).
// The script builds every element from data with textContent and createElement, never innerHTML.

/// The trace view's page, style and script.
public enum TraceViewAssets {
    public static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>traceproxy: traces</title>
<link rel="stylesheet" href="/traces.css">
<script src="/traces.js" defer></script>
</head>
<body>
<header>
  <h1>traceproxy <span class="sub">traces and latency</span></h1>
  <div class="controls">
    <label><input type="checkbox" id="live" checked> live</label>
    <span id="status" class="muted">loading…</span>
    <a id="ui-link" class="hidden" target="_blank" rel="noopener noreferrer">tracing UI</a>
  </div>
</header>
<main>
<section id="trace-section" class="hidden">
  <div class="section-head">
    <h2>Trace <code id="trace-id"></code></h2>
    <span id="trace-note" class="muted"></span>
    <a id="trace-ui" class="hidden" target="_blank" rel="noopener noreferrer">open in tracing UI</a>
    <a id="trace-close" href="#">close</a>
  </div>
  <div id="waterfall"></div>
</section>
<section>
  <div class="section-head">
    <h2>Routes</h2>
    <span class="muted">last minute (rate, errors, percentiles) and five minutes; click a column to sort</span>
  </div>
  <table id="routes">
    <thead><tr>
      <th data-key="route">route</th>
      <th data-key="rate" class="num">req/s</th>
      <th data-key="err" class="num">errors</th>
      <th data-key="p50" class="num">p50</th>
      <th data-key="p90" class="num">p90</th>
      <th data-key="p99" class="num">p99</th>
      <th data-key="count5" class="num">req 5m</th>
      <th data-key="p99_5" class="num">p99 5m</th>
      <th>latency, 5 min</th>
    </tr></thead>
    <tbody></tbody>
  </table>
  <p id="routes-empty" class="muted">No requests seen yet.</p>
</section>
<section>
  <div class="section-head">
    <h2>Recent requests</h2>
    <span id="held" class="muted"></span>
  </div>
  <form id="filters" autocomplete="off">
    <label>route <select id="f-route"><option value="">any</option></select></label>
    <label>status <select id="f-status">
      <option value="">any</option><option value="2xx">2xx</option><option value="3xx">3xx</option>
      <option value="4xx">4xx</option><option value="5xx">5xx</option><option value="error">failed</option>
      <option value="other">no status</option>
    </select></label>
    <label>min ms <input id="f-min" type="number" min="0" step="any" size="6"></label>
    <label>trace id <input id="f-trace" type="text" size="34" maxlength="32" spellcheck="false"></label>
    <button type="reset" id="f-clear">clear</button>
  </form>
  <table id="spans">
    <thead><tr>
      <th>time</th><th>method</th><th>route</th><th>path</th><th class="num">status</th>
      <th class="num">duration</th><th>trace id</th>
    </tr></thead>
    <tbody></tbody>
  </table>
  <p id="spans-empty" class="muted hidden">No request matches.</p>
</section>
</main>
</body>
</html>
"""#

    public static let style = #"""
:root { --fg: #1d232b; --muted: #6a737d; --line: #e1e4e8; --bg: #fff; --head: #f6f8fa;
  --ok: #22863a; --warn: #b08800; --bad: #cb2431; --bar: #4a90d9; --bar2: #9cc3ec; }
* { box-sizing: border-box; }
body { margin: 0; font: 13px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg);
  background: var(--bg); }
header { display: flex; align-items: baseline; justify-content: space-between; padding: 10px 16px;
  border-bottom: 1px solid var(--line); background: var(--head); }
h1 { font-size: 17px; margin: 0; }
h2 { font-size: 15px; margin: 0; }
.sub { font-weight: normal; color: var(--muted); }
.controls { display: flex; gap: 14px; align-items: baseline; }
main { padding: 6px 16px 30px; }
section { margin-top: 16px; }
.section-head { display: flex; gap: 12px; align-items: baseline; margin-bottom: 6px; }
.muted { color: var(--muted); }
.hidden { display: none !important; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { background: var(--head); font-weight: 600; }
th[data-key] { cursor: pointer; user-select: none; }
th.sorted::after { content: " \25BE"; }
th.sorted.asc::after { content: " \25B4"; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.path { max-width: 420px; overflow: hidden; text-overflow: ellipsis; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12px; }
#spans tbody tr { cursor: pointer; }
#spans tbody tr:hover, #routes tbody tr:hover { background: #f1f8ff; }
.s2xx { color: var(--ok); } .s3xx { color: var(--muted); } .s4xx { color: var(--warn); }
.s5xx, .sother, .failed { color: var(--bad); font-weight: 600; }
#filters { display: flex; flex-wrap: wrap; gap: 12px; margin: 4px 0 8px; align-items: center; }
svg.spark { display: block; }
svg.spark .p50 { fill: none; stroke: var(--bar); stroke-width: 1.2; }
svg.spark .p99 { fill: none; stroke: var(--bad); stroke-width: 1; opacity: .7; }
svg.spark .count { fill: #e3e6ea; }
svg.spark .dot { stroke: none; }
svg.spark circle.p50 { fill: var(--bar); } svg.spark circle.p99 { fill: var(--bad); }
td.route, td.name { max-width: 320px; overflow: hidden; text-overflow: ellipsis; }
#f-route { max-width: 320px; }
#waterfall { border: 1px solid var(--line); }
.span-row { border-bottom: 1px solid var(--line); }
.span-line { display: flex; align-items: center; padding: 4px 8px; cursor: pointer; gap: 8px; }
.span-label { width: 34%; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.span-track { position: relative; flex: 1; height: 16px; background: var(--head); }
.span-bar { position: absolute; top: 2px; height: 12px; background: var(--bar2); min-width: 2px; }
.span-bar.failed { background: #f2a3aa; }
.span-wait { position: absolute; top: 2px; height: 12px; background: var(--bar); min-width: 1px; }
.mark { position: absolute; top: 0; width: 2px; height: 16px; background: var(--fg); }
.mark.first-byte { background: var(--ok); }
.span-dur { width: 80px; text-align: right; font-variant-numeric: tabular-nums; }
.span-detail { padding: 4px 8px 10px 24px; background: #fbfbfc; }
.span-detail table { width: auto; margin: 4px 0; }
.span-detail td { white-space: normal; word-break: break-all; }
.legend { display: flex; gap: 14px; padding: 4px 8px; color: var(--muted); }
.key { display: inline-block; width: 10px; height: 10px; margin-right: 4px; vertical-align: middle; }
.key.wait { background: var(--bar); } .key.rest { background: var(--bar2); } .key.fb { background: var(--ok); }
"""#

    public static let script = #"""
"use strict";
// The trace view's page: polls the JSON API on the admin listener and builds the DOM from it.
// Every value from the API goes into the page as text (textContent), never as markup.
(function () {
  const $ = (id) => document.getElementById(id);
  const state = { routes: [], sortKey: "rate", sortAsc: false, uiTemplate: null, timer: null, trace: null,
    openSpans: new Set() };

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function fmtDur(us) {
    if (us === null || us === undefined) return "–";
    if (us < 1000) return us + " µs";
    if (us < 1e6) return (us / 1000).toFixed(us < 1e4 ? 2 : 1) + " ms";
    return (us / 1e6).toFixed(2) + " s";
  }

  function fmtTime(us) {
    const d = new Date(us / 1000);
    const pad = (n, w) => String(n).padStart(w, "0");
    return pad(d.getHours(), 2) + ":" + pad(d.getMinutes(), 2) + ":" + pad(d.getSeconds(), 2) + "." +
      pad(d.getMilliseconds(), 3);
  }

  // Only http(s) links leave the page; the template comes from --trace-ui-url.
  function uiLink(traceId) {
    const t = state.uiTemplate;
    if (!t || !/^https?:\/\//i.test(t)) return null;
    return t.split("{trace_id}").join(traceId);
  }

  async function getJSON(url) {
    const r = await fetch(url, { cache: "no-store", headers: { "Accept": "application/json" } });
    const body = await r.json();
    return { status: r.status, body: body };
  }

  // ---- routes -------------------------------------------------------------------------------
  function routeValue(r, key) {
    switch (key) {
      case "route": return r.route;
      case "rate": return r["1m"].rate;
      case "err": return r["1m"].error_rate;
      case "p50": return r["1m"].p50_us ?? -1;
      case "p90": return r["1m"].p90_us ?? -1;
      case "p99": return r["1m"].p99_us ?? -1;
      case "count5": return r["5m"].count;
      case "p99_5": return r["5m"].p99_us ?? -1;
    }
    return 0;
  }

  // Requests per slot as grey bars, p50 (blue) and p99 (red) as lines; a lone point as a dot.
  function sparkline(series) {
    const ns = "http://www.w3.org/2000/svg";
    const w = 150, h = 26, pad = 2;
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("class", "spark");
    svg.setAttribute("width", w);
    svg.setAttribute("height", h);
    svg.setAttribute("viewBox", "0 0 " + w + " " + h);
    const title = document.createElementNS(ns, "title");
    title.textContent = "per 10 s over the last 5 minutes: requests (grey), p50 (blue), p99 (red)";
    svg.appendChild(title);
    let maxLatency = 1, maxCount = 1;
    for (const p of series) {
      if (p.p99_us !== null && p.p99_us > maxLatency) maxLatency = p.p99_us;
      if (p.count > maxCount) maxCount = p.count;
    }
    const step = series.length > 1 ? (w - 2 * pad) / (series.length - 1) : 0;
    const x = (i) => pad + i * step;
    series.forEach((p, i) => {
      if (!p.count) return;
      const bar = document.createElementNS(ns, "rect");
      const bh = Math.max(1, (p.count / maxCount) * (h / 3));
      bar.setAttribute("class", "count");
      bar.setAttribute("x", (x(i) - step / 2 + 0.5).toFixed(1));
      bar.setAttribute("width", Math.max(1, step - 1).toFixed(1));
      bar.setAttribute("y", (h - bh).toFixed(1));
      bar.setAttribute("height", bh.toFixed(1));
      svg.appendChild(bar);
    });
    for (const key of ["p99_us", "p50_us"]) {
      const cls = key === "p50_us" ? "p50" : "p99";
      let run = [];
      const flush = () => {
        if (run.length === 1) {
          const dot = document.createElementNS(ns, "circle");
          dot.setAttribute("class", cls + " dot");
          dot.setAttribute("cx", run[0][0]);
          dot.setAttribute("cy", run[0][1]);
          dot.setAttribute("r", "1.8");
          svg.appendChild(dot);
        } else if (run.length > 1) {
          const line = document.createElementNS(ns, "polyline");
          line.setAttribute("class", cls);
          line.setAttribute("points", run.map((q) => q.join(",")).join(" "));
          svg.appendChild(line);
        }
        run = [];
      };
      series.forEach((p, i) => {
        if (p[key] === null) { flush(); return; }
        const y = h - pad - (p[key] / maxLatency) * (h - 2 * pad);
        run.push([x(i).toFixed(1), y.toFixed(1)]);
      });
      flush();
    }
    return svg;
  }

  function renderRoutes() {
    const tbody = document.querySelector("#routes tbody");
    const rows = state.routes.slice();
    const k = state.sortKey, dir = state.sortAsc ? 1 : -1;
    rows.sort((a, b) => {
      const x = routeValue(a, k), y = routeValue(b, k);
      return (x < y ? -1 : x > y ? 1 : 0) * dir;
    });
    const frag = document.createDocumentFragment();
    for (const r of rows) {
      const tr = el("tr");
      tr.dataset.route = r.route;
      const name = el("td", "route");
      name.title = r.route;
      const a = el("a", null, r.route);
      a.href = "#";
      a.title = "show this route's requests";
      a.addEventListener("click", (ev) => { ev.preventDefault(); setRouteFilter(r.route); });
      name.appendChild(a);
      tr.appendChild(name);
      const m = r["1m"], f = r["5m"];
      tr.appendChild(el("td", "num", m.rate.toFixed(m.rate < 10 ? 2 : 1)));
      tr.appendChild(el("td", "num" + (m.errors > 0 ? " failed" : ""),
        m.count ? (m.error_rate * 100).toFixed(1) + " %" : "–"));
      tr.appendChild(el("td", "num", fmtDur(m.p50_us)));
      tr.appendChild(el("td", "num", fmtDur(m.p90_us)));
      tr.appendChild(el("td", "num", fmtDur(m.p99_us)));
      tr.appendChild(el("td", "num", f.count));
      tr.appendChild(el("td", "num", fmtDur(f.p99_us)));
      const chart = el("td");
      chart.appendChild(sparkline(r.series));
      tr.appendChild(chart);
      frag.appendChild(tr);
    }
    tbody.replaceChildren(frag);
    $("routes-empty").classList.toggle("hidden", rows.length > 0);
    for (const th of document.querySelectorAll("#routes th[data-key]")) {
      th.classList.toggle("sorted", th.dataset.key === k);
      th.classList.toggle("asc", th.dataset.key === k && state.sortAsc);
    }
    const select = $("f-route");
    const chosen = select.value;
    const names = state.routes.map((r) => r.route).sort();
    if (chosen && !names.includes(chosen)) names.push(chosen);
    const opts = [el("option", null, "any")];
    opts[0].value = "";
    for (const n of names) { const o = el("option", null, n); o.value = n; opts.push(o); }
    select.replaceChildren(...opts);
    select.value = chosen;
  }

  function setRouteFilter(route) {
    const select = $("f-route");
    if (![...select.options].some((o) => o.value === route)) {
      const o = el("option", null, route); o.value = route; select.appendChild(o);
    }
    select.value = route;
    refreshSpans();
  }

  // ---- requests ------------------------------------------------------------------------------
  function filterQuery() {
    const q = new URLSearchParams();
    const add = (k, v) => { if (v !== "") q.set(k, v); };
    add("route", $("f-route").value);
    add("status", $("f-status").value);
    add("min_ms", $("f-min").value.trim());
    add("trace_id", $("f-trace").value.trim().toLowerCase());
    q.set("limit", "200");
    return q.toString();
  }

  function renderSpans(body) {
    state.uiTemplate = body.ui_url_template;
    const tbody = document.querySelector("#spans tbody");
    const frag = document.createDocumentFragment();
    for (const s of body.spans) {
      const tr = el("tr");
      tr.dataset.traceId = s.trace_id;
      tr.dataset.spanId = s.span_id;
      tr.appendChild(el("td", "mono", fmtTime(s.start_us)));
      tr.appendChild(el("td", null, s.method));
      const name = el("td", "name", s.name);
      name.title = s.name;
      tr.appendChild(name);
      const path = el("td", "path mono", s.path);
      path.title = s.path;
      tr.appendChild(path);
      tr.appendChild(el("td", "num status s" + s.status_class + (s.error ? " failed" : ""), s.status || "–"));
      tr.appendChild(el("td", "num", fmtDur(s.duration_us)));
      const id = el("td", "mono");
      const a = el("a", null, s.trace_id);
      a.href = "#trace=" + encodeURIComponent(s.trace_id);
      id.appendChild(a);
      tr.appendChild(id);
      tr.addEventListener("click", (ev) => {
        if (ev.target.tagName !== "A") location.hash = "trace=" + s.trace_id;
      });
      frag.appendChild(tr);
    }
    tbody.replaceChildren(frag);
    $("spans-empty").classList.toggle("hidden", body.spans.length > 0);
    $("held").textContent = body.held + " spans held (of " + body.capacity + " recent, plus failed and slowest)";
    const ui = $("ui-link");
    const base = state.uiTemplate && /^https?:\/\//i.test(state.uiTemplate) ? new URL(state.uiTemplate) : null;
    ui.classList.toggle("hidden", !base);
    if (base) ui.href = base.origin + "/";
  }

  async function refreshSpans() {
    try {
      const r = await getJSON("/api/spans?" + filterQuery());
      if (r.status !== 200) { setStatus("filter: " + (r.body.error || r.status)); return; }
      renderSpans(r.body);
      setStatus("updated " + fmtTime(r.body.now_us).slice(0, 8));
    } catch (e) {
      setStatus("cannot reach the proxy's admin listener");
    }
  }

  async function refreshRoutes() {
    try {
      const r = await getJSON("/api/routes");
      if (r.status === 200) { state.routes = r.body.routes; renderRoutes(); }
    } catch (e) {
      setStatus("cannot reach the proxy's admin listener");
    }
  }

  function setStatus(text) { $("status").textContent = text; }

  // ---- trace ---------------------------------------------------------------------------------
  function currentTraceId() {
    const m = /^#trace=([0-9a-fA-F]{16,32})$/.exec(location.hash);
    return m ? m[1].toLowerCase() : null;
  }

  async function showTrace() {
    const id = currentTraceId();
    const section = $("trace-section");
    if (!id) { section.classList.add("hidden"); state.trace = null; return; }
    section.classList.remove("hidden");
    $("trace-id").textContent = id;
    if (state.trace !== id) state.openSpans = new Set();
    state.trace = id;
    try {
      const r = await getJSON("/api/traces/" + id);
      renderTrace(r.body);
    } catch (e) {
      $("trace-note").textContent = "cannot load the trace";
    }
  }

  function depthOf(span, byId) {
    let d = 0, p = span.parent_id;
    while (p && byId.has(p) && d < 20) { d++; p = byId.get(p).parent_id; }
    return d;
  }

  function renderTrace(t) {
    const spans = t.spans || [];
    $("trace-note").textContent = spans.length === 0
      ? "this proxy holds no span of this trace (other hops may: open their pages or the tracing UI)"
      : spans.length + (spans.length === 1 ? " span" : " spans") + " held by this proxy";
    const link = uiLink(t.trace_id);
    const ui = $("trace-ui");
    ui.classList.toggle("hidden", !link);
    if (link) ui.href = link;
    const box = $("waterfall");
    if (spans.length === 0) { box.replaceChildren(); return; }
    const t0 = Math.min(...spans.map((s) => s.start_us));
    const t1 = Math.max(...spans.map((s) => s.start_us + s.duration_us));
    const total = Math.max(1, t1 - t0);
    const pct = (us) => (100 * us / total).toFixed(3) + "%";
    const byId = new Map(spans.map((s) => [s.span_id, s]));
    const frag = document.createDocumentFragment();
    const legend = el("div", "legend");
    for (const [cls, text] of [["wait", "until the upstream's first byte"], ["rest", "response"],
                                ["fb", "first response byte"]]) {
      const item = el("span");
      item.appendChild(el("span", "key " + cls));
      item.appendChild(document.createTextNode(text));
      legend.appendChild(item);
    }
    legend.appendChild(el("span", null, "total " + fmtDur(total)));
    frag.appendChild(legend);
    for (const s of spans) {
      const row = el("div", "span-row");
      row.dataset.spanId = s.span_id;
      const line = el("div", "span-line");
      const label = el("div", "span-label");
      label.style.paddingLeft = (depthOf(s, byId) * 14) + "px";
      label.appendChild(el("span", null, s.name + " "));
      label.appendChild(el("span", "s" + s.status_class + (s.error ? " failed" : ""), s.status || "no status"));
      label.title = s.name + "  " + s.path;
      line.appendChild(label);
      const track = el("div", "span-track");
      const bar = el("div", "span-bar" + (s.error ? " failed" : ""));
      bar.style.left = pct(s.start_us - t0);
      bar.style.width = pct(s.duration_us);
      track.appendChild(bar);
      if (s.first_response_byte_us !== null) {
        const wait = el("div", "span-wait");
        wait.style.left = pct(s.start_us - t0);
        wait.style.width = pct(s.first_response_byte_us);
        track.appendChild(wait);
      }
      if (s.upstream_connected_us !== null) {
        const m = el("div", "mark connect");
        m.style.left = pct(s.start_us - t0 + s.upstream_connected_us);
        m.title = "upstream connected +" + fmtDur(s.upstream_connected_us);
        track.appendChild(m);
      }
      if (s.first_response_byte_us !== null) {
        const m = el("div", "mark first-byte");
        m.style.left = pct(s.start_us - t0 + s.first_response_byte_us);
        m.title = "first response byte +" + fmtDur(s.first_response_byte_us);
        track.appendChild(m);
      }
      line.appendChild(track);
      line.appendChild(el("div", "span-dur", fmtDur(s.duration_us)));
      row.appendChild(line);
      const detail = spanDetail(s);
      detail.classList.toggle("hidden", !(state.openSpans.has(s.span_id) || spans.length === 1));
      line.addEventListener("click", () => {
        const open = detail.classList.toggle("hidden") === false;
        if (open) state.openSpans.add(s.span_id); else state.openSpans.delete(s.span_id);
      });
      row.appendChild(detail);
      frag.appendChild(row);
    }
    box.replaceChildren(frag);
  }

  function fieldValue(v) {
    return typeof v === "string" ? v : JSON.stringify(v);
  }

  function spanDetail(s) {
    const d = el("div", "span-detail");
    const timing = el("div", "timings");
    const parts = ["start " + fmtTime(s.start_us)];
    if (s.upstream_connected_us !== null) parts.push("upstream connected +" + fmtDur(s.upstream_connected_us));
    if (s.first_response_byte_us !== null) parts.push("first response byte +" + fmtDur(s.first_response_byte_us));
    parts.push("end +" + fmtDur(s.duration_us));
    timing.textContent = parts.join(" · ");
    d.appendChild(timing);
    const ids = el("div", "mono muted", "span " + s.span_id + (s.parent_id ? "  parent " + s.parent_id : "  (root)") +
      "  kind " + s.kind);
    d.appendChild(ids);
    const tags = el("table", "tags");
    const tb = el("tbody");
    for (const t of s.tags) {
      const tr = el("tr");
      tr.appendChild(el("td", "mono", t.key));
      tr.appendChild(el("td", "mono", fieldValue(t.value)));
      tb.appendChild(tr);
    }
    tags.appendChild(tb);
    d.appendChild(el("div", "muted", "tags"));
    d.appendChild(tags);
    if (s.logs.length) {
      d.appendChild(el("div", "muted", "logs"));
      const list = el("table", "logs");
      const lb = el("tbody");
      for (const l of s.logs) {
        const tr = el("tr");
        tr.appendChild(el("td", "mono", "+" + fmtDur(l.timestamp_us - s.start_us)));
        tr.appendChild(el("td", "mono", l.fields.map((f) => f.key + "=" + fieldValue(f.value)).join("  ")));
        lb.appendChild(tr);
      }
      list.appendChild(lb);
      d.appendChild(list);
    }
    return d;
  }

  // ---- wiring --------------------------------------------------------------------------------
  function refresh() {
    refreshRoutes();
    refreshSpans();
    if (state.trace) showTrace();
  }

  function setLive(on) {
    if (state.timer) { clearInterval(state.timer); state.timer = null; }
    if (on) state.timer = setInterval(refresh, 2000);
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const th of document.querySelectorAll("#routes th[data-key]")) {
      th.addEventListener("click", () => {
        if (state.sortKey === th.dataset.key) state.sortAsc = !state.sortAsc;
        else { state.sortKey = th.dataset.key; state.sortAsc = th.dataset.key === "route"; }
        renderRoutes();
      });
    }
    for (const id of ["f-route", "f-status", "f-min", "f-trace"]) $(id).addEventListener("input", refreshSpans);
    $("filters").addEventListener("submit", (ev) => { ev.preventDefault(); refreshSpans(); });
    $("filters").addEventListener("reset", () => setTimeout(refreshSpans, 0));
    $("live").addEventListener("change", (ev) => setLive(ev.target.checked));
    $("trace-close").addEventListener("click", (ev) => { ev.preventDefault(); history.pushState(null, "", "#");
      showTrace(); });
    window.addEventListener("hashchange", showTrace);
    refresh();
    showTrace();
    setLive(true);
  });
})();
"""#
}
