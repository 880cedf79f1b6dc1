// The conversation: stored messages, the run being followed live, the composer, and the
// actions on messages (edit, retry, copy, earlier versions).

import { api } from "./api.js";
import { $, h, toast } from "./dom.js";
import { LiveRun } from "./live.js";
import { renderMessages, userMessage } from "./messages.js";
import { showSessionRuntime } from "./runtime.js";
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
    showSessionRuntime(null);
    emit("files-session", null);
    showEmpty();
    updateComposer();
    return;
  }
  let data, runs;
  try {
    [data, runs] = await Promise.all([
      api.get(`/api/sessions/${id}`, { limit: PAGE, include_superseded: showSuperseded ? "true" : undefined, render: "true" }),
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
  showSessionRuntime(data.session);
  emit("files-session", id);
  thread().replaceChildren();
  oldestSeq = data.messages.length ? data.messages[0].seq : null;
  if (data.has_more) thread().append(loadEarlierButton());
  const running = runs.runs.find((r) => r.status === "running");
  const queued = runs.runs.filter((r) => r.status === "queued");
  thread().append(renderMessages(data.messages, runs.runs, { skipRun: running?.id, onEdit: editMessage, onRetry: retry }));
  if (running) follow(running.id);
  for (const run of queued) thread().append(userMessage({ content: run.input.content }, { queued: true }));
  // The transcript and the runs are two reads: a run that ended between them left a message
  // read as `streaming` that no run follows any more. Read both again.
  const straddled = !running && data.messages.some((m) => m.status === "streaming");
  if (!running && (queued.length || straddled)) setTimeout(() => { if (token === loadToken) openSession(id, { keepScroll: true }); }, straddled ? 150 : 400);
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
    const data = await api.get(`/api/sessions/${id}`, { limit: PAGE, before_seq: oldestSeq, include_superseded: showSuperseded ? "true" : undefined, render: "true" });
    const runs = await api.get(`/api/sessions/${id}/runs`);
    if (id !== state.sessionId) return;
    const height = scroller().scrollHeight;
    button.remove();
    oldestSeq = data.messages.length ? data.messages[0].seq : oldestSeq;
    thread().prepend(renderMessages(data.messages, runs.runs, { skipRun: "none", onEdit: editMessage, onRetry: retry }));
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
  showSessionRuntime(session);
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
