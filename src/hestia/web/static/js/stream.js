// Following a run's events: fetch + a streaming reader (so Last-Event-ID can be sent), resuming
// after the last event seen, reconnecting with back-off when the connection drops.

import { toLogin } from "./api.js";

const TERMINAL = new Set(["run.completed", "run.failed", "run.cancelled", "run.interrupted"]);
const STATUSES = new Set(["completed", "failed", "cancelled", "interrupted"]);
// The server sends a keep-alive at least every 15 s; silence for longer means a dead link.
const STALL_MS = 45000;

export function isTerminal(type) {
  return TERMINAL.has(type);
}

function backoff(attempt) {
  const base = Math.min(8000, 400 * 2 ** attempt);
  return base / 2 + Math.random() * (base / 2);
}

/**
 * Follow run `runId`, delivering each event after `lastEventId` exactly once, in order.
 * onEvent({id, type, data}); onState("live" | "reconnecting" | "ended" | "gone").
 * Returns {close()}.
 */
export function followRun(runId, { lastEventId = 0, onEvent, onState = () => {} }) {
  let last = lastEventId;
  let closed = false;
  let controller = null;
  let wake = null;
  let wentLive = false;

  const wakeUp = () => { if (wake) wake(); };
  window.addEventListener("online", wakeUp);

  const sleep = (ms) => new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    wake = () => { clearTimeout(timer); resolve(); };
  }).finally(() => { wake = null; });

  async function runHasEnded() {
    try {
      const response = await fetch(`/api/runs/${encodeURIComponent(runId)}`, {
        cache: "no-store",
        credentials: "same-origin",
      });
      return response.ok && STATUSES.has((await response.json()).status);
    } catch {
      return false;
    }
  }

  async function readOnce() {
    controller = new AbortController();
    const response = await fetch(`/api/runs/${encodeURIComponent(runId)}/events`, {
      headers: { "Last-Event-ID": String(last), Accept: "text/event-stream" },
      signal: controller.signal,
      cache: "no-store",
      credentials: "same-origin",
    });
    if (response.status === 401) { toLogin(); return "stop"; }
    if (response.status === 404) return "gone";
    if (!response.ok || !response.body) throw new Error(`events answered ${response.status}`);
    onState("live");
    wentLive = true;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let event = { id: null, type: "message", data: [] };
    let stall = setTimeout(() => controller.abort(), STALL_MS);
    try {
      for (;;) {
        const { value, done } = await reader.read();
        // A clean end without the terminal event: the run may have ended where this page
        // cannot see it (after a crash its end can sit under an id the page already has).
        if (done) return (await runHasEnded()) ? "ended" : "dropped";
        clearTimeout(stall);
        stall = setTimeout(() => controller.abort(), STALL_MS);
        buffer += value;
        const lines = buffer.split(/\r\n|\r|\n/);
        buffer = lines.pop();
        for (const line of lines) {
          if (line === "") {
            if (event.data.length && event.id !== null) {
              const id = event.id;
              // After a server crash the run's end may reuse an id this page already saw live
              // (those events were never stored); the end of the run is news all the same.
              if (id > last || isTerminal(event.type)) {
                last = Math.max(last, id);
                const item = { id, type: event.type, data: JSON.parse(event.data.join("\n")) };
                onEvent(item);
                if (isTerminal(item.type)) return "ended";
              }
            }
            event = { id: null, type: "message", data: [] };
          } else if (line.startsWith(":")) {
            // keep-alive
          } else if (line.startsWith("id:")) {
            event.id = Number(line.slice(3).trim());
          } else if (line.startsWith("event:")) {
            event.type = line.slice(6).trim();
          } else if (line.startsWith("data:")) {
            event.data.push(line.slice(5).replace(/^ /, ""));
          }
        }
      }
    } finally {
      clearTimeout(stall);
      controller.abort();
    }
  }

  (async () => {
    let attempt = 0;
    while (!closed) {
      let outcome;
      wentLive = false;
      try {
        outcome = await readOnce();
      } catch {
        outcome = "dropped";
      }
      if (closed || outcome === "stop") return;
      if (outcome === "ended" || outcome === "gone") {
        onState(outcome);
        break;
      }
      onState("reconnecting");
      if (wentLive) attempt = 0;
      await sleep(backoff(attempt));
      attempt = Math.min(attempt + 1, 6);
    }
    window.removeEventListener("online", wakeUp);
  })();

  return {
    get lastEventId() { return last; },
    close() {
      closed = true;
      window.removeEventListener("online", wakeUp);
      if (controller) controller.abort();
      wakeUp();
    },
  };
}
