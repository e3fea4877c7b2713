// LTX-2 API Nodes front-end: provider-aware widgets, a cost badge (through the frontend's node badges,
// so both renderers show it), the LTX-2 sidebar tab (jobs, spend, budget, keys) and error toasts.
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";
import {
  MODE_BY_NODE,
  PROVIDER_AWARE,
  allowedValues,
  badgeText,
  costBadge,
  debouncePerKey,
  estimateFields,
  filterCombo,
  fitDuration,
  fixSeedControl,
  showToast,
} from "./ltx2_logic.js";
import { renderSidebar } from "./ltx2_sidebar.js";

const SIDEBAR_ID = "ltx2";
const SHOW_COST = "LTX2.ShowCost";

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

function settingValue(id, fallback) {
  const manager = app.extensionManager?.setting;
  const value = manager?.get ? manager.get(id) : app.ui?.settings?.getSettingValue?.(id, fallback);
  return value ?? fallback;
}

const costShown = () => settingValue(SHOW_COST, true) !== false;

const scheduleCost = debouncePerKey(150);
async function refreshCost(node, mode) {
  if (!costShown()) {
    node.__ltx2Badge = "";
    showBadge(node);
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
    showBadge(node);
  });
}

// --- the cost badge ------------------------------------------------------------------------------
// The classic canvas draws node.badges, and newer Vue nodes render them too. The Vue node header of
// releases that render no badges gets a small element of ours instead, only when nothing on the node
// shows the estimate already. Nothing is drawn on the canvas by hand.

function badgeClass(node) {
  if (globalThis.LGraphBadge) return globalThis.LGraphBadge;
  for (const badge of node.badges ?? []) {
    const value = typeof badge === "function" ? badge() : badge;
    if (value && typeof value.draw === "function") return value.constructor;
  }
  return null;
}

function installBadge(node) {
  if (node.__ltx2BadgeInstalled || !Array.isArray(node.badges)) return;
  const Badge = badgeClass(node);
  if (!Badge) return;
  node.__ltx2BadgeInstalled = true;
  const hidden = new Badge({ text: "" });
  let cached = { text: null, badge: hidden };
  node.badges.push(() => {
    const text = costShown() ? node.__ltx2Badge || "" : "";
    if (text !== cached.text) cached = { text, badge: costBadge(Badge, text) ?? hidden };
    return cached.badge;
  });
}

function vueBadge(node) {
  const element = globalThis.document?.querySelector?.(`[data-node-id="${node.id}"]`);
  if (!element) return;
  const text = costShown() ? node.__ltx2Badge || "" : "";
  let mine = element.querySelector(".ltx2-cost-badge");
  const header = element.querySelector(".lg-node-header") ?? element.firstElementChild;
  if (!mine && text && header) {
    // A frontend that renders node.badges in Vue nodes shows the estimate itself (maybe an older one,
    // until it redraws): never add a second badge then.
    const shown = [...element.querySelectorAll("*")].some(
      (e) => e.childElementCount === 0 && (e.textContent ?? "").trim().startsWith("≈ "),
    );
    if (shown) return;
    mine = globalThis.document.createElement("span");
    mine.className = "ltx2-cost-badge";
    mine.setAttribute("data-testid", "ltx2-cost-badge");
    mine.style.cssText =
      "margin-left:6px;padding:1px 8px;border-radius:8px;background:#2a6b3a;color:#fff;font-size:12px;white-space:nowrap";
    header.appendChild(mine);
  }
  if (mine) {
    mine.textContent = text;
    mine.style.display = text ? "" : "none";
  }
}

function showBadge(node) {
  installBadge(node);
  vueBadge(node);
  node.setDirtyCanvas?.(true, true);
}

function ltx2Nodes() {
  return (app.graph?._nodes ?? app.graph?.nodes ?? []).filter((node) => node.__ltx2BadgeInstalled);
}

// --- toasts and the sidebar ---------------------------------------------------------------------

const toast = (severity, summary, detail) => showToast(app.extensionManager?.toast, severity, summary, detail);

function viewUrl(preview) {
  const query = new URLSearchParams({ ...preview, t: String(Date.now()) }).toString();
  return api.apiURL ? api.apiURL(`/view?${query}`) : `/view?${query}`;
}

let sidebar = null;
function registerSidebar() {
  const manager = app.extensionManager;
  if (!manager?.registerSidebarTab) return false;
  manager.registerSidebarTab({
    id: SIDEBAR_ID,
    icon: "pi pi-video",
    title: "LTX-2",
    tooltip: "LTX-2: jobs, spend, budget and API keys",
    type: "custom",
    render: (container) => {
      sidebar?.destroy();
      sidebar = renderSidebar(container, {
        fetchApi: (path, init) => api.fetchApi(path, init),
        toast: manager.toast,
        viewUrl,
        doc: globalThis.document,
      });
    },
    destroy: () => {
      sidebar?.destroy();
      sidebar = null;
    },
  });
  return true;
}

// Keys are set in the sidebar's masked form: no window.prompt, no key in a dialog.
function openKeys() {
  const manager = app.extensionManager;
  if (!manager?.registerSidebarTab) {
    toast("warn", "LTX-2", "This ComfyUI has no sidebar tabs: set keys with `ltx2 config set-key PROVIDER`.");
    return;
  }
  if (manager.sidebarTab?.activeSidebarTabId !== SIDEBAR_ID) {
    manager.command?.execute?.(`Workspace.ToggleSidebarTab.${SIDEBAR_ID}`);
  }
  setTimeout(() => globalThis.document?.querySelector('[data-ltx2="key-input"]')?.focus(), 300);
}

app.registerExtension({
  name: "ltx2.api-nodes",
  settings: [
    {
      id: SHOW_COST,
      category: ["LTX-2", "Cost", "Show estimate"],
      name: "Show the estimated cost on LTX-2 nodes",
      type: "boolean",
      defaultValue: true,
      onChange: () => ltx2Nodes().forEach(showBadge),
    },
  ],
  commands: [{ id: "ltx2.setKey", label: "LTX-2: API keys…", function: openKeys }],
  menuCommands: [{ path: ["Extensions", "LTX-2"], commands: ["ltx2.setKey"] }],

  async setup() {
    registerSidebar();
    // A failed LTX-2 node reaches the user as a toast too, with the pack's one-line message.
    api.addEventListener?.("execution_error", ({ detail }) => {
      if (String(detail?.node_type ?? "").startsWith("LTX2")) {
        toast("error", `LTX-2 (node ${detail.node_id})`, detail.exception_message ?? "The node failed.");
      }
    });
    // Vue nodes mount and remount as the view changes: keep their badge element in place.
    setInterval(() => ltx2Nodes().forEach(vueBadge), 1000);
  },

  async beforeRegisterNodeDef(nodeType, nodeData) {
    const mode = MODE_BY_NODE[nodeData.name];
    if (!mode) return;

    const onNodeCreated = nodeType.prototype.onNodeCreated;
    nodeType.prototype.onNodeCreated = function () {
      const result = onNodeCreated?.apply(this, arguments);
      fixSeedControl(this.widgets);
      installBadge(this);
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

    const getExtraMenuOptions = nodeType.prototype.getExtraMenuOptions;
    nodeType.prototype.getExtraMenuOptions = function (_, options) {
      const result = getExtraMenuOptions?.apply(this, arguments);
      options.push({ content: "LTX-2: API keys…", callback: openKeys });
      return result;
    };
  },
});
