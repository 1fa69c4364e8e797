// What a run changed: the artifacts an agent task stored (its diff.patch
// as a diff, its plan), fetched when the user opens the run's panel and
// again on every opening, since a running task adds to them.
import { diffView, el, json } from "/console/dom.js";

async function artifactView(api, taskId, artifact) {
  const response = await api.request("GET", `/api/tasks/${encodeURIComponent(taskId)}/artifacts/${encodeURIComponent(artifact.id)}`, undefined, { raw: true });
  const text = await response.text();
  return el(
    "div",
    { class: "field" },
    el("span", { class: "label" }, artifact.name),
    artifact.type === "diff" ? diffView(text) : el("pre", {}, json(text)),
  );
}

export function runChanges(api, taskId) {
  const body = el("div", { class: "run-body" });
  const panel = el("details", { class: "run", dataset: { taskId } }, el("summary", {}, `Changes of run ${taskId.slice(0, 8)}`), body);
  panel.addEventListener("toggle", async () => {
    if (!panel.open) return;
    body.replaceChildren(el("p", { class: "empty" }, "Loading…"));
    try {
      const artifacts = await api.get(`/api/tasks/${encodeURIComponent(taskId)}/artifacts`);
      const views = await Promise.all(artifacts.map((artifact) => artifactView(api, taskId, artifact)));
      body.replaceChildren(...(views.length ? views : [el("p", { class: "empty" }, "No changes stored yet.")]));
    } catch (error) {
      body.replaceChildren(el("p", { class: "problem" }, error.message));
    }
  });
  return panel;
}
