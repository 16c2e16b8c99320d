/**
 * A tiny element builder: text is always set as text (never parsed as
 * HTML), so nothing a record holds can run as code in the page.
 */
export type Child = Node | string | null | undefined | false | Child[];

/** Attrs are attributes; keys starting with "on" are event listeners. */
export type Attrs = { [k: string]: string | boolean | number | undefined | ((e: Event) => void) };

/** h builds an element with attributes and children. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) {
      continue;
    }
    if (typeof v === "function") {
      el.addEventListener(k.slice(2), v);
    } else if (k === "value" && "value" in el) {
      (el as HTMLInputElement).value = String(v);
    } else if (k === "checked" && el instanceof HTMLInputElement) {
      el.checked = v === true;
    } else {
      el.setAttribute(k, v === true ? "" : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) {
      continue;
    }
    if (Array.isArray(c)) {
      append(el, c);
    } else {
      el.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    }
  }
}

/** replace empties el and appends children. */
export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** field wraps a control with its label (the label names the control by id). */
export function field(id: string, label: string, control: HTMLElement, hint?: string): HTMLElement {
  control.id = id;
  const parts: Child[] = [h("label", { for: id }, label), control];
  if (hint !== undefined) {
    const hid = id + "-hint";
    control.setAttribute("aria-describedby", hid);
    parts.push(h("span", { class: "hint", id: hid }, hint));
  }
  return h("div", { class: "field" }, parts);
}

/** select builds a select of values with their labels (first option: empty, when given). */
export function select(values: string[], label: (v: string) => string, current: string, empty?: string): HTMLSelectElement {
  const opts: Child[] = [];
  if (empty !== undefined) {
    opts.push(h("option", { value: "" }, empty));
  }
  for (const v of values) {
    opts.push(h("option", { value: v, selected: v === current }, label(v)));
  }
  return h("select", {}, opts);
}

/** checkboxes builds a fieldset of labelled checkboxes named name. */
export function checkboxes(name: string, legend: string, values: string[], label: (v: string) => string, checked: Set<string>): HTMLFieldSetElement {
  return h(
    "fieldset",
    { class: "checks", "data-field": name },
    h("legend", {}, legend),
    values.map((v) => {
      const id = `${name}-${v}`;
      return h("div", { class: "check" }, h("input", { type: "checkbox", id, name, value: v, checked: checked.has(v) }), h("label", { for: id }, label(v)));
    }),
  );
}

/** checked returns the values of the checked boxes named name under root. */
export function checkedValues(root: ParentNode, name: string): Set<string> {
  const out = new Set<string>();
  root.querySelectorAll<HTMLInputElement>(`input[type=checkbox][name="${name}"]`).forEach((i) => {
    if (i.checked) {
      out.add(i.value);
    }
  });
  return out;
}
