// The Node side of tests/support/suite_log.hpp: what a server started by a test writes on
// standard error also goes to $ROOMWIRE_TEST_LOG_DIR/<pid>.log, which hygiene.logs checks for
// secrets after the whole run.
import { appendFileSync } from 'node:fs';
import path from 'node:path';

let pending = '';
export function suiteLog(origin, text) {
  const dir = process.env.ROOMWIRE_TEST_LOG_DIR;
  if (!dir) return;
  pending += text;
  const end = pending.lastIndexOf('\n');
  if (end < 0) return;
  const lines = pending.slice(0, end).split('\n');
  pending = pending.slice(end + 1);
  appendFileSync(path.join(dir, `${process.pid}.log`), lines.map(l => `${origin}: ${l}\n`).join(''));
}
