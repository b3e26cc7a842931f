// Contract §10 and §11 together, end to end: subscriptions of callers with
// real OIDC tokens (oauth2-mock-server) of different tenant claims, over
// WebSocket (graphql-ws, the token in the connection_init payload, or in the
// upgrade request's Authorization header) and SSE (graphql-sse, the
// Authorization header). Changes of tenants A, B and of no
// tenant are written with POST /import (an import-scope token of the same
// issuer), and each subscriber must receive exactly the changes of the
// batches its tenants may see (a reference filter written here), in commit
// order, and never another tenant's: every subscription ends its run on a
// sentinel change every caller sees, written last, so "never received" is
// checked against the commit order, not a sleep. Camunda 8 operations and
// items carry no tenant: every caller gets all of them. A WebSocket whose
// connection_init token is bad is closed with 4403 before any ack, and an
// SSE subscription without a (good) token gets 401.

import test from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { createClient as createWsClient } from 'graphql-ws';
import { createClient as createSseClient } from 'graphql-sse';
import { startBatchql } from './lib/batchql.mjs';
import { startIssuer, forgeNone, tamperPayload } from './lib/oidc.mjs';

// The callers: tenant claim (undefined: no claim at all) and what contract
// §11 lets them see of Camunda 7 batches (besides those without a tenant).
const CALLERS = {
  '[A]': ['A'],
  '[B]': ['B'],
  '[A,B]': ['A', 'B'],
  '[]': [],
  'no claim': undefined,
};
const visible = (claim, tenantId) => tenantId === null || (claim ?? []).includes(tenantId);

const batch = (id, tenantId, totalJobs = 10) => ({
  id, type: 'instance-migration', totalJobs, jobsCreated: 0, batchJobsPerSeed: 10, invocationsPerBatchJob: 1,
  seedJobDefinitionId: 's', monitorJobDefinitionId: 'm', batchJobDefinitionId: 'j', suspended: false,
  tenantId, createUserId: 'demo', startTime: '2026-08-01T10:00:00.000+0200', executionStartTime: null,
});
const operation = (key, completed = 0) => ({
  batchOperationKey: key, batchOperationType: 'CANCEL_PROCESS_INSTANCE', state: 'ACTIVE',
  startDate: '2026-08-01T10:00:00.000Z', operationsTotalCount: 1000, operationsFailedCount: 0,
  operationsCompletedCount: completed, errors: [],
});
const item = (op, key, errorMessage = `cannot cancel ${key}`) => ({
  batchOperationKey: op, itemKey: key, operationType: 'CANCEL_PROCESS_INSTANCE', processInstanceKey: key,
  state: 'FAILED', processedDate: '2026-08-01T10:00:00.000Z', errorMessage,
});

// The changes, one POST /import each, in this (commit) order; "warm" records
// come before them, the "end" sentinels after them.
const OP1 = '2251799813690001';
const OP2 = '2251799813690002';
const WARM_OP = '2251799813699998';
const END_OP = '2251799813699999';
const STEPS = [
  [batch('a-1', 'A'), batch('b-1', 'B'), batch('n-1', null)],
  [batch('b-2', 'B'), operation(OP1, 1), item(OP1, '11')],
  [batch('a-2', 'A')],
  [batch('b-3', 'B'), batch('a-3', 'A'), operation(OP2, 1), item(OP2, '21')],
  [batch('n-2', null), batch('c-1', 'C'), operation(OP1, 2), item(OP1, '12')],
];
const END = [batch('end', null), operation(END_OP), item(END_OP, '99')];
const written = [...STEPS.flat(), ...END];
const isBatch = (r) => 'totalJobs' in r;
const isItem = (r) => 'itemKey' in r;
const isOperation = (r) => !isBatch(r) && !isItem(r);

// The subscriptions every caller opens on each transport: the query, what
// an event's payload is reduced to, which written records it must deliver
// for a caller (in order), and its end sentinel.
const FILTERED_IDS = ['warm', 'a-2', 'b-2', 'n-2', 'c-1', 'end'];
const SUBSCRIPTIONS = {
  batches: {
    query: 'subscription { batchChanged { batchId tenantId totalJobs } }',
    key: (ev) => `${ev.batchId}/${ev.tenantId}`,
    want: (claim) => written.filter((r) => isBatch(r) && visible(claim, r.tenantId)).map((r) => `${r.id}/${r.tenantId}`),
    end: 'end/null',
    warm: (key) => key.startsWith('warm/'),
  },
  // Another tenant's batches asked for by id: the hub's key index path.
  'batches by id': {
    query: `subscription { batchChanged(filter: {batchId: {in: ${JSON.stringify(FILTERED_IDS)}}}) { batchId tenantId } }`,
    key: (ev) => `${ev.batchId}/${ev.tenantId}`,
    want: (claim) => written.filter((r) => isBatch(r) && FILTERED_IDS.includes(r.id) && visible(claim, r.tenantId))
      .map((r) => `${r.id}/${r.tenantId}`),
    end: 'end/null',
    warm: (key) => key.startsWith('warm/'),
  },
  operations: {
    query: 'subscription { batchOperationChanged { batchOperationKey operationsCompletedCount } }',
    key: (ev) => `${ev.batchOperationKey}/${ev.operationsCompletedCount}`,
    want: () => written.filter(isOperation).map((r) => `${r.batchOperationKey}/${r.operationsCompletedCount}`),
    end: `${END_OP}/0`,
    warm: (key) => key.startsWith(`${WARM_OP}/`),
  },
  items: {
    query: 'subscription { batchOperationItemChanged { batchOperationKey itemKey } }',
    key: (ev) => `${ev.batchOperationKey}/${ev.itemKey}`,
    want: () => written.filter(isItem).map((r) => `${r.batchOperationKey}/${r.itemKey}`),
    end: `${END_OP}/99`,
    warm: (key) => key.startsWith(`${WARM_OP}/`),
  },
};

// One subscription's events: keys in arrival order, the error or completion
// that ended it, and waiting for a key.
function recorder(name) {
  const keys = [];
  const waiters = new Set();
  let ended = null;
  const wake = () => { for (const w of waiters) w(); };
  return {
    name,
    keys,
    get ended() { return ended; },
    add(key) { keys.push(key); wake(); },
    end(reason) { ended ??= reason; wake(); },
    /** Resolves when a key satisfies pred; rejects when the stream ends first or after ms. */
    until(pred, ms = 10000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (keys.some(pred)) done(resolve);
          else if (ended) done(reject, new Error(`${name}: stream ended (${ended}) after ${JSON.stringify(keys)}`));
        };
        const done = (fn, v) => { clearTimeout(timer); waiters.delete(check); fn(v); };
        const timer = setTimeout(() => done(reject, new Error(`${name}: no such event in ${ms} ms; got ${JSON.stringify(keys)}`)), ms);
        waiters.add(check);
        check();
      });
    },
  };
}

/** The sink of a graphql-ws or graphql-sse subscription feeding rec. */
const sinkOf = (rec, key) => ({
  next: (r) => (r.errors ? rec.end(`errors ${JSON.stringify(r.errors)}`) : rec.add(key(Object.values(r.data)[0]))),
  error: (e) => rec.end(`error ${e?.code ?? e?.response?.status ?? e?.message ?? e}`),
  complete: () => rec.end('complete'),
});

/** POSTs records (NDJSON) to /import with token and checks the answer. */
async function push(srv, token, records) {
  const res = await fetch(`${srv.url}/import`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-ndjson' },
    body: records.map((r) => JSON.stringify(r)).join('\n') + '\n',
  });
  const body = await res.text();
  assert.equal(res.status, 200, `POST /import: ${res.status} ${body}`);
}

const wsURL = (srv) => srv.queryURL.replace(/^http/, 'ws');

test('subscriptions by tenant: WebSocket and SSE callers get exactly their tenants\' changes', async (t) => {
  const idp = await startIssuer(t);
  const srv = await startBatchql(t, { flags: idp.flags({ tenantClaim: 'tenants' }) });
  const importer = await idp.clientCredentials({ sub: 'importer' }, 'batchql:import');

  // Every caller subscribes to everything on both transports.
  const recs = [];
  for (const [caller, claim] of Object.entries(CALLERS)) {
    const token = await idp.clientCredentials(claim ? { sub: `svc ${caller}`, tenants: claim } : { sub: `svc ${caller}` });
    const ws = createWsClient({
      url: wsURL(srv), webSocketImpl: WebSocket, retryAttempts: 0, lazy: true,
      connectionParams: { Authorization: `Bearer ${token}` },
    });
    // A client that can set headers on the upgrade (not a browser) may send
    // the token there and an empty connection_init payload.
    const wsHeader = createWsClient({
      url: wsURL(srv), retryAttempts: 0, lazy: true,
      webSocketImpl: class extends WebSocket {
        constructor(url, protocols) { super(url, protocols, { headers: { authorization: `Bearer ${token}` } }); }
      },
    });
    const sse = createSseClient({ url: srv.queryURL, retryAttempts: 0, headers: { authorization: `Bearer ${token}` } });
    t.after(() => { ws.dispose(); wsHeader.dispose(); sse.dispose(); });
    for (const [transport, client] of [['WebSocket', ws], ['WebSocket (upgrade header)', wsHeader], ['SSE', sse]]) {
      for (const [kind, s] of Object.entries(SUBSCRIPTIONS)) {
        const rec = recorder(`${caller} ${transport} ${kind}`);
        client.subscribe({ query: s.query }, sinkOf(rec, s.key));
        recs.push({ rec, claim, s });
      }
    }
  }

  // Neither protocol acknowledges a subscription: write changes every caller
  // sees until each subscription has delivered one (then it is registered).
  let ready = false;
  for (let i = 0; i < 100 && !ready; i++) {
    await push(srv, importer, [batch('warm', null, 100 + i), operation(WARM_OP, i), item(WARM_OP, '1', `warm ${i}`)]);
    ready = await Promise.all(recs.map(({ rec }) => rec.until(() => true, 200))).then(() => true, () => false);
  }
  for (const { rec } of recs) assert.equal(rec.ended, null, `${rec.name} is open`);
  assert.ok(ready, `every subscription delivered a warm-up change: ${recs.filter(({ rec }) => !rec.keys.length).map(({ rec }) => rec.name)}`);

  for (const records of STEPS) await push(srv, importer, records);
  await push(srv, importer, END);

  await Promise.all(recs.map(({ rec, s }) => rec.until((k) => k === s.end)));
  for (const { rec, claim, s } of recs) {
    const got = rec.keys.filter((k) => !s.warm(k));
    assert.deepEqual(got, s.want(claim), rec.name);
  }
  // The matrix the reference filter gives, for the record: A's subscribers
  // never see B's batches, and the reverse.
  const names = (caller) => SUBSCRIPTIONS.batches.want(CALLERS[caller]).map((k) => k.split('/')[0]);
  assert.deepEqual(names('[A]'), ['a-1', 'n-1', 'a-2', 'a-3', 'n-2', 'end']);
  assert.deepEqual(names('[B]'), ['b-1', 'n-1', 'b-2', 'b-3', 'n-2', 'end']);
  assert.deepEqual(names('[A,B]'), ['a-1', 'b-1', 'n-1', 'b-2', 'a-2', 'b-3', 'a-3', 'n-2', 'end']);
  assert.deepEqual(names('[]'), ['n-1', 'n-2', 'end']);
  assert.deepEqual(names('no claim'), ['n-1', 'n-2', 'end']);
});

test('subscriptions refuse bad tokens: WebSocket closes 4403 before the ack, SSE answers 401', async (t) => {
  const idp = await startIssuer(t);
  const srv = await startBatchql(t, { flags: idp.flags({ tenantClaim: 'tenants' }) });
  const now = () => Math.floor(Date.now() / 1000);
  const bad = {
    'no token': () => undefined,
    'expired (exp 2 min ago)': () => idp.token((p) => { p.exp = now() - 120; p.tenants = ['A']; }),
    'wrong aud': () => idp.token((p) => { p.aud = 'another-api'; }),
    'alg none': () => forgeNone(idp.goodClaims({ tenants: ['A', 'B'] })),
    'tenants widened after signing': async () =>
      tamperPayload(await idp.token((p) => { p.tenants = ['A']; }), (p) => { p.tenants = ['A', 'B']; }),
  };
  const query = 'subscription { batchChanged { batchId tenantId } }';

  for (const [name, make] of Object.entries(bad)) {
    const token = await make();
    await t.test(`WebSocket, connection_init: ${name}`, async () => {
      // The protocol as the wire shows it: no connection_ack, close 4403.
      const sock = new WebSocket(wsURL(srv), 'graphql-transport-ws');
      const messages = [];
      sock.on('message', (m) => messages.push(JSON.parse(m)));
      await new Promise((resolve, reject) => { sock.once('open', resolve); sock.once('error', reject); });
      const closed = new Promise((resolve) => sock.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
      sock.send(JSON.stringify({ type: 'connection_init', payload: token ? { Authorization: `Bearer ${token}` } : {} }));
      sock.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query } }));
      const { code, reason } = await closed;
      assert.equal(code, 4403, `close code (reason ${JSON.stringify(reason)})`);
      assert.deepEqual(messages.filter((m) => m.type !== 'ping' && m.type !== 'pong'), [], 'no ack, no data');

      // graphql-ws as an app uses it: the subscription fails, no retry loop.
      const client = createWsClient({
        url: wsURL(srv), webSocketImpl: WebSocket, retryAttempts: 0, lazy: true,
        connectionParams: token ? { Authorization: `Bearer ${token}` } : {},
      });
      t.after(() => client.dispose());
      const rec = recorder(name);
      client.subscribe({ query }, sinkOf(rec, (ev) => ev.batchId));
      await assert.rejects(rec.until(() => true, 5000), /stream ended \(error 4403\)/);
    });

    await t.test(`SSE: ${name}`, async () => {
      const headers = { 'content-type': 'application/json', accept: 'text/event-stream' };
      if (token) headers.authorization = `Bearer ${token}`;
      const res = await fetch(srv.queryURL, { method: 'POST', headers, body: JSON.stringify({ query }) });
      const body = await res.json();
      assert.equal(res.status, 401);
      assert.equal(body.errors[0].extensions.code, 'UNAUTHENTICATED');
      assert.match(res.headers.get('www-authenticate'), /^Bearer error="invalid_token"/);

      const client = createSseClient({ url: srv.queryURL, retryAttempts: 0, headers: token ? { authorization: `Bearer ${token}` } : {} });
      t.after(() => client.dispose());
      const rec = recorder(name);
      client.subscribe({ query }, sinkOf(rec, (ev) => ev.batchId));
      await assert.rejects(rec.until(() => true, 5000), /stream ended \(error 401\)/);
    });
  }

  await t.test('WebSocket upgrade with a bad Authorization header: 401 before the upgrade', async () => {
    const sock = new WebSocket(wsURL(srv), 'graphql-transport-ws', { headers: { authorization: `Bearer ${await bad['wrong aud']()}` } });
    const res = await new Promise((resolve, reject) => {
      sock.once('unexpected-response', (req, res) => resolve(res));
      sock.once('open', () => reject(new Error('upgraded')));
      sock.once('error', reject);
    });
    assert.equal(res.statusCode, 401);
    assert.match(res.headers['www-authenticate'], /^Bearer error="invalid_token"/);
    res.resume();
    sock.terminate();
  });

  await t.test('a good token still subscribes on both transports after the refusals', async () => {
    const token = await idp.clientCredentials({ tenants: ['A'] });
    const importer = await idp.clientCredentials({}, 'batchql:import');
    const ws = createWsClient({ url: wsURL(srv), webSocketImpl: WebSocket, retryAttempts: 0, lazy: true,
      connectionParams: { Authorization: `Bearer ${token}` } });
    const sse = createSseClient({ url: srv.queryURL, retryAttempts: 0, headers: { authorization: `Bearer ${token}` } });
    t.after(() => { ws.dispose(); sse.dispose(); });
    const recs = [recorder('WebSocket'), recorder('SSE')];
    ws.subscribe({ query }, sinkOf(recs[0], (ev) => `${ev.batchId}/${ev.tenantId}`));
    sse.subscribe({ query }, sinkOf(recs[1], (ev) => `${ev.batchId}/${ev.tenantId}`));
    let ok = false;
    for (let i = 0; i < 100 && !ok; i++) {
      await push(srv, importer, [batch('ok', 'A', 100 + i)]);
      ok = await Promise.all(recs.map((r) => r.until(() => true, 200))).then(() => true, () => false);
    }
    for (const r of recs) assert.equal(r.keys[0], 'ok/A', r.name);
  });
});
