// Sessions: every session the credential may see (session-event, codelab
// and mini-devin sessions share one list), searchable, and the timeline of
// the one picked, following live.
import { LiveSocket } from "/console/api.js";
import { runChanges } from "/console/changes.js";
import { el, when } from "/console/dom.js";
import { eventCard } from "/console/timeline.js";

const PAGE_SIZE = 1000;

function matches(session, query) {
  const text = [session.session_id, session.session_name, session.agent_name, session.project_dir, session.status].join(" ").toLowerCase();
  return query.split(/\s+/).every((word) => text.includes(word));
}

function sessionList(feed, selected) {
  const search = el("input", { type: "search", placeholder: "Search sessions", "aria-label": "Search sessions", id: "session-search" });
  const list = el("ul", { class: "sessions", "aria-label": "Sessions" });
  const render = () => {
    // Live updates rebuild the list; a keyboard user keeps their place.
    const focused = list.contains(document.activeElement) ? document.activeElement.dataset.sessionId : null;
    const query = search.value.trim().toLowerCase();
    const shown = [...feed.sessions.values()]
      .filter((session) => matches(session, query))
      .sort((a, b) => (b.updated_at || "").localeCompare(a.updated_at || ""));
    list.replaceChildren(
      ...shown.map((session) =>
        el(
          "li",
          {},
          el(
            "a",
            {
              href: `#/sessions/${encodeURIComponent(session.session_id)}`,
              class: "session-link",
              "aria-current": session.session_id === selected ? "page" : null,
              dataset: { sessionId: session.session_id },
            },
            el("span", { class: "name" }, session.session_name || session.session_id),
            el("span", { class: `status ${session.status}` }, session.status),
            el("span", { class: "meta" }, `${session.event_count} events · ${session.agent_name || "session"} · ${when(session.updated_at)}`),
          ),
        ),
      ),
    );
    if (!shown.length) list.append(el("li", { class: "empty" }, query ? "No session matches." : "No sessions yet."));
    if (focused) [...list.querySelectorAll(".session-link")].find((link) => link.dataset.sessionId === focused)?.focus();
  };
  search.addEventListener("input", render);
  render();
  return { node: el("section", { class: "list-pane" }, search, list), render };
}

// The timeline keeps events by sequence, so whatever arrives twice (a
// replay after a reconnect, the REST catch-up) is shown once, and fetches
// what it skipped whenever a sequence is missing.
class Timeline {
  constructor(api, sessionId) {
    this.api = api;
    this.sessionId = sessionId;
    this.events = new Map();
    this.last = 0;
    this.runs = el("div", { class: "runs" });
    this.runIds = new Set();
    this.list = el("ol", { class: "timeline", "aria-label": "Events", "aria-live": "polite" });
    this.node = el("section", { class: "detail-pane" }, this.runs, this.list);
    this.socket = null;
    this.start();
  }

  async start() {
    await this.catchUp();
    this.socket = new LiveSocket(
      this.api,
      () => ({ session_id: this.sessionId, after_sequence: this.last || undefined }),
      (message) => this.receive(message),
    );
    if (this.closed) this.socket.close();
  }

  async catchUp(after = this.last) {
    let pageToken = "";
    do {
      const query = new URLSearchParams({ page_size: PAGE_SIZE, after_sequence: after });
      if (pageToken) query.set("page_token", pageToken);
      const page = await this.api.get(`/sessions/${encodeURIComponent(this.sessionId)}/events?${query}`);
      page.events.forEach((event) => this.add(event));
      pageToken = page.next_page_token;
    } while (pageToken && !this.closed);
  }

  receive(message) {
    // A fresh connection with nothing seen yet streams only what is new:
    // what came between the first fetch and the subscription is fetched.
    if (message.type === "init" && !this.last) this.catchUp();
    if (message.type !== "event" || message.data.session_id !== this.sessionId) return;
    const before = this.last;
    this.add(message.data);
    if (message.data.sequence > before + 1) this.catchUp(before);
  }

  add(event) {
    if (this.events.has(event.sequence)) return;
    this.events.set(event.sequence, event);
    const taskId = event.payload?.task_id;
    if (taskId && !this.runIds.has(taskId)) {
      this.runIds.add(taskId);
      this.runs.append(runChanges(this.api, taskId));
    }
    const card = eventCard(event);
    // Events come in order but for a catch-up racing the live feed.
    const later = event.sequence < this.last ? [...this.list.children].find((child) => Number(child.dataset.sequence) > event.sequence) : null;
    const following = this.node.scrollHeight - this.node.scrollTop - this.node.clientHeight < 80;
    this.list.insertBefore(card, later || null);
    this.last = Math.max(this.last, event.sequence);
    if (following && !later) card.scrollIntoView({ block: "nearest" });
  }

  close() {
    this.closed = true;
    this.socket?.close();
  }
}

function sessionHeader(feed, sessionId) {
  const header = el("header", { class: "detail-head" });
  const render = () => {
    const session = feed.sessions.get(sessionId);
    header.replaceChildren(
      el("a", { href: "#/sessions", class: "back" }, "← Sessions"),
      el("h1", {}, session?.session_name || sessionId),
      session ? el("span", { class: `status ${session.status}` }, session.status) : el("span", { class: "status" }, "unknown"),
      el("span", { class: "meta" }, [sessionId, session?.agent_name, session?.project_dir].filter(Boolean).join(" · ")),
    );
  };
  render();
  return { node: header, render };
}

export function mountSessions(main, { api, feed }, sessionId) {
  const list = sessionList(feed, sessionId);
  const split = el("div", { class: `split${sessionId ? " has-detail" : ""}` }, list.node);
  let timeline = null;
  let header = null;
  if (sessionId) {
    timeline = new Timeline(api, sessionId);
    header = sessionHeader(feed, sessionId);
    timeline.node.prepend(header.node);
    split.append(timeline.node);
  } else {
    split.append(el("section", { class: "detail-pane placeholder" }, el("p", {}, "Pick a session to see its events as they happen.")));
  }
  main.replaceChildren(split);
  const unsubscribe = feed.subscribe((message) => {
    if (message.type === "event" || message.type.startsWith("session_") || message.type === "init") {
      list.render();
      header?.render();
    }
  });
  return () => {
    unsubscribe();
    timeline?.close();
  };
}
