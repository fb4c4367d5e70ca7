// The console's router: hash routes (#/flows, #/flows/NAME, #/runs, #/runs/ID,
// #/plugins, #/heartbeats, #/login), one page at a time. A page gets an
// AbortSignal that fires when the operator navigates away, which stops its
// polling and its event stream.

import { token, APIError, fill, h, notice, refreshTimes } from "./lib.js";
import { flowsPage, flowPage, runsPage } from "./flows.js";
import { runPage } from "./run.js";
import { pluginsPage, heartbeatsPage } from "./misc.js";
import { loginPage } from "./login.js";

const main = document.getElementById("main");
let current = null; // AbortController of the page on screen

const routes = [
  [/^#\/login$/, "login", () => loginPage],
  [/^#\/flows\/([^/]+)$/, "flows", () => flowPage],
  [/^#\/(?:flows)?$/, "flows", () => flowsPage],
  [/^#\/runs\/(\d+)$/, "runs", () => runPage],
  [/^#\/runs$/, "runs", () => runsPage],
  [/^#\/plugins$/, "plugins", () => pluginsPage],
  [/^#\/heartbeats$/, "heartbeats", () => heartbeatsPage],
];

/** What a page gets: where to draw, its route parameters, its abort signal, and the error handler. */
function context(signal, params) {
  return {
    main, params, signal,
    /** Shows err on the page: a 401 sends the operator to the login page with the reason. */
    fail(err, where = main) {
      if (signal.aborted || err?.name === "AbortError") return;
      if (err instanceof APIError && err.status === 401) {
        sessionStorage.setItem("adf-login-reason", "401");
        location.hash = "#/login";
        return;
      }
      where.appendChild(errorNotice(err));
    },
  };
}

/** A notice for an API or other error, saying what a 401/403/404/429 means. */
export function errorNotice(err) {
  if (!(err instanceof APIError)) return notice("error", String(err?.message || err));
  const what = `${err.method} ${err.path}: ${err.status}`;
  switch (true) {
    case err.status === 403:
      return notice("error", `${what} forbidden. Your token is valid, but this needs the `, h("b", null, err.requiredRole || "a higher"),
        " role; ask for an operator or admin token.");
    case err.noRoute:
      return notice("warn", `${what}: this host has no such route (an older adf version?).`);
    case err.status === 429:
      return notice("error", `${what}: too many failed logins from this address; wait a minute and try again.`);
    default:
      return notice("error", `${what} ${err.code ? "(" + err.code + ")" : ""}: ${err.message}`);
  }
}

async function route() {
  current?.abort();
  current = new AbortController();
  const hash = location.hash || "#/flows";
  if (!token.get() && hash !== "#/login") {
    location.hash = "#/login";
    return;
  }
  for (const [re, nav, page] of routes) {
    const m = hash.match(re);
    if (!m) continue;
    for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.route === nav);
    document.getElementById("logout").hidden = !token.get();
    fill(main);
    const ctx = context(current.signal, m.slice(1).map(decodeURIComponent));
    try {
      await page()(ctx);
    } catch (err) {
      ctx.fail(err);
    }
    return;
  }
  fill(main, notice("warn", "No such page: ", hash), h("a", { href: "#/flows" }, "Go to the flows"));
}

document.getElementById("logout").addEventListener("click", () => {
  token.clear();
  location.hash = "#/login";
});
window.addEventListener("hashchange", route);
setInterval(() => refreshTimes(main), 15000);
route();
