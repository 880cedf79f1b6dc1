// What the modules share: the open session and a tiny event hub between them.

export const state = {
  sessionId: null, // the open session, or null for a new one not yet created
  session: null,
  settings: null,
};

const hub = new EventTarget();

export function on(name, fn) {
  hub.addEventListener(name, (e) => fn(e.detail));
}

export function emit(name, detail) {
  hub.dispatchEvent(new CustomEvent(name, { detail }));
}

export function sessionHash(id) {
  return id ? `#/s/${id}` : "#/";
}

export function sessionFromHash() {
  const match = location.hash.match(/^#\/s\/([A-Za-z0-9_-]+)$/);
  return match ? match[1] : null;
}
