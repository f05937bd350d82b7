/** Small operations on lists. */

/** `list` with `item` in or out (kept once, in the order of `order` when given). */
export function toggle<T>(list: readonly T[], item: T, on: boolean, order?: readonly T[]): T[] {
  const rest = list.filter((x) => x !== item);
  const next = on ? [...rest, item] : rest;
  return order ? order.filter((x) => next.includes(x)) : next;
}
