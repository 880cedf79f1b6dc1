// The pieces of a conversation: answers (server-rendered markdown with copy buttons), the
// collapsed "thinking" block, tool cards and approval cards.

import { api, renderMarkdown } from "./api.js";
import { copyText, h, icon, setHTML, toast } from "./dom.js";

const RENDER_EVERY_MS = 250;

/** Add a header with the language and a copy button to every code block in `root`. */
export function decorateCode(root) {
  for (const block of root.querySelectorAll(".code-block")) {
    if (block.querySelector(".code-head")) continue;
    const pre = block.querySelector("pre");
    const button = h("button", { class: "copy-button", type: "button", "aria-label": "Copy code" }, icon("copy"), h("span", { text: "Copy" }));
    button.addEventListener("click", () => copyText(pre.textContent, button));
    block.prepend(h("div", { class: "code-head" }, h("span", { text: pre.dataset.lang || "text" }), button));
  }
}

/** A streamed answer: raw text shows at once, markdown is rendered by the server as it grows. */
export class Answer {
  constructor({ html = null, text = "", live = false } = {}) {
    this.text = text;
    this.el = h("div", { class: "answer" });
    this.rendered = h("div", { class: "answer-html" });
    this.tail = document.createTextNode("");
    this.el.append(this.rendered, this.tail);
    this.renderedText = "";
    this.inFlight = false;
    this.lastRender = 0;
    this.timer = null;
    this.final = !live;
    this.caret = live ? h("span", { class: "caret", "aria-hidden": "true" }) : null;
    this.onChange = () => {};
    if (html !== null) this._show(html, text);
    else if (text) this._schedule();
    this._placeTail();
  }

  append(text) {
    this.text += text;
    this._placeTail();
    this._schedule();
  }

  finish(text) {
    if (typeof text === "string") this.text = text;
    this.final = true;
    if (this.caret) { this.caret.remove(); this.caret = null; }
    this._placeTail();
    this._schedule(true);
  }

  // Text not rendered yet continues the last paragraph (or list item) instead of starting a
  // line of its own, so the answer does not jump when the next render lands.
  _placeTail() {
    const rest = this.text.startsWith(this.renderedText) ? this.text.slice(this.renderedText.length) : "";
    let host = this.el;
    const last = this.rendered.lastElementChild;
    if (last && !rest.includes("\n")) {
      if (last.tagName === "P") host = last;
      else if ((last.tagName === "UL" || last.tagName === "OL") && last.lastElementChild) host = last.lastElementChild;
    }
    // Rendering trims the space the rendered part ended with; keep the words apart.
    const gap = host !== this.el && /\s$/.test(this.renderedText) && rest && !/^\s/.test(rest) ? " " : "";
    this.tail.textContent = gap + rest;
    host.append(this.tail);
    if (this.caret) host.append(this.caret);
  }

  _show(html, text) {
    setHTML(this.rendered, html);
    decorateCode(this.rendered);
    this.renderedText = text;
    // The text that arrived while the server was rendering shows as plain text meanwhile.
    this._placeTail();
    this.onChange();
  }

  _schedule(now = false) {
    if (this.inFlight || this.text === this.renderedText) return;
    const wait = now ? 0 : Math.max(0, this.lastRender + RENDER_EVERY_MS - performance.now());
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this._render(), wait);
  }

  async _render() {
    if (this.inFlight) return;
    const snapshot = this.text;
    this.inFlight = true;
    this.lastRender = performance.now();
    let failed = false;
    try {
      const html = await renderMarkdown(snapshot);
      this._show(html, snapshot);
    } catch {
      failed = true; // the plain text stays visible meanwhile
    } finally {
      this.inFlight = false;
    }
    if (this.text === this.renderedText) return;
    if (failed) {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this._render(), 2000);
    } else {
      this._schedule(this.final);
    }
  }
}

export function thinkingBlock(text = "", live = false) {
  const body = h("div", { class: "thinking-body" });
  body.textContent = text;
  const label = h("span", { text: live ? "Thinking…" : "Thinking" });
  const el = h("details", { class: "thinking" }, h("summary", {}, chevron(), label), body);
  return {
    el,
    append(t) { body.textContent += t; },
    done() { label.textContent = "Thought"; },
    get text() { return body.textContent; },
  };
}

function chevron() {
  const svg = icon("chevron");
  svg.classList.add("chev");
  return svg;
}

function summarize(name, args) {
  if (!args || typeof args !== "object") return typeof args === "string" ? args : "";
  return args.command || args.path || args.url || args.pattern || Object.values(args).filter((v) => typeof v === "string")[0] || "";
}

function pretty(args) {
  if (typeof args === "string") {
    try { return JSON.stringify(JSON.parse(args), null, 2); } catch { return args; }
  }
  return JSON.stringify(args ?? {}, null, 2);
}

const STATUS_TEXT = { running: "Running", waiting: "Waiting for you", done: "Done", error: "Failed", pending: "Not run" };

/** A tool call as a collapsible card: name, arguments, output (streams), status. */
export function toolCard({ callId, name, args }) {
  const parsed = typeof args === "string" ? (() => { try { return JSON.parse(args); } catch { return args; } })() : args;
  const status = h("span", { class: "tool-status" });
  const output = h("pre", { class: "tool-pre output" });
  const outputLabel = h("div", { class: "tool-label", text: "Output" });
  outputLabel.hidden = true;
  output.hidden = true;
  const el = h("details", { class: "tool", "data-call-id": callId },
    h("summary", {}, chevron(), icon("tool"), h("span", { class: "tool-name", text: name }), h("span", { class: "tool-summary", text: summarize(name, parsed) }), status),
    h("div", { class: "tool-body" },
      h("div", { class: "tool-label", text: "Arguments" }),
      h("pre", { class: "tool-pre args", text: pretty(parsed) }),
      outputLabel,
      output,
    ),
  );
  const card = {
    el,
    status: "",
    setStatus(value) {
      card.status = value;
      status.className = `tool-status ${value}`;
      status.replaceChildren();
      if (value === "running") status.append(h("span", { class: "spinner", "aria-hidden": "true" }));
      status.append(h("span", { text: STATUS_TEXT[value] || value }));
      el.classList.toggle("error", value === "error");
    },
    appendOutput(text) {
      output.hidden = outputLabel.hidden = false;
      output.textContent += text;
      output.scrollTop = output.scrollHeight;
    },
    setOutput(text, isError) {
      output.hidden = outputLabel.hidden = false;
      output.textContent = text;
      card.setStatus(isError ? "error" : "done");
    },
  };
  card.setStatus("running");
  return card;
}

const DECISIONS = [
  ["once", "Allow once", "primary"],
  ["session", "Allow for this session", ""],
  ["always", "Always allow", ""],
  ["deny", "Deny", "danger"],
];
const DECIDED = { once: "Allowed once.", session: "Allowed for this session.", always: "Always allowed.", deny: "Denied." };

/** An approval request with the four choices; `resolve(decision)` marks it answered. */
export function approvalCard({ approvalId, tool, args, reason }) {
  const result = h("div", { class: "approval-result", role: "status" });
  const actions = h("div", { class: "approval-actions" });
  const el = h("div", { class: "approval", role: "group", "aria-label": `Approve ${tool}`, "data-approval-id": approvalId },
    h("div", { class: "approval-title" }, icon("shield"), h("span", { text: `Allow ${tool}?` })),
    reason ? h("div", { class: "approval-reason", text: reason }) : null,
    h("pre", { class: "tool-pre", text: tool === "shell" && args && args.command ? args.command : pretty(args) }),
    actions,
    result,
  );
  const card = {
    el,
    resolve(decision) {
      actions.remove();
      result.textContent = DECIDED[decision] || decision;
    },
  };
  for (const [decision, label, kind] of DECISIONS) {
    actions.append(h("button", {
      class: `button small ${kind}`, type: "button", text: label,
      onclick: async () => {
        for (const b of actions.querySelectorAll("button")) b.disabled = true;
        try {
          await api.post(`/api/approvals/${approvalId}`, { decision });
          card.resolve(decision);
        } catch (error) {
          toast(error.message);
          for (const b of actions.querySelectorAll("button")) b.disabled = false;
        }
      },
    }));
  }
  return card;
}
