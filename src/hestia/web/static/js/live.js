// One run followed live: its events (replayed from the start, then live) build the answer,
// thinking, tool and approval cards in place. Replaying from event 0 on every open or reload
// rebuilds exactly what the run produced so far — nothing duplicated, nothing missing (I3, I4).

import { Answer, approvalCard, thinkingBlock, toolCard } from "./cards.js";
import { h } from "./dom.js";
import { followRun } from "./stream.js";

// Reasoning that providers do not store, kept for this page's life: message id → text.
export const reasoningCache = new Map();

export class LiveRun {
  constructor(runId, { onEnd, onState, onChange }) {
    this.runId = runId;
    this.el = h("div", { class: "msg assistant live", "data-run-id": runId });
    this.typing = h("div", { class: "typing", "aria-hidden": "true" }, h("span"), h("span"), h("span"));
    this.el.append(this.typing);
    this.step = { thinking: null, answer: null };
    this.tools = new Map();
    this.approvals = new Map();
    this.onEnd = onEnd;
    this.onChange = onChange;
    this.ended = false;
    this.stream = followRun(runId, {
      lastEventId: 0,
      onEvent: (event) => this.apply(event),
      onState: (s) => {
        onState(s);
        if ((s === "ended" || s === "gone") && !this.ended) {
          this.ended = true;
          onEnd(this);
        }
      },
    });
  }

  close() {
    this.stream.close();
  }

  _add(node) {
    this.typing.remove();
    this.el.append(node);
  }

  _answer() {
    if (!this.step.answer) {
      const answer = new Answer({ live: true });
      answer.onChange = this.onChange;
      this.step.answer = answer;
      this._add(answer.el);
    }
    return this.step.answer;
  }

  apply({ type, data }) {
    switch (type) {
      case "message.delta":
        this._answer().append(data.text);
        break;
      case "reasoning.delta":
        if (!this.step.thinking) {
          this.step.thinking = thinkingBlock("", true);
          this._add(this.step.thinking.el);
        }
        this.step.thinking.append(data.text);
        break;
      case "message.completed": {
        const message = data.message;
        if (this.step.thinking) {
          this.step.thinking.done();
          reasoningCache.set(message.id, this.step.thinking.text);
        }
        if (this.step.answer) this.step.answer.finish(message.content);
        else if (message.content) {
          const answer = new Answer({ text: message.content });
          this._add(answer.el);
        }
        this.step = { thinking: null, answer: null };
        break;
      }
      case "tool.started": {
        const card = toolCard({ callId: data.call_id, name: data.name, args: data.arguments });
        this.tools.set(data.call_id, card);
        this._add(card.el);
        break;
      }
      case "tool.output":
        this.tools.get(data.call_id)?.appendOutput(data.text);
        break;
      case "tool.finished":
        this.tools.get(data.call_id)?.setOutput(data.output, data.is_error);
        break;
      case "approval.requested": {
        const card = approvalCard({ approvalId: data.approval_id, tool: data.tool, args: data.arguments, reason: data.reason });
        this.approvals.set(data.approval_id, card);
        this.tools.get(data.call_id)?.setStatus("waiting");
        this._add(card.el);
        break;
      }
      case "approval.resolved": {
        this.approvals.get(data.approval_id)?.resolve(data.decision);
        for (const card of this.tools.values()) if (card.status === "waiting") card.setStatus(data.decision === "deny" ? "error" : "running");
        break;
      }
      default:
        break;
    }
    this.onChange();
  }
}
