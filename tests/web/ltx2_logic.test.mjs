import test from "node:test";
import assert from "node:assert/strict";
import {
  allowedValues,
  badgeText,
  budgetChanges,
  costBadge,
  describeJob,
  formatAmount,
  keyRows,
  limitRows,
  showToast,
  debouncePerKey,
  estimateFields,
  filterCombo,
  fitDuration,
  fixSeedControl,
  providerKey,
} from "../../web/js/ltx2_logic.js";

// A capabilities document shaped like the server's /ltx2/capabilities answer.
const caps = {
  providers: {
    gmi: {
      display_name: "GMI Cloud",
      modes: {
        "image-to-video": [
          { name: "ltx-2-fast", wire_id: "ltx-2-fast-image-to-video", durations: [6, 8, 10, 12], duration_range: null,
            resolutions: ["1920x1080", "2560x1440"], fps: [25, 50] },
          { name: "ltx-2-pro", wire_id: "ltx-2-pro-image-to-video", durations: [6, 8, 10], duration_range: null,
            resolutions: ["1920x1080"], fps: [25] },
        ],
      },
    },
    apiinone: {
      display_name: "API in One",
      modes: {
        "image-to-video": [
          { name: "ltx-2", wire_id: "ltx-2", durations: [], duration_range: [5, 20],
            resolutions: ["480p", "720p", "1080p"], fps: [] },
        ],
      },
    },
  },
};

test("providerKey accepts keys and display names", () => {
  assert.equal(providerKey(caps, "GMI Cloud"), "gmi");
  assert.equal(providerKey(caps, "apiinone"), "apiinone");
  assert.equal(providerKey(caps, "nope"), null);
});

test("allowedValues follows provider and model", () => {
  const fast = allowedValues(caps, "GMI Cloud", "image-to-video", "auto");
  assert.deepEqual(fast.model, ["auto", "ltx-2-fast", "ltx-2-pro"]);
  assert.deepEqual(fast.resolution, ["1920x1080", "2560x1440"]);
  assert.deepEqual(fast.fps, ["25", "50"]);
  const pro = allowedValues(caps, "GMI Cloud", "image-to-video", "ltx-2-pro");
  assert.deepEqual(pro.resolution, ["1920x1080"]);
  assert.equal(pro.durations.max, 10);
  const aio = allowedValues(caps, "API in One", "image-to-video", "auto");
  assert.deepEqual(aio.durations, { values: null, min: 5, max: 20 });
  assert.equal(aio.fps, null);
  assert.equal(allowedValues(caps, "API in One", "retake", "auto"), null);
});

test("filterCombo keeps allowed values and a still-valid current value", () => {
  const all = ["480p", "720p", "1080p", "1920x1080", "2560x1440"];
  assert.deepEqual(filterCombo(all, ["1920x1080", "2560x1440"], "2560x1440"), {
    values: ["1920x1080", "2560x1440"],
    value: "2560x1440",
  });
  assert.deepEqual(filterCombo(all, ["480p", "720p"], "1920x1080").value, "480p");
  assert.deepEqual(filterCombo(all, null, "720p"), { values: all, value: "720p" });
  assert.deepEqual(filterCombo(["25", "50"], [25], 50), { values: ["25"], value: "25" });
  // "auto" always stays: it lets the provider decide.
  assert.deepEqual(filterCombo(["auto", "25", "50"], ["50"], "auto"), { values: ["auto", "50"], value: "auto" });
});

test("new nodes start with a fixed seed so a paid take is not bought again", () => {
  const widgets = [{ name: "seed", value: 0 }, { name: "control_after_generate", value: "randomize" }];
  assert.equal(fixSeedControl(widgets).value, "fixed");
  const saved = [{ name: "control_after_generate", value: "increment" }];
  assert.equal(fixSeedControl(saved).value, "increment");
  assert.equal(fixSeedControl([{ name: "seed", value: 1 }]), null);
});

test("fitDuration snaps to sets and clamps to ranges", () => {
  assert.equal(fitDuration({ values: [6, 8, 10], min: 6, max: 10 }, 7), 6);
  assert.equal(fitDuration({ values: [6, 8, 10], min: 6, max: 10 }, 30), 10);
  assert.equal(fitDuration({ values: null, min: 5, max: 20 }, 2), 5);
  assert.equal(fitDuration(null, 3), 3);
});

test("estimateFields sends widget values but never the prompt or long strings", () => {
  const fields = estimateFields([
    { name: "provider", value: "GMI Cloud" },
    { name: "prompt", value: "a cat" },
    { name: "duration", value: 8 },
    { name: "image_url", value: "x".repeat(100) },
    { name: "run", type: "button", value: null },
  ]);
  assert.deepEqual(fields, { provider: "GMI Cloud", duration: 8 });
  assert.equal(badgeText({ text: "$0.48" }), "≈ $0.48");
  assert.equal(badgeText({ error: "x" }), "");
});

test("debouncePerKey keeps one pending call per key", () => {
  const queued = new Map();
  let next = 1;
  const timers = {
    setTimeout: (fn) => (queued.set(next, fn), next++),
    clearTimeout: (id) => queued.delete(id),
  };
  const schedule = debouncePerKey(150, timers);
  const calls = [];
  schedule("a", () => calls.push("a1"));
  schedule("b", () => calls.push("b1"));
  schedule("a", () => calls.push("a2"));
  for (const fn of [...queued.values()]) fn();
  assert.deepEqual(calls.sort(), ["a2", "b1"]);
});

test("amounts read as dollars or credits", () => {
  assert.equal(formatAmount(0.485, "USD"), "$0.48");
  assert.equal(formatAmount(40, "credits"), "40 credits");
  assert.equal(formatAmount(null, "USD"), "$0.00");
});

test("budgetChanges: only changed caps, empty removes one, the environment's stay untouched", () => {
  const budget = {
    caps: { daily_usd: 5, monthly_usd: null, daily_credits: 50, monthly_credits: null },
    allow_unknown_cost: false,
    sources: { daily_usd: "config", daily_credits: "env" },
  };
  assert.deepEqual(budgetChanges({ daily_usd: "5", monthly_usd: "", daily_credits: "1" }, budget), {});
  assert.deepEqual(budgetChanges({ daily_usd: "", monthly_usd: "20", allow_unknown_cost: true }, budget), {
    daily_usd: "off",
    monthly_usd: "20",
    allow_unknown_cost: true,
  });
});

test("limitRows: one line per cap that is set, full when reached", () => {
  const rows = limitRows({
    limits: {
      USD_day: { unit: "USD", period: "day", spent: 5, cap: 5 },
      USD_month: { unit: "USD", period: "month", spent: 5, cap: null },
      credits_day: { unit: "credits", period: "day", spent: 10, cap: 40 },
      credits_month: { unit: "credits", period: "month", spent: 0, cap: 0 },
    },
  });
  assert.deepEqual(rows.map((r) => [r.name, r.reached, r.fraction]), [
    ["USD_day", true, 1],
    ["credits_day", false, 0.25],
    ["credits_month", true, 1],
  ]);
  assert.equal(rows[0].text, "$5.00 of $5.00");
});

test("describeJob says what a user can do with each job", () => {
  const paid = describeJob({ group: "uncollected", provider: "gmi", mode: "text-to-video", can_collect: true,
    cost: { amount: 0.5, unit: "USD" } }, { gmi: "GMI Cloud" });
  assert.equal(paid.title, "GMI Cloud · text-to-video");
  assert.ok(paid.collect && /without a new submit/.test(paid.detail));
  assert.equal(describeJob({ group: "uncollected", collecting: true }).detail, "Collecting…");
  assert.match(describeJob({ group: "uncertain" }).detail, /may have been billed/);
  assert.equal(describeJob({ group: "failed", error: "bad prompt" }).detail, "bad prompt");
  assert.equal(describeJob({ group: "done", file: "a.mp4" }).cost, "no estimate");
});

test("keyRows names where a key comes from, never the key", () => {
  const rows = keyRows({ providers: { ltx: { display_name: "LTX", source: "config", env_var: "LTX_API_KEY" } } });
  assert.deepEqual(rows, [{ provider: "ltx", label: "LTX", source: "config file", deletable: true }]);
});

test("showToast speaks both toast APIs", () => {
  const old = [];
  assert.ok(showToast({ add: (m) => old.push(m) }, "error", "LTX-2", "boom"));
  assert.equal(old[0].severity, "error");
  assert.equal(old[0].detail, "boom");
  const newer = [];
  assert.ok(showToast({ warning: (title, o) => newer.push([title, o.description]) }, "warn", "LTX-2", "careful"));
  assert.deepEqual(newer, [["LTX-2", "careful"]]);
  assert.equal(showToast(undefined, "info", "x"), false);
});

test("costBadge builds the frontend's badge, or nothing without text", () => {
  class Badge {
    constructor(o) {
      Object.assign(this, o);
    }
  }
  assert.equal(costBadge(Badge, "≈ $0.36").text, "≈ $0.36");
  assert.equal(costBadge(Badge, ""), null);
  assert.equal(costBadge(null, "x"), null);
});
