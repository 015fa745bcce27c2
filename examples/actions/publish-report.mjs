// Publishes a report as a JSON file under $MANDATE_REPORTS_DIR (default ./.mandate/reports):
//
//   node publish-report.mjs --contract <id> --period <YYYY-MM> --kind <sla|billing|activity> --title <t> [--data <json>]
//
// writes <dir>/<contract>/<period>-<kind>.json. A retried run with the same
// $MANDATE_IDEMPOTENCY_KEY leaves the file as it is and prints the same result.
import path from 'node:path';
import { ActionError, EXIT, parseFlags, runScript, withLockedJson } from './support.mjs';

const CONTRACT = /^[a-z0-9][a-z0-9-]{0,63}$/;
const PERIOD = /^\d{4}-(0[1-9]|1[0-2])$/;
const KINDS = ['sla', 'billing', 'activity'];

function invalid(message) {
  return new ActionError(EXIT.invalidInput, message);
}

function summary(report, file, reportsDir) {
  const { contractId, period, kind, title, publishedAt } = report;
  return { contractId, period, kind, title, publishedAt, file: path.relative(reportsDir, file) };
}

async function main(argv, env) {
  const request = parseFlags(argv, { '--contract': 'contractId', '--period': 'period', '--kind': 'kind', '--title': 'title', '--data': 'data' });
  for (const name of ['contractId', 'period', 'kind', 'title']) {
    if (request[name] === undefined) throw new ActionError(EXIT.usage, `missing ${name}`);
  }
  // The contract id becomes a directory name: the pattern keeps it inside the reports directory.
  if (!CONTRACT.test(request.contractId)) throw invalid(`contract must match ${CONTRACT.source}`);
  if (!PERIOD.test(request.period)) throw invalid('period must be YYYY-MM');
  if (!KINDS.includes(request.kind)) throw invalid(`kind must be one of ${KINDS.join(', ')}`);
  if (request.title.trim() === '' || request.title.length > 200) throw invalid('title must be 1 to 200 characters');
  let data = null;
  if (request.data !== undefined) {
    try {
      data = JSON.parse(request.data);
    } catch {
      throw invalid('data is not JSON');
    }
  }

  const reportsDir = path.resolve(env.MANDATE_REPORTS_DIR ?? '.mandate/reports');
  const file = path.join(reportsDir, request.contractId, `${request.period}-${request.kind}.json`);
  const key = env.MANDATE_IDEMPOTENCY_KEY;
  return withLockedJson(file, () => null, (existing) => {
    if (existing && key !== undefined && existing.idempotencyKey === key) {
      return { data: undefined, result: { report: summary(existing, file, reportsDir), published: false } };
    }
    const report = {
      contractId: request.contractId, period: request.period, kind: request.kind, title: request.title,
      data, publishedAt: new Date().toISOString(), ...(key !== undefined ? { idempotencyKey: key } : {}),
    };
    return { data: report, result: { report: summary(report, file, reportsDir), published: true } };
  });
}

await runScript(main);
