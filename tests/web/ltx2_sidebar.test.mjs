// The LTX-2 sidebar rendered into a stand-in DOM, against a stand-in server that answers like the
// pack's routes: jobs by group, Collect, spend against the budget, the budget form and the key form.
import test from "node:test";
import assert from "node:assert/strict";
import { renderSidebar } from "../../web/js/ltx2_sidebar.js";
import { fakeDocument } from "./fake_dom.mjs";

const KEY = "ltx-secret-key-from-the-form-123";

function server() {
  const calls = [];
  const data = {
    jobs: [
      { id: "a1", created_at: 30, provider: "ltx", mode: "text-to-video", model: "ltx-2-fast", state: "running",
        group: "running", status: "processing", provider_job_id: "job-9", cost: { amount: 0.48, unit: "USD" } },
      { id: "b2", created_at: 20, provider: "gmi", mode: "image-to-video", state: "interrupted", group: "uncollected",
        provider_job_id: "req-2", cost: { amount: 0.36, unit: "USD" }, can_collect: true },
      { id: "c3", created_at: 10, provider: "apiinone", mode: "lipsync", state: "failed", group: "failed",
        error: "Job failed: the face was not found", cost: { amount: 32, unit: "credits" } },
      { id: "d4", created_at: 5, provider: "ltx", mode: "extend", state: "downloaded", group: "done",
        file: "ltx2_ltx_extend_1.mp4", preview: { filename: "ltx2_ltx_extend_1.mp4", subfolder: "ltx2", type: "output" },
        cost: { amount: 0.6, unit: "USD" } },
    ],
    counts: { running: 1, uncollected: 1, uncertain: 0, failed: 1, done: 1 },
    providers: { gmi: "GMI Cloud", apiinone: "API in One", ltx: "LTX (Lightricks)" },
  };
  const spend = {
    day: "2026-12-01",
    month: "2026-12",
    today: { ltx: { unit: "USD", spent: 1.08, unknown_cost: 0 }, gmi: { unit: "USD", spent: 0.36, unknown_cost: 0 } },
    this_month: { ltx: { unit: "USD", spent: 1.08, unknown_cost: 0 }, gmi: { unit: "USD", spent: 0.36, unknown_cost: 0 } },
    budget: {
      caps: { daily_usd: 2, monthly_usd: null, daily_credits: null, monthly_credits: 100 },
      allow_unknown_cost: false,
      sources: { daily_usd: "config", monthly_usd: "unset", daily_credits: "unset", monthly_credits: "env",
        allow_unknown_cost: "unset" },
      env: { monthly_credits: "LTX2_BUDGET_MONTHLY_CREDITS" },
    },
    limits: {
      USD_day: { unit: "USD", period: "day", spent: 1.44, cap: 2 },
      USD_month: { unit: "USD", period: "month", spent: 1.44, cap: null },
      credits_month: { unit: "credits", period: "month", spent: 0, cap: 100 },
    },
  };
  const keys = {
    providers: {
      gmi: { display_name: "GMI Cloud", source: "env", env_var: "GMI_API_KEY" },
      ltx: { display_name: "LTX (Lightricks)", source: "missing", env_var: "LTX_API_KEY" },
    },
    config_file: "/home/u/.config/ltx2-nodes/config.json",
  };
  const fetchApi = async (path, init = {}) => {
    calls.push({ path, method: init.method ?? "GET", headers: init.headers ?? {}, body: init.body });
    const ok = (body, status = 200) => ({ ok: status < 400, status, json: async () => body });
    if (path === "/ltx2/jobs") return ok(data);
    if (path === "/ltx2/spend") return ok(spend);
    if (path === "/ltx2/keys" && !init.method) return ok(keys);
    if (path === "/ltx2/keys" && init.method === "POST") {
      keys.providers.ltx.source = "config";
      return ok({ message: "Stored in the config file." });
    }
    if (path === "/ltx2/keys" && init.method === "DELETE") return ok({ error: "no key stored" }, 400);
    if (path === "/ltx2/jobs/collect") {
      const job = data.jobs.find((j) => j.id === JSON.parse(init.body).id);
      Object.assign(job, { group: "done", state: "downloaded", can_collect: false, file: "collected.mp4" });
      return ok({ collecting: job.id, message: "Collecting the paid job (no new submit)." }, 202);
    }
    if (path === "/ltx2/budget") return ok({ message: "Saved." });
    return ok({ error: "not found" }, 404);
  };
  return { calls, fetchApi, data, keys };
}

async function mount() {
  const doc = fakeDocument();
  const container = doc.createElement("div");
  const srv = server();
  const toasts = [];
  const view = renderSidebar(container, {
    doc,
    fetchApi: srv.fetchApi,
    toast: { add: (t) => toasts.push(t) },
    viewUrl: (p) => `/view?filename=${p.filename}&subfolder=${p.subfolder}&type=${p.type}`,
    setInterval: () => 1,
    clearInterval: () => {},
  });
  await view.ready;
  return { doc, container, srv, toasts, view };
}

test("jobs are listed newest first with what each group needs", async () => {
  const { container } = await mount();
  const rows = container.findAll("data-ltx2-job");
  assert.deepEqual(rows.map((r) => r.getAttribute("data-ltx2-job")), ["a1", "b2", "c3", "d4"]);
  const [running, uncollected, failed, done] = rows;
  assert.match(running.find("data-ltx2", "detail").textContent, /processing · job job-9/);
  assert.equal(uncollected.findAll("data-ltx2", "collect").length, 1);
  assert.equal(running.findAll("data-ltx2", "collect").length, 0);
  assert.match(failed.textContent, /the face was not found/);
  assert.match(failed.textContent, /32 credits/);
  const video = done.findAll("src")[0];
  assert.equal(video.tagName, "VIDEO");
  assert.equal(video.getAttribute("src"), "/view?filename=ltx2_ltx_extend_1.mp4&subfolder=ltx2&type=output");
  assert.match(done.textContent, /ltx2_ltx_extend_1\.mp4/);
});

test("the filters narrow the list by state and provider", async () => {
  const { container } = await mount();
  const byState = container.find("data-ltx2", "filter-state");
  await byState.dispatch("change", { target: { value: "failed" } });
  assert.deepEqual(container.findAll("data-ltx2-job").map((r) => r.getAttribute("data-ltx2-job")), ["c3"]);
  await byState.dispatch("change", { target: { value: "" } });
  await container.find("data-ltx2", "filter-provider").dispatch("change", { target: { value: "ltx" } });
  assert.deepEqual(container.findAll("data-ltx2-job").map((r) => r.getAttribute("data-ltx2-job")), ["a1", "d4"]);
});

test("Collect posts the job id as JSON and the list follows", async () => {
  const { container, srv, toasts } = await mount();
  await container.find("data-ltx2", "collect").click();
  const post = srv.calls.find((c) => c.path === "/ltx2/jobs/collect");
  assert.equal(post.method, "POST");
  assert.equal(post.headers["Content-Type"], "application/json");
  assert.deepEqual(JSON.parse(post.body), { id: "b2" });
  assert.equal(toasts[0].severity, "info");
  const row = container.find("data-ltx2-job", "b2");
  assert.equal(row.getAttribute("data-ltx2-group"), "done");
  assert.equal(row.findAll("data-ltx2", "collect").length, 0);
});

test("spend per provider and each cap against what was spent", async () => {
  const { container } = await mount();
  assert.equal(container.find("data-ltx2-spend", "ltx").find("data-ltx2", "today").textContent, "$1.08");
  assert.equal(container.find("data-ltx2-spend", "gmi").find("data-ltx2", "month").textContent, "$0.36");
  assert.match(container.find("data-ltx2-limit", "USD_day").textContent, /\$1\.44 of \$2\.00/);
  assert.equal(container.findAll("data-ltx2-limit", "USD_month").length, 0, "no cap, no line");
});

test("the budget form sends only what changed and leaves caps set by the environment alone", async () => {
  const { container, srv } = await mount();
  const form = container.find("data-ltx2", "budget-form");
  const [daily, monthly, , credits] = form.findAll("type", "number");
  assert.equal(daily.value, "2");
  assert.ok(credits.disabled, "a cap from LTX2_BUDGET_MONTHLY_CREDITS cannot be changed here");
  daily.value = "";
  monthly.value = "40";
  await form.dispatch("submit");
  const post = srv.calls.find((c) => c.path === "/ltx2/budget");
  assert.deepEqual(JSON.parse(post.body), { daily_usd: "off", monthly_usd: "40" });
});

test("the key form is masked, sends the key once and never shows it", async () => {
  const { container, srv, toasts } = await mount();
  const sources = container.findAll("data-ltx2", "source").map((e) => e.textContent);
  assert.deepEqual(sources, ["environment (GMI_API_KEY)", "not set"]);
  const input = container.find("data-ltx2", "key-input");
  assert.equal(input.getAttribute("type"), "password");
  assert.equal(input.getAttribute("autocomplete"), "off");
  container.find("data-ltx2", "key-provider").value = "ltx";
  input.value = KEY;
  await container.find("data-ltx2", "key-form").dispatch("submit");
  const post = srv.calls.find((c) => c.path === "/ltx2/keys" && c.method === "POST");
  assert.deepEqual(JSON.parse(post.body), { provider: "ltx", key: KEY });
  assert.equal(post.headers["Content-Type"], "application/json");
  assert.ok(!container.textContent.includes(KEY), "the key is nowhere on the page");
  container.find("data-ltx2", "key-provider").value = "ltx"; // the form was drawn anew
  container.find("data-ltx2", "key-profile").value = " work ";
  container.find("data-ltx2", "key-input").value = KEY;
  await container.find("data-ltx2", "key-form").dispatch("submit");
  const second = srv.calls.filter((c) => c.path === "/ltx2/keys" && c.method === "POST")[1];
  assert.deepEqual(JSON.parse(second.body), { provider: "ltx", profile: "work", key: KEY });
  container.find("data-ltx2", "key-profile").value = "";
  assert.equal(container.find("data-ltx2", "key-input").value, "");
  assert.equal(container.find("data-ltx2-key", "ltx").textContent, "LTX (Lightricks)config file");
  assert.equal(toasts.at(-1).severity, "success");

  // An empty key changes nothing; a refused delete reaches the user as an error toast.
  await container.find("data-ltx2", "key-form").dispatch("submit");
  assert.equal(srv.calls.filter((c) => c.path === "/ltx2/keys" && c.method === "POST").length, 2);
  await container.find("data-ltx2", "key-delete").click();
  assert.equal(toasts.at(-1).severity, "error");
  assert.equal(toasts.at(-1).detail, "no key stored");
});
