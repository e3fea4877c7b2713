// Pure logic of the LTX-2 front-end extension: no ComfyUI imports, so it runs under Node's test runner.

export const MODE_BY_NODE = {
  LTX2TextToVideo: "text-to-video",
  LTX2ImageToVideo: "image-to-video",
  LTX2AudioToVideo: "audio-to-video",
  LTX2Lipsync: "lipsync",
  LTX2Retake: "retake",
  LTX2Extend: "extend",
  LTX2Control: "control",
  LTX2Reframe: "reframe",
};

// Widgets whose value list depends on the chosen provider (and model).
export const PROVIDER_AWARE = ["model", "resolution", "fps"];

/** Provider key ("gmi") from a widget value that may be a display name ("GMI Cloud"). */
export function providerKey(caps, value) {
  if (!caps || !caps.providers) return null;
  const wanted = String(value ?? "").trim().toLowerCase();
  for (const [key, info] of Object.entries(caps.providers)) {
    if (key === wanted || String(info.display_name).toLowerCase() === wanted) return key;
  }
  return null;
}

/** The model specs a provider offers for a mode (first = default). */
export function modelsFor(caps, provider, mode) {
  const key = providerKey(caps, provider);
  if (!key) return [];
  return caps.providers[key].modes[mode] ?? [];
}

/** Allowed widget values for provider + mode (+ model: "auto" = the provider's default model). */
export function allowedValues(caps, provider, mode, model) {
  const specs = modelsFor(caps, provider, mode);
  if (specs.length === 0) return null;
  const chosen =
    model && model !== "auto" ? specs.find((s) => s.name === model || s.wire_id === model) : specs[0];
  const spec = chosen ?? specs[0];
  const durations = spec.durations?.length
    ? { values: [...spec.durations], min: Math.min(...spec.durations), max: Math.max(...spec.durations) }
    : spec.duration_range
      ? { values: null, min: spec.duration_range[0], max: spec.duration_range[1] }
      : null;
  return {
    model: ["auto", ...specs.map((s) => s.name)],
    resolution: spec.resolutions?.length ? [...spec.resolutions] : null,
    fps: spec.fps?.length ? spec.fps.map(String) : null,
    durations,
    modelKnown: Boolean(chosen),
  };
}

/**
 * Values a combo widget should offer: the allowed ones that the node already lists (the node's
 * full list is the union over providers), with the current value kept first when still allowed.
 */
// Choices that mean "let the provider decide" and stay available whatever the provider.
export const ALWAYS_ALLOWED = ["auto", "none", "default"];

export function filterCombo(allValues, allowed, current) {
  if (!allowed) return { values: allValues, value: current };
  const allowedSet = new Set([...allowed.map(String), ...ALWAYS_ALLOWED]);
  const values = allValues.filter((v) => allowedSet.has(String(v)));
  if (values.length === 0) return { values: allValues, value: current };
  const value = values.some((v) => String(v) === String(current)) ? current : values[0];
  return { values, value };
}

/** Nearest allowed duration (for set-valued durations) or the value clamped to the range. */
export function fitDuration(durations, value) {
  if (!durations) return value;
  if (durations.values) {
    return durations.values.reduce((best, d) => (Math.abs(d - value) < Math.abs(best - value) ? d : best));
  }
  return Math.min(durations.max, Math.max(durations.min, value));
}

/**
 * ComfyUI adds "control after generate" to an INT named seed with "randomize" as its default,
 * which would buy a new paid take on every queue. New LTX-2 nodes start "fixed"; saved
 * workflows keep whatever they were saved with (their values are applied after creation).
 */
export function fixSeedControl(widgets) {
  const control = (widgets ?? []).find((w) => w && w.name === "control_after_generate");
  if (control && control.value === "randomize") control.value = "fixed";
  return control ?? null;
}

/** Badge text for an estimate answer from the server ({text, detail} or {error}). */
export function badgeText(estimate) {
  if (!estimate || !estimate.text) return "";
  return `≈ ${estimate.text}`;
}

/** The widget values sent to the cost estimate (never media, never keys). */
export function estimateFields(widgets) {
  const out = {};
  for (const w of widgets ?? []) {
    if (!w || !w.name || w.type === "button") continue;
    const v = w.value;
    if (typeof v === "number" || typeof v === "boolean" || (typeof v === "string" && v.length <= 64)) {
      out[w.name] = v;
    }
  }
  delete out.prompt;
  return out;
}

/**
 * A debounce per key (a node): a new call for one key replaces that key's pending call only, so
 * the nodes of a workflow loaded in one go each get their estimate.
 */
export function debouncePerKey(delay, timers = globalThis) {
  const pending = new Map();
  return (key, fn) => {
    if (pending.has(key)) timers.clearTimeout(pending.get(key));
    pending.set(
      key,
      timers.setTimeout(() => {
        pending.delete(key);
        fn();
      }, delay),
    );
  };
}

// --- the LTX-2 sidebar: jobs, spend, budget and keys ------------------------------------------------

export const JOB_GROUPS = ["running", "uncollected", "uncertain", "failed", "done"];
export const GROUP_LABELS = {
  running: "Running",
  uncollected: "Paid, not collected",
  uncertain: "May have been billed",
  failed: "Failed",
  done: "Done",
};

/** "$1.23" for dollars, "40 credits" for API in One. */
export function formatAmount(amount, unit) {
  const value = Number(amount ?? 0);
  if (unit === "USD") return `$${value.toFixed(2)}`;
  return `${Math.round(value * 100) / 100} ${unit ?? "credits"}`;
}

/** The jobs shown for a state filter ("" = all) and a provider filter ("" = all), newest first. */
export function filterJobs(jobs, { state = "", provider = "" } = {}) {
  return (jobs ?? [])
    .filter((j) => (!state || j.group === state) && (!provider || j.provider === provider))
    .sort((a, b) => (b.created_at ?? 0) - (a.created_at ?? 0));
}

/** What one job row says: its headline, a detail line and whether it offers Collect. */
export function describeJob(job, providers = {}) {
  const who = providers[job.provider] ?? job.provider;
  const title = [who, job.mode, job.model].filter(Boolean).join(" · ");
  const cost = job.cost ? formatAmount(job.cost.amount, job.cost.unit) : "no estimate";
  let detail;
  switch (job.group) {
    case "running":
      detail = `${job.status || job.state}${job.provider_job_id ? ` · job ${job.provider_job_id}` : ""}`;
      break;
    case "uncollected":
      detail = job.collecting
        ? "Collecting…"
        : job.collect_error
          ? `Collect failed: ${job.collect_error}`
          : "Paid but never collected: Collect downloads it without a new submit";
      break;
    case "uncertain":
      detail = "The submit got no answer and may have been billed: check the provider's dashboard";
      break;
    case "failed":
      detail = job.error || job.state;
      break;
    default:
      detail = job.file ?? "";
  }
  return { title, detail, cost, collect: Boolean(job.can_collect), label: GROUP_LABELS[job.group] ?? job.group };
}

/** Rows of the spend table: one per provider that spent anything this month. */
export function spendRows(report, providers = {}) {
  const names = new Set([...Object.keys(report?.today ?? {}), ...Object.keys(report?.this_month ?? {})]);
  return [...names].sort().map((name) => {
    const today = report.today?.[name];
    const month = report.this_month?.[name];
    const unit = month?.unit ?? today?.unit ?? "USD";
    return {
      provider: name,
      label: providers[name] ?? name,
      today: formatAmount(today?.spent ?? 0, unit),
      month: formatAmount(month?.spent ?? 0, unit),
      unknown: (month?.unknown_cost ?? 0) > 0,
    };
  });
}

/** One line per cap that is set: spent against the cap, the share used (0..1) and whether it is reached. */
export function limitRows(report) {
  return Object.entries(report?.limits ?? {})
    .filter(([, l]) => l.cap !== null && l.cap !== undefined)
    .map(([name, l]) => ({
      name,
      label: `${l.period === "day" ? "Today" : "This month"} (${l.unit === "USD" ? "USD" : "credits"})`,
      text: `${formatAmount(l.spent, l.unit)} of ${formatAmount(l.cap, l.unit)}`,
      fraction: l.cap > 0 ? Math.min(1, l.spent / l.cap) : 1,
      reached: l.spent >= l.cap,
    }));
}

export const BUDGET_FIELDS = [
  { name: "daily_usd", label: "Daily cap (USD)", unit: "USD" },
  { name: "monthly_usd", label: "Monthly cap (USD)", unit: "USD" },
  { name: "daily_credits", label: "Daily cap (credits)", unit: "credits" },
  { name: "monthly_credits", label: "Monthly cap (credits)", unit: "credits" },
];

/**
 * The budget changes a form asks for: fields that differ from the budget in force and are not set
 * by an environment variable (the environment wins, so the page cannot change them). An empty field
 * removes a cap ("off").
 */
export function budgetChanges(values, budget) {
  const changes = {};
  for (const { name } of BUDGET_FIELDS) {
    if (budget?.sources?.[name] === "env" || !(name in (values ?? {}))) continue;
    const text = String(values[name] ?? "").trim();
    const current = budget?.caps?.[name] ?? null;
    if (text === "") {
      if (current !== null) changes[name] = "off";
    } else if (Number(text) !== current) {
      changes[name] = text;
    }
  }
  if ("allow_unknown_cost" in (values ?? {}) && budget?.sources?.allow_unknown_cost !== "env") {
    const wanted = Boolean(values.allow_unknown_cost);
    if (wanted !== Boolean(budget?.allow_unknown_cost)) changes.allow_unknown_cost = wanted;
  }
  return changes;
}

/** Where each key comes from, in words (never the key: the server never sends it). */
export function keyRows(status) {
  return Object.entries(status?.providers ?? {}).map(([name, info]) => ({
    provider: name,
    label: info.display_name ?? name,
    source:
      info.source === "env"
        ? `environment (${info.env_var})`
        : info.source === "config"
          ? "config file"
          : "not set",
    deletable: info.source === "config",
  }));
}

/** Show a toast through whichever toast API the frontend has (newer: error/info/..., older: add). */
export function showToast(toast, severity, summary, detail = "") {
  if (!toast) return false;
  const life = severity === "error" ? 10000 : 4000;
  if (typeof toast.add === "function") {
    toast.add({ severity, summary, detail, life });
    return true;
  }
  const method = { error: "error", warn: "warning", success: "success", info: "info" }[severity] ?? "info";
  if (typeof toast[method] === "function") {
    toast[method](summary, { description: detail });
    return true;
  }
  return false;
}

/** The cost badge for a node: an instance of the frontend's badge class (both renderers read node.badges). */
export function costBadge(BadgeClass, text) {
  if (!BadgeClass || !text) return null;
  return new BadgeClass({ text, fgColor: "#ffffff", bgColor: "#2a6b3a" });
}
