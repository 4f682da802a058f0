// Small DOM helpers: build elements, change text only when it changed, and
// reconcile a keyed list in place, so that live updates never re-create what
// is already on the screen (no flicker, no lost focus or scroll).

// What reaches the screen as text: the explicit directional formatting
// characters (embeddings and overrides U+202A–U+202E, isolates U+2066–U+2069)
// taken out. Event data is typed by anyone who reports a case; a right-to-left
// override in a name would otherwise reverse what follows it on the line, a
// phone number included, and an isolate's closing mark could end the <bdi>
// around it. The marks U+200E/U+200F, which reorder nothing beyond their own
// run, stay.
const DIRECTIONAL_FORMATTING = /[\u202A-\u202E\u2066-\u2069]/g;
export function displayText(text) {
  return String(text ?? '').replace(DIRECTIONAL_FORMATTING, '');
}

// One value of event data among others on a line, isolated (<bdi>) so that
// right-to-left text in it cannot reorder its neighbours.
export function value(text) {
  return h('bdi', {}, text);
}

// Sets `el`'s content to `parts`: a string as text, a one-element array
// `[text]` as an isolated value (value()); touches the DOM only if they
// differ from what setParts put there last.
export function setParts(el, parts) {
  const key = JSON.stringify(parts);
  if (!el || el.dataset.parts === key) return;
  el.dataset.parts = key;
  el.replaceChildren(...parts.map((p) => (Array.isArray(p) ? value(p[0]) : displayText(p))));
}

// h('div', {class: 'x', onclick: f, dataset: {k: 'v'}}, child, 'text', …)
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(displayText(c)));
  }
  return el;
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

// Sets `el`'s text (displayText), touching the DOM only if it differs.
export function setText(el, text) {
  const s = displayText(text);
  if (!el) return;
  delete el.dataset.parts;
  if (el.textContent !== s) el.textContent = s;
}

// setText, with the whole text as the element's title: for a label of fixed
// width that may cut it.
export function setTitled(el, text) {
  setText(el, text);
  if (el && el.title !== el.textContent) el.title = el.textContent;
}

export function setClass(el, name, on) {
  if (el && el.classList.contains(name) !== Boolean(on)) el.classList.toggle(name, Boolean(on));
}

// Makes `container`'s children the elements of `items`, in order: an item
// whose key is already shown keeps its element (updated in place), new ones
// are created, gone ones removed.
export function renderList(container, items, key, create, update) {
  const existing = new Map();
  for (const el of container.children) if (el.dataset.key !== undefined) existing.set(el.dataset.key, el);
  const keep = new Set();
  let prev = null;
  for (const item of items) {
    const k = String(key(item));
    keep.add(k);
    let el = existing.get(k);
    if (!el) {
      el = create(item);
      el.dataset.key = k;
    }
    update(el, item);
    const want = prev ? prev.nextElementSibling : container.firstElementChild;
    if (el !== want) container.insertBefore(el, want);
    prev = el;
  }
  for (const [k, el] of existing) if (!keep.has(k)) el.remove();
}
