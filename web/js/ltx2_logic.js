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
