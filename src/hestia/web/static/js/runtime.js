// Agent runtimes: the built-in loop, or Hermes when installed. The topbar shows the open
// session's runtime as a picker (only when there is a choice); settings pick the default.

import { api } from "./api.js";
import { $, h, toast } from "./dom.js";
import { state } from "./state.js";

const LABELS = { builtin: "Built-in agent", hermes: "Hermes Agent" };
let loading = null;

/** The runtimes this server can run (`GET /api/models`), asked once per page. */
export function runtimes() {
  loading ??= api.get("/api/models").then((data) => data.runtimes || []).catch(() => []);
  return loading;
}

/** An <option> per runtime; one that cannot run here is disabled and says why. */
export function runtimeOptions(list, selected) {
  return list.map((r) => h("option", {
    value: r.name,
    selected: r.name === selected,
    disabled: !r.available && r.name !== selected,
    title: r.reason || undefined,
    text: `${LABELS[r.name] || r.name}${r.version && r.name !== "builtin" ? ` ${r.version}` : ""}${r.available ? "" : " (not available)"}`,
  }));
}

/** Show (or hide) the topbar picker for `session`; changing it PATCHes the session. */
export async function showSessionRuntime(session) {
  const select = $("#session-runtime");
  if (!session) { select.hidden = true; return; }
  const list = await runtimes();
  if (state.session?.id !== session.id) return;  // another session opened meanwhile
  const choice = list.filter((r) => r.available).length > 1 || session.runtime !== "builtin";
  select.hidden = !choice;
  if (!choice) return;
  select.replaceChildren(...runtimeOptions(list, session.runtime));
  select.onchange = async () => {
    const wanted = select.value;
    try {
      state.session = await api.patch(`/api/sessions/${session.id}`, { runtime: wanted });
      toast(`This session now runs on the ${LABELS[wanted] || wanted}.`);
    } catch (error) {
      select.value = session.runtime;
      toast(error.message);
    }
  };
}
