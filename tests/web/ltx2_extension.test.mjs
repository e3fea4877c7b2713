// The extension itself (web/js/ltx2.js) loaded the way ComfyUI serves it: from
// /extensions/<pack>/ next to ComfyUI's /scripts/, here small stand-ins for app.js and api.js.
import test from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const webDir = fileURLToPath(new URL("../../web/js/", import.meta.url));

const APP_STUB = `
export const app = {
  extensions: [],
  registerExtension(extension) { this.extensions.push(extension); },
  ui: { settings: { getSettingValue: (_id, fallback) => fallback } },
};`;
const API_STUB = `export const api = {
  listeners: {},
  fetchApi: (...args) => globalThis.__ltx2FetchApi(...args),
  addEventListener(name, fn) { this.listeners[name] = fn; },
};`;

let loaded = null;

// The frontend's badge class as ComfyUI exposes it (window.LGraphBadge): the canvas and Vue nodes draw
// instances of it from node.badges.
class FakeBadge {
  constructor({ text, fgColor, bgColor }) {
    Object.assign(this, { text, fgColor, bgColor });
  }
  draw() {}
}
globalThis.LGraphBadge = FakeBadge;

async function loadExtension() {
  const root = mkdtempSync(join(tmpdir(), "ltx2-web-"));
  const pack = join(root, "extensions", "ltx2_nodes");
  mkdirSync(pack, { recursive: true });
  mkdirSync(join(root, "scripts"));
  for (const file of readdirSync(webDir).filter((f) => f.endsWith(".js"))) {
    copyFileSync(join(webDir, file), join(pack, file));
  }
  writeFileSync(join(root, "scripts", "app.js"), APP_STUB);
  writeFileSync(join(root, "scripts", "api.js"), API_STUB);
  const { app } = await import(pathToFileURL(join(root, "scripts", "app.js")).href);
  const { api } = await import(pathToFileURL(join(root, "scripts", "api.js")).href);
  await import(pathToFileURL(join(pack, "ltx2.js")).href);
  loaded = { app, api };
  return app.extensions[0];
}

const caps = {
  providers: {
    ltx: {
      display_name: "LTX (Lightricks)",
      modes: {
        "text-to-video": [
          { name: "ltx-2-pro", wire_id: "ltx-2-pro", durations: [6, 8, 10], duration_range: null,
            resolutions: ["1920x1080"], fps: [25, 50] },
        ],
      },
    },
  },
};

function newNode(nodeType, duration) {
  const node = Object.create(nodeType.prototype);
  node.badges = [];
  node.widgets = [
    { name: "provider", value: "LTX (Lightricks)", options: { values: ["LTX (Lightricks)"] } },
    { name: "model", value: "auto", options: { values: ["auto", "ltx-2-pro"] } },
    { name: "duration", value: duration },
    { name: "resolution", value: "auto", options: { values: ["auto", "1920x1080", "720p"] } },
    { name: "fps", value: "auto", options: { values: ["auto", "25", "50"] } },
    { name: "seed", value: 0 },
    { name: "control_after_generate", value: "randomize" },
  ];
  node.onNodeCreated();
  return node;
}

async function until(condition, what) {
  for (let i = 0; i < 400 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(condition(), what);
}

test("every LTX-2 node of a loaded workflow gets its own cost badge", async () => {
  const estimates = [];
  globalThis.__ltx2FetchApi = async (path, init) => {
    if (path === "/ltx2/capabilities") return { ok: true, json: async () => caps };
    if (path === "/ltx2/estimate") {
      const { widgets } = JSON.parse(init.body);
      estimates.push(widgets.duration);
      return { ok: true, json: async () => ({ text: `$${(widgets.duration * 0.06).toFixed(2)}` }) };
    }
    return { ok: false, json: async () => ({}) };
  };
  const extension = await loadExtension();
  const nodeType = function () {};
  nodeType.prototype = {};
  await extension.beforeRegisterNodeDef(nodeType, { name: "LTX2TextToVideo" });

  // A workflow with three nodes is created in one go, as ComfyUI does when it loads it.
  const nodes = [newNode(nodeType, 6), newNode(nodeType, 8), newNode(nodeType, 10)];
  await until(() => nodes.every((n) => n.__ltx2Badge), "a badge on every node");
  assert.deepEqual(
    nodes.map((n) => n.__ltx2Badge),
    ["≈ $0.36", "≈ $0.48", "≈ $0.60"],
  );
  assert.deepEqual(nodes.map((n) => n.widgets[6].value), ["fixed", "fixed", "fixed"]);
  assert.deepEqual(nodes.map((n) => n.widgets[3].options.values), Array(3).fill(["auto", "1920x1080"]));

  // Changing one node re-estimates that node only.
  estimates.length = 0;
  nodes[1].widgets[2].value = 10;
  nodes[1].widgets[2].callback?.(10);
  await until(() => nodes[1].__ltx2Badge === "≈ $0.60", "the changed node's badge follows");
  assert.deepEqual(estimates, [10]);
  assert.deepEqual(nodes.map((n) => n.__ltx2Badge), ["≈ $0.36", "≈ $0.60", "≈ $0.60"]);
});

function shownBadges(node) {
  return node.badges.map((b) => (typeof b === "function" ? b() : b)).filter((b) => b.text);
}

test("the cost badge goes through node.badges and the setting hides it", async () => {
  globalThis.__ltx2FetchApi = async (path) => {
    if (path === "/ltx2/capabilities") return { ok: true, json: async () => caps };
    if (path === "/ltx2/estimate") return { ok: true, json: async () => ({ text: "$0.36" }) };
    return { ok: false, json: async () => ({}) };
  };
  const extension = await loadExtension();
  const nodeType = function () {};
  nodeType.prototype = {};
  await extension.beforeRegisterNodeDef(nodeType, { name: "LTX2TextToVideo" });
  assert.equal(nodeType.prototype.onDrawForeground, undefined, "nothing is drawn on the canvas by hand");
  const node = newNode(nodeType, 6);
  await until(() => node.__ltx2Badge, "an estimate");
  const [badge] = shownBadges(node);
  assert.ok(badge instanceof FakeBadge);
  assert.equal(badge.text, "≈ $0.36");
  assert.equal(node.badges.length, 1, "one badge, however often the estimate changes");

  let shown = true;
  loaded.app.extensionManager = { setting: { get: (id) => (id === "LTX2.ShowCost" ? shown : undefined) } };
  shown = false;
  assert.deepEqual(shownBadges(node), []);
  shown = true;
  assert.equal(shownBadges(node)[0].text, "≈ $0.36");
  delete loaded.app.extensionManager;
});

test("setup registers the sidebar tab, the keys command opens it, node errors become toasts", async () => {
  const extension = await loadExtension();
  const tabs = [];
  const executed = [];
  const toasts = [];
  loaded.app.extensionManager = {
    registerSidebarTab: (tab) => tabs.push(tab),
    command: { execute: (id) => executed.push(id) },
    sidebarTab: { activeSidebarTabId: null },
    toast: { add: (message) => toasts.push(message) },
  };
  const realSetInterval = globalThis.setInterval;
  globalThis.setInterval = () => 0; // the badge keeper is not needed here
  try {
    await extension.setup();
  } finally {
    globalThis.setInterval = realSetInterval;
  }
  assert.equal(tabs.length, 1);
  assert.equal(tabs[0].id, "ltx2");
  assert.equal(tabs[0].type, "custom");
  assert.equal(typeof tabs[0].render, "function");

  const keys = extension.commands.find((c) => c.id === "ltx2.setKey");
  keys.function();
  assert.deepEqual(executed, ["Workspace.ToggleSidebarTab.ltx2"]);

  loaded.api.listeners.execution_error({
    detail: { node_type: "LTX2TextToVideo", node_id: "7", exception_message: "LTX-2: the budget says no." },
  });
  loaded.api.listeners.execution_error({ detail: { node_type: "KSampler", node_id: "3", exception_message: "x" } });
  assert.equal(toasts.length, 1);
  assert.equal(toasts[0].severity, "error");
  assert.equal(toasts[0].detail, "LTX-2: the budget says no.");
  delete loaded.app.extensionManager;
});
