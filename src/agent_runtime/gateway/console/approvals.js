// The inbox: every tool call, plan and client-tool call waiting for the
// user, across their sessions, live from the shared feed. Approve, edit the
// arguments (JSON) and approve, or reject with a reason; answer a client
// tool with its result. A decided or expired item leaves the inbox at once,
// in every open console.
import { ApiError } from "/console/api.js";
import { el, json } from "/console/dom.js";

async function decide(api, approval, decision) {
  const response =
    approval.kind === "client_tool"
      ? await api.request(
          "POST",
          "/agent/message/stream",
          { session_id: approval.session_id, message: { type: "tool_result", call_id: approval.call_id, ...decision } },
          { raw: true },
        )
      : await api.request(
          "POST",
          `/sessions/${encodeURIComponent(approval.session_id)}/hitl-decision`,
          { call_id: approval.call_id, ...decision },
          { raw: true },
        );
  // The answer streams the run's continuation until it pauses or ends; the
  // decision is made once it started, and the session's timeline shows the
  // rest. Read to its end (not cut off) so the server ends it, not the page.
  response.text().catch(() => {});
}

// What the card's buttons send, and the state they share.
function actions(api, feed, approval) {
  const problem = el("p", { class: "problem", role: "alert" });
  const buttons = [];
  const act = async (decision) => {
    problem.textContent = "";
    buttons.forEach((button) => (button.disabled = true));
    try {
      await decide(api, approval, decision);
      feed.forget(approval.session_id, approval.call_id);
    } catch (error) {
      if (error instanceof ApiError && (error.status === 404 || error.status === 409)) {
        feed.forget(approval.session_id, approval.call_id);
        return;
      }
      problem.textContent = error.message;
      buttons.forEach((button) => (button.disabled = false));
    }
  };
  return { problem, buttons, act };
}

function card(feed, approval, title, ...body) {
  const session = feed.sessions.get(approval.session_id);
  return el(
    "li",
    { class: "approval", dataset: { callId: approval.call_id, sessionId: approval.session_id, kind: approval.kind } },
    el(
      "div",
      { class: "event-head" },
      el("span", { class: "type" }, title),
      el("a", { href: `#/sessions/${encodeURIComponent(approval.session_id)}` }, session?.session_name || approval.session_id),
    ),
    ...body,
  );
}

// A call the client runs: the user runs it and sends its result (JSON, or
// text as it is), or sends an error the model reads.
function clientToolCard(api, feed, approval, id) {
  const { problem, buttons, act } = actions(api, feed, approval);
  const output = el("textarea", { id: `result-${id}`, class: "arguments", rows: 6, spellcheck: "false" });
  const send = (asError) => {
    const text = output.value.trim();
    if (asError) return act({ error: text || "the client tool failed" });
    let result = text;
    try {
      result = JSON.parse(text);
    } catch {
      // Plain text goes to the model as it is.
    }
    act({ result });
  };
  buttons.push(
    el("button", { type: "button", class: "approve", onclick: () => send(false) }, "Send result"),
    el("button", { type: "button", class: "reject", onclick: () => send(true) }, "Send as error"),
  );
  return card(
    feed,
    approval,
    `${approval.tool_name} (runs on the client)`,
    el("pre", { class: "arguments" }, json(approval.arguments)),
    el("label", { for: `result-${id}`, class: "label" }, "Its result (JSON or text)"),
    output,
    el("div", { class: "actions" }, buttons),
    problem,
  );
}

function approvalCard(api, feed, approval) {
  const id = `${approval.session_id}-${approval.call_id}`.replace(/[^A-Za-z0-9_-]/g, "_");
  if (approval.kind === "client_tool") return clientToolCard(api, feed, approval, id);
  // A plan is approved or rejected as proposed (the runtime takes no edits).
  const plan = approval.kind === "plan";
  const editor = el("textarea", { id: `args-${id}`, class: "arguments", rows: 8, spellcheck: "false", readonly: plan }, json(approval.arguments));
  const reason = el("input", { id: `reason-${id}`, type: "text", placeholder: "Why (told to the model)" });
  const { problem, buttons, act } = actions(api, feed, approval);
  const approveEdited = () => {
    let edited;
    try {
      edited = JSON.parse(editor.value);
    } catch (error) {
      problem.textContent = `The arguments are not valid JSON: ${error.message}`;
      return;
    }
    const unchanged = JSON.stringify(edited) === JSON.stringify(approval.arguments);
    act(unchanged ? { decision: "approve" } : { decision: "edit", modified_arguments: edited });
  };
  buttons.push(
    el("button", { type: "button", class: "approve", onclick: approveEdited }, "Approve"),
    el("button", { type: "button", class: "reject", onclick: () => act({ decision: "reject", feedback: reason.value.trim() }) }, "Reject"),
  );
  return card(
    feed,
    approval,
    plan ? "plan" : approval.tool_name,
    approval.reason ? el("p", { class: "message" }, approval.reason) : null,
    el("label", { for: `args-${id}`, class: "label" }, plan ? "The plan" : "Arguments (edit them to approve with changes)"),
    editor,
    el("label", { for: `reason-${id}`, class: "label" }, "Reason for a rejection"),
    reason,
    el("div", { class: "actions" }, buttons),
    problem,
  );
}

export function mountApprovals(main, { api, feed }) {
  const list = el("ul", { class: "approvals", "aria-label": "Pending approvals" });
  const shown = new Map();
  const render = () => {
    // Cards being edited stay as they are; only arrivals and departures change.
    for (const [key, card] of shown) {
      if (!feed.approvals.has(key)) {
        card.remove();
        shown.delete(key);
      }
    }
    for (const [key, approval] of feed.approvals) {
      if (shown.has(key)) continue;
      const card = approvalCard(api, feed, approval);
      shown.set(key, card);
      list.append(card);
    }
    empty.hidden = shown.size > 0;
  };
  const empty = el("p", { class: "empty" }, "Nothing waits for you.");
  main.replaceChildren(el("section", { class: "page" }, el("h1", {}, "Approvals"), empty, list));
  render();
  return feed.subscribe(render);
}
