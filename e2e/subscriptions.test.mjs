// Subscriptions (contract §10) with the clients web apps use: graphql-ws
// (over the ws package), graphql-sse and Apollo Client's GraphQLWsLink.
// Each subscribes with a filter, changes are pushed with POST /import
// (contract §9, --import-token), and the client must receive exactly the
// matching changes, in commit order, with the selected fields; after
// unsubscribing nothing more; at server shutdown the stream ends cleanly.

import test from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { createClient as createWsClient } from 'graphql-ws';
import { createClient as createSseClient } from 'graphql-sse';
import { ApolloClient, InMemoryCache, gql as apolloGql } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { startBatchql } from './lib/batchql.mjs';
import { launchChromium, runEditedQuery } from './lib/chromium.mjs';

const TOKEN = 'e2e-import-token';
const OP = '2251799813690001';
const OTHER = '2251799813690002';

async function start(t) {
  return startBatchql(t, { flags: ['--import-token', TOKEN] });
}

// push POSTs engine records (NDJSON) to /import and checks the answer.
async function push(srv, records) {
  const res = await fetch(`${srv.url}/import`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-ndjson' },
    body: records.map((r) => JSON.stringify(r)).join('\n') + '\n',
  });
  const body = await res.text();
  assert.equal(res.status, 200, `POST /import: ${res.status} ${body}`);
  return JSON.parse(body);
}

const item = (op, key, state, extra = {}) => ({
  batchOperationKey: op,
  itemKey: key,
  operationType: 'CANCEL_PROCESS_INSTANCE',
  processInstanceKey: key,
  state,
  processedDate: state === 'ACTIVE' ? null : '2026-08-01T10:00:00.000Z',
  errorMessage: state === 'FAILED' ? `cannot cancel ${key}` : null,
  ...extra,
});

const operation = (key, state, completed) => ({
  batchOperationKey: key,
  batchOperationType: 'CANCEL_PROCESS_INSTANCE',
  state,
  startDate: '2026-08-01T10:00:00.000Z',
  operationsTotalCount: 3,
  operationsFailedCount: 0,
  operationsCompletedCount: completed,
  errors: [],
});

// A queue of a subscription's events with a timed next().
function eventQueue() {
  const items = [];
  const waiters = [];
  let ended = null;
  return {
    push(v) {
      const w = waiters.shift();
      if (w) w.resolve(v);
      else items.push(v);
    },
    end(reason) {
      ended = reason ?? 'ended';
      for (const w of waiters.splice(0)) w.reject(new Error(`stream ended: ${ended}`));
    },
    get ended() { return ended; },
    next(ms = 10000) {
      if (items.length) return Promise.resolve(items.shift());
      if (ended) return Promise.reject(new Error(`stream ended: ${ended}`));
      return new Promise((resolve, reject) => {
        const w = { resolve: (v) => { clearTimeout(timer); resolve(v); }, reject };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`no event within ${ms} ms`));
        }, ms);
        waiters.push(w);
      });
    },
    // none resolves when nothing arrives within ms.
    async none(ms = 500) {
      await new Promise((r) => setTimeout(r, ms));
      assert.deepEqual(items, [], 'no event expected');
    },
  };
}

// warmUp pushes a matching change of a sentinel record until the
// subscription delivers it: the server has registered the subscription
// (no ack in either protocol says so). Sentinel events are dropped by the
// caller's filter on key.
async function warmUp(srv, q, record, key) {
  for (let i = 0; i < 100; i++) {
    await push(srv, [record(i)]);
    try {
      const ev = await q.next(200);
      assert.equal(key(ev), key(ev)); // any event: it is the sentinel's
      return;
    } catch (err) {
      if (!/no event/.test(err.message)) throw err;
    }
  }
  throw new Error('the subscription never delivered the sentinel');
}

const ITEMS = `subscription Failed($op: ID!) {
  batchOperationItemChanged(filter: {batchOperationKey: {eq: $op}, state: {eq: FAILED}}) {
    itemKey state errorMessage batchOperationKey
  }
}`;

// The scenario shared by the WebSocket clients: sentinel "0", then
// a, c (FAILED) with b COMPLETED and an item of another operation, then b
// turns FAILED and e is new; unchanged pushes send nothing.
async function itemScenario(srv, q, sub) {
  await warmUp(srv, q, (i) => item(OP, '0', 'FAILED', { errorMessage: `warm-up ${i}` }), (ev) => ev.itemKey);
  const real = async () => {
    for (;;) {
      const ev = await q.next();
      if (ev.itemKey !== '0') return ev;
    }
  };
  await push(srv, [item(OP, '11', 'FAILED'), item(OP, '12', 'COMPLETED'), item(OP, '13', 'FAILED'), item(OTHER, '14', 'FAILED')]);
  assert.deepEqual(await real(), { itemKey: '11', state: 'FAILED', errorMessage: 'cannot cancel 11', batchOperationKey: OP });
  assert.deepEqual(await real(), { itemKey: '13', state: 'FAILED', errorMessage: 'cannot cancel 13', batchOperationKey: OP });
  const unchanged = await push(srv, [item(OP, '11', 'FAILED')]);
  assert.equal(unchanged.records, 1);
  await push(srv, [item(OP, '12', 'FAILED'), item(OP, '15', 'FAILED')]);
  assert.deepEqual((await real()).itemKey, '12');
  assert.deepEqual((await real()).itemKey, '15');
  await q.none();

  sub.unsubscribe();
  await push(srv, [item(OP, '16', 'FAILED')]);
  await q.none();
}

test('graphql-ws (graphql-transport-ws over ws): filtered item changes in order, unsubscribe, shutdown', async (t) => {
  const srv = await start(t);
  const client = createWsClient({ url: srv.queryURL.replace(/^http/, 'ws'), webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
  t.after(() => client.dispose());
  const q = eventQueue();
  const subscribe = (query, variables, queue) => {
    const unsubscribe = client.subscribe({ query, variables }, {
      next: (r) => (r.errors ? queue.end(JSON.stringify(r.errors)) : queue.push(Object.values(r.data)[0])),
      error: (e) => queue.end(`error ${e?.code ?? e?.message ?? e}`),
      complete: () => queue.end('complete'),
    });
    return { unsubscribe };
  };
  const sub = subscribe(ITEMS, { op: OP }, q);
  await itemScenario(srv, q, sub);

  // Shutdown: an open subscription ends with close code 1001 (going away),
  // and the server stops without waiting for its shutdown timeout.
  const q2 = eventQueue();
  subscribe(`subscription { batchOperationChanged { batchOperationKey } }`, {}, q2);
  await warmUp(srv, q2, (i) => operation('99', 'ACTIVE', i), (ev) => ev.batchOperationKey);
  const t0 = Date.now();
  await srv.stop();
  assert.ok(Date.now() - t0 < 5000, `stopped in ${Date.now() - t0} ms`);
  for (let i = 0; i < 50 && !q2.ended; i++) await new Promise((r) => setTimeout(r, 20));
  assert.match(String(q2.ended), /^(error 1001|complete)$/);
  assert.match(srv.logs(), /msg=stopped/);
});

test('graphql-sse (distinct connections): operation progress, unsubscribe, shutdown completes', async (t) => {
  const srv = await start(t);
  const client = createSseClient({ url: srv.queryURL, retryAttempts: 0 });
  t.after(() => client.dispose());
  const q = eventQueue();
  const unsubscribe = client.subscribe({
    query: `subscription($op: ID!) { batchOperationChanged(filter: {batchOperationKey: {eq: $op}}) {
      batchOperationKey state operationsCompletedCount } }`,
    variables: { op: OP },
  }, {
    next: (r) => (r.errors ? q.end(JSON.stringify(r.errors)) : q.push(r.data.batchOperationChanged)),
    error: (e) => q.end(`error ${e?.message ?? e}`),
    complete: () => q.end('complete'),
  });
  // Sentinel: the watched operation itself, with a count of 1000 + i.
  await warmUp(srv, q, (i) => operation(OP, 'ACTIVE', 1000 + i), (ev) => ev.batchOperationKey);
  const real = async () => {
    for (;;) {
      const ev = await q.next();
      if (ev.operationsCompletedCount < 1000) return ev;
    }
  };
  await push(srv, [operation(OTHER, 'ACTIVE', 1)]);
  await push(srv, [operation(OP, 'ACTIVE', 1)]);
  assert.deepEqual(await real(), { batchOperationKey: OP, state: 'ACTIVE', operationsCompletedCount: 1 });
  await push(srv, [operation(OP, 'COMPLETED', 3), operation(OTHER, 'COMPLETED', 3)]);
  assert.deepEqual(await real(), { batchOperationKey: OP, state: 'COMPLETED', operationsCompletedCount: 3 });
  await q.none();
  unsubscribe();
  await push(srv, [operation(OP, 'COMPLETED', 2)]);
  await q.none();

  // Shutdown completes an open SSE subscription.
  const q2 = eventQueue();
  client.subscribe({ query: `subscription { batchChanged { batchId } }` }, {
    next: (r) => q2.push(r), error: (e) => q2.end(`error ${e?.message ?? e}`), complete: () => q2.end('complete'),
  });
  await warmUp(srv, q2, (i) => ({ id: 'b1', type: 'instance-migration', totalJobs: i, jobsCreated: 0, batchJobsPerSeed: 10,
    invocationsPerBatchJob: 1, seedJobDefinitionId: 's', monitorJobDefinitionId: 'm', batchJobDefinitionId: 'j', suspended: false,
    tenantId: null, createUserId: 'demo', startTime: '2026-08-01T10:00:00.000+0200', executionStartTime: null }), () => 'b1');
  await srv.stop();
  for (let i = 0; i < 50 && !q2.ended; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(q2.ended, 'complete');
});

test('Apollo Client with GraphQLWsLink: filtered item changes in order, unsubscribe', async (t) => {
  const srv = await start(t);
  const wsClient = createWsClient({ url: srv.queryURL.replace(/^http/, 'ws'), webSocketImpl: WebSocket, retryAttempts: 0 });
  t.after(() => wsClient.dispose());
  const client = new ApolloClient({ link: new GraphQLWsLink(wsClient), cache: new InMemoryCache() });
  t.after(() => client.stop());
  const q = eventQueue();
  const sub = client.subscribe({ query: apolloGql(ITEMS), variables: { op: OP } }).subscribe({
    next: (r) => (r.error ? q.end(String(r.error)) : q.push(stripTypename(r.data.batchOperationItemChanged))),
    error: (e) => q.end(`error ${e?.message ?? e}`),
    complete: () => q.end('complete'),
  });
  await itemScenario(srv, q, sub);
});

function stripTypename(o) {
  const { __typename, ...rest } = o;
  return rest;
}

// The playground (built-in GraphiQL, its graphql-ws client) runs a
// subscription: pushed changes show in the result pane as they arrive.
test('GraphiQL playground runs a subscription over WebSocket', { timeout: 120_000 }, async (t) => {
  const srv = await start(t);
  const browser = await launchChromium(t);
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const pageErrors = [];
  const sockets = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('websocket', (ws) => sockets.push(ws.url()));
  await page.goto(`${srv.url}/`, { waitUntil: 'load' });
  const editor = '.graphiql-query-editor .CodeMirror';
  await page.locator(editor).waitFor({ state: 'visible', timeout: 30_000 });
  await page.evaluate(([sel, q]) => document.querySelector(sel).CodeMirror.setValue(q), [editor,
    `subscription { batchOperationItemChanged(filter: {batchOperationKey: {eq: "${OP}"}}) { itemKey state } }`]);
  await runEditedQuery(page);
  const result = () => page.evaluate(() => document.querySelector('.result-window .CodeMirror')?.CodeMirror.getValue() ?? '');
  // Push until the subscription is live and shows the change.
  let shown = '';
  for (let i = 0; i < 50 && !shown.includes('"itemKey": "42"'); i++) {
    await push(srv, [item(OP, '42', 'FAILED', { errorMessage: `try ${i}` })]);
    await new Promise((r) => setTimeout(r, 200));
    shown = await result();
  }
  assert.match(shown, /"itemKey": "42"/);
  await push(srv, [item(OP, '43', 'COMPLETED')]);
  await page.waitForFunction(() => document.querySelector('.result-window .CodeMirror').CodeMirror.getValue().includes('"43"'),
    null, { timeout: 10_000 });
  assert.deepEqual(JSON.parse(await result()), { data: { batchOperationItemChanged: { itemKey: '43', state: 'COMPLETED' } } });
  assert.deepEqual(sockets, [srv.queryURL.replace(/^http/, 'ws')], 'GraphiQL subscribed over WebSocket at /query');
  assert.deepEqual(pageErrors, []);
});
