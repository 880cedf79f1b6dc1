// Stored messages as the page shows them: user bubbles, answers with their thinking and tool
// cards, and a notice after a run that failed, was stopped or was interrupted.

import { Answer, thinkingBlock, toolCard } from "./cards.js";
import { copyText, h, icon } from "./dom.js";
import { reasoningCache } from "./live.js";

export function userMessage(m, { queued = false, onEdit = null } = {}) {
  const el = h("div", { class: `msg user${m.superseded ? " superseded" : ""}`, "data-seq": m.seq ?? null, "data-role": "user" },
    h("div", { class: "bubble", text: m.content }),
  );
  if (queued) {
    el.append(h("div", { class: "badge queued", text: "Queued" }));
    return el;
  }
  const actions = h("div", { class: "msg-actions" },
    h("button", { type: "button", "aria-label": "Copy message", onclick: (e) => copyText(m.content, e.currentTarget) }, icon("copy"), h("span", { text: "Copy" })),
  );
  if (m.seq && !m.superseded && onEdit) {
    actions.append(h("button", { type: "button", "aria-label": "Edit message", onclick: () => onEdit(el, m) }, icon("edit"), h("span", { text: "Edit" })));
  }
  el.append(actions);
  return el;
}

function assistantMessage(m) {
  const el = h("div", { class: `msg assistant${m.superseded ? " superseded" : ""}`, "data-seq": m.seq, "data-role": "assistant", "data-run-id": m.run_id });
  const thinking = (m.parts || []).filter((p) => p.type === "thinking" && p.text).map((p) => p.text).join("\n\n") || reasoningCache.get(m.id);
  if (thinking) el.append(thinkingBlock(thinking).el);
  if (m.content) {
    const answer = new Answer({ html: m.html ?? null, text: m.content });
    el.append(answer.el);
  }
  return el;
}

const STOPPED = {
  cancelled: ["Stopped.", ""],
  interrupted: ["Interrupted — the server stopped before the answer was finished.", ""],
  failed: ["The answer failed.", "error"],
};

function runNotice(run, { canRetry, onRetry }) {
  const [text, kind] = STOPPED[run.status];
  const detail = run.status === "failed" && run.error ? ` ${run.error.message}` : "";
  return h("div", { class: `notice ${kind}`, role: "status", "data-run-status": run.status },
    h("span", { class: "grow", text: text + detail }),
    canRetry ? h("button", { class: "button small", type: "button", onclick: onRetry }, icon("retry"), h("span", { text: "Retry" })) : null,
  );
}

/**
 * Stored messages (and the notices of runs that did not complete) as DOM nodes, in order.
 * `skipRun`: the running run, whose answer is rebuilt from its events instead.
 */
export function renderMessages(messages, runs, { skipRun, onEdit, onRetry }) {
  const frag = document.createDocumentFragment();
  const cards = new Map();
  const lastOfRun = new Map();
  let lastAssistant = null;
  for (const m of messages) {
    if (m.run_id && m.run_id === skipRun && m.role !== "user") continue;
    let el = null;
    if (m.role === "user") {
      el = userMessage(m, { onEdit });
    } else if (m.role === "assistant") {
      el = assistantMessage(m);
      for (const part of m.parts || []) {
        if (part.type !== "tool_call") continue;
        const card = toolCard({ callId: part.id, name: part.name, args: part.arguments });
        card.setStatus("pending");
        cards.set(part.id, card);
        el.append(card.el);
      }
      if (!m.superseded) lastAssistant = { el, m };
    } else if (m.role === "tool") {
      const part = (m.parts || [])[0] || {};
      const card = cards.get(part.call_id);
      if (card) card.setOutput(m.content, part.is_error);
      else {
        const orphan = toolCard({ callId: part.call_id, name: part.name || "tool", args: {} });
        orphan.setOutput(m.content, part.is_error);
        el = h("div", { class: "msg assistant" }, orphan.el);
      }
    }
    if (el) {
      frag.append(el);
      // A retry answers the same user message again, so a run's notice follows its answer.
      if (m.run_id && !m.superseded && m.role !== "user") lastOfRun.set(m.run_id, el);
    }
  }
  const runById = new Map(runs.map((r) => [r.id, r]));
  const latestRun = runs.filter((r) => r.status !== "queued").at(-1);
  for (const [runId, el] of lastOfRun) {
    const run = runById.get(runId);
    if (!run || !STOPPED[run.status] || runId === skipRun) continue;
    el.append(runNotice(run, { canRetry: !skipRun && latestRun && latestRun.id === runId, onRetry }));
  }
  if (!skipRun && lastAssistant && latestRun && lastAssistant.m.run_id === latestRun.id && latestRun.status === "completed") {
    lastAssistant.el.append(h("div", { class: "msg-actions" },
      h("button", { type: "button", "aria-label": "Copy answer", onclick: (e) => copyText(lastAssistant.m.content, e.currentTarget) }, icon("copy"), h("span", { text: "Copy" })),
      h("button", { type: "button", "aria-label": "Retry answer", onclick: onRetry }, icon("retry"), h("span", { text: "Retry" })),
    ));
  }
  return frag;
}
