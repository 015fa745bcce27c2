// A configuration file's problems, one per wrong field, each named by its JSON pointer:
// what the engine's and the agent's configuration errors both report.
import type { z } from 'zod';

export type ConfigProblem = { pointer: string, message: string };

export function jsonPointer(segments: readonly PropertyKey[]): string {
  return segments.map((segment) => `/${String(segment).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

export function problemsOf(issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[] = []): ConfigProblem[] {
  return issues.flatMap((issue) => {
    const at = [...prefix, ...issue.path];
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      // Report the branch the author most likely meant: the one with the fewest problems.
      const closest = issue.errors.reduce((best, branch) => (branch.length < best.length ? branch : best));
      if (closest.length > 0) return problemsOf(closest, at);
    }
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ pointer: jsonPointer([...at, key]), message: 'unknown field' }));
    }
    return [{ pointer: jsonPointer(at), message: issue.message }];
  });
}
