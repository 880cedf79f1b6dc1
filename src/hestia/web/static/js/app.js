// Start-up and wiring: theme, settings (or the setup screen), sidebar, chat, files, keys.

import "./theme.js";
import { isBusy, initChat, openSession, stop } from "./chat.js";
import { $ } from "./dom.js";
import { initFiles } from "./files.js";
import { focusSearch, initSessions } from "./sessions.js";
import { hideSetup, loadSettings, openSettings, showSetup } from "./settings.js";
import { on, sessionFromHash } from "./state.js";

function drawer(open) {
  $("#app").classList.toggle("drawer-open", open);
  $("#backdrop").hidden = !open;
  $("#open-sidebar").setAttribute("aria-expanded", String(open));
}

function keyboard() {
  document.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "k") {
      e.preventDefault();
      focusSearch();
    } else if (e.key === "Escape" && !e.defaultPrevented) {
      if (document.querySelector("dialog[open]") || document.querySelector(".menu")) return;
      if ($("#app").classList.contains("drawer-open")) drawer(false);
      else if (isBusy()) { e.preventDefault(); stop(); }
    }
  });
}

function route() {
  openSession(sessionFromHash());
}

async function start() {
  initChat();
  initFiles();
  keyboard();
  $("#open-settings").addEventListener("click", () => { drawer(false); openSettings(); });
  $("#open-sidebar").addEventListener("click", () => drawer(true));
  $("#backdrop").addEventListener("click", () => drawer(false));
  on("open-drawer", () => { if (window.matchMedia("(max-width: 900px)").matches) drawer(true); });
  on("close-drawer", () => drawer(false));
  on("new-session", () => $("#prompt").focus());
  let settings = null;
  try { settings = await loadSettings(); } catch { /* a 401 goes to the login page */ }
  initSessions();
  window.addEventListener("hashchange", route);
  const begin = () => { hideSetup(); route(); $("#prompt").focus(); };
  if (settings && !settings.provider_configured) showSetup(settings, begin);
  else begin();
  document.body.dataset.ready = "true";
}

start();
