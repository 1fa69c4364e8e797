// Compute: the devices, the task queue (live from /ws task_update), system
// load plotted from the stored metrics series of the last hour and then from
// the feed's heartbeats, and the insights the server writes over that series.
import { LineChart } from "/console/chart.js";
import { el, when } from "/console/dom.js";

const TASKS_SHOWN = 50;
const CHART_POINTS = 120;

function devicesTable(devices) {
  const gib = (bytes) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;
  return el(
    "table",
    { class: "devices" },
    el("caption", {}, "Devices"),
    el("thead", {}, el("tr", {}, ["Device", "Type", "Backend", "Status", "Memory free"].map((name) => el("th", { scope: "col" }, name)))),
    el(
      "tbody",
      {},
      devices.map((device) =>
        el(
          "tr",
          { dataset: { deviceId: device.id } },
          el("td", {}, device.name),
          el("td", {}, device.type),
          el("td", {}, device.backend),
          el("td", {}, device.status),
          el("td", {}, `${gib(device.memory_available)} of ${gib(device.memory_total)}`),
        ),
      ),
    ),
  );
}

class TaskQueue {
  constructor() {
    this.rows = new Map();
    this.body = el("tbody");
    this.node = el(
      "table",
      { class: "tasks" },
      el("caption", {}, "Tasks (live)"),
      el("thead", {}, el("tr", {}, ["Task", "Operation", "Status", "Device", "Time", "When"].map((name) => el("th", { scope: "col" }, name)))),
      this.body,
    );
  }

  // Rows by task id: an update replaces its row, a new task goes on top.
  // The first listing never overwrites a row: a live update is newer.
  show(task, { fromListing = false } = {}) {
    if (fromListing && this.rows.has(task.task_id)) return;
    const row = el(
      "tr",
      { dataset: { taskId: task.task_id, status: task.status } },
      el("td", {}, task.task_id),
      el("td", {}, task.operation),
      el("td", { class: `status ${task.status}` }, task.status),
      el("td", {}, task.device_used || ""),
      el("td", {}, task.execution_ms ? `${task.execution_ms.toFixed(1)} ms` : ""),
      el("td", {}, when(task.timestamp)),
    );
    const previous = this.rows.get(task.task_id);
    if (previous) previous.replaceWith(row);
    else this.body.prepend(row);
    this.rows.set(task.task_id, row);
    while (this.rows.size > TASKS_SHOWN) {
      const oldest = this.body.lastElementChild;
      this.rows.delete(oldest.dataset.taskId);
      oldest.remove();
    }
  }
}

function insightsPanel(api) {
  const text = el("p", { class: "message insights", "aria-live": "polite" });
  const button = el("button", { type: "button" }, "Analyse the last hour");
  button.addEventListener("click", async () => {
    button.disabled = true;
    text.textContent = "Analysing…";
    try {
      const answer = await api.post("/ai/insights", { metric_type: "performance", timeframe: "1h" });
      text.textContent = `${answer.insights}\n\n(${answer.analyzer || "analysis"})`;
    } catch (error) {
      text.textContent = error.message;
    } finally {
      button.disabled = false;
    }
  });
  return el("section", { class: "panel" }, el("h2", {}, "Insights"), button, text);
}

export function mountCompute(main, { api, feed }) {
  const devices = el("div", {}, el("p", { class: "empty" }, "Loading devices…"));
  const queue = new TaskQueue();
  const load = new LineChart("Load: the last hour, then live", [
    { key: "memory_usage", label: "memory", className: "first" },
    { key: "gpu_utilization", label: "GPU", className: "second" },
  ], CHART_POINTS);
  main.replaceChildren(el("section", { class: "page wide" }, el("h1", {}, "Compute"), devices, load.node, queue.node, insightsPanel(api)));
  // Stored points first (oldest first), so live heartbeats land after them.
  api.get(`/metrics/series?timeframe=1h&max_points=${CHART_POINTS}`).then((answer) => load.prepend(answer.points));
  api.get("/devices").then((answer) => devices.replaceChildren(devicesTable(answer.devices)));
  api.get(`/tasks/enhanced?limit=${TASKS_SHOWN}`).then((answer) =>
    [...answer.tasks].reverse().forEach((task) =>
      queue.show({ ...task, execution_ms: task.performance_metrics?.execution_time_ms }, { fromListing: true }),
    ),
  );
  return feed.subscribe((message) => {
    if (message.type === "heartbeat" && message.metrics) load.add(message.metrics);
    if (message.type === "task_update") queue.show({ ...message.data, execution_ms: message.data.execution_time * 1000 });
  });
}
