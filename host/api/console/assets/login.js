// The login page: the token, where it comes from, and what a refusal means.

import { api, token, APIError, h, fill, notice } from "./lib.js";

export async function loginPage(ctx) {
  const reason = sessionStorage.getItem("adf-login-reason");
  sessionStorage.removeItem("adf-login-reason");
  const input = h("input", { id: "token", type: "password", autocomplete: "current-password", placeholder: "paste the token", spellcheck: "false" });
  const msg = h("div", { id: "login-msg" });
  const submit = h("button", { id: "login", class: "primary", type: "submit" }, "Log in");
  const form = h("form", { class: "card" }, h("label", { for: "token" }, "API token"), input, submit, msg);
  fill(ctx.main, h("div", { class: "login" },
    h("h1", null, "Log in to ADF"),
    form,
    h("div", { class: "card" },
      h("h2", null, "Where the token comes from"),
      h("ul", null,
        h("li", null, "The ", h("b", null, "admin"), " token is the one ", h("code", null, "adf serve"), " was started with: ",
          h("code", null, "ADF_ADMIN_TOKEN"), " (or ", h("code", null, "--admin-token"), "). Without one, ", h("code", null, "adf serve"),
          " generates it at first start into ", h("code", null, "<data dir>/admin-token"), " (mode 0600; the data directory is ",
          h("code", null, "ADF_DATA_DIR"), ", default ", h("code", null, "./adf-data"), "): ", h("code", null, "cat adf-data/admin-token"), "."),
        h("li", null, h("b", null, "Operator"), " tokens (", h("code", null, "ADF_OPERATOR_TOKENS"),
          ", comma-separated) read flows, runs, plugins and rejected records, trigger and cancel runs, enable and disable flows."),
        h("li", null, h("b", null, "Viewer"), " tokens (", h("code", null, "ADF_VIEWER_TOKENS"), ") only read flows, runs and plugins."),
        h("li", null, "The token is kept in this browser tab only (sessionStorage): closing the tab logs you out."),
      ),
      h("h2", null, "When the host refuses"),
      h("ul", null,
        h("li", null, h("b", null, "401 Unauthorized"), ": the host does not know this token. Check for a typo or a cut-off paste, and that the host was started with the token you think (a restarted host with another ",
          h("code", null, "ADF_ADMIN_TOKEN"), " or a new data directory has another one)."),
        h("li", null, h("b", null, "403 Forbidden"), ": the token is valid but its role is too weak for what you asked (for example, a viewer token cannot trigger runs); the page says which role is needed."),
        h("li", null, h("b", null, "429 Too Many Requests"), ": too many failed logins from your address; the host blocks it for about a minute."),
      ),
    )));
  if (reason === "401") msg.appendChild(notice("error", "The host refused the saved token (401): log in again."));
  input.focus();
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const value = input.value.trim();
    fill(msg);
    if (!value) { msg.appendChild(notice("error", "Paste a token first.")); return; }
    submit.disabled = true;
    const before = token.get();
    token.set(value);
    try {
      await api("/v1/flows", { signal: ctx.signal });
      location.hash = "#/flows";
    } catch (err) {
      if (before) token.set(before); else token.clear();
      if (err instanceof APIError && err.status === 401) {
        msg.appendChild(notice("error", h("b", null, "401: the host does not know this token. "),
          "Use the admin token from ADF_ADMIN_TOKEN or the file adf-data/admin-token on the host, or an operator or viewer token (see below)."));
      } else if (err instanceof APIError && err.status === 429) {
        msg.appendChild(notice("error", "429: too many failed logins from this address; wait a minute."));
      } else {
        msg.appendChild(notice("error", "Could not reach the API: " + (err?.message || err)));
      }
    } finally {
      submit.disabled = false;
    }
  });
}
