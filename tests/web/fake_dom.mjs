// The little of the DOM the LTX-2 sidebar uses, enough to render it and click through it under Node.

class Node {
  constructor(doc) {
    this.ownerDocument = doc;
    this.parentNode = null;
    this.childNodes = [];
  }
  appendChild(child) {
    child.parentNode?.childNodes.splice(child.parentNode.childNodes.indexOf(child), 1);
    child.parentNode = this;
    this.childNodes.push(child);
    return child;
  }
  replaceChildren(...children) {
    for (const c of this.childNodes) c.parentNode = null;
    this.childNodes = [];
    for (const c of children) this.appendChild(c);
  }
  contains(other) {
    for (let n = other; n; n = n.parentNode) if (n === this) return true;
    return false;
  }
  get textContent() {
    return this.childNodes.map((c) => c.textContent).join("");
  }
  set textContent(value) {
    this.replaceChildren(new Text(this.ownerDocument, String(value)));
  }
}

class Text extends Node {
  constructor(doc, text) {
    super(doc);
    this.text = text;
  }
  get textContent() {
    return this.text;
  }
}

export class Element extends Node {
  constructor(doc, tag) {
    super(doc);
    this.tagName = tag.toUpperCase();
    this.attributes = {};
    this.listeners = {};
    this.disabled = false;
    this.checked = false;
    this.value = "";
    this.style = {};
  }
  setAttribute(name, value) {
    this.attributes[name] = String(value);
    if (name === "value") this.value = String(value);
    if (name === "checked") this.checked = true;
    if (name === "disabled") this.disabled = true;
    if (name === "id") this.id = String(value);
  }
  getAttribute(name) {
    return this.attributes[name] ?? null;
  }
  addEventListener(name, fn) {
    (this.listeners[name] ??= []).push(fn);
  }
  async dispatch(name, event = {}) {
    const full = { target: this, preventDefault() {}, ...event };
    await Promise.all((this.listeners[name] ?? []).map((fn) => fn(full)));
  }
  click() {
    return this.dispatch("click");
  }
  focus() {
    this.ownerDocument.activeElement = this;
  }
  blur() {
    if (this.ownerDocument.activeElement === this) this.ownerDocument.activeElement = null;
  }
  *walk() {
    for (const child of this.childNodes) {
      if (child instanceof Element) {
        yield child;
        yield* child.walk();
      }
    }
  }
  /** Elements whose attribute ``name`` is ``value`` (any value when omitted). */
  findAll(name, value) {
    return [...this.walk()].filter((e) => name in e.attributes && (value === undefined || e.attributes[name] === value));
  }
  find(name, value) {
    const [found] = this.findAll(name, value);
    if (!found) throw new Error(`no element with ${name}=${value}`);
    return found;
  }
  get isConnected() {
    return true;
  }
}

export function fakeDocument() {
  const doc = {
    activeElement: null,
    createElement: (tag) => new Element(doc, tag),
    createTextNode: (text) => new Text(doc, text),
    getElementById: (id) => [...doc.head.walk()].find((e) => e.id === id) ?? null,
  };
  doc.head = new Element(doc, "head");
  return doc;
}
