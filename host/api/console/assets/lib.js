// Shared pieces of the console: the API client (with the token from
// sessionStorage), the server-sent-events reader, DOM builders that only
// ever create text nodes for data, formatters and SVG charts.

const TOKEN_KEY = "adf-token";

/** The API token of this browser tab (sessionStorage: gone with the tab). */
export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY) || "",
  set: (v) => sessionStorage.setItem(TOKEN_KEY, v),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** An answer of the API other than 2xx. */
export class APIError extends Error {
  constructor(status, body, method, path) {
    const code = body && typeof body === "object" ? body.error : undefined;
    const msg = body && typeof body === "object" && body.message ? body.message : (typeof body === "string" && body ? body.trim() : `HTTP ${status}`);
    super(msg);
    this.status = status;
    this.code = code;
    this.body = body;
    this.method = method;
    this.path = path;
    this.requiredRole = body && typeof body === "object" ? body.required_role : undefined;
  }
  /** A 404 from a route this host does not have (no JSON error body), as opposed to a missing flow or run. */
  get noRoute() { return this.status === 404 && this.code === undefined || this.status === 405; }
}

/** Calls the API; resolves to the decoded JSON (null for an empty body), rejects with an APIError. */
export async function api(path, { method = "GET", body, signal } = {}) {
  const headers = { Authorization: "Bearer " + token.get(), Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, { method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = text; }
  }
  if (!r.ok) throw new APIError(r.status, data, method, path);
  return data;
}

/**
 * Reads a text/event-stream with fetch() (EventSource cannot send the
 * Authorization header) and calls onEvent(name, data) per event, data
 * decoded as JSON. Resolves when the stream ends.
 */
export async function readEvents(path, signal, onEvent) {
  const r = await fetch(path, { headers: { Authorization: "Bearer " + token.get(), Accept: "text/event-stream" }, signal });
  if (!r.ok) {
    let data = null;
    const text = await r.text();
    try { data = JSON.parse(text); } catch { data = text; }
    throw new APIError(r.status, data, "GET", path);
  }
  const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value.replace(/\r\n?/g, "\n");
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue;
        const c = line.indexOf(":");
        const field = c < 0 ? line : line.slice(0, c);
        const val = c < 0 ? "" : line.slice(c + 1).replace(/^ /, "");
        if (field === "event") name = val;
        else if (field === "data") data.push(val);
      }
      if (!data.length) continue;
      let parsed;
      try { parsed = JSON.parse(data.join("\n")); } catch { parsed = data.join("\n"); }
      onEvent(name, parsed);
    }
  }
}

// ---- DOM -----------------------------------------------------------------

/**
 * h("td", {class: "num", title: "..."}, child, ...) builds an element.
 * Children that are strings or numbers become text nodes (never markup);
 * null, undefined and false are left out; arrays are flattened. Attributes
 * starting with "on" are event listeners.
 */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** s("rect", {...}) builds an SVG element like h. */
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** Replaces el's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A status badge: success, failed, in_progress, cancelled, enabled, ... */
export function badge(status, text) {
  const st = String(status || "none");
  return h("span", { class: "badge s-" + st.replace(/[^a-z_]/gi, "") }, text ?? st.replace(/_/g, " "));
}

/** A notice box; kind is error, info or warn. */
export function notice(kind, ...children) {
  return h("div", { class: "notice " + kind, role: kind === "error" ? "alert" : "status" }, ...children);
}

/**
 * A table with a header row; rows are arrays of cells (nodes or text, or
 * {v, class, title}), or {attrs, cells}. A null header and the null cells
 * at its place leave that column out.
 */
export function table(headers, rows, attrs) {
  const head = h("tr", null, headers.filter((x) => x !== null).map((x) => typeof x === "string" ? h("th", null, x) : h("th", { class: x.class }, x.v)));
  const body = rows.map((r) => h("tr", r.attrs || null, (r.cells || r).filter((c) => c !== null).map(cell)));
  return h("table", attrs, h("thead", null, head), h("tbody", null, body));
}

function cell(c) {
  if (c && typeof c === "object" && !(c instanceof Node) && !Array.isArray(c)) return h("td", { class: c.class, title: c.title }, c.v);
  return h("td", null, c);
}

// ---- formats -------------------------------------------------------------

const nf = new Intl.NumberFormat();
const nf1 = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const nfc = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });
const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const dtf = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

/** A count with grouping separators; "–" for none. */
export function num(n) { return n === undefined || n === null || Number.isNaN(n) ? "–" : nf.format(n); }

/** A rate or other fractional number. */
export function dec(n) { return n === undefined || n === null || !Number.isFinite(n) ? "–" : nf1.format(n); }

/** A number in a short form for chart axes: "1.2K", "397K". */
export function compact(n) { return Number.isFinite(n) ? nfc.format(n) : "–"; }

/** Bytes in binary units. */
export function bytes(n) {
  if (n === undefined || n === null) return "–";
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? nf1.format(n) : nf.format(n)) + " " + u[i];
}

/** A duration in milliseconds: "850 ms", "12.3 s", "4 min 5 s", "2 h 3 min". */
export function duration(ms) {
  if (ms === undefined || ms === null || !Number.isFinite(ms)) return "–";
  if (ms < 1000) return nf.format(Math.round(ms)) + " ms";
  const sec = ms / 1000;
  if (sec < 60) return nf1.format(sec) + " s";
  const m = Math.floor(sec / 60), r = Math.round(sec % 60);
  if (m < 60) return `${m} min ${r} s`;
  const hr = Math.floor(m / 60);
  if (hr < 48) return `${hr} h ${m % 60} min`;
  return `${Math.floor(hr / 24)} d ${hr % 24} h`;
}

/** "3 minutes ago", "in 5 seconds". */
export function relative(date, now = Date.now()) {
  const diff = (date.getTime() - now) / 1000;
  const a = Math.abs(diff);
  if (a < 45) return rtf.format(Math.round(diff), "second");
  if (a < 45 * 60) return rtf.format(Math.round(diff / 60), "minute");
  if (a < 36 * 3600) return rtf.format(Math.round(diff / 3600), "hour");
  return rtf.format(Math.round(diff / 86400), "day");
}

/** A <time> showing the relative time, the exact one on hover; "–" for none. */
export function when(iso) {
  if (!iso) return h("span", { class: "muted" }, "–");
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return h("time", { datetime: d.toISOString(), title: dtf.format(d) + " (" + d.toISOString() + ")", "data-rel": "" }, relative(d));
}

/** Re-renders the relative times below root (they age while a page is open). */
export function refreshTimes(root) {
  const now = Date.now();
  for (const t of root.querySelectorAll("time[data-rel]")) t.textContent = relative(new Date(t.getAttribute("datetime")), now);
}

/** Rows per second of a stored run, null when it has not ended or took no time. */
export function runRate(run) {
  if (!run.started_at || !run.ended_at) return null;
  const sec = (new Date(run.ended_at) - new Date(run.started_at)) / 1000;
  return sec > 0 ? run.records_read / sec : null;
}

/** A run's duration in ms (to now while it goes on). */
export function runDuration(run) {
  if (!run.started_at) return null;
  const end = run.ended_at ? new Date(run.ended_at) : new Date();
  return end - new Date(run.started_at);
}

// ---- charts --------------------------------------------------------------

/** A sparkline of values (oldest first) as an inline SVG. */
export function sparkline(values, { width = 120, height = 24, label = "" } = {}) {
  const svg = s("svg", { class: "spark", width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label });
  const vs = values.filter((v) => Number.isFinite(v));
  if (vs.length === 0) {
    svg.appendChild(s("text", { x: 0, y: height - 7 }, "no runs"));
    return svg;
  }
  const max = Math.max(...vs) || 1;
  const step = vs.length > 1 ? (width - 2) / (vs.length - 1) : 0;
  const pts = vs.map((v, i) => [1 + i * step, height - 2 - (v / max) * (height - 4)]);
  if (pts.length === 1) pts.push([width - 1, pts[0][1]]);
  const line = pts.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" ");
  svg.appendChild(s("polygon", { class: "area", points: `1,${height - 1} ${line} ${(pts[pts.length - 1][0]).toFixed(1)},${height - 1}` }));
  svg.appendChild(s("polyline", { class: "line", points: line }));
  svg.appendChild(s("title", null, label || `max ${dec(max)} rows/s`));
  return svg;
}

/** A line chart of points [{t: ms, v}] with a y axis of its maximum. */
export function lineChart(points, { width = 640, height = 160, unit = "rows/s" } = {}) {
  const pad = { l: 48, r: 10, t: 10, b: 20 };
  const svg = s("svg", { class: "chart", width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": unit + " over time" });
  const w = width - pad.l - pad.r, hh = height - pad.t - pad.b;
  if (points.length < 2) {
    svg.appendChild(s("text", { x: pad.l, y: height / 2 }, points.length ? "waiting for more samples…" : "no samples yet"));
    return svg;
  }
  const t0 = points[0].t, t1 = points[points.length - 1].t || t0 + 1;
  const max = Math.max(...points.map((p) => p.v), 1);
  const x = (t) => pad.l + ((t - t0) / Math.max(t1 - t0, 1)) * w;
  const y = (v) => pad.t + hh - (v / max) * hh;
  for (const f of [0, 0.5, 1]) {
    svg.appendChild(s("line", { x1: pad.l, x2: width - pad.r, y1: y(max * f), y2: y(max * f), stroke: "#e4e7ec" }));
    svg.appendChild(s("text", { x: pad.l - 4, y: y(max * f) + 3, "text-anchor": "end" }, compact(max * f)));
  }
  svg.appendChild(s("text", { x: pad.l, y: height - 5 }, "0 s"));
  svg.appendChild(s("text", { x: width - pad.r, y: height - 5, "text-anchor": "end" }, duration(t1 - t0)));
  const line = points.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(" ");
  svg.appendChild(s("polyline", { class: "line", points: line }));
  svg.appendChild(s("title", null, `${unit}: last ${dec(points[points.length - 1].v)}, max ${dec(max)}`));
  return svg;
}

/** A bar chart, one bar per item {label, v, cls, title} (oldest first). */
export function barChart(items, { width = 640, height = 160, unit = "rows/s" } = {}) {
  const pad = { l: 48, r: 10, t: 10, b: 20 };
  const svg = s("svg", { class: "chart", width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": unit + " per run" });
  if (!items.length) {
    svg.appendChild(s("text", { x: pad.l, y: height / 2 }, "no finished runs yet"));
    return svg;
  }
  const w = width - pad.l - pad.r, hh = height - pad.t - pad.b;
  const max = Math.max(...items.map((i) => i.v || 0), 1);
  const bw = Math.min(28, w / items.length);
  for (const f of [0, 0.5, 1]) {
    const yy = pad.t + hh - f * hh;
    svg.appendChild(s("line", { x1: pad.l, x2: width - pad.r, y1: yy, y2: yy, stroke: "#e4e7ec" }));
    svg.appendChild(s("text", { x: pad.l - 4, y: yy + 3, "text-anchor": "end" }, compact(max * f)));
  }
  items.forEach((it, i) => {
    const bh = ((it.v || 0) / max) * hh;
    const r = s("rect", { class: it.cls || "bar-ok", x: pad.l + i * bw + 1, y: pad.t + hh - bh, width: Math.max(bw - 2, 1), height: Math.max(bh, 0.5) });
    r.appendChild(s("title", null, it.title || `${it.label}: ${dec(it.v)} ${unit}`));
    svg.appendChild(r);
  });
  svg.appendChild(s("text", { x: pad.l + 1, y: height - 5 }, items[0].label));
  if (items.length > 1) svg.appendChild(s("text", { x: pad.l + items.length * bw - 1, y: height - 5, "text-anchor": "end" }, items[items.length - 1].label));
  return svg;
}

// ---- diff ----------------------------------------------------------------

/** A line diff of a and b (arrays of lines): [{op: " "|"+"|"-", line}], by longest common subsequence. */
export function diffLines(a, b) {
  // Trim the common head and tail so the quadratic table covers only the change.
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let ea = a.length, eb = b.length;
  while (ea > start && eb > start && a[ea - 1] === b[eb - 1]) { ea--; eb--; }
  const A = a.slice(start, ea), B = b.slice(start, eb);
  const n = A.length, m = B.length;
  const out = a.slice(0, start).map((line) => ({ op: " ", line }));
  if (n * m > 4e6) {
    out.push(...A.map((line) => ({ op: "-", line })), ...B.map((line) => ({ op: "+", line })));
  } else {
    const L = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
    for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) L[i][j] = A[i] === B[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
    let i = 0, j = 0;
    while (i < n && j < m) {
      if (A[i] === B[j]) { out.push({ op: " ", line: A[i] }); i++; j++; }
      else if (L[i + 1][j] >= L[i][j + 1]) out.push({ op: "-", line: A[i++] });
      else out.push({ op: "+", line: B[j++] });
    }
    while (i < n) out.push({ op: "-", line: A[i++] });
    while (j < m) out.push({ op: "+", line: B[j++] });
  }
  out.push(...a.slice(ea).map((line) => ({ op: " ", line })));
  return out;
}
