// The login page: posts the password as JSON, then goes to `?next=` (same-origin paths only).
"use strict";

function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return "";
}

// Only a path on this server: "/x?y#z". Never "//evil.example", "/\\evil.example" or "https:…".
function nextPath() {
  const raw = new URLSearchParams(location.search).get("next") || "/";
  if (!raw.startsWith("/") || raw.startsWith("//") || raw.includes("\\")) return "/";
  try {
    const url = new URL(raw, location.origin);
    if (url.origin !== location.origin || url.pathname.startsWith("/login")) return "/";
    return url.pathname + url.search + url.hash;
  } catch {
    return "/";
  }
}

function say(text) {
  document.getElementById("message").textContent = text;
}

async function alreadyIn() {
  try {
    const response = await fetch("/api/auth/status", { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const status = await response.json();
    if (!status.password_set || status.logged_in) location.replace(nextPath());
  } catch {
    // The form still works; the server answers the login itself.
  }
}

async function submit(event) {
  event.preventDefault();
  const button = document.getElementById("submit");
  const password = document.getElementById("password");
  button.disabled = true;
  say("");
  try {
    const response = await fetch("/api/auth/login", {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRF-Token": cookie("hestia_csrf"),
      },
      body: JSON.stringify({ password: password.value }),
      credentials: "same-origin",
    });
    if (response.ok) {
      location.replace(nextPath());
      return;
    }
    let message = "Logging in failed.";
    try {
      const body = await response.json();
      if (body && body.error && body.error.message) message = body.error.message;
    } catch {
      // Not JSON: keep the generic sentence.
    }
    if (response.status === 403 && !cookie("hestia_csrf")) {
      message = "Reload the page and try again.";
    }
    say(message);
    password.select();
  } catch {
    say("Hestia cannot be reached.");
  } finally {
    button.disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("login-form").addEventListener("submit", submit);
  alreadyIn();
});
