// What PostgreSQL can store: its text and jsonb refuse NUL (U+0000), and an unpaired UTF-16
// surrogate is not a character at all (no UTF-8 for it). A value holding either is refused
// where it enters (API requests, agent results, action outputs), not when a journal write
// fails again and again deep inside a process.

export interface UnstorableIssue {
  /** Where in the value: keys and indices, an object key that is itself the problem last. */
  path: (string | number)[];
  message: string;
}

export interface UnstorableOptions {
  /** Objects and arrays nested deeper than this are refused (the top-level value is level 1). */
  maxDepth?: number;
  /** Stop after this many issues (default 20): one is enough to refuse, a few help to fix. */
  maxIssues?: number;
}

// NUL; a high surrogate not followed by a low one, or a low one not preceded by a high one.
// eslint-disable-next-line no-control-regex -- NUL is exactly what is looked for
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const UNSTORABLE_ALL = new RegExp(UNSTORABLE.source, 'g');

/** Why PostgreSQL cannot store `text`, or undefined when it can. */
export function unstorableReason(text: string): string | undefined {
  const found = UNSTORABLE.exec(text);
  if (!found) return undefined;
  const code = found[0].charCodeAt(0);
  if (code === 0) return 'contains NUL (U+0000), which cannot be stored';
  return `contains an unpaired surrogate (U+${code.toString(16).toUpperCase()}), which is not valid Unicode`;
}

/** `text` with NUL and unpaired surrogates replaced by U+FFFD: for messages quoting what others sent. */
export function storableText(text: string): string {
  return text.replace(UNSTORABLE_ALL, '\ufffd');
}

/** A key or value shown in a path: its unstorable characters written as `\uXXXX`. */
export function printable(text: string): string {
  return text.replace(UNSTORABLE_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A place in the walked value: its key and its parent, so a path is only built for an issue. */
interface Place {
  key: string | number;
  parent: Place | undefined;
}

function pathOf(place: Place | undefined, last?: string): (string | number)[] {
  const path: (string | number)[] = last === undefined ? [] : [last];
  for (let at = place; at; at = at.parent) path.push(at.key);
  return path.reverse();
}

/**
 * Every string (object keys included) of a JSON-like value that PostgreSQL cannot store, and
 * nesting past `maxDepth`. Walks without recursion or path copies, so no depth overflows the
 * stack or costs more than its size.
 */
export function findUnstorable(value: unknown, options: UnstorableOptions = {}): UnstorableIssue[] {
  const maxIssues = options.maxIssues ?? 20;
  const maxDepth = options.maxDepth ?? Number.POSITIVE_INFINITY;
  const issues: UnstorableIssue[] = [];
  // A key that is itself unstorable waits on the stack as a ready issue, to keep document order.
  const stack: { value: unknown; place: Place | undefined; depth: number; keyIssue?: UnstorableIssue }[] = [{ value, place: undefined, depth: 0 }];
  while (stack.length > 0 && issues.length < maxIssues) {
    const { value: current, place, depth, keyIssue } = stack.pop()!;
    if (keyIssue) {
      issues.push(keyIssue);
      continue;
    }
    if (typeof current === 'string') {
      const reason = unstorableReason(current);
      if (reason) issues.push({ path: pathOf(place), message: reason });
      continue;
    }
    if (current === null || typeof current !== 'object') continue;
    if (depth + 1 > maxDepth) {
      issues.push({ path: pathOf(place), message: `nested deeper than ${maxDepth} levels` });
      continue;
    }
    const entries: [string | number, unknown][] = Array.isArray(current) ? current.map((v, i) => [i, v]) : Object.entries(current);
    const children: typeof stack = [];
    for (const [key, child] of entries) {
      const reason = typeof key === 'string' ? unstorableReason(key) : undefined;
      if (reason) children.push({ value: undefined, place, depth, keyIssue: { path: pathOf(place, printable(key as string)), message: `the key ${reason}` } });
      else children.push({ value: child, place: { key, parent: place }, depth: depth + 1 });
    }
    // Reversed onto the stack: issues come out in document order.
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
  }
  return issues.slice(0, maxIssues);
}
