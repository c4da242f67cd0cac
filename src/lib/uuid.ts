const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Any RFC 9562 UUID text, case-insensitive; ids are checked before they reach a uuid column. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}
