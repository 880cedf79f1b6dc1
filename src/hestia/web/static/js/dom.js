// Small DOM helpers. Text always goes in through textContent; HTML only from the server's
// sanitiser (see setHTML), so nothing a model or a user writes can become markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";
const ICONS = {
  chevron: ["M9 6l6 6-6 6"],
  copy: ["M9 9h10v10H9z", "M5 15V5h10"],
  check: ["M5 12.5l4.5 4.5L19 7.5"],
  edit: ["M4 20h4L19 9l-4-4L4 16z", "M13.5 6.5l4 4"],
  retry: ["M4 12a8 8 0 1 0 2.3-5.6", "M4 4v4h4"],
  pin: ["M9 4h6l-1 6 3 3H7l3-3z", "M12 13v7"],
  more: ["M6 12h.01M12 12h.01M18 12h.01"],
  trash: ["M5 7h14", "M10 7V5h4v2", "M7 7l1 13h8l1-13"],
  archive: ["M4 5h16v4H4z", "M6 9v10h12V9", "M10 13h4"],
  rename: ["M4 20h16", "M6 16l9-9 3 3-9 9H6z"],
  restore: ["M4 12a8 8 0 1 0 2.3-5.6", "M4 4v4h4"],
  folder: ["M3 7a2 2 0 0 1 2-2h4l2 2h8a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z"],
  file: ["M6 3h8l4 4v14H6z", "M14 3v4h4"],
  close: ["M6 6l12 12M18 6L6 18"],
  tool: ["M14.7 6.3a4 4 0 0 0-5.4 5.4L4 17l3 3 5.3-5.3a4 4 0 0 0 5.4-5.4l-2.5 2.5-2.4-.6-.6-2.4z"],
  shield: ["M12 3l7 3v6c0 4.5-3 7.5-7 9-4-1.5-7-4.5-7-9V6z"],
  spark: ["M12 3v4M12 17v4M3 12h4M17 12h4M6 6l2.5 2.5M15.5 15.5L18 18M6 18l2.5-2.5M15.5 8.5L18 6"],
  upload: ["M12 16V4M7 9l5-5 5 5", "M5 20h14"],
  refresh: ["M20 12a8 8 0 1 1-2.3-5.6", "M20 4v4h-4"],
  download: ["M12 4v12M7 11l5 5 5-5", "M5 20h14"],
};

export function icon(name) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  for (const d of ICONS[name] || []) {
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", d);
    svg.append(path);
  }
  return svg;
}

// The only way HTML enters the page: markdown the server rendered and sanitised with nh3.
export function setHTML(el, sanitizedHtml) {
  el.innerHTML = sanitizedHtml;
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

export function toast(message, action) {
  const box = document.getElementById("toasts");
  const el = h("div", { class: "toast", role: "status" }, h("span", { text: message }));
  let timer;
  const close = () => { clearTimeout(timer); el.remove(); };
  if (action) {
    el.append(h("button", { type: "button", text: action.label, onclick: () => { close(); action.run(); } }));
  }
  box.append(el);
  timer = setTimeout(close, action ? 8000 : 4000);
  return close;
}

export function debounce(fn, ms) {
  let timer;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

export async function copyText(text, button) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = h("textarea", {}, text);
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  if (button) {
    const label = button.querySelector("span");
    if (label) {
      const before = label.textContent;
      label.textContent = "Copied";
      setTimeout(() => { label.textContent = before; }, 1400);
    }
  }
}
