// LTX-2 API Nodes front-end: provider-aware widgets, a cost badge, and API key settings.
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";
import {
  MODE_BY_NODE,
  PROVIDER_AWARE,
  allowedValues,
  badgeText,
  debouncePerKey,
  estimateFields,
  filterCombo,
  fitDuration,
  fixSeedControl,
} from "./ltx2_logic.js";

let capsPromise = null;
function loadCapabilities() {
  capsPromise ??= api
    .fetchApi("/ltx2/capabilities")
    .then((r) => (r.ok ? r.json() : null))
    .catch(() => null);
  return capsPromise;
}

function widget(node, name) {
  return node.widgets?.find((w) => w.name === name);
}

// Keep each provider-aware combo to the values the chosen provider (and model) accept.
async function applyProvider(node, mode) {
  const caps = await loadCapabilities();
  const provider = widget(node, "provider");
  if (!caps || !provider) return;
  node.__ltx2Full ??= {};
  for (const name of PROVIDER_AWARE) {
    const w = widget(node, name);
    if (w?.options?.values && !node.__ltx2Full[name]) node.__ltx2Full[name] = [...w.options.values];
  }
  const model = widget(node, "model");
  const allowed = allowedValues(caps, provider.value, mode, model?.value);
  if (!allowed) return;
  for (const name of PROVIDER_AWARE) {
    const w = widget(node, name);
    if (!w?.options?.values) continue;
    const { values, value } = filterCombo(node.__ltx2Full[name], allowed[name], w.value);
    w.options.values = values;
    w.value = value;
  }
  const duration = widget(node, "duration");
  if (duration && allowed.durations && typeof duration.value === "number") {
    duration.value = fitDuration(allowed.durations, duration.value);
  }
  await refreshCost(node, mode);
  node.setDirtyCanvas?.(true, true);
}

const scheduleCost = debouncePerKey(150);
async function refreshCost(node, mode) {
  if (app.ui?.settings?.getSettingValue?.("LTX2.ShowCost", true) === false) {
    node.__ltx2Badge = "";
    return;
  }
  scheduleCost(node, async () => {
    try {
      const r = await api.fetchApi("/ltx2/estimate", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ mode, widgets: estimateFields(node.widgets) }),
      });
      node.__ltx2Badge = r.ok ? badgeText(await r.json()) : "";
    } catch {
      node.__ltx2Badge = "";
    }
    node.setDirtyCanvas?.(true, true);
  });
}

async function keyStatusText() {
  const r = await api.fetchApi("/ltx2/keys");
  if (!r.ok) return "Key status unavailable.";
  const status = await r.json();
  return Object.entries(status.providers)
    .map(([name, info]) => `${info.display_name}: ${info.source} (${info.env_var})`)
    .join("\n");
}

async function setKeyDialog() {
  const provider = window.prompt(`LTX-2 API keys\n\n${await keyStatusText()}\n\nSet a key for which provider? (gmi, apiinone, ltx)`);
  if (!provider) return;
  const key = window.prompt(`Paste the ${provider} API key. It is stored in the LTX-2 config file on the ComfyUI server, never in the workflow.`);
  if (!key) return;
  const r = await api.fetchApi("/ltx2/keys", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ provider, key }),
  });
  const answer = await r.json().catch(() => ({}));
  window.alert(r.ok ? `Saved. ${answer.message ?? ""}` : `Not saved: ${answer.error ?? r.status}`);
}

app.registerExtension({
  name: "ltx2.api-nodes",
  settings: [
    {
      id: "LTX2.ShowCost",
      category: ["LTX-2", "Cost", "Show estimate"],
      name: "Show the estimated cost on LTX-2 nodes",
      type: "boolean",
      defaultValue: true,
    },
  ],
  commands: [{ id: "ltx2.setKey", label: "LTX-2: API keys…", function: setKeyDialog }],
  menuCommands: [{ path: ["Extensions", "LTX-2"], commands: ["ltx2.setKey"] }],

  async beforeRegisterNodeDef(nodeType, nodeData) {
    const mode = MODE_BY_NODE[nodeData.name];
    if (!mode) return;

    const onNodeCreated = nodeType.prototype.onNodeCreated;
    nodeType.prototype.onNodeCreated = function () {
      const result = onNodeCreated?.apply(this, arguments);
      fixSeedControl(this.widgets);
      for (const w of this.widgets ?? []) {
        const callback = w.callback;
        w.callback = (...args) => {
          const r = callback?.apply(w, args);
          if (w.name === "provider" || w.name === "model") applyProvider(this, mode);
          else refreshCost(this, mode);
          return r;
        };
      }
      applyProvider(this, mode);
      return result;
    };

    const onConfigure = nodeType.prototype.onConfigure;
    nodeType.prototype.onConfigure = function () {
      const result = onConfigure?.apply(this, arguments);
      applyProvider(this, mode);
      return result;
    };

    const onDrawForeground = nodeType.prototype.onDrawForeground;
    nodeType.prototype.onDrawForeground = function (ctx) {
      const result = onDrawForeground?.apply(this, arguments);
      const text = this.__ltx2Badge;
      if (text && !this.flags?.collapsed) {
        ctx.save();
        ctx.font = "12px sans-serif";
        const width = ctx.measureText(text).width + 12;
        ctx.fillStyle = "#2a6b3a";
        ctx.beginPath();
        ctx.roundRect?.(this.size[0] - width - 6, -LiteGraph.NODE_TITLE_HEIGHT + 5, width, 18, 6);
        ctx.fill();
        ctx.fillStyle = "#fff";
        ctx.fillText(text, this.size[0] - width, -LiteGraph.NODE_TITLE_HEIGHT + 18);
        ctx.restore();
      }
      return result;
    };

    const getExtraMenuOptions = nodeType.prototype.getExtraMenuOptions;
    nodeType.prototype.getExtraMenuOptions = function (_, options) {
      const result = getExtraMenuOptions?.apply(this, arguments);
      options.push({ content: "LTX-2: API keys…", callback: setKeyDialog });
      return result;
    };
  },
});
