import test from "node:test";
import assert from "node:assert/strict";
import {
  allowedValues,
  badgeText,
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
