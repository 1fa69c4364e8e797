// The all-sessions /ws feed the whole console shares: the sessions the
// credential may see and what their runs wait on (the inbox: approvals,
// plans, client-tool calls), kept current, and resumed by feed sequence
// after a reconnect so no event is missed.
import { LiveSocket } from "/console/api.js";

const REQUESTED = "approval.requested";
const DECIDED = new Set(["approval.approved", "approval.rejected"]);
const PLAN_TOOL = "update_plan";
// A run's steps come in bursts: the inbox is read again once they pause.
const INBOX_RELOAD_MS = 300;

export class Feed {
  constructor(api, onState) {
    this.api = api;
    this.sessions = new Map();
    this.approvals = new Map();
    this.listeners = new Set();
    this.afterFeedSequence = 0;
    this.socket = new LiveSocket(
      api,
      () => ({ after_feed_sequence: this.afterFeedSequence || undefined }),
      (message) => this.receive(message),
      onState,
    );
  }

  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close() {
    this.socket.close();
  }

  receive(message) {
    if (message.type === "init") {
      this.sessions = new Map(message.sessions.map((session) => [session.session_id, session]));
      this.loadInbox();
    } else if (message.type === "session_created" || message.type === "session_updated") {
      this.sessions.set(message.session.session_id, message.session);
    } else if (message.type === "session_deleted") {
      this.sessions.delete(message.session_id);
      for (const [key, approval] of this.approvals) if (approval.session_id === message.session_id) this.approvals.delete(key);
    } else if (message.type === "event") {
      this.afterFeedSequence = Math.max(this.afterFeedSequence, Number(message.data.feed_sequence) || 0);
      this.noteEvent(message.data);
      this.noteApproval(message.data);
      // A run's step may pause it for a client tool, which no event names:
      // the inbox is read again from the server.
      if (message.data.payload?.task_id) this.reloadInboxSoon();
    } else if (message.type !== "task_update" && message.type !== "heartbeat") {
      return;
    }
    for (const listener of this.listeners) listener(message);
  }

  // The feed sends session_updated only when a status changes; the
  // counts an event moves are kept here.
  noteEvent(event) {
    const session = this.sessions.get(event.session_id);
    if (!session || event.sequence <= session.last_sequence) return;
    session.last_sequence = event.sequence;
    session.event_count += 1;
    session.updated_at = event.timestamp;
  }

  noteApproval(event) {
    const callId = event.payload?.call_id;
    if (!callId) return;
    const key = approvalKey(event.session_id, callId);
    if (event.event_type === REQUESTED) {
      this.approvals.set(key, {
        session_id: event.session_id,
        call_id: callId,
        kind: event.tool_name === PLAN_TOOL ? "plan" : "approval",
        tool_name: event.tool_name,
        arguments: event.tool_input || {},
        reason: event.reason || "",
      });
    } else if (DECIDED.has(event.event_type)) {
      this.approvals.delete(key);
    }
  }

  // What waits now, from storage (GET /api/inbox: every session the
  // credential may see, client-tool calls too): on every (re)connect, and
  // after a run's steps, since the feed only tells what changes.
  async loadInbox() {
    const answer = await this.api.get("/api/inbox").catch(() => null);
    if (!answer) return;
    this.approvals = new Map(answer.items.map((item) => [approvalKey(item.session_id, item.call_id), item]));
    for (const listener of this.listeners) listener({ type: "approvals_loaded" });
  }

  reloadInboxSoon() {
    clearTimeout(this.inboxReload);
    this.inboxReload = setTimeout(() => this.loadInbox(), INBOX_RELOAD_MS);
  }

  forget(sessionId, callId) {
    this.approvals.delete(approvalKey(sessionId, callId));
    for (const listener of this.listeners) listener({ type: "approvals_loaded" });
  }
}

function approvalKey(sessionId, callId) {
  return `${sessionId}\n${callId}`;
}
