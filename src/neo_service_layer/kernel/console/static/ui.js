// DOM helpers shared by every page. Text goes in as text nodes only (no innerHTML anywhere), so a value
// from the API can never become markup; styling is by class (the CSP allows no inline styles).

/**
 * Create an element: el("button", {type: "button", class: "danger", onclick: fn}, "Revoke").
 * Keys starting with "on" attach listeners; `hidden`/`disabled`/... booleans set or omit the attribute.
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** A page section with a heading (level 2) and content. */
export function section(title, ...children) {
  const id = `h-${title.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
  return el("section", { "aria-labelledby": id }, el("h2", { id }, title), ...children);
}

/**
 * A table: columns are [{title, cell: (row) => Node|string}], rows any objects.
 * `caption` names the table for assistive technology.
 */
export function table(caption, columns, rows, empty = "Nothing here yet.") {
  if (rows.length === 0) return el("p", { class: "empty" }, empty);
  return el(
    "table",
    {},
    el("caption", {}, caption),
    el("thead", {}, el("tr", {}, columns.map((c) => el("th", { scope: "col" }, c.title)))),
    el(
      "tbody",
      {},
      rows.map((row) => el("tr", {}, columns.map((c) => el("td", {}, c.cell(row) ?? "")))),
    ),
  );
}

let fieldCounter = 0;

/** A labelled input: field("Name", {name: "name", required: true}). Returns the wrapping element. */
export function field(label, props = {}, tag = "input") {
  const id = props.id || `f-${++fieldCounter}`;
  const control = el(tag, { ...props, id });
  return el("div", { class: "field" }, el("label", { for: id }, label), control);
}

/** A labelled select with [value, text] options. */
export function select(label, name, options, props = {}) {
  const id = props.id || `f-${++fieldCounter}`;
  const control = el(
    "select",
    { ...props, id, name },
    options.map(([value, text]) => el("option", { value }, text)),
  );
  return el("div", { class: "field" }, el("label", { for: id }, label), control);
}

/**
 * A form whose submit runs `onSubmit(values, form)` with the named controls' values; errors are shown
 * in the form's own alert area. Submission never navigates (the CSP forbids form actions anyway).
 */
export function form(label, controls, submitText, onSubmit) {
  const alert = el("div", { class: "alert", role: "alert", hidden: true });
  const button = el("button", { type: "submit" }, submitText);
  const node = el("form", { "aria-label": label, novalidate: false }, controls, button, alert);
  node.addEventListener("submit", async (event) => {
    event.preventDefault();
    alert.hidden = true;
    button.disabled = true;
    try {
      await onSubmit(values(node), node);
    } catch (error) {
      alert.textContent = problemText(error);
      alert.hidden = false;
    } finally {
      button.disabled = false;
    }
  });
  return node;
}

/** The named controls of a form as {name: value} (checkbox groups become arrays of checked values). */
export function values(formNode) {
  const out = {};
  for (const control of formNode.elements) {
    if (!control.name) continue;
    if (control.type === "checkbox") {
      out[control.name] = out[control.name] || [];
      if (control.checked) out[control.name].push(control.value);
    } else {
      out[control.name] = control.value;
    }
  }
  return out;
}

/** A short sentence for an error: the problem's detail (or title) and its status. */
export function problemText(error) {
  if (error && error.problem) {
    const p = error.problem;
    const text = p.detail || p.title || "Request failed";
    return error.status ? `${text} (HTTP ${error.status})` : text;
  }
  return String(error && error.message ? error.message : error);
}

/** A notice box: kind is "info", "ok" or "error". */
export function notice(kind, ...children) {
  return el("div", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, ...children);
}

/** A date-time as the reader's local time (or an em dash when absent). */
export function when(value) {
  if (!value) return "—";
  const date = new Date(value);
  return el("time", { datetime: date.toISOString() }, date.toLocaleString());
}

/** A long value (public key, hash) shortened for display; the whole is kept in the title. */
export function mono(value, keep = 16) {
  if (!value) return "—";
  const text = value.length > keep * 2 + 1 ? `${value.slice(0, keep)}…${value.slice(-keep)}` : value;
  return el("code", { title: value }, text);
}

/**
 * A destructive button that needs two clicks: the first turns it into "Confirm …", the second runs
 * `action`. `label` is its accessible name (say what it acts on). A failure is shown in `alertNode`.
 */
export function confirmButton(text, label, action, alertNode) {
  let armed = false;
  const button = el("button", { type: "button", class: "danger", "aria-label": label }, text);
  button.addEventListener("click", async () => {
    if (!armed) {
      armed = true;
      button.textContent = `Confirm ${text.toLowerCase()}`;
      button.setAttribute("aria-label", `Confirm: ${label}`);
      return;
    }
    button.disabled = true;
    try {
      await action();
    } catch (error) {
      if (alertNode) replace(alertNode, notice("error", problemText(error)));
      button.disabled = false;
    }
  });
  return button;
}

/** Replace a container's content. */
export function replace(node, ...children) {
  node.replaceChildren();
  append(node, children);
}
