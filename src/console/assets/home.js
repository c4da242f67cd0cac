// @ts-check
import { appRoot, h } from './lib/dom.js';
import { principal } from './lib/api.js';

/** The start page: who is signed in, and the pages this session may open (the shell's nav). */
const me = principal();
const links = [...document.querySelectorAll('nav[aria-label="Console"] a')]
  .filter((a) => a.getAttribute('href') !== '/console/')
  .map((a) => h('li', null, h('a', { href: a.getAttribute('href') ?? '/console/' }, a.textContent ?? '')));

appRoot().append(
  h('p', null, 'Signed in as ', h('strong', null, me.sub), ' in tenant ', h('strong', null, me.tenant), '.'),
  h('p', null, 'Roles: ', me.roles.length > 0 ? me.roles.join(', ') : 'none'),
  links.length > 0
    ? h('section', { 'aria-labelledby': 'pages-heading' }, h('h2', { id: 'pages-heading' }, 'Your pages'), h('ul', null, links))
    : h('p', null, 'No console pages are available to your roles yet.'),
);
