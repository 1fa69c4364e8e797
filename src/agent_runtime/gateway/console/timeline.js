// One event of a session's log as a card: tool calls with their inputs and
// results, messages as text, approvals with their decision, diffs as diffs.
import { diffView, el, json, looksLikeDiff, when } from "/console/dom.js";

function block(label, value) {
  if (value === undefined || value === null || value === "" || (typeof value === "object" && !Object.keys(value).length)) return null;
  return el("div", { class: "field" }, el("span", { class: "label" }, label), looksLikeDiff(value) ? diffView(value) : el("pre", {}, json(value)));
}

// Diffs producers put in the payload (`diff`, `patch`) or a tool returned.
function diffs(event) {
  const found = [];
  for (const source of [event.payload, event.tool_output]) {
    if (!source || typeof source !== "object") continue;
    for (const name of ["diff", "patch"]) if (looksLikeDiff(source[name])) found.push(source[name]);
  }
  return found.map((text) => el("div", { class: "field" }, el("span", { class: "label" }, "diff"), diffView(text)));
}

function messageText(event) {
  return (event.content || []).map((part) => (part.type === "text" ? part.text : json(part))).join("\n");
}

export function eventCard(event) {
  const approval = event.event_type.startsWith("approval.");
  const payload = event.payload || {};
  const title = [event.tool_name, event.role].filter(Boolean).join(" · ");
  const { diff, patch, ...restOfPayload } = payload;
  return el(
    "li",
    { class: `event ${event.event_type.replaceAll(".", "-")}`, dataset: { sequence: event.sequence } },
    el(
      "div",
      { class: "event-head" },
      el("span", { class: "sequence" }, `#${event.sequence}`),
      el("span", { class: "type" }, event.event_type),
      title && el("span", { class: "tool" }, title),
      el("time", { datetime: event.timestamp }, when(event.timestamp)),
    ),
    event.content?.length ? el("p", { class: "message" }, messageText(event)) : null,
    block(approval ? "arguments" : "input", event.tool_input),
    block("result", event.tool_output),
    block("error", event.error),
    event.exit_code !== undefined && event.exit_code !== null ? block("exit code", String(event.exit_code)) : null,
    block("reason", event.reason),
    ...diffs(event),
    block(approval ? "decision" : "payload", restOfPayload),
  );
}
