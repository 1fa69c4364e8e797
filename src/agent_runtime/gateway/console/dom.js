// Tiny DOM helpers: elements are built with text nodes only (never
// innerHTML), so nothing the server sends can run as markup.

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children.flat().filter((child) => child !== undefined && child !== null && child !== false));
  return node;
}

export function json(value) {
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

export function when(timestamp) {
  if (!timestamp) return "";
  const date = new Date(timestamp);
  return Number.isNaN(date.getTime()) ? timestamp : date.toLocaleString();
}

// Lines of a unified diff, each marked added, removed, hunk or context.
export function diffView(text) {
  const kind = (line) =>
    line.startsWith("+++") || line.startsWith("---") || line.startsWith("diff ") ? "meta"
      : line.startsWith("@@") ? "hunk"
        : line.startsWith("+") ? "added"
          : line.startsWith("-") ? "removed" : "context";
  return el("pre", { class: "diff" }, text.split("\n").map((line) => el("span", { class: kind(line) }, line + "\n")));
}

export function looksLikeDiff(value) {
  return typeof value === "string" && /^(diff --git|--- |@@ )/m.test(value) && /^[+-]/m.test(value);
}
