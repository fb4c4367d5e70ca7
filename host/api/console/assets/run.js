// The run page: live counters and a rows/s chart from the run's event
// stream, split assignment per reader, attempts, error and backtrace,
// rejected records paged with their positions, and cancel.

import { api, readEvents, h, fill, badge, notice, table, when, num, dec, bytes, duration, lineChart, runRate, runDuration, refreshTimes } from "./lib.js";

const PAGE = 50;
const SHOW_FINISHED = 10;
const live = (st) => st === "pending" || st === "in_progress";
/** Resolves after ms, or at once when signal aborts. */
function sleep(ms, signal) {
  return new Promise((res) => {
    const done = () => { clearTimeout(t); signal.removeEventListener("abort", done); res(); };
    const t = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

export async function runPage(ctx) {
  const id = ctx.params[0];
  const path = "/v1/runs/" + id;
  const { signal } = ctx;
  let run = await api(path, { signal });
  let snap = run.progress || null;
  const samples = []; // {t, v}: rows/s over time, from the stream
  let prev = null; // the previous snapshot, to derive a rate when the host sends none

  const title = h("h1");
  const meta = h("p", { class: "muted", id: "run-meta" });
  const actions = h("div", { class: "actions" });
  const msg = h("div", { id: "run-msg" });
  const liveNote = h("div", { id: "live-note" });
  const counters = h("div", { class: "counters", id: "counters" });
  const chart = h("div", { id: "run-chart" });
  const splits = h("div", { id: "splits" });
  const attempts = h("div", { id: "attempts" });
  const errorBox = h("div", { id: "run-error" });
  const rejected = h("div", { id: "rejected" });
  const configBox = h("div", { id: "run-config" });
  fill(ctx.main, h("p", null, h("a", { href: "#/flows/" + encodeURIComponent(run.flow) }, "← " + run.flow)),
    title, meta, actions, msg, liveNote, counters,
    h("h2", null, "Rows per second"), chart,
    h("div", { class: "grid2" }, h("div", null, h("h2", null, "Split assignment"), splits), h("div", null, h("h2", null, "Attempts"), attempts)),
    errorBox,
    h("h2", null, "Rejected records"), rejected, configBox);
  if (run.config) {
    fill(configBox, h("details", null, h("summary", null, `Configuration of this run (v${run.config_version}, secrets redacted)`),
      h("pre", null, JSON.stringify(run.config, null, 2))));
  }

  const cancel = h("button", { class: "danger", id: "cancel", type: "button", onclick: async () => {
    cancel.disabled = true;
    fill(msg);
    try {
      const res = await api(path + "/cancel", { method: "POST", signal });
      if (res && res.id) { run = res; draw(); }
      fill(msg, notice("info", live(run.status) ? "Cancellation requested: the run stops at its next lease renewal (an unbounded run takes a final checkpoint first)." : "Run cancelled."));
    } catch (err) {
      cancel.disabled = false;
      if (err.status === 409) fill(msg, notice("warn", "The run has already ended."));
      else ctx.fail(err, msg);
    }
  } }, "Cancel run");

  function counter(key, label, value, extra) {
    return h("div", { class: "counter", id: "c-" + key }, h("div", { class: "k" }, label), h("div", { class: "v" }, value), extra);
  }

  function draw() {
    const s = snap && !snap.done && live(run.status) ? snap : null;
    fill(title, `Run #${run.id} `, h("span", { id: "run-status" }, badge(run.status)));
    fill(meta, "flow ", h("a", { href: "#/flows/" + encodeURIComponent(run.flow) }, run.flow), ` · ${run.trigger} · config v${run.config_version} · scheduled `, when(run.scheduled_for),
      run.runtime_job_id ? ` · runtime job ${run.runtime_job_id}` : "");
    fill(actions, live(run.status) ? cancel : null);
    const read = s ? s.rows_read : run.records_read, written = s ? s.rows_written : run.records_written;
    const rej = s ? s.rows_rejected : run.records_rejected;
    const rate = s ? currentRate() : runRate(run);
    let byteBox = null;
    if (s && s.bytes_total > 0) {
      const pct = Math.min(100, (s.bytes_read / s.bytes_total) * 100);
      const bar = h("div");
      bar.style.width = pct.toFixed(1) + "%";
      const eta = rate > 0 && s.rows_read > 0 ? ((s.bytes_total - s.bytes_read) / (s.bytes_read / s.rows_read)) / rate * 1000 : null;
      byteBox = counter("bytes", "Bytes read", `${bytes(s.bytes_read)} / ${bytes(s.bytes_total)}`,
        h("div", null, h("div", { class: "bar", title: dec(pct) + "%" }, bar), h("div", { class: "muted" }, dec(pct) + "%" + (eta !== null && pct < 100 ? " · ETA " + duration(eta) : ""))));
    } else if (s) {
      byteBox = counter("bytes", "Bytes read", bytes(s.bytes_read));
    }
    fill(counters,
      counter("read", "Read", num(read)),
      counter("written", "Written", num(written)),
      counter("rejected", "Rejected", num(rej)),
      counter("rate", s ? "Rows/s now" : "Rows/s (average)", dec(rate)),
      byteBox,
      counter("bytes-written", "Bytes written", bytes(s ? s.bytes_written : run.bytes_written)),
      counter("checkpoints", "Checkpoints", s ? num(s.checkpoints) : "–", s?.last_checkpoint_at ? h("div", { class: "muted" }, "last ", when(s.last_checkpoint_at)) : null),
      counter("restarts", "Restarts", s ? num(s.restarts) : "–"),
      counter("duration", "Duration", duration(runDuration(run))),
    );
    if (s || samples.length) fill(chart, lineChart(samples));
    else {
      const r = runRate(run);
      fill(chart, r === null ? h("p", { class: "muted" }, "The run has not ended; no live stream from this host.")
        : h("p", { class: "muted" }, `The run read ${num(run.records_read)} rows in ${duration(runDuration(run))}: ${dec(r)} rows/s on average (live samples exist only while the page watches a run).`));
    }
    drawSplits(s || snap);
    fill(attempts, table(["Attempt", "Scheduled", "Started", "Ended", "Status"], [[
      { v: num(run.attempt), class: "num" }, when(run.scheduled_for), when(run.started_at), when(run.ended_at), badge(run.status)]]),
    h("p", { class: "muted" }, run.attempt > 1 ? `Attempt ${run.attempt}: the earlier ${run.attempt - 1} failed with a retryable error and the run resumed from its last checkpoint.` : "The first attempt."),
    s && s.restarts ? h("p", { class: "muted" }, `${num(s.restarts)} restart(s) from a checkpoint within this attempt.`) : null);
    // Refilled only when the error changed: an opened backtrace stays open
    // while progress events redraw the page.
    const errKey = (run.error_message || "") + "\u0000" + (run.error_backtrace || "");
    if (errorBox.dataset.key !== errKey) {
      errorBox.dataset.key = errKey;
      fill(errorBox, run.error_message ? [h("h2", null, "Error"), h("div", { class: "notice error", id: "error-message" }, run.error_message),
        run.error_backtrace ? h("details", { id: "backtrace" }, h("summary", null, "Backtrace"), h("pre", null, run.error_backtrace)) : null] : null);
    }
  }

  function currentRate() {
    if (snap && Number.isFinite(snap.rows_per_second)) return snap.rows_per_second;
    return samples.length ? samples[samples.length - 1].v : null;
  }

  function drawSplits(s) {
    const list = s?.splits || [];
    if (!list.length) {
      fill(splits, h("p", { class: "muted" }, live(run.status) ? "No splits reported yet." : "Split assignment is shown while the run goes on."));
      return;
    }
    const readers = new Map();
    for (const sp of list) {
      const key = sp.state === "pending" ? "pending" : "reader " + sp.reader;
      if (!readers.has(key)) readers.set(key, []);
      readers.get(key).push(sp);
    }
    const summary = [...readers].map(([k, v]) => `${k}: ${v.filter((x) => x.state === "assigned").length} assigned, ${v.filter((x) => x.state === "finished").length} finished${k === "pending" ? `, ${v.length} waiting` : ""}`);
    // Finished splits pile up in a long (or continuous) run: the table
    // keeps every assigned and pending one and the last finished ones.
    const open = list.filter((x) => x.state !== "finished");
    const finished = list.filter((x) => x.state === "finished");
    const shown = open.concat(finished.slice(-SHOW_FINISHED));
    const hidden = list.length - shown.length;
    fill(splits, h("p", { class: "muted" }, `${s.readers || readers.size} reader(s). `, summary.join("; ")),
      table(["Reader", "Split", "State", { v: "Lag", class: "num" }], shown.sort((a, b) => a.reader - b.reader || a.id.localeCompare(b.id)).map((sp) => [
        sp.state === "pending" ? "–" : String(sp.reader), { v: sp.id, class: "clip", title: sp.id }, badge(sp.state === "assigned" ? "running" : sp.state === "finished" ? "success" : "pending", sp.state),
        { v: sp.lag > 0 ? num(sp.lag) : sp.lag === 0 ? "0" : "", class: "num", title: sp.lag < 0 ? "the source reports no lag for this split" : undefined }]), { id: "splits-table" }),
      hidden > 0 ? h("p", { class: "muted" }, `and ${num(hidden)} more finished split(s)`) : null);
  }

  // The stream carries counters, not the run's status or attempt: re-read
  // the run when a progress event finds it still pending (it has started)
  // and every 10 s otherwise, one request at a time.
  let refreshing = false, refreshedAt = Date.now();
  function maybeRefresh() {
    if (refreshing || Date.now() - refreshedAt < (run.status === "pending" ? 1000 : 10000)) return;
    refreshing = true;
    api(path, { signal }).then((r) => { if (live(run.status)) { run = r; draw(); } }).catch((err) => { if (err.status === 401) ctx.fail(err); }).finally(() => { refreshing = false; refreshedAt = Date.now(); });
  }

  function applySnap(next) {
    const t = Date.parse(next.updated_at) || Date.now();
    let v = Number.isFinite(next.rows_per_second) ? next.rows_per_second : null;
    if (v === null && prev) {
      const dt = (t - (Date.parse(prev.updated_at) || t)) / 1000;
      v = dt > 0 ? (next.rows_read - prev.rows_read) / dt : null;
    }
    if (v !== null && (!samples.length || t > samples[samples.length - 1].t)) samples.push({ t, v });
    if (samples.length > 600) samples.shift();
    prev = next;
    snap = next;
    draw();
    maybeRefresh();
  }

  // Rejected records, a page at a time.
  let offset = 0;
  async function loadRejected() {
    let page;
    try {
      page = await api(`${path}/rejected?offset=${offset}&limit=${PAGE}`, { signal });
    } catch (err) {
      if (signal.aborted) return;
      if (err.status === 403) { fill(rejected, notice("warn", "Reading rejected records needs an operator or admin token: they hold the data itself.")); return; }
      fill(rejected); ctx.fail(err, rejected); return;
    }
    const recs = Array.isArray(page) ? page : page?.records || page?.items || [];
    const total = Array.isArray(page) ? run.records_rejected : page?.total ?? run.records_rejected;
    if (!recs.length && offset === 0) {
      fill(rejected, h("p", { class: "muted", id: "rejected-none" }, run.records_rejected ? `${num(run.records_rejected)} record(s) were rejected and skipped (on_error: skip keeps no records).` : "No rejected records."));
      return;
    }
    const prevB = h("button", { id: "rejected-prev", type: "button", disabled: offset === 0, onclick: () => { offset = Math.max(0, offset - PAGE); loadRejected(); } }, "← Previous");
    const nextB = h("button", { id: "rejected-next", type: "button", disabled: recs.length < PAGE || (total && offset + recs.length >= total), onclick: () => { offset += PAGE; loadRejected(); } }, "Next →");
    fill(rejected,
      h("div", { class: "pager" }, prevB, nextB, h("span", { id: "rejected-range", class: "muted" },
        recs.length ? `${num(offset + 1)}–${num(offset + recs.length)}${total ? " of " + num(total) : ""}` : `none from ${num(offset + 1)}`)),
      table([{ v: "#", class: "num" }, "Position", "Stage", "Reason", "Record", "Time"], recs.map((r, i) => [
        { v: num(offset + i + 1), class: "num" }, h("code", { class: "position" }, r.position || r.split || "–"), r.stage, { v: r.reason, class: "wrap" },
        { v: r.record, class: "wrap" }, when(r.time)]), { id: "rejected-table" }));
    refreshTimes(rejected);
  }

  draw();
  loadRejected();
  // Follow the run while it goes on: the event stream, or polling when the
  // host has none or it broke off (a proxy's timeout, a host restart).
  let noStream = false;
  while (!signal.aborted && live(run.status)) {
    fill(liveNote, noStream ? notice("warn", "This host has no event stream; polling every second.") : null);
    if (!noStream) {
      try {
        await readEvents(path + "/events", signal, (ev, data) => {
          if (ev === "progress") applySnap(data);
          // "run": the stored run, while it is pending or goes on on another host.
          else if (ev === "run" && data && data.id) { run = data; if (data.progress) applySnap(data.progress); else draw(); }
          else if (ev === "end" && data && data.id) { run = data; snap = null; draw(); }
        });
      } catch (err) {
        if (signal.aborted) return;
        if (err.noRoute) noStream = true;
        else if (err.status === 401) { ctx.fail(err); return; }
      }
    }
    if (!live(run.status)) break;
    await sleep(1000, signal);
    if (signal.aborted) return;
    try {
      run = await api(path, { signal });
      if (run.progress) applySnap(run.progress); else draw();
    } catch (err) {
      if (signal.aborted) return;
      if (err.status === 401) { ctx.fail(err); return; }
    }
  }
  fill(liveNote);
  draw();
  offset = 0;
  loadRejected();
}
