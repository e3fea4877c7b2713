// The LTX-2 sidebar tab: jobs from the journal, spend against the budget, and where keys come from.
// No ComfyUI imports: everything it needs arrives in `deps`, so it runs under Node's test runner too.
import {
  BUDGET_FIELDS,
  JOB_GROUPS,
  GROUP_LABELS,
  budgetChanges,
  describeJob,
  filterJobs,
  keyRows,
  limitRows,
  showToast,
  spendRows,
} from "./ltx2_logic.js";

const REFRESH_MS = 4000;

const STYLE = `
.ltx2-sb { padding: 8px 10px; font-size: 13px; display: flex; flex-direction: column; gap: 12px; }
.ltx2-sb h3 { margin: 4px 0; font-size: 14px; }
.ltx2-sb section { border-top: 1px solid var(--border-color, #444); padding-top: 6px; }
.ltx2-sb h2 { margin: 0; font-size: 16px; }
.ltx2-sb table { width: 100%; border-collapse: collapse; }
.ltx2-sb td, .ltx2-sb th { text-align: left; padding: 2px 4px; }
.ltx2-sb .ltx2-row { border: 1px solid var(--border-color, #444); border-radius: 6px; padding: 6px; margin: 4px 0; }
.ltx2-sb .ltx2-muted { opacity: 0.75; font-size: 12px; overflow-wrap: anywhere; }
.ltx2-sb .ltx2-tag { font-size: 11px; padding: 1px 6px; border-radius: 8px; background: #2a6b3a; color: #fff; }
.ltx2-sb .ltx2-tag.failed, .ltx2-sb .ltx2-tag.uncertain { background: #8a2c2c; }
.ltx2-sb .ltx2-tag.uncollected { background: #8a6a1c; }
.ltx2-sb .ltx2-tag.running { background: #2c4f8a; }
.ltx2-sb video { width: 100%; max-height: 110px; margin-top: 4px; background: #000; }
.ltx2-sb .ltx2-bar { height: 6px; background: var(--border-color, #444); border-radius: 3px; }
.ltx2-sb .ltx2-bar > div { height: 6px; background: #2a6b3a; border-radius: 3px; }
.ltx2-sb .ltx2-bar.reached > div { background: #b33; }
.ltx2-sb form { display: grid; grid-template-columns: auto 1fr; gap: 4px 6px; align-items: center; }
.ltx2-sb input, .ltx2-sb select, .ltx2-sb button { font-size: 12px; }
.ltx2-sb .ltx2-filters { display: flex; gap: 6px; }
`;

/** A tiny element builder on `doc` (the page's document, or a test's stand-in). */
function builder(doc) {
  return function h(tag, attrs = {}, ...children) {
    const el = doc.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
      else if (name === "text") el.textContent = String(value);
      else el.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      el.appendChild(typeof child === "string" ? doc.createTextNode(child) : child);
    }
    return el;
  };
}

/**
 * Build the sidebar into `container`. deps: { fetchApi(path, init) -> Response, toast, viewUrl(preview),
 * doc, setInterval, clearInterval }. Returns { refresh, destroy, state }.
 */
export function renderSidebar(container, deps) {
  const doc = deps.doc ?? container.ownerDocument;
  const h = builder(doc);
  const state = { jobs: null, spend: null, keys: null, keyProvider: null, filter: { state: "", provider: "" } };

  const notify = (severity, summary, detail) => showToast(deps.toast, severity, summary, detail);

  async function call(path, init) {
    let response;
    try {
      response = await deps.fetchApi(path, init);
    } catch (err) {
      notify("error", "LTX-2", `The ComfyUI server did not answer (${err?.message ?? err}).`);
      return null;
    }
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      notify("error", "LTX-2", body.error ?? `HTTP ${response.status}`);
      return null;
    }
    return body;
  }

  const send = (path, method, body) =>
    call(path, { method, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });

  if (!doc.getElementById?.("ltx2-sidebar-style")) {
    const style = h("style", { id: "ltx2-sidebar-style" });
    style.textContent = STYLE;
    (doc.head ?? container).appendChild(style);
  }

  const jobsBox = h("div", { "data-ltx2": "jobs" });
  const spendBox = h("div", { "data-ltx2": "spend" });
  const budgetBox = h("div", { "data-ltx2": "budget" });
  const keysBox = h("div", { "data-ltx2": "keys" });
  const filters = h("div", { class: "ltx2-filters" });
  const root = h(
    "div",
    { class: "ltx2-sb", "data-ltx2": "sidebar" },
    h("h2", { text: "LTX-2" }),
    h("section", {}, h("h3", { text: "Spend" }), spendBox, budgetBox),
    h("section", {}, h("h3", { text: "Jobs" }), filters, jobsBox),
    h("section", {}, h("h3", { text: "API keys" }), keysBox),
  );
  container.replaceChildren(root);

  // --- jobs ------------------------------------------------------------------------------------
  async function collect(job, button) {
    button.disabled = true;
    const answer = await send("/ltx2/jobs/collect", "POST", { id: job.id });
    if (answer) notify("info", "LTX-2", answer.message ?? "Collecting the job.");
    await refresh();
  }

  function drawFilters() {
    const counts = state.jobs?.counts ?? {};
    const stateSelect = h(
      "select",
      { "data-ltx2": "filter-state", onchange: (e) => ((state.filter.state = e.target.value), drawJobs()) },
      h("option", { value: "", text: "All states" }),
      JOB_GROUPS.map((g) =>
        h("option", { value: g, selected: state.filter.state === g, text: `${GROUP_LABELS[g]} (${counts[g] ?? 0})` }),
      ),
    );
    const providers = state.jobs?.providers ?? {};
    const providerSelect = h(
      "select",
      { "data-ltx2": "filter-provider", onchange: (e) => ((state.filter.provider = e.target.value), drawJobs()) },
      h("option", { value: "", text: "All providers" }),
      Object.entries(providers).map(([name, label]) =>
        h("option", { value: name, selected: state.filter.provider === name, text: label }),
      ),
    );
    filters.replaceChildren(stateSelect, providerSelect);
  }

  function drawJobs() {
    const providers = state.jobs?.providers ?? {};
    const jobs = filterJobs(state.jobs?.jobs, state.filter);
    if (jobs.length === 0) {
      jobsBox.replaceChildren(h("div", { class: "ltx2-muted", text: "No jobs." }));
      return;
    }
    jobsBox.replaceChildren(
      ...jobs.map((job) => {
        const info = describeJob(job, providers);
        const when = new Date((job.created_at ?? 0) * 1000).toLocaleString();
        const row = h(
          "div",
          { class: "ltx2-row", "data-ltx2-job": job.id, "data-ltx2-group": job.group },
          h("div", {}, h("span", { class: `ltx2-tag ${job.group}`, text: info.label }), " ", h("b", { text: info.title })),
          h("div", { class: "ltx2-muted", text: `${when} · ${info.cost}${job.prompt ? ` · “${job.prompt}”` : ""}` }),
          h("div", { class: "ltx2-muted", "data-ltx2": "detail", text: info.detail }),
        );
        if (job.group === "done" && job.preview && deps.viewUrl) {
          row.appendChild(
            h("video", { src: deps.viewUrl(job.preview), controls: true, muted: true, preload: "metadata" }),
          );
        }
        if (info.collect) {
          const button = h("button", { type: "button", "data-ltx2": "collect", text: "Collect" });
          button.addEventListener("click", () => collect(job, button));
          row.appendChild(button);
        }
        return row;
      }),
    );
  }

  // --- spend and budget ---------------------------------------------------------------------------
  function drawSpend() {
    const report = state.spend;
    if (!report) return;
    const providers = state.jobs?.providers ?? {};
    const rows = spendRows(report, providers);
    const table = rows.length
      ? h(
          "table",
          {},
          h("tr", {}, h("th", { text: "Provider" }), h("th", { text: "Today" }), h("th", { text: "This month" })),
          rows.map((r) =>
            h(
              "tr",
              { "data-ltx2-spend": r.provider },
              h("td", { text: r.label }),
              h("td", { "data-ltx2": "today", text: r.today }),
              h("td", { "data-ltx2": "month", text: r.month + (r.unknown ? " +?" : "") }),
            ),
          ),
        )
      : h("div", { class: "ltx2-muted", text: "Nothing spent this month." });
    const limits = limitRows(report).map((l) =>
      h(
        "div",
        { "data-ltx2-limit": l.name },
        h("div", { class: "ltx2-muted", text: `${l.label}: ${l.text}` }),
        h(
          "div",
          { class: `ltx2-bar${l.reached ? " reached" : ""}` },
          h("div", { style: `width: ${Math.round(l.fraction * 100)}%` }),
        ),
      ),
    );
    spendBox.replaceChildren(
      table,
      ...limits,
      h("div", { class: "ltx2-muted", text: `Estimates; local days (${report.day}) and months (${report.month}).` }),
    );
  }

  function drawBudget() {
    const budget = state.spend?.budget;
    if (!budget || budgetBox.contains?.(doc.activeElement)) return; // never redraw under the user's cursor
    const inputs = {};
    const form = h("form", { "data-ltx2": "budget-form" });
    for (const field of BUDGET_FIELDS) {
      const fromEnv = budget.sources?.[field.name] === "env";
      const input = h("input", {
        type: "number",
        min: "0",
        step: "any",
        name: field.name,
        placeholder: "no cap",
        value: budget.caps?.[field.name] ?? "",
        disabled: fromEnv,
        title: fromEnv ? `Set by ${budget.env?.[field.name]}` : undefined,
      });
      inputs[field.name] = input;
      form.appendChild(h("label", { text: field.label }));
      form.appendChild(input);
    }
    const allow = h("input", {
      type: "checkbox",
      name: "allow_unknown_cost",
      checked: Boolean(budget.allow_unknown_cost),
      disabled: budget.sources?.allow_unknown_cost === "env",
    });
    form.appendChild(h("label", { text: "Allow jobs without an estimate" }));
    form.appendChild(allow);
    form.appendChild(h("span"));
    form.appendChild(h("button", { type: "submit", "data-ltx2": "budget-save", text: "Save budget" }));
    form.addEventListener("submit", async (event) => {
      event.preventDefault?.();
      const values = { allow_unknown_cost: allow.checked };
      for (const [name, input] of Object.entries(inputs)) if (!input.disabled) values[name] = input.value;
      const changes = budgetChanges(values, budget);
      if (Object.keys(changes).length === 0) return;
      const answer = await send("/ltx2/budget", "POST", changes);
      if (answer) notify("success", "LTX-2", "Budget saved.");
      doc.activeElement?.blur?.();
      await refresh();
    });
    budgetBox.replaceChildren(form);
  }

  // --- keys ----------------------------------------------------------------------------------------
  function drawKeys() {
    if (!state.keys || keysBox.contains?.(doc.activeElement)) return;
    const rows = keyRows(state.keys);
    const table = h(
      "table",
      {},
      rows.map((r) =>
        h("tr", { "data-ltx2-key": r.provider }, h("td", { text: r.label }), h("td", { "data-ltx2": "source", text: r.source })),
      ),
    );
    const provider = h(
      "select",
      { name: "provider", "data-ltx2": "key-provider", onchange: (e) => (state.keyProvider = e.target.value) },
      rows.map((r) => h("option", { value: r.provider, selected: r.provider === state.keyProvider, text: r.label })),
    );
    const key = h("input", {
      type: "password",
      name: "ltx2-api-key",
      autocomplete: "off",
      spellcheck: "false",
      placeholder: "paste the key",
      "data-ltx2": "key-input",
    });
    const profile = h("input", {
      type: "text",
      name: "ltx2-key-profile",
      autocomplete: "off",
      placeholder: "default keys",
      "data-ltx2": "key-profile",
      title: "A key profile of the config file (the key_profile of LTX-2 Provider Settings); empty: the default keys",
    });
    const target = () => ({ provider: provider.value, ...(profile.value.trim() ? { profile: profile.value.trim() } : {}) });
    const save = h("button", { type: "submit", "data-ltx2": "key-save", text: "Save key" });
    const remove = h("button", { type: "button", "data-ltx2": "key-delete", text: "Delete stored key" });
    const form = h(
      "form",
      { "data-ltx2": "key-form", autocomplete: "off" },
      h("label", { text: "Provider" }),
      provider,
      h("label", { text: "Profile" }),
      profile,
      h("label", { text: "Key" }),
      key,
      save,
      remove,
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault?.();
      const value = key.value;
      key.value = ""; // the key leaves the page as soon as it is sent
      state.keyProvider = provider.value;
      if (!value.trim()) {
        notify("warn", "LTX-2", "Paste a key first (an empty key changes nothing).");
        return;
      }
      const answer = await send("/ltx2/keys", "POST", { ...target(), key: value });
      if (answer) notify("success", "LTX-2", answer.message ?? "Key saved.");
      doc.activeElement?.blur?.();
      await refresh();
    });
    remove.addEventListener("click", async () => {
      key.value = "";
      const answer = await send("/ltx2/keys", "DELETE", target());
      if (answer) notify("success", "LTX-2", answer.message ?? "Key removed.");
      doc.activeElement?.blur?.();
      await refresh();
    });
    keysBox.replaceChildren(
      table,
      h("div", {
        class: "ltx2-muted",
        title: state.keys.config_file,
        text: "Keys set here go to the LTX-2 config file on the ComfyUI machine; an environment variable wins.",
      }),
      form,
    );
  }

  // --- refresh -------------------------------------------------------------------------------------
  let busy = null;
  async function refresh() {
    busy ??= (async () => {
      const [jobs, spend, keys] = await Promise.all([call("/ltx2/jobs"), call("/ltx2/spend"), call("/ltx2/keys")]);
      if (jobs) state.jobs = jobs;
      if (spend) state.spend = spend;
      if (keys) state.keys = keys;
      drawFilters();
      drawJobs();
      drawSpend();
      drawBudget();
      drawKeys();
    })().finally(() => (busy = null));
    return busy;
  }

  const every = deps.setInterval ?? globalThis.setInterval;
  const stopEvery = deps.clearInterval ?? globalThis.clearInterval;
  const timer = every(() => {
    if (container.isConnected === false) return destroy();
    refresh();
  }, REFRESH_MS);
  function destroy() {
    stopEvery(timer);
  }
  const ready = refresh();
  return { refresh, destroy, state, ready };
}
