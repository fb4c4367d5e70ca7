// The flows list and the flow detail page.

import { api, h, fill, badge, notice, table, when, num, dec, duration, sparkline, barChart, runRate, runDuration, diffLines, refreshTimes } from "./lib.js";

/** Whether a flow record is enabled (the record's field, else the flow document's; default true). */
export function isEnabled(rec) {
  if (typeof rec.enabled === "boolean") return rec.enabled;
  if (typeof rec.flow?.enabled === "boolean") return rec.flow.enabled;
  return true;
}

/** A Go duration as people write it: "1h0m0s" is "1h", "1m30s" stays. */
export function shortDuration(d) {
  return String(d).replace(/(\d)(h|m)0m0s$/, "$1$2").replace(/(\d)m0s$/, "$1m").replace(/(\d)h0m(\d)/, "$1h$2");
}

function schedule(f) {
  if (f.schedule?.every) return "every " + shortDuration(f.schedule.every);
  if (f.source?.config?.mode === "continuous") return "continuous (when triggered)";
  return "manual";
}

/** The last successful run's end: the record's last_success_at, else the newest success among runs. */
function lastSuccess(rec, runs) {
  if (rec.last_success_at) return rec.last_success_at;
  const ok = runs.find((r) => r.status === "success" && r.ended_at);
  return ok ? ok.ended_at : null;
}

/** The newest run: its status badge and when it started (from the runs, else the record's last_run_*). */
function lastRun(rec, runs) {
  const r = runs[0];
  if (r) return h("span", { title: r.error_message || "" }, runLink(r.id), " ", badge(r.status), " ", when(r.started_at || r.scheduled_for));
  if (rec.last_run_status) return h("span", { title: rec.last_error || "" }, badge(rec.last_run_status), " ", when(rec.last_run_at));
  return h("span", { class: "muted" }, "never");
}

function flowLink(name) { return h("a", { href: "#/flows/" + encodeURIComponent(name), class: "flow-link" }, name); }

export function runLink(id) { return h("a", { href: "#/runs/" + id, class: "run-link" }, "#" + id); }

export async function flowsPage(ctx) {
  const status = h("div");
  const body = h("div", { id: "flows" });
  fill(ctx.main, h("h1", null, "Flows"), status, body);
  const load = async () => {
    const [flows, runs] = await Promise.all([api("/v1/flows", { signal: ctx.signal }), api("/v1/runs?limit=500", { signal: ctx.signal })]);
    const byFlow = new Map();
    for (const r of runs) {
      if (!byFlow.has(r.flow)) byFlow.set(r.flow, []);
      byFlow.get(r.flow).push(r); // newest first
    }
    if (!flows.length) {
      fill(body, notice("info", "No flows yet. Create one with ", h("code", null, "adf flows apply FLOW.yaml"), " or POST /v1/flows."));
      return;
    }
    const rows = flows.map((rec) => {
      const f = rec.flow, fr = byFlow.get(f.name) || [];
      const rates = fr.slice(0, 20).reverse().map(runRate).filter((v) => v !== null);
      const active = fr.find((r) => r.status === "in_progress" || r.status === "pending");
      return {
        attrs: { "data-flow": f.name },
        cells: [
          h("div", null, flowLink(f.name), f.description ? h("div", { class: "desc flow-desc" }, f.description) : null),
          h("span", null, isEnabled(rec) ? badge("enabled") : badge("disabled"), " ", active ? badge(active.status) : null),
          schedule(f),
          when(isEnabled(rec) ? rec.next_run_at : null),
          when(lastSuccess(rec, fr)),
          lastRun(rec, fr),
          h("span", { class: "nowrap" }, sparkline(rates, { label: rates.length ? `rows/s of the last ${rates.length} runs, max ${dec(Math.max(...rates))}` : "no finished runs" }),
            " ", h("span", { class: "muted" }, rates.length ? dec(rates[rates.length - 1]) + "/s" : "")),
          `${f.source?.type ?? "?"} → ${f.sink?.type ?? "?"}`,
          { v: "v" + rec.config_version, class: "num" },
        ],
      };
    });
    fill(body, table(["Flow", "Status", "Schedule", "Next run", "Last success", "Last run", "Throughput", "Source → sink", { v: "Version", class: "num" }], rows, { id: "flows-table" }));
  };
  await poll(ctx, load, status, 5000);
}

/** Runs load now and every ms until the page goes; errors show in status (a 401 goes to the login). */
async function poll(ctx, load, status, ms) {
  const once = async () => {
    try {
      await load();
      fill(status);
    } catch (err) {
      if (ctx.signal.aborted) return;
      fill(status);
      ctx.fail(err, status);
    }
  };
  await once();
  const t = setInterval(() => { if (!ctx.signal.aborted) once(); }, ms);
  ctx.signal.addEventListener("abort", () => clearInterval(t));
}

export async function flowPage(ctx) {
  const name = ctx.params[0];
  const path = "/v1/flows/" + encodeURIComponent(name);
  const title = h("h1", null, name);
  const desc = h("p", { class: "desc", id: "flow-description" });
  const msg = h("div", { id: "flow-msg" });
  const actions = h("div", { class: "actions" });
  const status = h("div");
  const summary = h("div", { class: "card", id: "flow-summary" });
  const lastError = h("div", { id: "flow-last-error" });
  const chart = h("div", { id: "flow-chart" });
  const runsBox = h("div", { id: "flow-runs" });
  const config = h("pre", { id: "flow-config" });
  const versions = h("div", { id: "flow-versions" });
  fill(ctx.main, h("p", null, h("a", { href: "#/flows" }, "← Flows")), title, desc, actions, msg, status, summary, lastError,
    h("h2", null, "Rows per second, per run"), chart,
    h("h2", null, "Runs"), runsBox,
    h("div", { class: "grid2" },
      h("div", null, h("h2", null, "Configuration (secrets redacted)"), config),
      h("div", null, h("h2", null, "Version history"), versions)));

  let rec = null;
  const act = (label, cls, id, fn) => h("button", { class: cls, id, type: "button", onclick: async (ev) => {
    ev.target.disabled = true;
    fill(msg);
    try { await fn(); } catch (err) { ctx.fail(err, msg); } finally { ev.target.disabled = false; }
  } }, label);

  const drawActions = () => {
    fill(actions,
      act("Trigger a run", "primary", "trigger", async () => {
        let run;
        try {
          run = await api(path + "/runs", { method: "POST", signal: ctx.signal });
        } catch (err) {
          if (err.status === 409 && err.code === "run_active") {
            const ids = err.body?.run_ids || [];
            fill(msg, notice("warn", "Not started: a flow runs once at a time, and ", ids.length ? ids.map((id, i) => [i ? ", " : "", runLink(id)]) : "a run",
              " is pending or in progress."));
            return;
          }
          throw err;
        }
        fill(msg, notice("info", "Run ", runLink(run.id), ` is ${run.status.replace(/_/g, " ")}. `,
          h("a", { href: "#/runs/" + run.id, id: "open-triggered" }, "Open it"), ".",
          rec.flow.schedule?.every && isEnabled(rec) ? [" A manual run does not move the schedule: the next scheduled run is still due ", when(rec.next_run_at),
            " (if this run is still going then, the scheduled one starts when it ends)."] : null));
        await loadAll();
      }),
      isEnabled(rec)
        ? act("Disable", "", "disable", async () => { rec = await api(path + "/disable", { method: "POST", signal: ctx.signal }) || rec; await loadAll(); })
        : act("Enable", "", "enable", async () => { rec = await api(path + "/enable", { method: "POST", signal: ctx.signal }) || rec; await loadAll(); }),
      act("Delete…", "danger", "delete", async () => confirmDelete()),
    );
  };

  const keep = () => h("button", { type: "button", id: "delete-keep", onclick: () => fill(msg) }, "Keep it");
  const confirmDelete = () => fill(msg, notice("warn", h("b", null, `Delete the flow ${name}`), " and its version history? Its runs stay as history. ",
    act("Delete", "danger", "delete-confirm", () => del(false)), " ", keep()));
  // del deletes the flow; a 409 run_active names the runs in the way and
  // offers to cancel them and delete.
  const del = async (cancelRuns) => {
    try {
      await api(path + (cancelRuns ? "?cancel_runs=true" : ""), { method: "DELETE", signal: ctx.signal });
    } catch (err) {
      if (err.status === 409 && err.code === "run_active") {
        const ids = err.body?.run_ids || [];
        fill(msg, notice("warn", `The flow has ${ids.length || "some"} run(s) pending or in progress: `, ids.map((id, i) => [i ? ", " : "", runLink(id)]),
          ". Deleting it asks them to stop (an unbounded run takes a final checkpoint first); they end cancelled. ",
          act("Cancel the runs and delete", "danger", "delete-cancel-runs", () => del(true)), " ", keep()));
        return;
      }
      throw err;
    }
    location.hash = "#/flows";
  };

  const load = async () => {
    const [r, runs] = await Promise.all([api(path, { signal: ctx.signal }), api(path + "/runs?limit=100", { signal: ctx.signal })]);
    rec = r;
    const f = rec.flow;
    fill(title, f.name, " ", isEnabled(rec) ? badge("enabled") : badge("disabled"));
    fill(desc, f.description || "");
    drawActions();
    fill(summary, h("div", { class: "kv" }, [
      ["Schedule", schedule(f)],
      ["Next run", isEnabled(rec) ? when(rec.next_run_at) : h("span", { class: "muted" }, "none: disabled")],
      ["Last success", when(lastSuccess(rec, runs))],
      ["Last run", lastRun(rec, runs)],
      ["Source → sink", `${f.source?.type} → ${f.sink?.type}`],
      ["Parallelism", String(f.parallelism || 1)],
      ["On error", f.on_error || "fail"],
      ["Version", "v" + rec.config_version + ", changed ", when(rec.updated_at)],
    ].map((r) => h("div", null, h("div", { class: "k" }, r[0]), h("div", null, r.slice(1))))));
    fill(lastError, rec.last_error ? notice("error", h("b", null, "Last error: "), rec.last_error.split("\n")[0]) : null);
    // Refilled only when it changed, so a selection in it survives the polling.
    const cfgText = JSON.stringify(f, null, 2);
    if (config.textContent !== cfgText) fill(config, cfgText);
    const done = runs.filter((r) => runRate(r) !== null).slice(0, 60).reverse();
    fill(chart, barChart(done.map((r) => ({
      label: "#" + r.id, v: runRate(r), cls: r.status === "success" ? "bar-ok" : r.status === "failed" ? "bar-failed" : "bar-other",
      title: `run #${r.id} (${r.status}): ${dec(runRate(r))} rows/s, ${num(r.records_read)} rows in ${duration(runDuration(r))}`,
    }))));
    fill(runsBox, runs.length ? runsTable(runs) : notice("info", "No runs yet."));
  };
  let shownVersion = null;
  const loadAll = async () => {
    await load();
    // Enabling or disabling is a change of the flow document, hence a new
    // version: the history follows.
    if (rec && rec.config_version !== shownVersion) {
      shownVersion = rec.config_version;
      loadVersions(ctx, path, versions);
    }
  };
  await poll(ctx, loadAll, status, 3000);
}

/** The recent runs of all flows (#/runs). */
export async function runsPage(ctx) {
  const status = h("div");
  const body = h("div");
  fill(ctx.main, h("h1", null, "Recent runs"), status, body);
  await poll(ctx, async () => {
    const runs = await api("/v1/runs?limit=100", { signal: ctx.signal });
    fill(body, runs.length ? runsTable(runs, true) : notice("info", "No runs yet."));
  }, status, 5000);
}

/** The runs table of a flow page (withFlow: and a flow column, for the runs of all flows). */
export function runsTable(runs, withFlow = false) {
  return table(["Run", withFlow ? "Flow" : null, "Status", "Trigger", { v: "Attempt", class: "num" }, "Started", { v: "Duration", class: "num" },
    { v: "Read", class: "num" }, { v: "Written", class: "num" }, { v: "Rejected", class: "num" }, { v: "Rows/s", class: "num" }, "Error"],
  runs.map((r) => ({
    attrs: { "data-run": String(r.id) },
    cells: [runLink(r.id), withFlow ? flowLink(r.flow) : null, badge(r.status), r.trigger, { v: num(r.attempt), class: "num" }, when(r.started_at || r.scheduled_for),
      { v: duration(runDuration(r)), class: "num" }, { v: num(r.records_read), class: "num" }, { v: num(r.records_written), class: "num" },
      { v: num(r.records_rejected), class: "num" }, { v: dec(runRate(r)), class: "num" },
      { v: r.error_message ? r.error_message.split("\n")[0] : "", class: "clip", title: r.error_message || undefined }],
  })), { id: "runs-table" });
}

async function loadVersions(ctx, path, box) {
  let list;
  try {
    list = await api(path + "/versions", { signal: ctx.signal });
  } catch (err) {
    if (ctx.signal.aborted) return;
    if (err.noRoute) { fill(box, notice("warn", "This host keeps no version history (no /versions route).")); return; }
    fill(box); ctx.fail(err, box); return;
  }
  list = (Array.isArray(list) ? list : list?.versions || []).slice().sort((a, b) => a.version - b.version);
  if (!list.length) { fill(box, notice("info", "No versions stored.")); return; }
  const text = (v) => JSON.stringify(v.config ?? v.flow ?? v, null, 2).split("\n");
  const options = (sel) => list.map((v) => h("option", { value: String(v.version), selected: v.version === sel }, `v${v.version} (${new Date(v.created_at).toLocaleString()})`));
  const last = list[list.length - 1].version;
  const from = h("select", { id: "diff-from" }, options(list.length > 1 ? list[list.length - 2].version : last));
  const to = h("select", { id: "diff-to" }, options(last));
  const out = h("div", { class: "diff", id: "diff" });
  const draw = () => {
    const a = list.find((v) => String(v.version) === from.value), b = list.find((v) => String(v.version) === to.value);
    const d = diffLines(text(a), text(b));
    const changed = d.some((x) => x.op !== " ");
    fill(out, changed ? d.map((x) => h("div", { class: x.op === "+" ? "add" : x.op === "-" ? "del" : "" }, x.op + " " + x.line))
      : h("div", { class: "muted" }, a === b ? "Pick two versions to compare." : "No difference."));
  };
  from.addEventListener("change", draw);
  to.addEventListener("change", draw);
  fill(box,
    table(["Version", "Saved"], list.slice().reverse().map((v) => [h("b", null, "v" + v.version), when(v.created_at)]), { id: "versions-table" }),
    h("p", { class: "actions" }, "Compare ", from, " with ", to), out);
  draw();
  refreshTimes(box);
}
