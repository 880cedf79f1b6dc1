// The workspace panel: browse the session's folder, preview a file, upload into it.

import { api, headersFor } from "./api.js";
import { $, h, icon, toast } from "./dom.js";
import { on, state } from "./state.js";

let sessionId = null;
let path = "";
let selected = null;

const panel = () => $("#files");

function isOpen() {
  return !panel().hidden;
}

function size(n) {
  if (n === null || n === undefined) return "";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function crumbs() {
  const nav = h("nav", { class: "crumbs", "aria-label": "Folder" });
  nav.append(h("button", { type: "button", text: "workspace", onclick: () => list("") }));
  let acc = "";
  for (const part of path.split("/").filter(Boolean)) {
    acc = acc ? `${acc}/${part}` : part;
    const target = acc;
    nav.append(h("span", { text: "/" }), h("button", { type: "button", text: part, onclick: () => list(target) }));
  }
  return nav;
}

async function list(folder = path) {
  if (!sessionId) return;
  path = folder;
  let data;
  try {
    data = await api.get(`/api/sessions/${sessionId}/files`, { path: folder || undefined });
  } catch (error) {
    if (error.code === "file_not_found" && folder) return list("");
    data = { entries: [], error: error.message };
  }
  const rows = h("div", { class: "file-list", role: "group", "aria-label": `Files in ${folder || "the workspace"}` });
  if (data.error) rows.append(h("div", { class: "list-empty", text: data.error }));
  else if (!data.entries.length) rows.append(h("div", { class: "list-empty", text: "No files yet. The agent’s work appears here." }));
  for (const entry of data.entries) {
    const dir = entry.type === "dir";
    rows.append(h("button", {
      class: "file-row", type: "button", "aria-current": entry.path === selected ? "true" : null,
      onclick: () => (dir ? list(entry.path) : preview(entry.path)),
    }, icon(dir ? "folder" : "file"), h("span", { class: "fname", text: entry.name }), h("span", { class: "fsize", text: dir ? "" : size(entry.size) })));
  }
  if (data.truncated) rows.append(h("div", { class: "list-empty", text: "Only the first 5,000 entries are shown." }));
  const upload = h("input", { type: "file", multiple: true, hidden: true, "aria-label": "Upload files" });
  upload.addEventListener("change", () => uploadFiles(upload.files));
  panel().replaceChildren(
    h("div", { class: "files-head" },
      h("h2", { text: "Workspace" }),
      h("button", { class: "icon-button", type: "button", "aria-label": "Refresh files", onclick: () => list() }, icon("refresh")),
      h("button", { class: "icon-button", type: "button", "aria-label": "Close files", onclick: close }, icon("close")),
    ),
    crumbs(),
    rows,
    h("div", { class: "file-preview", id: "file-preview", hidden: true }),
    h("div", { class: "files-foot" },
      h("span", { class: "hint", text: state.session?.workspace || "" }),
      upload,
      h("button", { class: "button small", type: "button", onclick: () => upload.click() }, icon("upload"), h("span", { text: "Upload" })),
    ),
  );
  if (selected) preview(selected, { quiet: true });
}

async function preview(file, { quiet = false } = {}) {
  const box = $("#file-preview");
  if (!box) return;
  let data;
  try {
    data = await api.get(`/api/sessions/${sessionId}/files/content`, { path: file });
  } catch (error) {
    if (!quiet) toast(error.message);
    selected = null;
    box.hidden = true;
    return;
  }
  selected = file;
  for (const row of panel().querySelectorAll(".file-row")) row.removeAttribute("aria-current");
  const href = `/api/sessions/${encodeURIComponent(sessionId)}/files/content?path=${encodeURIComponent(file)}&raw=true`;
  box.replaceChildren(
    h("div", { class: "file-preview-head" },
      h("span", { text: data.path }),
      h("a", { class: "icon-button", href, download: data.path.split("/").pop(), "aria-label": "Download file" }, icon("download")),
      h("button", { class: "icon-button", type: "button", "aria-label": "Close preview", onclick: () => { selected = null; box.hidden = true; } }, icon("close")),
    ),
    h("pre", { tabindex: "0", "aria-label": `Contents of ${data.path}`, text: data.binary ? `Binary file, ${size(data.size)}.` : data.content }),
  );
  box.hidden = false;
}

async function uploadFiles(files) {
  if (!files.length) return;
  const form = new FormData();
  for (const file of files) form.append("files", file);
  try {
    const query = path ? `?path=${encodeURIComponent(path)}` : "";
    const response = await fetch(`/api/sessions/${sessionId}/files/upload${query}`, {
      method: "POST", body: form, headers: headersFor("POST"), credentials: "same-origin",
    });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      throw new Error(body.error?.message || `Upload failed (${response.status}).`);
    }
    toast(files.length === 1 ? "Uploaded." : `Uploaded ${files.length} files.`);
  } catch (error) {
    toast(error.message);
  }
  list();
}

function open() {
  panel().hidden = false;
  $("#toggle-files").setAttribute("aria-pressed", "true");
  list(path);
}

function close() {
  panel().hidden = true;
  $("#toggle-files").setAttribute("aria-pressed", "false");
  $("#toggle-files").focus();
}

export function initFiles() {
  $("#toggle-files").addEventListener("click", () => (isOpen() ? close() : open()));
  on("files-session", (id) => {
    if (id === sessionId) return;
    sessionId = id;
    path = "";
    selected = null;
    if (!id) panel().hidden = true;
    else if (isOpen()) list("");
  });
  on("run-ended", () => { if (isOpen()) list(); });
}
