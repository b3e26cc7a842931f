// Live sync end to end: `batchql serve` syncs from the enginefake binary
// (both engines on one port) with --sync-interval 1s. GraphQL must come to
// show the fakes' data and follow their changes, and every request the
// syncer sent to Camunda 8 must pass the official SDK's zod request schemas
// (@camunda8/orchestration-cluster-api): a request the real engine would
// reject fails the test.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startBatchql, gql } from './lib/batchql.mjs';
import { startEnginefake, camunda8Schemas, checkCamunda8Requests } from './lib/enginefake.mjs';

async function until(what, fn, ms = 20000) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`not within ${ms} ms: ${what}`);
}

const Q = `{
  syncStatus { engine url state lastSuccessAt lastError recordsWritten quarantined { kind key field value reason } }
  op: batchOperation(batchOperationKey: "2251799813685301") { state operationsCompletedCount operationsFailedCount
    items(first: 100) { totalCount nodes { itemKey state } } }
  legacy: batchOperation(batchOperationKey: "8f2b0c5e-1d3a-4b7e-9c41-6a0d2f9e7b13") { state items { totalCount } }
  batches(first: 10) { totalCount nodes { batchId type completed endTime statistics { remainingJobs failedJobs } } }
  batchOperations { totalCount }
}`;

test('serve syncs from both engines; every Camunda 8 request passes the SDK schemas', async (t) => {
  const fake = await startEnginefake(t, { flags: ['--camunda8-basic', 'demo:demo-pw', '--bug61727'] });
  const srv = await startBatchql(t, {
    flags: ['--camunda8-url', fake.camunda8URL, '--camunda8-username', 'demo',
      '--camunda7-url', fake.camunda7URL, '--sync-interval', '1s'],
    env: { BATCHQL_CAMUNDA8_PASSWORD: 'demo-pw' },
  });

  // the seeded data arrives
  const first = await until('the seeded data in GraphQL', async () => {
    const r = await gql(srv, Q);
    assert.equal(r.errors, undefined, JSON.stringify(r.errors));
    const d = r.data;
    return d.syncStatus.every((s) => s.state === 'OK') && d.op && d.legacy && d.batches.totalCount === 3 ? d : null;
  });
  assert.deepEqual(first.syncStatus.map((s) => s.engine), ['CAMUNDA8', 'CAMUNDA7']);
  assert.equal(first.syncStatus[0].url, fake.camunda8URL);
  assert.equal(first.op.state, 'ACTIVE');
  assert.equal(first.op.items.totalCount, 25);
  assert.equal(first.legacy.items.totalCount, 2);
  assert.equal(first.batchOperations.totalCount, 4);
  assert.ok(first.syncStatus.every((s) => s.quarantined.length === 0 && s.lastError === null));

  // the running operation progresses: a steady poll reads the items
  // processed since the last one (sort processedDate DESC), not all of them
  await fake.control('POST', '/__fake/camunda8/progress', { key: '2251799813685301', completed: 4, failed: 1 });
  await fake.control('POST', '/__fake/camunda8/settle', { key: '2251799813685301' }); // --bug61727 holds item moves back
  const want = first.op.operationsCompletedCount + 4; // settled: the seed's moves and these
  await until('progress of the running operation in GraphQL', async () => {
    const d = (await gql(srv, Q)).data;
    return d.op.state === 'ACTIVE' && d.op.operationsCompletedCount === want &&
      d.op.items.nodes.filter((n) => n.state === 'COMPLETED').length === want;
  });
  const incremental = (await (await fetch(`${fake.url}/__fake/requests?engine=camunda8`)).json())
    .filter((r) => r.path.endsWith('/batch-operation-items/search') && JSON.parse(r.body || '{}').sort?.[0]?.field === 'processedDate');
  assert.ok(incremental.length > 0, 'the running operation\'s items were read incrementally');

  // the engines change; GraphQL follows
  await fake.control('POST', '/__fake/camunda8/finish', { key: '2251799813685301' });
  await fake.control('POST', '/__fake/camunda8/settle', { key: '2251799813685301' });
  await fake.control('POST', '/__fake/camunda8/create', { key: '2251799813699001', type: 'DELETE_PROCESS_INSTANCE', items: 4 });
  const running = first.batches.nodes.find((b) => !b.completed && b.statistics.failedJobs === 3);
  await fake.control('POST', '/__fake/camunda7/finish', { id: running.batchId, ttl: '168h' });
  const t0 = Date.now();
  const after = await until('the changes in GraphQL', async () => {
    const d = (await gql(srv, Q + '')).data;
    const b = d.batches.nodes.find((x) => x.batchId === running.batchId);
    const active = d.op.items.nodes.filter((n) => n.state === 'ACTIVE').length;
    return d.op.state === 'COMPLETED' && active === 0 && b.completed && b.endTime && d.batchOperations.totalCount === 5 ? d : null;
  });
  t.diagnostic(`changes served ${Date.now() - t0} ms after they were made (--sync-interval 1s)`);
  assert.equal(after.batches.nodes.find((x) => x.batchId === running.batchId).statistics.failedJobs, 3,
    'an ended batch keeps its last statistics');

  const health = await (await fetch(`${srv.url}/healthz`)).json();
  assert.equal(health.status, 'ok');
  assert.deepEqual(health.sync.map((s) => [s.engine, s.state]), [['CAMUNDA8', 'OK'], ['CAMUNDA7', 'OK']]);

  // every Camunda 8 request the syncer sent is one the real API accepts
  const { checked, invalid, failures } = await checkCamunda8Requests(fake.url, await camunda8Schemas());
  assert.deepEqual(failures, []);
  assert.deepEqual(invalid, [], 'the syncer sent requests the SDK schema rejects');
  assert.ok(checked >= 5, `checked ${checked} requests`);
  const log = await (await fetch(`${fake.url}/__fake/requests`)).json();
  const c8 = log.filter((r) => r.engine === 'camunda8');
  assert.ok(c8.every((r) => r.auth === 'basic' && r.status === 200), 'basic auth on every Camunda 8 request');
  const c7 = log.filter((r) => r.engine === 'camunda7');
  assert.ok(c7.length > 0 && c7.every((r) => r.status === 200), 'every Camunda 7 request answered 200');
  assert.ok(!srv.logs().includes('demo-pw'), 'the password is never logged');
});
