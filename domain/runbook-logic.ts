// JSONLogic as runbooks use it (docs/ARCHITECTURE.md "Trust boundaries": conditions are data, never
// evaluated code): a vetted list of operators, literal `var` paths checked against what a
// step may see, and evaluation through json-logic-js (pure JS, safe in the workflow sandbox).
import * as jsonLogicModule from 'json-logic-js';

// UMD package: a bundler gives its exports as the namespace, Node's ESM loader as `default`.
const jsonLogic: typeof jsonLogicModule = (jsonLogicModule as { default?: typeof jsonLogicModule }).default ?? jsonLogicModule;

/** Every operator a runbook may use: json-logic-js's own, less `method` (calls code) and `log` (side effect). */
export const ALLOWED_OPERATORS: ReadonlySet<string> = new Set([
  'var', 'missing', 'missing_some',
  'if', '?:', '==', '===', '!=', '!==', '!', '!!', 'or', 'and',
  '>', '>=', '<', '<=', 'max', 'min', '+', '-', '*', '/', '%',
  'map', 'filter', 'reduce', 'all', 'none', 'some', 'merge', 'in', 'cat', 'substr',
]);

/** Operators whose later arguments run once per array item: there `var` names the item, not the run. */
const ITERATING = new Set(['map', 'filter', 'reduce', 'all', 'none', 'some']);

/** The fields of an earlier step a runbook may read: `steps.<id>.<field>…`. */
export const STEP_FIELDS: ReadonlySet<string> = new Set(['outcome', 'output', 'reason', 'attempts']);

const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'prototype', 'constructor']);

export interface LogicFault {
  /** JSON pointer relative to the expression. */
  pointer: string;
  message: string;
}

/** What an expression may refer to: the declared inputs and the steps before it. */
export interface Scope {
  inputs: ReadonlySet<string>;
  steps: ReadonlySet<string>;
}

export const pointerOf = (segments: readonly (string | number)[]): string =>
  segments.map((s) => '/' + String(s).replaceAll('~', '~0').replaceAll('/', '~1')).join('');

/**
 * Faults of a JSONLogic expression: unknown operators, objects that are not one operation,
 * `var` paths that are not literal or that name an undeclared input or a later step.
 */
export function checkLogic(expression: unknown, scope: Scope): LogicFault[] {
  const faults: LogicFault[] = [];
  const visit = (node: unknown, at: (string | number)[], itemScope: boolean): void => {
    if (node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      node.forEach((item, i) => visit(item, [...at, i], itemScope));
      return;
    }
    const keys = Object.keys(node);
    if (keys.length !== 1) {
      faults.push({ pointer: pointerOf(at), message: `a JSONLogic operation is an object with exactly one operator (found ${keys.length} keys)` });
      return;
    }
    const op = keys[0]!;
    const args = (node as Record<string, unknown>)[op];
    if (!ALLOWED_OPERATORS.has(op)) {
      faults.push({ pointer: pointerOf([...at, op]), message: `"${op}" is not an allowed JSONLogic operator (allowed: ${[...ALLOWED_OPERATORS].join(' ')})` });
      return;
    }
    if (op === 'var') {
      const path = Array.isArray(args) ? args[0] : args;
      const fault = itemScope ? checkItemPath(path) : checkPath(path, scope);
      if (typeof path !== 'string' && !(itemScope && typeof path === 'number')) {
        faults.push({ pointer: pointerOf([...at, op]), message: 'a var path is a literal string such as "input.host" or "steps.restart.output.pid"' });
      } else if (fault) faults.push({ pointer: pointerOf([...at, op]), message: fault });
      if (Array.isArray(args) && args.length > 1) visit(args[1], [...at, op, 1], itemScope);
      return;
    }
    const list = Array.isArray(args) ? args : [args];
    list.forEach((arg, i) => visit(arg, [...at, op, ...(Array.isArray(args) ? [i] : [])], itemScope || (ITERATING.has(op) && i > 0)));
  };
  visit(expression, [], false);
  return faults;
}

/** Inside map/filter/…: the item's own fields, but never the prototype chain. */
function checkItemPath(path: unknown): string | undefined {
  if (typeof path !== 'string') return undefined;
  return path.split('.').some((s) => FORBIDDEN_SEGMENTS.has(s)) ? `"${path}" is not a valid path` : undefined;
}

/** Why a run-level var path is refused, or undefined when it is fine. */
function checkPath(path: unknown, scope: Scope): string | undefined {
  if (typeof path !== 'string') return undefined; // reported by the caller
  const segments = path.split('.');
  if (segments.some((s) => FORBIDDEN_SEGMENTS.has(s) || s === '')) return `"${path}" is not a valid path`;
  const [root, name, field] = segments;
  if (root === 'input') {
    if (name !== undefined && !scope.inputs.has(name)) return `"${path}" names input "${name}", which the runbook does not declare`;
    return undefined;
  }
  if (root === 'steps') {
    if (name === undefined) return '"steps" alone is not a value: name a step, e.g. "steps.restart.outcome"';
    if (!scope.steps.has(name)) return `"${path}" names step "${name}", which is not an earlier step of the runbook`;
    if (field !== undefined && !STEP_FIELDS.has(field)) return `"${path}": a step has ${[...STEP_FIELDS].join(', ')}`;
    return undefined;
  }
  return `"${path}" must start with "input" or "steps"`;
}

/** Evaluates a checked expression against the run's data (input and step results). */
export function evaluate(expression: unknown, data: unknown): unknown {
  return jsonLogic.apply(expression as Parameters<typeof jsonLogic.apply>[0], data);
}

/** JSONLogic's own truthiness (`[]` is false, `"0"` is true). */
export function truthy(value: unknown): boolean {
  return jsonLogic.truthy(value);
}
