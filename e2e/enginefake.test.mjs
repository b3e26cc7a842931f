// The engine fakes are honest to the real Camunda 8 API: every request this
// test sends is checked with the official SDK's zod request schemas, every
// 200 response with its result schemas and every error with the problem
// detail schema (@camunda8/orchestration-cluster-api 9.1.5). Then the fake's
// own request log (/__fake/requests) is checked the same way, which is how
// the live-sync tests will check the syncer's requests.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  startEnginefake, camunda8Schemas, schemasFor, parseBody, issues, checkCamunda8Requests,
} from './lib/enginefake.mjs';

const OPS = '/batch-operations/search';
let searchesSent = 0; // searches sent by call(), all of which the fake logs
const ITEMS = '/batch-operation-items/search';

/**
 * Sends one Camunda 8 request. A search body must pass the request schema
 * unless invalid is set (then it must fail it); a 200 must pass the result
 * schema; any error must be a problem detail. Returns {status, json}.
 */
async function call(fake, z, method, p, body, { invalid = false } = {}) {
  const s = schemasFor(z, method, '/v2' + p);
  if (s?.request) searchesSent++;
  if (s?.request && body !== undefined) {
    const r = s.request.safeParse(parseBody(body === '' ? '' : JSON.stringify(body)));
    assert.equal(r.success, !invalid, `request schema on ${JSON.stringify(body)}: ${issues(r).join('; ')}`);
  }
  const res = await fetch(fake.camunda8URL + p, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : (body === '' ? '' : JSON.stringify(body)),
  });
  const text = await res.text();
  const json = JSON.parse(text);
  if (res.status === 200) {
    const r = s.response.safeParse(json);
    assert.ok(r.success, `response schema for ${method} ${p} ${JSON.stringify(body)}: ${issues(r).join('; ')}\n${text}`);
  } else {
    assert.equal(res.headers.get('content-type'), 'application/problem+json');
    const r = z.zProblemDetail.safeParse(json);
    assert.ok(r.success, `problem detail schema: ${issues(r).join('; ')}\n${text}`);
    assert.equal(json.status, res.status);
    assert.equal(json.instance, '/v2' + p);
  }
  return { status: res.status, json };
}

function decodeCursor(c) {
  return JSON.parse(Buffer.from(c, 'base64').toString('utf8'));
}

/** Walks a search with page shape after (or before from the end); returns the keys. */
async function walk(fake, z, p, base, keyOf, limit) {
  const keys = [];
  let body = { ...base, page: { limit } };
  for (let i = 0; i < 1000; i++) {
    const { json } = await call(fake, z, 'POST', p, body);
    keys.push(...json.items.map(keyOf));
    if (json.page.endCursor === null || json.items.length < limit) return keys;
    assert.ok(Array.isArray(decodeCursor(json.page.endCursor)), 'a cursor is base64 of a JSON array');
    body = { ...base, page: { after: json.page.endCursor, limit } };
  }
  throw new Error('walk did not end');
}

test('Camunda 8 fake: requests and responses match the SDK schemas', async (t) => {
  const z = await camunda8Schemas();
  const fake = await startEnginefake(t);
  // More data than the seed: two operations with 23 items each, progressed.
  await fake.control('POST', '/__fake/camunda8/create', { key: '2251799813686000', type: 'DELETE_PROCESS_INSTANCE', items: 23 });
  await fake.control('POST', '/__fake/camunda8/progress', { key: '2251799813686000', completed: 9, failed: 4 });
  await fake.control('POST', '/__fake/camunda8/create', { key: '2251799813686001', type: 'MODIFY_PROCESS_INSTANCE', items: 23 });
  await fake.control('POST', '/__fake/camunda8/finish', { key: '2251799813686001' });
  await fetch(`${fake.url}/__fake/requests`, { method: 'DELETE' });

  await t.test('operation searches: every page shape, sort and filter', async () => {
    const all = (await call(fake, z, 'POST', OPS, {})).json;
    assert.equal(all.page.totalItems, 6);
    assert.equal(all.page.hasMoreTotalItems, false);
    assert.equal((await call(fake, z, 'POST', OPS, '')).json.items.length, 6, 'no body is a search too');
    const sorts = [
      undefined,
      [{ field: 'startDate', order: 'DESC' }],
      [{ field: 'state' }, { field: 'actorId', order: 'DESC' }],
      [{ field: 'operationType', order: 'ASC' }, { field: 'endDate', order: 'DESC' }],
      [{ field: 'actorType' }, { field: 'batchOperationKey', order: 'DESC' }],
    ];
    for (const sort of sorts) {
      const base = sort ? { sort } : {};
      const full = (await call(fake, z, 'POST', OPS, { ...base, page: { limit: 100 } })).json.items.map((o) => o.batchOperationKey);
      assert.equal(new Set(full).size, 6);
      assert.deepEqual(await walk(fake, z, OPS, base, (o) => o.batchOperationKey, 4), full, `after walk, sort ${JSON.stringify(sort)}`);
      // Offset pages.
      const offset = [];
      for (let from = 0; from < 6; from += 4) {
        offset.push(...(await call(fake, z, 'POST', OPS, { ...base, page: { from, limit: 4 } })).json.items.map((o) => o.batchOperationKey));
      }
      assert.deepEqual(offset, full);
      // Backward from the last page's end.
      const last = (await call(fake, z, 'POST', OPS, { ...base, page: { limit: 100 } })).json.page.endCursor;
      const back = await call(fake, z, 'POST', OPS, { ...base, page: { before: last, limit: 3 } });
      assert.deepEqual(back.json.items.map((o) => o.batchOperationKey), full.slice(2, 5));
    }
    const filters = [
      [{ state: { $in: ['ACTIVE', 'SUSPENDED'] } }, 2],
      [{ state: 'PARTIALLY_COMPLETED' }, 1],
      [{ state: { $like: '*COMPLETED' } }, 3],
      [{ state: { $like: '*COMPLETED', $neq: 'COMPLETED' } }, 1],
      [{ operationType: 'MIGRATE_PROCESS_INSTANCE' }, 1],
      [{ operationType: { $eq: 'ADD_VARIABLE' } }, 1],
      [{ actorType: 'USER', actorId: { $like: 'de?o' } }, 1],
      [{ actorId: { $exists: false } }, 5],
      [{ actorId: { $notIn: ['demo'] } }, 5],
      [{ batchOperationKey: { $in: ['2251799813685249', '8f2b0c5e-1d3a-4b7e-9c41-6a0d2f9e7b13'] } }, 2],
      [{ batchOperationKey: { $notIn: ['2251799813685249'], $exists: true } }, 5],
    ];
    for (const [filter, n] of filters) {
      const { json } = await call(fake, z, 'POST', OPS, { filter, sort: [{ field: 'endDate', order: 'DESC' }], page: { limit: 10 } });
      assert.equal(json.page.totalItems, n, JSON.stringify(filter));
    }
  });

  await t.test('item searches and GET by key', async () => {
    const key = '2251799813686000';
    const base = { filter: { batchOperationKey: key } };
    const full = (await call(fake, z, 'POST', ITEMS, { ...base, page: { limit: 100 } })).json;
    assert.equal(full.page.totalItems, 23);
    assert.deepEqual(decodeCursor(full.page.startCursor), [key, full.items[0].itemKey]);
    const keys = await walk(fake, z, ITEMS, base, (i) => i.itemKey, 5);
    assert.deepEqual(keys, full.items.map((i) => i.itemKey));
    for (const sort of [[{ field: 'processedDate', order: 'DESC' }], [{ field: 'state' }, { field: 'processInstanceKey' }], [{ field: 'itemKey', order: 'DESC' }]]) {
      const k = await walk(fake, z, ITEMS, { ...base, sort }, (i) => i.itemKey, 6);
      assert.equal(new Set(k).size, 23, JSON.stringify(sort));
    }
    // the sync's incremental read of a running operation: its processed
    // items, newest first (syncer/camunda8_items.go; the fake answers it
    // from an index)
    const incremental = {
      filter: { batchOperationKey: key, state: { $neq: 'ACTIVE' } },
      sort: [{ field: 'processedDate', order: 'DESC' }, { field: 'itemKey', order: 'DESC' }],
    };
    const processed = await walk(fake, z, ITEMS, incremental, (i) => i, 4);
    assert.equal(processed.length, 13);
    for (let i = 1; i < processed.length; i++) {
      const [a, b] = [processed[i - 1], processed[i]];
      assert.ok(a.processedDate > b.processedDate || (a.processedDate === b.processedDate && a.itemKey > b.itemKey),
        `newest first, then itemKey DESC: ${JSON.stringify([a, b])}`);
    }
    const counts = [
      [{ batchOperationKey: key, state: 'FAILED' }, 4],
      [{ batchOperationKey: key, state: { $in: ['COMPLETED', 'FAILED'] } }, 13],
      [{ batchOperationKey: key, state: { $neq: 'ACTIVE' } }, 13],
      [{ operationType: 'MODIFY_PROCESS_INSTANCE', state: 'COMPLETED' }, 23],
      [{ processInstanceKey: { $exists: true }, itemKey: { $notIn: [full.items[0].itemKey] }, batchOperationKey: key }, 22],
      [{ processInstanceKey: full.items[0].processInstanceKey }, 1],
    ];
    for (const [filter, n] of counts) {
      assert.equal((await call(fake, z, 'POST', ITEMS, { filter })).json.page.totalItems, n, JSON.stringify(filter));
    }
    const op = await call(fake, z, 'GET', `/batch-operations/${key}`);
    assert.equal(op.json.operationsTotalCount, 23);
    assert.equal(op.json.operationsCompletedCount, 9);
    assert.equal(op.json.operationsFailedCount, 4);
    assert.equal(op.json.state, 'ACTIVE');
    const legacy = await call(fake, z, 'GET', '/batch-operations/8f2b0c5e-1d3a-4b7e-9c41-6a0d2f9e7b13');
    assert.equal(legacy.json.actorType, null);
    const missing = await call(fake, z, 'GET', '/batch-operations/123');
    assert.equal(missing.status, 404);
    assert.equal(missing.json.title, 'NOT_FOUND');
  });

  await t.test('requests the engine rejects: 400 INVALID_ARGUMENT', async () => {
    const c = (await call(fake, z, 'POST', OPS, { page: { limit: 1 } })).json.page.endCursor;
    // The schema rejects these, and so does the fake.
    const rejected = [
      [OPS, { page: { limit: 0 } }],
      [OPS, { filter: { state: 'RUNNING' } }],
      [OPS, { filter: { actorType: 'ROBOT' } }],
      [OPS, { sort: [{ field: 'processedDate' }] }],
      [OPS, { sort: [{ field: 'state', order: 'asc' }] }],
      [ITEMS, { filter: { state: 'SKIPPED' } }],
      [ITEMS, { filter: { processInstanceKey: 'abc' } }],
      [ITEMS, { sort: [{ field: 'startDate' }] }],
    ];
    for (const [p, body] of rejected) {
      const { status, json } = await call(fake, z, 'POST', p, body, { invalid: true });
      assert.equal(status, 400, JSON.stringify(body));
      assert.equal(json.title, 'INVALID_ARGUMENT');
    }
    // The schema lets these through (zod strips unknown keys, and its page
    // union takes the first shape that fits: {limit: 10001} passes as the
    // offset shape, which declares no cap); the server rejects them.
    const serverOnly = [
      [{ page: { limit: 10001 } }, "The value for page.limit is '10001' but must be at most 10000."],
      [{ page: { after: c, limit: 10001 } }, 'must be at most 10000'],
      [{ page: { from: -1, limit: 5 } }, "The value for page.from is '-1' but must be at least 0."],
      [{ page: { after: 'not a cursor!' } }, "Cannot decode the cursor 'not a cursor!'"],
      [{ page: { after: c, before: c } }, 'Both after and before cannot be set at the same time.'],
      [{ page: { from: 0, after: c } }, 'Both after/before and from cannot be set at the same time.'],
      [{ pageSize: 10 }, "Unknown property 'pageSize'"],
      [{ filter: { state: { $notIn: ['ACTIVE'] } } }, "Unknown property '$notIn'"],
    ];
    for (const [body, detail] of serverOnly) {
      const { status, json } = await call(fake, z, 'POST', OPS, body);
      assert.equal(status, 400, JSON.stringify(body));
      assert.ok(json.detail.includes(detail), json.detail);
    }
  });

  await t.test('faults answer with problem details', async () => {
    await fake.control('POST', '/__fake/camunda8/faults', { status: 503, title: 'RESOURCE_EXHAUSTED', retryAfter: '1', times: 1 });
    searchesSent++;
    const res = await fetch(fake.camunda8URL + OPS, { method: 'POST', body: '{}' });
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '1');
    const json = await res.json();
    assert.ok(z.zProblemDetail.safeParse(json).success);
    assert.equal(json.title, 'RESOURCE_EXHAUSTED');
  });

  await t.test('the request log: every request the fake received', async () => {
    const { checked, invalid, failures } = await checkCamunda8Requests(fake.url, z);
    assert.deepEqual(failures, []);
    assert.equal(checked, searchesSent, 'every search sent was logged and checked');
    assert.equal(invalid.length, 8, 'exactly the requests sent as invalid fail the schema');
  });
});

test('Camunda 8 fake: values from a newer engine fail the 8.9 schema; #45988 passes it', async (t) => {
  const z = await camunda8Schemas();
  const fake = await startEnginefake(t, { flags: ['--seed=false', '--bug45988'] });
  await fake.control('POST', '/__fake/camunda8/operations', {
    batchOperationKey: '1', state: 'ACTIVE', batchOperationType: 'FUTURE_TYPE', startDate: '2025-06-04T11:13:43.123Z',
  });
  const res = await fetch(fake.camunda8URL + OPS, { method: 'POST', body: '{}' });
  const json = await res.json();
  assert.equal(json.items[0].batchOperationType, 'FUTURE_TYPE');
  const r = z.zBatchOperationSearchQueryResult.safeParse(json);
  assert.equal(r.success, false, 'the schema checks the enum');
  assert.ok(issues(r).some((i) => i.startsWith('items.0.batchOperationType')), issues(r).join('; '));

  await fake.control('POST', '/__fake/camunda8/create', { key: '2', type: 'DELETE_DECISION_INSTANCE', items: 2 });
  const items = await (await fetch(fake.camunda8URL + ITEMS, {
    method: 'POST', body: JSON.stringify({ filter: { batchOperationKey: '2' } }),
  })).json();
  assert.equal(items.items[0].processInstanceKey, '-1');
  assert.ok(z.zBatchOperationItemSearchQueryResult.safeParse(items).success);
});

test('Camunda 8 fake: OAuth client credentials', async (t) => {
  const fake = await startEnginefake(t, { flags: ['--seed=false', '--camunda8-oauth=sync:s3cret:zeebe-api', '--token-ttl=1h'] });
  const search = (tok) => fetch(fake.camunda8URL + OPS, {
    method: 'POST', body: '{}', headers: tok ? { authorization: `Bearer ${tok}` } : {},
  });
  assert.equal((await search()).status, 401);
  const res = await fetch(`${fake.url}/oauth/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'sync', client_secret: 's3cret', audience: 'zeebe-api' }),
  });
  const tok = await res.json();
  assert.equal(tok.expires_in, 3600);
  assert.equal((await search(tok.access_token)).status, 200);
  await fake.control('POST', '/__fake/camunda8/expire-tokens');
  assert.equal((await search(tok.access_token)).status, 401);
});
