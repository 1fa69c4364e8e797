// The console's shell: sign-in, the views by URL fragment (#/sessions,
// #/sessions/ID, #/approvals, #/compute, #/training/JOB), and the shared live feed.
import { Api, ApiError } from "/console/api.js";
import { mountApprovals } from "/console/approvals.js";
import { mountCompute } from "/console/compute.js";
import { el } from "/console/dom.js";
import { Feed } from "/console/feed.js";
import { mountSessions } from "/console/sessions.js";
import { mountTraining } from "/console/training.js";

const NOT_ACCEPTED = "Your sign-in is no longer accepted (expired or revoked); sign in again.";
const api = new Api();
const main = document.getElementById("main");
const nav = document.getElementById("nav");
const who = document.getElementById("who");
const feedState = document.getElementById("feed-state");
const signOutButton = document.getElementById("sign-out");
const approvalCount = document.getElementById("approval-count");
let feed = null;
let unmount = () => {};

function signInForm(problem = "") {
  const message = el("p", { class: "problem", role: "alert" }, problem);
  const key = el("input", { id: "api-key", type: "password", autocomplete: "off", required: true });
  const email = el("input", { id: "email", type: "email", autocomplete: "username", required: true });
  const password = el("input", { id: "password", type: "password", autocomplete: "current-password", required: true });
  const attempt = async (event, signIn) => {
    event.preventDefault();
    message.textContent = "";
    try {
      await signIn();
      // Checks the credential with a call it allows before opening.
      await api.get("/sessions?page_size=1");
      start();
    } catch (error) {
      api.signOut();
      message.textContent = error instanceof ApiError && error.status === 401 ? `Not accepted: ${error.message}` : error.message;
    }
  };
  main.replaceChildren(
    el(
      "section",
      { class: "page sign-in" },
      el("h1", {}, "Sign in"),
      message,
      el(
        "form",
        { id: "key-form", onsubmit: (event) => attempt(event, async () => api.signIn("key", key.value.trim(), "API key")) },
        el("h2", {}, "With an API key"),
        el("label", { for: "api-key" }, "API key (the server's key or an md_ key)"),
        key,
        el("button", { type: "submit" }, "Sign in with key"),
      ),
      el(
        "form",
        { id: "login-form", onsubmit: (event) => attempt(event, () => api.login(email.value.trim(), password.value)) },
        el("h2", {}, "With your account"),
        el("label", { for: "email" }, "Email"),
        email,
        el("label", { for: "password" }, "Password"),
        password,
        el("button", { type: "submit" }, "Sign in"),
      ),
    ),
  );
  key.focus();
}

function signOut(problem = "") {
  unmount();
  unmount = () => {};
  feed?.close();
  feed = null;
  api.signOut();
  nav.hidden = true;
  signOutButton.hidden = true;
  who.textContent = "";
  feedState.textContent = "";
  signInForm(problem);
}

function route() {
  unmount();
  const [view, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  const context = { api, feed };
  for (const link of nav.querySelectorAll("a")) link.toggleAttribute("aria-current", link.dataset.view === (view || "sessions"));
  if (view === "approvals") unmount = mountApprovals(main, context);
  else if (view === "compute") unmount = mountCompute(main, context);
  else if (view === "training") unmount = mountTraining(main, context, rest.length ? decodeURIComponent(rest.join("/")) : null);
  else unmount = mountSessions(main, context, rest.length ? decodeURIComponent(rest.join("/")) : null);
}

function showApprovalCount() {
  const count = feed.approvals.size;
  approvalCount.hidden = count === 0;
  approvalCount.textContent = String(count);
  approvalCount.setAttribute("aria-label", `${count} waiting`);
}

function start() {
  nav.hidden = false;
  signOutButton.hidden = api.credential.kind === "anonymous";
  who.textContent = api.credential.label;
  feed = new Feed(api, (state) => {
    feedState.textContent = state === "live" ? "● live" : "reconnecting…";
    feedState.className = `live ${state === "live" ? "live" : "reconnecting"}`;
    // A server that is down just keeps the feed retrying.
    if (state === "refused" && api.credential.secret) {
      api.get("/sessions?page_size=1").catch((error) => {
        if (error instanceof ApiError && error.status === 401) signOut(NOT_ACCEPTED);
      });
    }
  });
  feed.subscribe(showApprovalCount);
  route();
}

// A credential the server stopped accepting (expired, revoked) ends the
// session in the console too.
window.addEventListener("unhandledrejection", (event) => {
  if (event.reason instanceof ApiError && event.reason.status === 401) {
    event.preventDefault();
    signOut(NOT_ACCEPTED);
  }
});
window.addEventListener("hashchange", () => feed && route());
signOutButton.addEventListener("click", () => signOut());

// The server marks the page when it lets this browser in without a
// credential; a tab that was let in before asks again when that ended.
const anonymousAllowed = document.documentElement.dataset.anonymous === "local";
if (api.credential?.kind === "anonymous" && !anonymousAllowed) api.signOut();
if (!api.credential && anonymousAllowed) api.signIn("anonymous", "", "local (no credential)");
if (api.credential) start();
else signInForm();
