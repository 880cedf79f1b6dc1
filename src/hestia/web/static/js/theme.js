// Light and dark: follow the system unless the person picked one (saved on the server and
// remembered locally so the first paint is already right).

const KEY = "hestia.theme";
const media = window.matchMedia("(prefers-color-scheme: dark)");
let choice = localStorage.getItem(KEY) || "system";

function apply() {
  const dark = choice === "dark" || (choice === "system" && media.matches);
  document.documentElement.dataset.theme = dark ? "dark" : "light";
}

export function setTheme(value) {
  choice = ["light", "dark"].includes(value) ? value : "system";
  localStorage.setItem(KEY, choice);
  apply();
}

export function currentTheme() {
  return choice;
}

media.addEventListener("change", apply);
apply();
