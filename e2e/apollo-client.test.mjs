// Relay cursor paging with a real client: Apollo Client (core, no React)
// with relayStylePagination() on BatchOperation.items pages through an
// operation with 1,000 items forward with first/after and backward with
// last/before, and must see every item exactly once, in itemKey order.

import test from 'node:test';
import assert from 'node:assert/strict';
import { ApolloClient, InMemoryCache, HttpLink, gql } from '@apollo/client';
import { relayStylePagination } from '@apollo/client/utilities';
import { firstValueFrom, filter } from 'rxjs';
import { startBatchql } from './lib/batchql.mjs';

const OP_KEY = '2251799813685999';
const N = 1000;
const PAGE = 100;

// 1,000 items in the Camunda 8 item search format, one a line, shuffled.
// Item keys mix lengths (3 to 6 digits) so numeric order differs from
// string order; every third item failed.
function fixtures() {
  const op = {
    batchOperationKey: OP_KEY,
    state: 'PARTIALLY_COMPLETED',
    batchOperationType: 'CANCEL_PROCESS_INSTANCE',
    startDate: '2026-08-01T10:00:00.000Z',
    endDate: '2026-08-01T10:05:00.000Z',
    actorType: 'USER',
    actorId: 'e2e',
    operationsTotalCount: N,
    operationsFailedCount: Math.ceil(N / 3),
    operationsCompletedCount: N - Math.ceil(N / 3),
    errors: [],
  };
  const keys = Array.from({ length: N }, (_, i) => 500 + i * 137); // 500 .. 137,363
  const items = keys.map((k, i) => ({
    operationType: 'CANCEL_PROCESS_INSTANCE',
    batchOperationKey: OP_KEY,
    itemKey: String(k),
    processInstanceKey: String(k),
    rootProcessInstanceKey: null,
    state: i % 3 === 0 ? 'FAILED' : 'COMPLETED',
    processedDate: new Date(Date.UTC(2026, 7, 1, 10, 0, 0, i)).toISOString(),
    errorMessage: i % 3 === 0 ? `Expected to cancel process instance '${k}' but it was not found` : null,
  }));
  // deterministic shuffle (LCG) so the import order says nothing
  let seed = 42;
  for (let i = items.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const j = seed % (i + 1);
    [items[i], items[j]] = [items[j], items[i]];
  }
  return {
    keys: keys.map(String),
    failedKeys: keys.filter((_, i) => i % 3 === 0).map(String),
    files: [
      { name: 'operation.json', content: JSON.stringify(op) },
      { name: 'items.ndjson', content: items.map((it) => JSON.stringify(it)).join('\n') + '\n' },
    ],
  };
}

const ITEMS = gql`
  query Items($key: ID!, $first: Int, $after: String, $last: Int, $before: String,
              $filter: BatchOperationItemFilter, $orderBy: [BatchOperationItemOrder!]) {
    batchOperation(batchOperationKey: $key) {
      id
      batchOperationKey
      items(first: $first, after: $after, last: $last, before: $before, filter: $filter, orderBy: $orderBy) {
        totalCount
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor node { id itemKey state } }
      }
    }
  }
`;

function newClient(uri) {
  const requests = [];
  const countingFetch = (input, init) => {
    requests.push(JSON.parse(init.body).variables);
    return fetch(input, init);
  };
  const client = new ApolloClient({
    link: new HttpLink({ uri, fetch: countingFetch }),
    cache: new InMemoryCache({
      typePolicies: {
        BatchOperation: { fields: { items: relayStylePagination(['filter', 'orderBy']) } },
      },
    }),
  });
  return { client, requests };
}

// watch starts a watched query and resolves with it once its first result
// is complete.
async function watch(client, variables) {
  const obs = client.watchQuery({ query: ITEMS, variables, fetchPolicy: 'cache-first' });
  const first = await firstValueFrom(obs.pipe(filter((r) => !r.loading)));
  assert.equal(first.error, undefined, `first page: ${first.error}`);
  return obs;
}

function merged(obs) {
  const r = obs.getCurrentResult();
  assert.equal(r.error, undefined, `${r.error}`);
  return r.data.batchOperation.items;
}

function assertExactlyOnceInOrder(edges, want, what) {
  const got = edges.map((e) => e.node.itemKey);
  const dups = got.filter((k, i) => got.indexOf(k) !== i);
  assert.deepEqual(dups, [], `${what}: items seen more than once`);
  assert.equal(got.length, want.length, `${what}: item count`);
  assert.deepEqual(got, want, `${what}: every item once, in itemKey order`);
}

test('Apollo Client relayStylePagination pages through 1,000 items', async (t) => {
  const fx = fixtures();
  const srv = await startBatchql(t, { imports: fx.files });

  await t.test('forward: first/after to the end', async () => {
    const { client, requests } = newClient(srv.queryURL);
    t.after(() => client.stop());
    const obs = await watch(client, { key: OP_KEY, first: PAGE });
    let items = merged(obs);
    assert.equal(items.totalCount, N);
    assert.equal(items.pageInfo.hasPreviousPage, false, 'the first page has nothing before it');
    while (items.pageInfo.hasNextPage) {
      const before = items.edges.length;
      await obs.fetchMore({ variables: { first: PAGE, after: items.pageInfo.endCursor } });
      items = merged(obs);
      assert.ok(items.edges.length > before, 'fetchMore made progress');
      assert.ok(requests.length <= N / PAGE + 1, 'too many requests');
    }
    assertExactlyOnceInOrder(items.edges, fx.keys, 'forward');
    assert.equal(items.pageInfo.hasNextPage, false);
    assert.equal(items.pageInfo.endCursor, items.edges.at(-1).cursor);
    assert.equal(requests.length, N / PAGE, 'one request per page');
    console.log(`forward: ${items.edges.length} items in ${requests.length} requests of first: ${PAGE}; ` +
      `itemKey ${items.edges[0].node.itemKey} .. ${items.edges.at(-1).node.itemKey}; hasNextPage=${items.pageInfo.hasNextPage}`);
  });

  await t.test('backward: last/before from the end to the start', async () => {
    const { client, requests } = newClient(srv.queryURL);
    t.after(() => client.stop());
    const obs = await watch(client, { key: OP_KEY, last: PAGE });
    let items = merged(obs);
    assert.equal(items.totalCount, N);
    assert.equal(items.edges.at(-1).node.itemKey, fx.keys.at(-1), 'last: starts at the end');
    while (items.pageInfo.hasPreviousPage) {
      const before = items.edges.length;
      await obs.fetchMore({ variables: { last: PAGE, before: items.pageInfo.startCursor } });
      items = merged(obs);
      assert.ok(items.edges.length > before, 'fetchMore made progress');
      assert.ok(requests.length <= N / PAGE + 1, 'too many requests');
    }
    assertExactlyOnceInOrder(items.edges, fx.keys, 'backward');
    assert.equal(items.pageInfo.hasPreviousPage, false);
    assert.equal(items.pageInfo.startCursor, items.edges[0].cursor);
    assert.equal(requests.length, N / PAGE, 'one request per page');
    console.log(`backward: ${items.edges.length} items in ${requests.length} requests of last: ${PAGE}; ` +
      `itemKey ${items.edges[0].node.itemKey} .. ${items.edges.at(-1).node.itemKey}; hasPreviousPage=${items.pageInfo.hasPreviousPage}`);
  });

  await t.test('keyArgs: a filtered and descending list page apart in one cache', async () => {
    const { client } = newClient(srv.queryURL);
    t.after(() => client.stop());
    const all = await watch(client, { key: OP_KEY, first: PAGE });
    const failed = await watch(client, { key: OP_KEY, first: PAGE, filter: { state: { eq: 'FAILED' } } });
    const desc = await watch(client, { key: OP_KEY, first: PAGE, orderBy: [{ field: 'ITEM_KEY', direction: 'DESC' }] });
    for (const obs of [failed, desc, all]) {
      for (let items = merged(obs); items.pageInfo.hasNextPage; items = merged(obs)) {
        await obs.fetchMore({ variables: { first: PAGE, after: items.pageInfo.endCursor } });
      }
    }
    assertExactlyOnceInOrder(merged(failed).edges, fx.failedKeys, 'filter FAILED');
    assert.equal(merged(failed).totalCount, fx.failedKeys.length);
    assertExactlyOnceInOrder(merged(desc).edges, [...fx.keys].reverse(), 'orderBy ITEM_KEY DESC');
    assertExactlyOnceInOrder(merged(all).edges, fx.keys, 'unfiltered');
  });
});
