// The console's only way to the server: the public REST API and /ws, with
// the credential the user signed in with, so it sees exactly what that
// credential may see.

const STORED = "agent-runtime-console.credential";

export class ApiError extends Error {
  constructor(status, detail, code) {
    super(detail || `HTTP ${status}`);
    this.status = status;
    this.code = code || "";
  }
}

export class Api {
  constructor() {
    // Per tab and gone with it; a reload keeps the user signed in.
    this.credential = JSON.parse(sessionStorage.getItem(STORED) || "null");
  }

  // kind: "key" (AGENT_API_KEY or md_ key, sent as X-API-Key), "bearer"
  // (a JWT from /api/auth/login) or "anonymous" (--allow-anonymous-local).
  signIn(kind, secret, label) {
    this.credential = { kind, secret, label };
    sessionStorage.setItem(STORED, JSON.stringify(this.credential));
  }

  signOut() {
    this.credential = null;
    sessionStorage.removeItem(STORED);
  }

  headers() {
    const kind = this.credential?.kind;
    if (kind === "key") return { "x-api-key": this.credential.secret };
    if (kind === "bearer") return { authorization: `Bearer ${this.credential.secret}` };
    return {};
  }

  async request(method, path, body, { raw = false } = {}) {
    const init = { method, headers: this.headers() };
    if (body !== undefined) {
      init.headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    if (!response.ok) {
      const error = await response.json().catch(() => ({}));
      throw new ApiError(response.status, error.detail, error.code);
    }
    return raw ? response : response.json();
  }

  get(path) {
    return this.request("GET", path);
  }

  post(path, body) {
    return this.request("POST", path, body);
  }

  // Logs in with email and password; the JWT is the credential afterwards.
  async login(email, password) {
    const answer = await this.post("/api/auth/login", { email, password });
    this.signIn("bearer", answer.access_token, email);
  }

  // Browsers cannot set headers on WebSockets: the credential goes as ?token=.
  socketUrl(params) {
    const url = new URL("/ws", location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    for (const [name, value] of Object.entries(params)) {
      if (value !== undefined && value !== null) url.searchParams.set(name, value);
    }
    if (this.credential?.secret) url.searchParams.set("token", this.credential.secret);
    return url.toString();
  }
}

// A /ws connection that reconnects by itself (backoff up to 5 s) and asks
// `resumeFrom()` on every connect for the query that continues where the
// last one stopped (after_sequence / after_feed_sequence), so a dropped
// connection or a server restart leaves no gap.
export class LiveSocket {
  constructor(api, resumeFrom, onMessage, onState = () => {}) {
    this.api = api;
    this.resumeFrom = resumeFrom;
    this.onMessage = onMessage;
    this.onState = onState;
    this.closed = false;
    this.delay = 250;
    this.connect();
  }

  connect() {
    if (this.closed) return;
    const socket = new WebSocket(this.api.socketUrl(this.resumeFrom()));
    let opened = false;
    this.socket = socket;
    socket.onopen = () => {
      opened = true;
      this.delay = 250;
      this.onState("live");
    };
    socket.onmessage = (message) => this.onMessage(JSON.parse(message.data));
    socket.onclose = () => {
      if (this.closed) return;
      // Refused outright: the server is down, or the credential is no
      // longer good (a WebSocket cannot tell which; the owner asks).
      this.onState(opened ? "reconnecting" : "refused");
      setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, 5000);
    };
    // An error is always followed by close, which reconnects.
    socket.onerror = () => {};
  }

  close() {
    this.closed = true;
    this.socket?.close();
  }
}
