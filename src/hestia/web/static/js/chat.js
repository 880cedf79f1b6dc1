// The conversation: stored messages, the run being followed live, the composer, and the
// actions on messages (edit, retry, copy, earlier versions).

import { api } from "./api.js";
import { Answer, thinkingBlock, toolCard } from "./cards.js";
import { $, copyText, h, icon, toast } from "./dom.js";
import { LiveRun, reasoningCache } from "./live.js";
import { emit, on, sessionHash, state } from "./state.js";

const PAGE = 200;
const thread = () => $("#thread");
const scroller = () => $("#conversation");

let live = null; // the LiveRun being followed
let showSuperseded = false;
let stickToBottom = true;
let loadToken = 0;
let oldestSeq = null;

function announce(text) {
  $("#live-status").textContent = text;
}

function setConnection(s) {
  $("#conn-state").hidden = s !== "reconnecting";
  if (s === "reconnecting") announce("Connection lost; reconnecting…");
  if (s === "live") announce("Answering…");
}

function busy() {
  return live !== null && !live.ended;
}

function updateComposer() {
  $("#stop").hidden = !busy();
  $("#composer-hint").textContent = busy() ? "Esc to stop · new messages wait their turn" : "Enter to send · Shift+Enter for a new line";
  $("#send").disabled = !$("#prompt").value.trim();
}

function stick() {
  if (stickToBottom) scroller().scrollTop = scroller().scrollHeight;
}

function showEmpty() {
  $("#empty").hidden = thread().childElementCount > 0;
}

function newId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

// ---------- rendering stored messages ----------

function userMessage(m, { queued = false } = {}) {
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
  if (m.seq && !m.superseded) {
    actions.append(h("button", { type: "button", "aria-label": "Edit message", onclick: () => editMessage(el, m) }, icon("edit"), h("span", { text: "Edit" })));
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

function runNotice(run, { canRetry }) {
  const [text, kind] = STOPPED[run.status];
  const detail = run.status === "failed" && run.error ? ` ${run.error.message}` : "";
  return h("div", { class: `notice ${kind}`, role: "status", "data-run-status": run.status },
    h("span", { class: "grow", text: text + detail }),
    canRetry ? h("button", { class: "button small", type: "button", onclick: retry }, icon("retry"), h("span", { text: "Retry" })) : null,
  );
}

function renderMessages(messages, runs, { skipRun, prepend = false } = {}) {
  const frag = document.createDocumentFragment();
  const cards = new Map();
  const lastOfRun = new Map();
  let lastAssistant = null;
  for (const m of messages) {
    if (m.run_id && m.run_id === skipRun && m.role !== "user") continue;
    let el = null;
    if (m.role === "user") {
      el = userMessage(m);
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
    el.append(runNotice(run, { canRetry: !skipRun && latestRun && latestRun.id === runId }));
  }
  if (!skipRun && lastAssistant && latestRun && lastAssistant.m.run_id === latestRun.id && latestRun.status === "completed") {
    lastAssistant.el.append(h("div", { class: "msg-actions" },
      h("button", { type: "button", "aria-label": "Copy answer", onclick: (e) => copyText(lastAssistant.m.content, e.currentTarget) }, icon("copy"), h("span", { text: "Copy" })),
      h("button", { type: "button", "aria-label": "Retry answer", onclick: retry }, icon("retry"), h("span", { text: "Retry" })),
    ));
  }
  if (prepend) thread().prepend(frag);
  else thread().append(frag);
}

// ---------- opening a session ----------

export async function openSession(id, { keepScroll = false } = {}) {
  const token = ++loadToken;
  if (live) { live.close(); live = null; }
  state.sessionId = id;
  emit("session-opened", id);
  if (!id) {
    state.session = null;
    thread().replaceChildren();
    $("#session-title").textContent = "New session";
    $("#toggle-files").hidden = true;
    $("#toggle-superseded").hidden = true;
    emit("files-session", null);
    showEmpty();
    updateComposer();
    return;
  }
  let data, runs;
  try {
    [data, runs] = await Promise.all([
      api.get(`/api/sessions/${id}`, { limit: PAGE, include_superseded: showSuperseded ? "true" : undefined }),
      api.get(`/api/sessions/${id}/runs`),
    ]);
  } catch (error) {
    if (token !== loadToken) return false;
    if (error.status === 404) { toast("That session no longer exists."); location.hash = sessionHash(null); }
    else if (error.status) toast(error.message);
    return false;
  }
  if (token !== loadToken) return true;
  setConnection("idle");
  const before = scroller().scrollTop;
  state.session = data.session;
  $("#session-title").textContent = data.session.title || "New session";
  document.title = `${data.session.title || "New session"} · Hestia`;
  $("#toggle-files").hidden = false;
  $("#toggle-superseded").hidden = !runs.runs.some((r) => r.kind === "edit" || r.kind === "retry");
  emit("files-session", id);
  thread().replaceChildren();
  oldestSeq = data.messages.length ? data.messages[0].seq : null;
  if (data.has_more) thread().append(loadEarlierButton());
  const running = runs.runs.find((r) => r.status === "running");
  const queued = runs.runs.filter((r) => r.status === "queued");
  renderMessages(data.messages, runs.runs, { skipRun: running?.id });
  if (running) follow(running.id);
  for (const run of queued) thread().append(userMessage({ content: run.input.content }, { queued: true }));
  if (!running && queued.length) setTimeout(() => { if (token === loadToken) openSession(id, { keepScroll: true }); }, 400);
  showEmpty();
  updateComposer();
  if (keepScroll && !stickToBottom) scroller().scrollTop = before;
  else { stickToBottom = true; stick(); }
  return true;
}

/** Re-read the session after a run ended; a network error retries with back-off. */
async function reload(sessionId, attempt = 0) {
  if (state.sessionId !== sessionId) return;
  if (await openSession(sessionId, { keepScroll: true })) return;
  if (attempt === 0) setConnection("reconnecting");
  setTimeout(() => reload(sessionId, attempt + 1), Math.min(8000, 500 * 2 ** attempt));
}

function loadEarlierButton() {
  const button = h("button", { class: "button small", type: "button", text: "Show earlier messages" });
  button.addEventListener("click", async () => {
    const id = state.sessionId;
    const data = await api.get(`/api/sessions/${id}`, { limit: PAGE, before_seq: oldestSeq, include_superseded: showSuperseded ? "true" : undefined });
    const runs = await api.get(`/api/sessions/${id}/runs`);
    if (id !== state.sessionId) return;
    const height = scroller().scrollHeight;
    button.remove();
    oldestSeq = data.messages.length ? data.messages[0].seq : oldestSeq;
    renderMessages(data.messages, runs.runs, { prepend: true, skipRun: "none" });
    if (data.has_more) thread().prepend(loadEarlierButton());
    scroller().scrollTop += scroller().scrollHeight - height;
  });
  return h("div", { class: "load-earlier" }, button);
}

function follow(runId) {
  const sessionId = state.sessionId;
  live = new LiveRun(runId, {
    onState: setConnection,
    onChange: stick,
    onEnd: () => {
      setConnection("ended");
      announce("Answer finished.");
      emit("sessions-changed");
      emit("run-ended", runId);
      reload(sessionId);
    },
  });
  thread().append(live.el);
  updateComposer();
  stick();
}

// ---------- actions ----------

async function ensureSession() {
  if (state.sessionId) return state.sessionId;
  const session = await api.post("/api/sessions", {});
  state.sessionId = session.id;
  state.session = session;
  history.replaceState(null, "", sessionHash(session.id));
  $("#toggle-files").hidden = false;
  emit("files-session", session.id);
  return session.id;
}

export async function send() {
  const prompt = $("#prompt");
  const content = prompt.value;
  if (!content.trim()) return;
  prompt.value = "";
  autosize();
  updateComposer();
  let run;
  try {
    const id = await ensureSession();
    ({ run } = await api.post(`/api/sessions/${id}/messages`, { content, client_message_id: newId() }));
  } catch (error) {
    prompt.value = content;
    autosize();
    updateComposer();
    toast(error.message);
    return;
  }
  stickToBottom = true;
  if (run.status === "queued" && busy()) {
    thread().append(userMessage({ content }, { queued: true }));
    announce("Queued; it will be sent when the current answer ends.");
  } else {
    // Show the message now; the next reload of the session shows the stored one.
    thread().append(userMessage({ content }, { queued: run.status === "queued" }));
    if (run.status === "running" && !busy()) follow(run.id);
    else if (!busy()) openSession(state.sessionId);
  }
  showEmpty();
  stick();
  emit("sessions-changed");
}

export async function stop() {
  if (!busy()) return;
  try {
    await api.post(`/api/runs/${live.runId}/cancel`);
    announce("Stopping…");
  } catch (error) {
    toast(error.message);
  }
}

async function retry() {
  try {
    await api.post(`/api/sessions/${state.sessionId}/retry`);
  } catch (error) {
    toast(error.message);
    return;
  }
  stickToBottom = true;
  openSession(state.sessionId);
}

function editMessage(el, m) {
  const area = h("textarea", { "aria-label": "Edit message" });
  area.value = m.content;
  const restore = () => openSession(state.sessionId, { keepScroll: true });
  const box = h("div", { class: "edit-box" }, area, h("div", { class: "row" },
    h("button", { class: "button small", type: "button", text: "Cancel", onclick: restore }),
    h("button", { class: "button small primary", type: "button", text: "Save & send", onclick: () => save() }),
  ));
  el.replaceChildren(box);
  area.focus();
  area.setSelectionRange(area.value.length, area.value.length);
  async function save() {
    const content = area.value;
    if (!content.trim()) return;
    try {
      await api.post(`/api/sessions/${state.sessionId}/messages/${m.seq}/edit`, { content });
    } catch (error) {
      toast(error.message);
      return;
    }
    openSession(state.sessionId, { keepScroll: true });
    emit("sessions-changed");
  }
  area.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); save(); }
    if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); restore(); }
  });
}

function autosize() {
  const prompt = $("#prompt");
  prompt.style.height = "auto";
  prompt.style.height = `${Math.min(prompt.scrollHeight, window.innerHeight * 0.4)}px`;
}

export function isBusy() {
  return busy();
}

export function initChat() {
  const prompt = $("#prompt");
  $("#composer").addEventListener("submit", (e) => { e.preventDefault(); send(); });
  prompt.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); }
  });
  prompt.addEventListener("input", () => { autosize(); updateComposer(); });
  $("#stop").addEventListener("click", stop);
  const superseded = $("#toggle-superseded");
  superseded.addEventListener("click", () => {
    showSuperseded = !showSuperseded;
    superseded.setAttribute("aria-pressed", String(showSuperseded));
    openSession(state.sessionId, { keepScroll: true });
  });
  scroller().addEventListener("scroll", () => {
    const s = scroller();
    stickToBottom = s.scrollHeight - s.scrollTop - s.clientHeight < 80;
    $(".topbar").classList.toggle("scrolled", s.scrollTop > 4);
  });
  updateComposer();
  // A run started elsewhere (another tab, a script) in the open session: follow it too.
  on("sessions-listed", (sessions) => {
    const open = sessions.find((s) => s.id === state.sessionId);
    if (!open) return;
    $("#session-title").textContent = open.title || "New session";
    if (open.active_run_id && !busy()) openSession(state.sessionId, { keepScroll: true });
  });
}
