// The HTTP API: JSON in and out, the CSRF header on every change, /login on a 401.

const CSRF_COOKIE = "hestia_csrf";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function csrfToken() {
  for (const part of document.cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === CSRF_COOKIE) return decodeURIComponent(rest.join("="));
  }
  return null;
}

export function headersFor(method, extra = {}) {
  const headers = { ...extra };
  const token = csrfToken();
  if (method !== "GET" && method !== "HEAD" && token) headers["X-CSRF-Token"] = token;
  return headers;
}

export function toLogin() {
  const next = location.pathname + location.search + location.hash;
  location.assign(`/login?next=${encodeURIComponent(next)}`);
}

export async function request(method, path, { body, query, raw, headers, signal } = {}) {
  let url = path;
  if (query) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") params.set(k, v);
    const qs = params.toString();
    if (qs) url += `?${qs}`;
  }
  const init = { method, headers: headersFor(method, headers), signal, credentials: "same-origin" };
  if (body !== undefined) {
    if (body instanceof FormData || raw) {
      init.body = body;
    } else {
      init.body = JSON.stringify(body);
      init.headers["Content-Type"] = "application/json";
    }
  }
  const response = await fetch(url, init);
  if (response.status === 401) {
    toLogin();
    throw new ApiError(401, "not_authenticated", "Please log in.");
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!response.ok) {
    const error = (data && data.error) || {};
    throw new ApiError(response.status, error.code || "error", error.message || `Request failed (${response.status}).`);
  }
  return data;
}

export const api = {
  get: (path, query) => request("GET", path, { query }),
  post: (path, body, query) => request("POST", path, { body, query }),
  patch: (path, body) => request("PATCH", path, { body }),
  put: (path, body, query) => request("PUT", path, { body, query, raw: true }),
  del: (path, query) => request("DELETE", path, { query }),
};

export async function renderMarkdown(text) {
  const { html } = await api.post("/api/render", { text });
  return html;
}
