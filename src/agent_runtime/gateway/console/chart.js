// A small SVG line chart: percentages (0-100) over time, one line per
// series, newest on the right. Hand-written, so nothing is fetched.
import { el } from "/console/dom.js";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 600;
const HEIGHT = 160;

function svg(tag, attributes) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

export class LineChart {
  // series: [{key, label, className}]; at most `keep` points each.
  constructor(title, series, keep = 120) {
    this.series = series;
    this.keep = keep;
    this.points = [];
    this.plot = svg("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, preserveAspectRatio: "none", class: "chart", role: "img", "aria-label": title });
    this.legend = el("p", { class: "legend" });
    this.node = el("figure", { class: "chart-box" }, el("figcaption", {}, title), this.plot, this.legend);
  }

  add(sample) {
    this.points.push(sample);
    if (this.points.length > this.keep) this.points.shift();
    this.draw();
  }

  // Older samples (oldest first) in front of those already drawn.
  prepend(samples) {
    this.points = [...samples, ...this.points].slice(-this.keep);
    this.draw();
  }

  draw() {
    const step = WIDTH / Math.max(this.keep - 1, 1);
    const offset = WIDTH - step * (this.points.length - 1);
    const grid = [0, 50, 100].map((value) => svg("line", { x1: 0, x2: WIDTH, y1: this.y(value), y2: this.y(value), class: "grid" }));
    const lines = this.series.map(({ key, className }) =>
      svg("polyline", {
        class: `line ${className}`,
        points: this.points.map((point, index) => `${(offset + index * step).toFixed(1)},${this.y(point[key]).toFixed(1)}`).join(" "),
      }),
    );
    this.plot.replaceChildren(...grid, ...lines);
    const last = this.points.at(-1) || {};
    this.legend.replaceChildren(
      ...this.series.map(({ key, label, className }) => el("span", { class: `key ${className}` }, `${label} ${Number(last[key] ?? 0).toFixed(1)}%`)),
    );
  }

  y(value) {
    return HEIGHT - (Math.min(Math.max(Number(value) || 0, 0), 100) / 100) * (HEIGHT - 4) - 2;
  }
}

// Curves over training steps (loss, validation loss), scaled to the
// largest value seen, points added as they come.
export class StepChart {
  constructor(title, series) {
    this.series = series;
    this.points = Object.fromEntries(series.map(({ key }) => [key, []]));
    this.plot = svg("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, preserveAspectRatio: "none", class: "chart", role: "img", "aria-label": title });
    this.legend = el("p", { class: "legend" });
    this.node = el("figure", { class: "chart-box" }, el("figcaption", {}, title), this.plot, this.legend);
  }

  // total: the last step the curve will reach, when known (the x axis).
  add(key, step, value, total = 0) {
    this.points[key].push([step, value]);
    this.total = Math.max(this.total || 0, total);
    this.draw();
  }

  draw() {
    const all = Object.values(this.points).flat();
    const lastStep = Math.max(1, this.total || 0, ...all.map(([step]) => step));
    const top = Math.max(1e-9, ...all.map(([, value]) => value));
    const x = (step) => ((step / lastStep) * WIDTH).toFixed(1);
    const y = (value) => (HEIGHT - (value / top) * (HEIGHT - 4) - 2).toFixed(1);
    const lines = this.series.map(({ key, className }) =>
      svg("polyline", { class: `line ${className}`, points: this.points[key].map(([step, value]) => `${x(step)},${y(value)}`).join(" ") }),
    );
    this.plot.replaceChildren(svg("line", { x1: 0, x2: WIDTH, y1: y(0), y2: y(0), class: "grid" }), ...lines);
    this.legend.replaceChildren(
      ...this.series.map(({ key, label, className }) => {
        const last = this.points[key].at(-1);
        return el("span", { class: `key ${className}` }, last ? `${label} ${last[1].toFixed(4)} at step ${last[0]}` : `${label} —`);
      }),
    );
  }
}
