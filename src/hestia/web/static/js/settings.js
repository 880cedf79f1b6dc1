// Settings: the dialog (provider, key, default model, approval policy, theme) and the setup
// screen shown on first run when no model provider is configured.

import { api } from "./api.js";
import { $, h, toast } from "./dom.js";
import { emit, state } from "./state.js";
import { runtimeOptions, runtimes } from "./runtime.js";
import { currentTheme, setTheme } from "./theme.js";

const PRESETS = [
  ["OpenAI", "https://api.openai.com/v1", "gpt-4o-mini", true],
  ["OpenRouter", "https://openrouter.ai/api/v1", "openai/gpt-4o-mini", true],
  ["Ollama", "http://127.0.0.1:11434/v1", "llama3.2", false],
  ["LM Studio", "http://127.0.0.1:1234/v1", "", false],
];
const POLICIES = [
  ["dangerous", "Ask before risky commands (recommended)"],
  ["ask", "Ask before every command and file change"],
  ["never", "Never ask"],
];

export async function loadSettings() {
  state.settings = await api.get("/api/settings");
  if (state.settings.theme !== "system" || currentTheme() !== "system") setTheme(state.settings.theme);
  return state.settings;
}

function field(label, input, help) {
  const id = `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  return h("div", { class: "field" }, h("label", { for: id, text: label }), input, help ? h("div", { class: "help", text: help }) : null);
}

function lockedHelp(locked, text) {
  return locked ? "Set by the server’s environment." : text;
}

/** The provider fields; `collect()` returns only what changed. */
function providerFields(s) {
  const baseUrl = h("input", { type: "url", name: "openai_base_url", value: s.openai_base_url, disabled: s.openai_base_url_locked, spellcheck: "false", placeholder: "https://api.openai.com/v1" });
  const key = h("input", {
    type: "password", name: "openai_api_key", autocomplete: "off", spellcheck: "false", disabled: s.openai_api_key_locked,
    placeholder: s.openai_api_key_set ? `Saved (${s.openai_api_key}) — type to replace` : "sk-…",
  });
  const anthropic = h("input", {
    type: "password", name: "anthropic_api_key", autocomplete: "off", spellcheck: "false", disabled: s.anthropic_api_key_locked,
    placeholder: s.anthropic_api_key_set ? `Saved (${s.anthropic_api_key}) — type to replace` : "Optional, for Claude models",
  });
  const model = h("input", { type: "text", name: "default_model", value: s.default_model, disabled: s.default_model_locked, spellcheck: "false", list: "model-options" });
  const options = h("datalist", { id: "model-options" });
  api.get("/api/models").then((data) => {
    for (const m of data.models) options.append(h("option", { value: m.id }));
  }).catch(() => {});
  return {
    nodes: [
      field("Provider address", baseUrl, lockedHelp(s.openai_base_url_locked, "Any OpenAI-compatible endpoint: OpenAI, OpenRouter, Ollama, vLLM, llama.cpp, LM Studio.")),
      field("API key", key, lockedHelp(s.openai_api_key_locked, "Stored on this server; never shown again in full. Local servers need none.")),
      field("Default model", model, lockedHelp(s.default_model_locked, "Used when a session does not pick one.")),
      options,
    ],
    anthropic: field("Anthropic API key", anthropic, lockedHelp(s.anthropic_api_key_locked, "Models whose name starts with “claude” then go to Anthropic.")),
    preset(url, defaultModel) {
      if (!baseUrl.disabled) baseUrl.value = url;
      if (!model.disabled && defaultModel) model.value = defaultModel;
      key.focus();
    },
    collect() {
      const changes = {};
      if (!baseUrl.disabled && baseUrl.value.trim() !== s.openai_base_url) changes.openai_base_url = baseUrl.value.trim();
      if (!key.disabled && key.value.trim()) changes.openai_api_key = key.value.trim();
      if (!anthropic.disabled && anthropic.value.trim()) changes.anthropic_api_key = anthropic.value.trim();
      if (!model.disabled && model.value.trim() && model.value.trim() !== s.default_model) changes.default_model = model.value.trim();
      return changes;
    },
  };
}

export async function openSettings() {
  const dialog = $("#settings-dialog");
  let s;
  try { s = await loadSettings(); } catch (error) { toast(error.message); return; }
  const provider = providerFields(s);
  const policy = h("select", { name: "approval_policy", disabled: s.approval_policy_locked },
    ...POLICIES.map(([value, label]) => h("option", { value, selected: value === s.approval_policy, text: label })));
  const runtime = h("select", { name: "runtime", disabled: s.runtime_locked });
  const runtimeList = await runtimes();
  runtime.replaceChildren(...runtimeOptions(runtimeList, s.runtime));
  const unavailable = runtimeList.filter((r) => !r.available).map((r) => r.reason).join(" ");
  let theme = s.theme;
  const themeGroup = h("div", { class: "segmented", role: "radiogroup", "aria-label": "Theme" },
    ...["system", "light", "dark"].map((value) => h("button", {
      type: "button", role: "radio", "aria-checked": String(value === theme), "data-theme-choice": value,
      text: value[0].toUpperCase() + value.slice(1),
      onclick: (e) => {
        theme = value;
        setTheme(value);
        for (const b of themeGroup.children) b.setAttribute("aria-checked", String(b === e.currentTarget));
      },
    })));
  const error = h("div", { class: "form-error", role: "alert" });
  const form = h("form", { class: "form", method: "dialog" },
    h("div", { class: "section-label", text: "Model provider" }),
    ...provider.nodes,
    provider.anthropic,
    h("div", { class: "section-label", text: "Agent" }),
    field("Approvals", policy, lockedHelp(s.approval_policy_locked, "When the agent must ask before running a tool.")),
    field("Runtime of new sessions", runtime, lockedHelp(s.runtime_locked, unavailable || "Each session can switch in its top bar.")),
    h("div", { class: "section-label", text: "Appearance" }),
    h("div", { class: "field" }, h("span", { class: "help", text: "Theme" }), themeGroup),
    error,
    h("div", { class: "form-actions" },
      h("button", { class: "button", type: "button", text: "Cancel", onclick: () => { setTheme(s.theme); dialog.close(); } }),
      h("button", { class: "button primary", type: "submit", text: "Save" }),
    ),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const changes = provider.collect();
    if (!policy.disabled && policy.value !== s.approval_policy) changes.approval_policy = policy.value;
    if (theme !== s.theme) changes.theme = theme;
    if (!runtime.disabled && runtime.value !== s.runtime) changes.runtime = runtime.value;
    try {
      if (Object.keys(changes).length) state.settings = await api.patch("/api/settings", changes);
    } catch (err) {
      error.textContent = err.message;
      return;
    }
    dialog.close();
    toast("Settings saved.");
    emit("settings-changed", state.settings);
  });
  dialog.replaceChildren(
    h("div", { class: "dialog-head" }, h("h2", { id: "settings-title", text: "Settings" })),
    form,
  );
  dialog.addEventListener("cancel", () => setTheme(s.theme), { once: true });
  dialog.showModal();
}

/** The first-run screen: pick a provider, paste a key, start. */
export function showSetup(s, onDone) {
  const root = $("#setup");
  const provider = providerFields(s);
  const error = h("div", { class: "form-error", role: "alert" });
  const form = h("form", { class: "form" }, ...provider.nodes, error,
    h("div", { class: "form-actions" }, h("button", { class: "button primary", type: "submit", text: "Save and start" })));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      state.settings = await api.patch("/api/settings", provider.collect());
    } catch (err) {
      error.textContent = err.message;
      return;
    }
    if (!state.settings.provider_configured) {
      error.textContent = "Add an API key, or the address of a local model server.";
      return;
    }
    onDone();
  });
  root.replaceChildren(h("div", { class: "setup-card" },
    h("img", { src: "/static/icon.svg", alt: "", width: "44", height: "44" }),
    h("h2", { id: "setup-title", text: "Connect a model" }),
    h("p", { text: "Hestia needs a model provider to answer. Pick one, paste its key (local servers need none), and start." }),
    h("div", { class: "presets", role: "group", "aria-label": "Providers" },
      ...PRESETS.map(([name, url, model]) => h("button", { class: "chip", type: "button", text: name, onclick: () => provider.preset(url, model) }))),
    form,
  ));
  root.hidden = false;
  $("#session-title").textContent = "Welcome";
  $("#conversation").hidden = true;
  $("#composer").hidden = true;
  form.querySelector("input:not([disabled])")?.focus();
}

export function hideSetup() {
  $("#setup").hidden = true;
  $("#conversation").hidden = false;
  $("#composer").hidden = false;
}
