// The sessions sidebar: new, search as you type, pinned first, Today / Yesterday / Earlier,
// rename, pin, archive, delete with undo (from the trash), and a spinner on active runs.

import { api } from "./api.js";
import { $, debounce, h, icon, toast } from "./dom.js";
import { emit, on, sessionHash, state } from "./state.js";

let view = "active"; // active | archived | trashed
let query = "";
let sessions = [];
let openMenu = null;
let poll = null;

const list = () => $("#session-list");

function dayGroup(iso) {
  const then = new Date(iso);
  const now = new Date();
  const start = new Date(now.getFullYear(), now.getMonth(), now.getDate()).getTime();
  if (then.getTime() >= start) return "Today";
  if (then.getTime() >= start - 86400000) return "Yesterday";
  return "Earlier";
}

export async function refreshSessions() {
  const params = { limit: 200, q: query || undefined };
  if (view === "archived") params.archived = "true";
  if (view === "trashed") params.trashed = "true";
  try {
    const data = await api.get("/api/sessions", params);
    sessions = data.sessions;
  } catch (error) {
    if (error.status !== 401) toast(error.message);
    return;
  }
  render();
  emit("sessions-listed", sessions);
  // Keep spinners honest while something runs somewhere.
  clearTimeout(poll);
  if (sessions.some((s) => s.active_run_id)) poll = setTimeout(refreshSessions, 3000);
}

function render() {
  const root = list();
  root.replaceChildren();
  if (!sessions.length) {
    const empty = query ? "No sessions match." : view === "trashed" ? "The trash is empty." : view === "archived" ? "Nothing archived." : "No sessions yet.";
    root.append(h("div", { class: "list-empty", text: empty }));
    return;
  }
  const groups = new Map();
  for (const s of sessions) {
    const label = s.pinned && view === "active" ? "Pinned" : dayGroup(s.updated_at);
    if (!groups.has(label)) groups.set(label, []);
    groups.get(label).push(s);
  }
  for (const [label, items] of groups) {
    const labelId = `group-${label.toLowerCase()}`;
    root.append(h("div", { class: "group-label", id: labelId, text: label }));
    const ul = h("div", { role: "list", "aria-labelledby": labelId });
    for (const s of items) ul.append(item(s));
    root.append(ul);
  }
}

function item(s) {
  const current = s.id === state.sessionId;
  const link = h(
    "a",
    { class: "session-link", href: sessionHash(s.id), "data-id": s.id, onclick: () => emit("close-drawer") },
    s.active_run_id ? h("span", { class: "spinner", role: "img", "aria-label": "Answering" }) : null,
    h("span", { class: "name", text: s.title || "New session" }),
    s.pinned && view === "active" ? pinIcon() : null,
  );
  const row = h("div", { class: "session-item", role: "listitem", "data-id": s.id, "aria-current": current ? "page" : null }, link);
  if (view === "trashed") {
    row.append(h("div", { class: "session-actions" },
      h("button", { class: "button small", type: "button", text: "Restore", onclick: () => restore(s) }),
      h("button", { class: "button small danger", type: "button", text: "Delete", "aria-label": `Delete ${s.title} for good`, onclick: () => purge(s) }),
    ));
  } else {
    row.append(h("button", {
      class: "icon-button session-menu-button", type: "button", "aria-label": `Actions for ${s.title}`,
      "aria-haspopup": "menu", "aria-expanded": "false", onclick: (e) => showMenu(e.currentTarget, s),
    }, icon("more")));
  }
  return row;
}

function pinIcon() {
  const el = icon("pin");
  el.classList.add("pin");
  el.setAttribute("aria-label", "Pinned");
  el.setAttribute("role", "img");
  el.removeAttribute("aria-hidden");
  return el;
}

function closeMenu() {
  if (!openMenu) return;
  openMenu.button.setAttribute("aria-expanded", "false");
  openMenu.el.remove();
  openMenu = null;
}

function showMenu(button, s) {
  const wasOpen = openMenu && openMenu.button === button;
  closeMenu();
  if (wasOpen) return;
  const entry = (name, label, run, cls) => h("button", { type: "button", role: "menuitem", class: cls, onclick: () => { closeMenu(); run(); } }, icon(name), h("span", { text: label }));
  const menu = h("div", { class: "menu", role: "menu", "aria-label": `Actions for ${s.title}` },
    entry("rename", "Rename", () => rename(s)),
    entry("pin", s.pinned ? "Unpin" : "Pin", () => patch(s, { pinned: !s.pinned })),
    entry("archive", s.archived ? "Unarchive" : "Archive", () => patch(s, { archived: !s.archived }, s.archived ? "Moved back to sessions." : "Archived.")),
    h("hr"),
    entry("trash", "Delete", () => trash(s), "danger"),
  );
  document.body.append(menu);
  const rect = button.getBoundingClientRect();
  const top = Math.min(rect.bottom + 4, window.innerHeight - menu.offsetHeight - 8);
  menu.style.top = `${top}px`;
  menu.style.left = `${Math.max(8, Math.min(rect.left, window.innerWidth - menu.offsetWidth - 8))}px`;
  button.setAttribute("aria-expanded", "true");
  openMenu = { el: menu, button };
  menu.querySelector("button").focus();
  menu.addEventListener("keydown", (e) => {
    const items = [...menu.querySelectorAll("button")];
    const i = items.indexOf(document.activeElement);
    if (e.key === "ArrowDown") { e.preventDefault(); items[(i + 1) % items.length].focus(); }
    if (e.key === "ArrowUp") { e.preventDefault(); items[(i - 1 + items.length) % items.length].focus(); }
    if (e.key === "Escape") { e.stopPropagation(); closeMenu(); button.focus(); }
  });
}

async function patch(s, changes, message) {
  try {
    const updated = await api.patch(`/api/sessions/${s.id}`, changes);
    if (message) toast(message);
    emit("session-updated", updated);
  } catch (error) {
    toast(error.message);
  }
  refreshSessions();
}

function rename(s) {
  const row = list().querySelector(`.session-item[data-id="${s.id}"]`);
  if (!row) return;
  const input = h("input", { class: "rename-input", "aria-label": "Session title", value: s.title || "" });
  row.replaceChildren(input);
  input.focus();
  input.select();
  let done = false;
  const finish = async (save) => {
    if (done) return;
    done = true;
    const title = input.value.trim();
    if (save && title && title !== s.title) await patch(s, { title });
    else render();
  };
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter") { e.preventDefault(); finish(true); }
    if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); finish(false); }
  });
  input.addEventListener("blur", () => finish(true));
}

async function trash(s) {
  try {
    await api.del(`/api/sessions/${s.id}`);
  } catch (error) {
    toast(error.message);
    return;
  }
  if (s.id === state.sessionId) location.hash = sessionHash(null);
  refreshSessions();
  toast("Moved to the trash.", { label: "Undo", run: () => restore(s) });
}

async function restore(s) {
  try {
    await api.post(`/api/sessions/${s.id}/restore`);
    toast("Restored.");
  } catch (error) {
    toast(error.message);
  }
  refreshSessions();
}

async function purge(s) {
  if (!confirm(`Delete “${s.title}” for good? This cannot be undone.`)) return;
  try {
    await api.del(`/api/sessions/${s.id}`, { purge: "true" });
  } catch (error) {
    toast(error.message);
  }
  refreshSessions();
}

export function focusSearch() {
  emit("open-drawer");
  const input = $("#search");
  input.focus();
  input.select();
}

export function initSessions() {
  const search = $("#search");
  const run = debounce(() => { query = search.value.trim(); refreshSessions(); }, 150);
  search.addEventListener("input", run);
  search.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && search.value) { e.stopPropagation(); search.value = ""; run(); }
  });
  for (const tab of document.querySelectorAll(".view-switch button")) {
    tab.addEventListener("click", () => {
      view = tab.dataset.view;
      for (const other of document.querySelectorAll(".view-switch button")) other.setAttribute("aria-selected", String(other === tab));
      refreshSessions();
    });
  }
  $("#new-session").addEventListener("click", () => { emit("close-drawer"); location.hash = sessionHash(null); emit("new-session"); });
  document.addEventListener("click", (e) => { if (openMenu && !openMenu.el.contains(e.target) && !openMenu.button.contains(e.target)) closeMenu(); });
  window.addEventListener("resize", closeMenu);
  on("sessions-changed", refreshSessions);
  on("session-opened", () => render());
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refreshSessions(); });
  refreshSessions();
}
