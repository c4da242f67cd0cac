/**
 * HTML text for the server-rendered parts of the console. Everything interpolated goes through
 * `esc`, which is safe both in text and in double-quoted attribute values; the templates never
 * put a value in an unquoted attribute, a URL scheme position, a script or a style.
 */
const ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function esc(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

export interface DocumentParts {
  readonly title: string;
  /** Extra <meta>/<script> lines for the head, already escaped. */
  readonly head?: string;
  /** The body's inner HTML, already escaped. */
  readonly body: string;
}

export function htmlDocument(parts: DocumentParts): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${esc(parts.title)} · callvault</title>
<link rel="icon" href="/console/assets/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/console/assets/console.css">
${parts.head ?? ''}</head>
<body>
${parts.body}
</body>
</html>
`;
}

export const DEV_BANNER = '<p class="dev-banner" role="note"><strong>Development mode.</strong> '
  + 'This vault runs embedded: sign-in needs no identity provider and is for trials only.</p>';

/** The head line of the sign-in pages' one script (assets/sign-in.js). */
export const SIGN_IN_SCRIPT = '<script type="module" src="/console/assets/sign-in.js"></script>\n';

/** A page without a script of its own (signed out, not permitted), or with the sign-in script. */
export function messagePage(opts: { title: string; text: string; embedded: boolean; extra?: string; head?: string }): string {
  return htmlDocument({
    title: opts.title, head: opts.head,
    body: `<header class="top">${opts.embedded ? DEV_BANNER : ''}<p class="brand">callvault console</p></header>
<main id="app" class="narrow">
<h1>${esc(opts.title)}</h1>
<p>${esc(opts.text)}</p>
${opts.extra ?? ''}
</main>`,
  });
}

/**
 * A page that moves on to `to` at once by a meta refresh, with a link for the rare browser that
 * does not: used where a redirect would not do, e.g. after a cross-site hop (the Strict session
 * cookie is sent only on the same-site navigation that follows) or towards another origin after
 * a form post (form-action 'self' would stop a redirect).
 */
export function continuePage(opts: { title: string; text: string; embedded: boolean; to: string; linkText: string }): string {
  return messagePage({
    title: opts.title, text: opts.text, embedded: opts.embedded,
    head: `<meta http-equiv="refresh" content="0;url=${esc(opts.to)}">\n`,
    extra: `<p><a href="${esc(opts.to)}">${esc(opts.linkText)}</a></p>`,
  });
}
