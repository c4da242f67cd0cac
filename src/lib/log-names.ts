/**
 * Names in signed notes (C2SP signed-note): a key name or a log origin is non-empty and holds no
 * Unicode space, no `+` (it separates the parts of a verifier key) and no control character.
 */
export function isKeyName(name: string): boolean {
  return name.length > 0 && !/[\s+]/u.test(name) && !hasControlCharacters(name);
}

/** A deployment's audit namespace: a schema-less URL such as `callvault.example.com/prod-eu`. */
export function isLogNamespace(namespace: string): boolean {
  return isKeyName(namespace) && !namespace.includes('://') && !namespace.endsWith('/') && namespace.includes('.');
}

export function hasControlCharacters(text: string): boolean {
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c < 0x20 && c !== 0x0a) return true;
  }
  return false;
}
