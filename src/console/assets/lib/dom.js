// @ts-check
/**
 * Building DOM without HTML strings. Text always goes in as text nodes, so a string from the API
 * (a callId, a tag, a phone number) can never become markup. Attributes are limited to a known
 * safe set; URLs (href, src) must be relative or same-origin http(s); event handlers are
 * functions under `on<Event>` keys, never strings. Inline styles are not offered: the CSP forbids
 * style attributes, so set positions and sizes through `element.style` (CSSOM) instead.
 */

const SAFE_ATTRIBUTES = new Set([
  'id', 'class', 'title', 'role', 'type', 'name', 'value', 'placeholder', 'for', 'min', 'max', 'step', 'tabindex',
  'colspan', 'rowspan', 'scope', 'lang', 'dir', 'hidden', 'disabled', 'checked', 'selected', 'required', 'readonly',
  'multiple', 'autocomplete', 'inputmode', 'pattern', 'maxlength', 'minlength', 'size', 'rows', 'cols', 'width',
  'height', 'datetime', 'alt', 'download', 'open', 'method', 'accept', 'list', 'spellcheck', 'draggable', 'form',
  'headers', 'start', 'reversed', 'label', 'high', 'low', 'optimum', 'preload', 'controls', 'loop', 'muted', 'rel',
]);
const URL_ATTRIBUTES = new Set(['href', 'src', 'action']);

/**
 * @param {string} value
 * @returns {boolean} whether `value` is a URL on this origin (or relative to it) over http(s)
 */
export function isSafeUrl(value) {
  try {
    const url = new URL(value, window.location.href);
    // A blob: URL's origin is that of the page that made it, so only this page's own blobs pass.
    return (url.protocol === 'https:' || url.protocol === 'http:' || url.protocol === 'blob:') && url.origin === window.location.origin;
  } catch {
    return false;
  }
}

/**
 * @typedef {string | number | Node | null | undefined | false} Leaf
 * @typedef {Leaf | ReadonlyArray<Leaf | ReadonlyArray<Leaf>>} Child
 * @typedef {Record<string, string | number | boolean | null | undefined | ((event: Event) => void)>} Attributes
 */

/**
 * @param {Element} el
 * @param {string} name
 * @param {Attributes[string]} value
 */
function setAttribute(el, name, value) {
  if (value === null || value === undefined || value === false) return;
  if (/^on[A-Z]/.test(name)) {
    if (typeof value !== 'function') throw new TypeError(`${name} must be a function`);
    el.addEventListener(name.slice(2).toLowerCase(), value);
    return;
  }
  if (typeof value === 'function') throw new TypeError(`${name} cannot take a function`);
  const text = value === true ? '' : String(value);
  if (URL_ATTRIBUTES.has(name)) {
    if (!isSafeUrl(text)) throw new TypeError(`${name} must be a same-origin URL`);
  } else if (!SAFE_ATTRIBUTES.has(name) && !/^(?:aria|data)-[a-z][a-z0-9-]*$/.test(name)) {
    throw new TypeError(`attribute ${name} is not allowed`);
  }
  el.setAttribute(name, text);
}

/**
 * @param {Node} parent
 * @param {Child | ReadonlyArray<Child>} child
 */
function append(parent, child) {
  if (child === null || child === undefined || child === false) return;
  if (Array.isArray(child)) {
    for (const c of child) append(parent, c);
  } else if (child instanceof Node) {
    parent.appendChild(child);
  } else {
    parent.appendChild(document.createTextNode(String(child)));
  }
}

/**
 * An element with attributes and children: `h('a', { href: '/console/' }, 'Home')`.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attributes | null} [attrs]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) setAttribute(el, name, value);
  append(el, children);
  return el;
}

/**
 * Removes every child of `el`.
 * @param {Node} el
 */
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
}

/**
 * Replaces the children of `el` with `nodes` (strings become text nodes).
 * @param {Node} el
 * @param {...Child} nodes
 */
export function mount(el, ...nodes) {
  clear(el);
  append(el, nodes);
}

/**
 * The page's <main id="app"> (the shell always renders it).
 * @returns {HTMLElement}
 */
export function appRoot() {
  const el = document.getElementById('app');
  if (!el) throw new Error('the console shell has no #app');
  return el;
}
