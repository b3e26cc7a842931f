// GraphQL-over-HTTP conformance: graphql-http's server audit against /query.
// Every MUST and SHOULD audit has to pass; MAY audits that fail are printed
// as notices.

import test from 'node:test';
import assert from 'node:assert/strict';
import { auditServer } from 'graphql-http';
import { startBatchql, fixture } from './lib/batchql.mjs';

test('graphql-http server audit of /query', async (t) => {
  const srv = await startBatchql(t, {
    imports: [fixture('c8_operations_search.json'), fixture('c8_items.ndjson')],
  });
  const results = await auditServer({ url: srv.queryURL });

  const tally = { ok: 0, notice: 0, warn: 0, error: 0 };
  const lines = [];
  for (const r of results) {
    tally[r.status]++;
    if (r.status === 'ok') continue;
    let body = '';
    try {
      body = (await r.response.text()).slice(0, 300);
    } catch {
      // the audit read the body already
    }
    lines.push(`  ${r.status.toUpperCase()} [${r.id}] ${r.name}\n    reason: ${r.reason}` +
      `\n    response: ${r.response.status} ${r.response.headers.get('content-type')} ${body}`);
  }
  console.log(`graphql-http audit of ${srv.queryURL}: ${results.length} audits: ` +
    `${tally.ok} ok, ${tally.notice} notice, ${tally.warn} warn, ${tally.error} error`);
  if (lines.length) console.log(lines.join('\n'));

  const failing = results.filter((r) => r.status === 'warn' || r.status === 'error');
  assert.deepEqual(failing.map((r) => `${r.status}: ${r.name}: ${r.reason}`), [],
    'every MUST and SHOULD audit passes');
  // Sanity: the audit really ran.
  assert.ok(tally.ok > 30, `only ${tally.ok} audits ok`);
});
