// @ts-check
/** Small form and message helpers shared by the governance pages. */
import { h } from './dom.js';

let fieldCount = 0;

/**
 * A labelled form control: the label is tied to the control by id.
 * @param {string} label
 * @param {HTMLElement} control
 * @param {string} [hint]
 */
export function field(label, control, hint) {
  const id = `field-${++fieldCount}`;
  control.setAttribute('id', id);
  const parts = [h('label', { for: id }, label), control];
  if (hint) {
    const hintId = `${id}-hint`;
    control.setAttribute('aria-describedby', hintId);
    parts.push(h('small', { id: hintId, class: 'hint' }, hint));
  }
  return h('div', { class: 'field' }, ...parts);
}

/**
 * @param {string} name
 * @param {Record<string, string>} [attrs]
 */
export function input(name, attrs = {}) {
  return /** @type {HTMLInputElement} */ (h('input', { name, type: 'text', autocomplete: 'off', ...attrs }));
}

/**
 * @param {string} name
 * @param {Array<[string, string]>} options value, label
 */
export function select(name, options) {
  return /** @type {HTMLSelectElement} */ (h('select', { name }, ...options.map(([value, label]) => h('option', { value }, label))));
}

/** A polite live region for the outcome of an action. */
export function statusLine() {
  return h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
}

/**
 * What went wrong, as text for the user: the API's problem detail when there is one.
 * @param {unknown} err
 */
export function problemText(err) {
  const e = /** @type {{ status?: number, code?: string, title?: string, detail?: string, message?: string }} */ (err ?? {});
  const text = e.detail || e.title || e.message || 'The request failed';
  return e.code ? `${text} (${e.code})` : text;
}

/**
 * Shows `text` in a status line, marked as an error or not.
 * @param {HTMLElement} el
 * @param {string} text
 * @param {'ok' | 'error' | 'info'} [kind]
 */
export function say(el, text, kind = 'info') {
  el.textContent = text;
  el.setAttribute('data-kind', kind);
}

/**
 * The non-empty trimmed values of a form, by control name.
 * @param {HTMLFormElement} form
 * @returns {Record<string, string>}
 */
export function formValues(form) {
  /** @type {Record<string, string>} */
  const out = {};
  for (const [name, value] of new FormData(form)) {
    if (typeof value === 'string' && value.trim() !== '') out[name] = value.trim();
  }
  return out;
}

/**
 * A section with its own heading, labelled by it.
 * @param {string} title
 * @param {...(Node | string)} children
 */
export function section(title, ...children) {
  const id = `section-${++fieldCount}`;
  return h('section', { 'aria-labelledby': id }, h('h2', { id }, title), ...children);
}
