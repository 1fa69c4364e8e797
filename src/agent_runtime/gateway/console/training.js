// Training: fine-tuning jobs, a job's loss and validation-loss curves drawn
// from its events as it trains (GET /ml-api/fine-tuning-jobs/{id}/events, a
// JSON array that grows; resumed after the last sequence if it breaks),
// cancelling and resuming a job, and the registered models.
import { StepChart } from "/console/chart.js";
import { el, when } from "/console/dom.js";

const FINAL = new Set(["succeeded", "failed", "cancelled"]);

// Complete JSON objects out of a growing `[{…},{…}` text: what is left over
// waits for the next chunk.
function takeObjects(buffer) {
  const objects = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let index = 0; index < buffer.length; index += 1) {
    const char = buffer[index];
    if (inString) {
      if (char === "\\") index += 1;
      else if (char === '"') inString = false;
    } else if (char === '"') inString = true;
    else if (char === "{" && depth++ === 0) start = index;
    else if (char === "}" && --depth === 0) {
      objects.push(JSON.parse(buffer.slice(start, index + 1)));
      start = -1;
    }
  }
  return { objects, rest: start >= 0 ? buffer.slice(start) : "" };
}

class JobEvents {
  constructor(api, jobId, onEvent) {
    this.api = api;
    this.jobId = jobId;
    this.onEvent = onEvent;
    this.after = 0;
    this.controller = new AbortController();
    this.follow();
  }

  async follow() {
    while (!this.controller.signal.aborted && !this.finished) {
      try {
        const response = await fetch(`/ml-api/fine-tuning-jobs/${encodeURIComponent(this.jobId)}/events?after_sequence=${this.after}`, {
          headers: this.api.headers(),
          signal: this.controller.signal,
        });
        if (!response.ok) return;
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          const { objects, rest } = takeObjects(buffer + value);
          buffer = rest;
          for (const event of objects) this.receive(event);
        }
      } catch (error) {
        if (this.controller.signal.aborted) return;
      }
      if (!this.finished) await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  receive(event) {
    if (event.sequence <= this.after) return;
    this.after = event.sequence;
    if (event.type === "status" && FINAL.has(event.status)) this.finished = true;
    this.onEvent(event);
  }

  // Follows again after a final status (a cancelled job that was resumed).
  resume() {
    if (!this.finished) return;
    this.finished = false;
    this.follow();
  }

  close() {
    this.controller.abort();
  }
}

function jobList(jobs, selected) {
  return el(
    "ul",
    { class: "sessions", "aria-label": "Fine-tuning jobs" },
    jobs.map((job) =>
      el(
        "li",
        {},
        el(
          "a",
          { href: `#/training/${encodeURIComponent(job.id)}`, class: "session-link", "aria-current": job.id === selected ? "page" : null, dataset: { jobId: job.id } },
          el("span", { class: "name" }, job.id),
          el("span", { class: `status ${job.status}` }, job.status),
          el("span", { class: "meta" }, `${job.model_id}${job.fine_tuned_model ? ` → ${job.fine_tuned_model}` : ""} · ${when(job.created_at)}`),
        ),
      ),
    ),
    jobs.length ? null : el("li", { class: "empty" }, "No fine-tuning jobs yet."),
  );
}

function jobView(api, jobId) {
  const status = el("span", { class: "status" });
  const cancel = el("button", { type: "button", class: "reject", hidden: true }, "Cancel job");
  // A cancelled job continues from its last checkpoint.
  const resume = el("button", { type: "button", class: "approve", hidden: true }, "Resume job");
  const chart = new StepChart("Loss", [
    { key: "loss", label: "loss", className: "first" },
    { key: "validation_loss", label: "validation loss", className: "second" },
  ]);
  const log = el("ol", { class: "timeline job-log", "aria-label": "Job events" });
  const showStatus = (value) => {
    status.textContent = value;
    status.className = `status ${value}`;
    cancel.hidden = FINAL.has(value);
    resume.hidden = value !== "cancelled";
  };
  cancel.addEventListener("click", () => api.post(`/ml-api/fine-tuning-jobs/${encodeURIComponent(jobId)}/cancel`, {}));
  resume.addEventListener("click", async () => {
    resume.hidden = true;
    await api.post(`/ml-api/fine-tuning-jobs/${encodeURIComponent(jobId)}/resume`, {});
    events.resume();
  });
  const events = new JobEvents(api, jobId, (event) => {
    showStatus(event.status);
    for (const key of ["loss", "validation_loss"]) if (event.metrics?.[key] !== undefined) chart.add(key, event.step || event.metrics.step || 0, event.metrics[key], event.metrics.total_steps);
    log.prepend(el("li", { class: "event", dataset: { sequence: event.sequence } }, el("div", { class: "event-head" }, el("span", { class: "sequence" }, `#${event.sequence}`), el("span", { class: "type" }, event.type), el("span", {}, event.message), el("time", {}, when(event.created_at)))));
  });
  const node = el("section", { class: "detail-pane" }, el("header", { class: "detail-head" }, el("a", { href: "#/training", class: "back" }, "← Training"), el("h1", {}, jobId), status, cancel, resume), chart.node, log);
  return { node, close: () => events.close() };
}

export function mountTraining(main, { api }, jobId) {
  const list = el("section", { class: "list-pane" }, el("p", { class: "empty" }, "Loading jobs…"));
  const models = el("section", { class: "models" });
  const detail = jobId ? jobView(api, jobId) : null;
  const split = el("div", { class: `split${jobId ? " has-detail" : ""}` }, list, detail ? detail.node : el("section", { class: "detail-pane placeholder" }, models));
  main.replaceChildren(split);
  api.get("/ml-api/fine-tuning-jobs").then((jobs) => list.replaceChildren(el("h2", {}, "Fine-tuning jobs"), jobList(jobs, jobId)));
  api.get("/ml-api/models").then((registered) =>
    models.replaceChildren(el("h2", {}, "Models"), el("ul", { class: "models-list" }, registered.map((model) => el("li", { dataset: { modelId: model.id } }, `${model.id} — ${model.description}`)))),
  );
  return () => detail?.close();
}
