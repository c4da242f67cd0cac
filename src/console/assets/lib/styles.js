// @ts-check
/**
 * Adds a stylesheet of the console's own assets (the CSP allows styles from this origin only).
 * @param {string} name a file under /console/assets/
 */
export function useStylesheet(name) {
  const href = `/console/assets/${name}`;
  if (document.querySelector(`link[rel="stylesheet"][href="${href}"]`)) return;
  const link = document.createElement('link');
  link.rel = 'stylesheet';
  link.href = href;
  document.head.append(link);
}
