// @ts-check

/**
 * The sign-in pages: carries the fragment of the page the browser asked for (a player's `#t=90`)
 * into the sign-in's return target. Browsers never send a fragment to the server, but keep it
 * across the redirect to this page. The server accepts only the same URL characters
 * (src/console/return-to.ts), so anything else is left out.
 */
const FRAGMENT = /^#[\w\-.~!$&'()*+,;=:@%/?]{1,200}$/;
const hash = location.hash;

if (FRAGMENT.test(hash)) {
  for (const el of document.querySelectorAll('[data-return]')) {
    if (el instanceof HTMLInputElement) {
      el.value += hash;
    } else if (el instanceof HTMLAnchorElement) {
      const target = new URL(el.href);
      target.searchParams.set('return', `${target.searchParams.get('return') ?? '/console/'}${hash}`);
      el.href = target.href;
    }
  }
}
