// The plugins page (components, config schemas, delivery guarantees) and
// the heartbeat log.

import { api, h, fill, badge, notice, table, when, num } from "./lib.js";

const DELIVERY = {
  exactly_once: "exactly once: output is committed with the checkpoint; a restart neither loses nor repeats rows",
  idempotent: "idempotent: rows may be written again after a restart, but they replace themselves (keys), so the result holds each once",
  at_least_once: "at least once: after a restart some rows may be written twice",
};

/** Resolves a local "$ref" (#/$defs/X or #/definitions/X) against root. */
function deref(node, root, depth = 0) {
  if (!node || typeof node !== "object" || depth > 8) return node || {};
  if (typeof node.$ref === "string" && node.$ref.startsWith("#/")) {
    let t = root;
    for (const part of node.$ref.slice(2).split("/")) t = t?.[part.replace(/~1/g, "/").replace(/~0/g, "~")];
    return deref({ ...t, ...Object.fromEntries(Object.entries(node).filter(([k]) => k !== "$ref")) }, root, depth + 1);
  }
  return node;
}

function typeOf(p, root) {
  p = deref(p, root);
  if (p.enum) return "one of " + p.enum.map((x) => JSON.stringify(x)).join(", ");
  if (Array.isArray(p.type)) return p.type.join(" | ");
  if (p.type === "array") return "list of " + typeOf(p.items || {}, root);
  if (p.type === "object" && p.additionalProperties && typeof p.additionalProperties === "object") return "map of " + typeOf(p.additionalProperties, root);
  if (p.oneOf || p.anyOf) return (p.oneOf || p.anyOf).map((x) => typeOf(x, root)).join(" | ");
  return p.type || (p.pattern ? "string" : "any");
}

/** The rows of a config schema: one per key, nested objects' keys dotted. */
function schemaRows(schema) {
  const root = schema;
  const out = [];
  const walk = (node, prefix, depth) => {
    node = deref(node, root);
    const req = new Set(node.required || []);
    for (const [k, raw] of Object.entries(node.properties || {})) {
      const p = deref(raw, root);
      const key = prefix + k;
      const flags = [];
      if (p["x-adf-secret"]) flags.push("secret");
      if (p["x-adf-path"]) flags.push("path");
      if (p["x-adf-connect"]) flags.push("network");
      out.push([h("code", null, key), typeOf(p, root), req.has(k) ? h("b", null, "required") : "",
        p.default === undefined ? h("span", { class: "muted" }, "–") : h("code", null, JSON.stringify(p.default)),
        h("span", null, p.description || "", flags.length ? h("span", { class: "muted" }, ` (${flags.join(", ")})`) : null)]);
      if (p.type === "object" && p.properties && depth < 3) walk(p, key + ".", depth + 1);
    }
  };
  walk(schema, "", 0);
  return out;
}

export async function pluginsPage(ctx) {
  const list = await api("/v1/plugins", { signal: ctx.signal });
  const byPlugin = new Map();
  for (const c of list) {
    if (!byPlugin.has(c.plugin)) byPlugin.set(c.plugin, []);
    byPlugin.get(c.plugin).push(c);
  }
  // Installed plugins first, the components built into adf last.
  const builtin = (comps) => comps[0].plugin === "builtin";
  const sections = [...byPlugin].sort(([a, ca], [b, cb]) => builtin(ca) - builtin(cb) || a.localeCompare(b)).map(([plugin, comps]) => h("div", { class: "card plugin", "data-plugin": plugin },
    h("h2", null, builtin(comps) ? "Built into adf" : plugin, comps[0].version ? h("span", { class: "muted" }, " " + comps[0].version) : null),
    comps.map((c) => {
      let schema = null;
      try { schema = typeof c.config_schema === "string" ? JSON.parse(c.config_schema) : c.config_schema; } catch { schema = null; }
      const rows = schema ? schemaRows(schema) : [];
      return h("div", { class: "component", "data-type": c.type },
        h("h3", null, badge("none", c.kind), " ", c.type),
        h("p", null, c.description || ""),
        c.delivery ? h("p", null, h("b", null, "Delivery: "), DELIVERY[c.delivery] || c.delivery) : null,
        rows.length ? h("details", { open: !builtin(comps) }, h("summary", null, `Configuration: ${rows.length} key(s)`),
          table(["Key", "Type", "Required", "Default", "Description"], rows, { class: "schema" })) : h("p", { class: "muted" }, "No configuration."));
    })));
  fill(ctx.main, h("h1", null, "Plugins"), h("p", { class: "muted" },
    `${num(list.length)} component(s) from ${num(byPlugin.size)} plugin(s). A sink's delivery guarantee says what a restart from a checkpoint does to its output.`), sections);
}

export async function heartbeatsPage(ctx) {
  const box = h("div");
  fill(ctx.main, h("h1", null, "Heartbeat log"), h("p", { class: "muted" },
    "Each POST /v1/heartbeat (and tick of the built-in scheduler) with its outcome: the flows that were due and the runs it started. Refused requests of one address and outcome are folded into one row per minute."), box);
  let rows;
  try {
    rows = await api("/v1/heartbeats?limit=200", { signal: ctx.signal });
  } catch (err) {
    if (err.noRoute) { fill(box, notice("warn", "This host does not serve its heartbeat log (no /v1/heartbeats route).")); return; }
    if (err.status === 403) { fill(box, notice("warn", "The heartbeat log needs the admin token.")); return; }
    throw err;
  }
  rows = (Array.isArray(rows) ? rows : rows?.entries || []).slice().sort((a, b) => Date.parse(b.received_at) - Date.parse(a.received_at));
  if (!rows.length) { fill(box, notice("info", "No heartbeats logged yet.")); return; }
  fill(box, table(["Received", "Source", "Client", { v: "Status", class: "num" }, "Outcome", { v: "Due", class: "num" }, { v: "Triggered", class: "num" }, { v: "Requests", class: "num" }],
    rows.map((r) => [when(r.received_at), r.source || "", r.client_addr || r.remote_addr || "", { v: String(r.status), class: "num" },
      badge(r.outcome === "ok" ? "success" : "failed", r.outcome), { v: num(r.flows_due), class: "num" }, { v: num(r.flows_triggered), class: "num" },
      { v: num(r.requests), class: "num" }]), { id: "heartbeats-table" }));
}
