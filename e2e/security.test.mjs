// Contract §11 end to end: batchql (the binary) behind a real OIDC issuer
// (oauth2-mock-server: discovery, JWKS, client credentials). Good tokens are
// accepted; every kind of bad token gets 401; a key rotation on the issuer is
// picked up without a restart; each caller's lists, counts, cursors, node,
// nodes and _entities hold exactly its tenants' batches (compared with a
// reference filter written here); missing scopes get 403; the rate limit
// answers 429 to one caller only.

import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startBatchql, e2eFixture } from './lib/batchql.mjs';
import {
  startIssuer, forgeNone, forgeHS256, forgeForeignKey, tamperSignature, tamperPayload,
} from './lib/oidc.mjs';

const tenantBatches = e2eFixture('tenant-batches.json');
const allBatches = JSON.parse(readFileSync(tenantBatches, 'utf8'));

/** POSTs a query with an optional bearer token; returns status, headers, body. */
async function call(srv, token, query, variables) {
  const headers = { 'content-type': 'application/json' };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const res = await fetch(srv.queryURL, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

/** The reference filter: the batches a caller of tenants may see. */
const visibleTo = (tenants) => allBatches.filter((b) => b.tenantId === null || tenants.includes(b.tenantId));

test('OIDC: good and bad tokens, rotation', async (t) => {
  const idp = await startIssuer(t);
  const srv = await startBatchql(t, {
    imports: [tenantBatches, e2eFixture('federation-operations.json')],
    flags: idp.flags(),
  });
  const q = '{ batches { totalCount } }';
  const answers = []; // for the closing report: token → status, challenge

  await t.test('a client-credentials token from the issuer is accepted', async () => {
    const tok = await idp.clientCredentials({ tenants: ['A'] });
    const r = await call(srv, tok, q);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.data.batches.totalCount, visibleTo(['A']).length);
    answers.push(['client credentials, tenants [A]', r.status]);
  });

  await t.test('no token: 401 with a Bearer challenge', async () => {
    const r = await call(srv, undefined, q);
    assert.equal(r.status, 401);
    assert.equal(r.body.errors[0].extensions.code, 'UNAUTHENTICATED');
    assert.match(r.headers.get('www-authenticate'), /^Bearer error="invalid_token"/);
    answers.push(['no Authorization header', r.status, r.headers.get('www-authenticate')]);
  });

  const now = () => Math.floor(Date.now() / 1000);
  const bad = {
    'expired (exp 2 min ago, past the 60 s leeway)': () => idp.token((p) => { p.exp = now() - 120; }),
    'not yet valid (nbf in 2 min)': () => idp.token((p) => { p.nbf = now() + 120; }),
    'no exp': () => idp.token((p) => { delete p.exp; }),
    'wrong aud': () => idp.token((p) => { p.aud = 'another-api'; }),
    'aud list without ours': () => idp.token((p) => { p.aud = ['another-api', 'account']; }),
    'wrong iss': () => idp.token((p) => { p.iss = 'http://127.0.0.1:1/realms/evil'; }),
    'bad signature (one byte flipped)': async () => tamperSignature(await idp.token()),
    'payload changed after signing (tenants widened)': async () =>
      tamperPayload(await idp.token((p) => { p.tenants = ['A']; }), (p) => { p.tenants = ['A', 'B']; }),
    'alg none': () => forgeNone(idp.goodClaims({ tenants: ['A', 'B'] })),
    'HS256 signed with the issuer public key': () => forgeHS256(idp.goodClaims(), idp.publicPEM()),
    'RS256 by a foreign key under the issuer kid': () => forgeForeignKey(idp.goodClaims()),
    'not a JWT': () => 'hello',
  };
  for (const [name, make] of Object.entries(bad)) {
    await t.test(`refused: ${name}`, async () => {
      const r = await call(srv, await make(), q);
      assert.equal(r.status, 401, JSON.stringify(r.body));
      assert.equal(r.body.errors[0].extensions.code, 'UNAUTHENTICATED');
      assert.match(r.headers.get('www-authenticate'), /^Bearer error="invalid_token"/);
      assert.equal(r.body.data, undefined);
      answers.push([name, r.status, r.body.errors[0].message]);
    });
  }

  await t.test('key rotation is picked up without a restart; the rotated-away kid is refused', async () => {
    const old = await idp.token((p) => { p.tenants = ['A']; });
    assert.equal((await call(srv, old, q)).status, 200, 'key-1 works before the rotation');
    await idp.rotate('key-2'); // the issuer's JWKS now holds key-2 only
    const fresh = await idp.token((p) => { p.tenants = ['A']; }, 'key-2');
    // batchql refetches the JWKS for an unknown kid, at most every 5 s.
    let r;
    const deadline = Date.now() + 15000;
    do {
      r = await call(srv, fresh, q);
      if (r.status === 200) break;
      await new Promise((res) => setTimeout(res, 500));
    } while (Date.now() < deadline);
    assert.equal(r.status, 200, `a key-2 token is accepted within 15 s: ${JSON.stringify(r.body)}`);
    answers.push(['signed by the new key-2 after rotation', r.status]);
    // A key-1 token, even one accepted (and cached) before, is refused now.
    const again = await call(srv, old, q);
    assert.equal(again.status, 401, JSON.stringify(again.body));
    assert.match(again.headers.get('www-authenticate'), /invalid_token/);
    answers.push(['rotated-away kid key-1 (accepted before the rotation)', again.status, again.body.errors[0].message]);
  });

  t.after(() => {
    console.log('# token answers:');
    for (const a of answers) console.log(`#   ${a.join(' | ')}`);
  });
});

test('tenants: every read sees exactly the caller\'s batches', async (t) => {
  const idp = await startIssuer(t);
  const srv = await startBatchql(t, {
    imports: [tenantBatches, e2eFixture('federation-operations.json')],
    flags: idp.flags({ tenantClaim: 'tenants' }),
  });
  // Every batch's global id, read by a caller who sees them all.
  const all = await call(srv, await idp.token((p) => { p.tenants = ['A', 'B']; }),
    '{ batches(first: 100) { nodes { id batchId } } batchOperations { totalCount } }');
  assert.equal(all.status, 200, JSON.stringify(all.body));
  const idOf = new Map(all.body.data.batches.nodes.map((n) => [n.batchId, n.id]));
  assert.equal(idOf.size, allBatches.length);
  const opsTotal = all.body.data.batchOperations.totalCount;
  assert.ok(opsTotal > 0);

  const callers = { '[A]': ['A'], '[B]': ['B'], '[A,B]': ['A', 'B'], 'no claim': null, '[]': [] };
  for (const [name, tenants] of Object.entries(callers)) {
    await t.test(`caller ${name}`, async () => {
      const tok = await idp.token((p) => { if (tenants) p.tenants = tenants; });
      const visible = visibleTo(tenants ?? []);
      const byId = (a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
      const want = visible.map((b) => b.id).sort();

      // Lists and totalCount, default order.
      let r = await call(srv, tok, `{ batches(first: 100) { totalCount nodes { batchId tenantId } }
        batchOperations { totalCount } }`);
      assert.equal(r.status, 200);
      assert.deepEqual(r.body.data.batches.nodes.map((n) => n.batchId), want);
      assert.equal(r.body.data.batches.totalCount, want.length);
      assert.equal(r.body.data.batchOperations.totalCount, opsTotal, 'Camunda 8 operations are visible to all');

      // Cursors and hasNextPage, forward by START_TIME DESC and backward by TENANT_ID.
      for (const [order, cmp] of [
        ['[{field: START_TIME, direction: DESC}]', (a, b) => (b.startTime < a.startTime ? -1 : b.startTime > a.startTime ? 1 : -byId(a, b))],
        ['[{field: TENANT_ID}]', (a, b) => {
          const ta = a.tenantId ?? '\uffff', tb = b.tenantId ?? '\uffff';
          return ta < tb ? -1 : ta > tb ? 1 : byId(a, b);
        }],
      ]) {
        const ref = [...visible].sort(cmp).map((b) => b.id);
        const got = [];
        let after = null;
        for (let pages = 0; pages < 20; pages++) {
          r = await call(srv, tok, `query($after: String) { batches(first: 2, after: $after, orderBy: ${order}) {
            totalCount nodes { batchId } pageInfo { hasNextPage endCursor } } }`, { after });
          const c = r.body.data.batches;
          assert.equal(c.totalCount, want.length);
          got.push(...c.nodes.map((n) => n.batchId));
          assert.equal(c.pageInfo.hasNextPage, got.length < ref.length, `hasNextPage after ${got.length}`);
          if (!c.pageInfo.hasNextPage) break;
          after = c.pageInfo.endCursor;
        }
        assert.deepEqual(got, ref, `forward by ${order}`);
        const back = [];
        let before = null;
        for (let pages = 0; pages < 20; pages++) {
          r = await call(srv, tok, `query($before: String) { batches(last: 3, before: $before, orderBy: ${order}) {
            nodes { batchId } pageInfo { hasPreviousPage startCursor } } }`, { before });
          const c = r.body.data.batches;
          back.unshift(...c.nodes.map((n) => n.batchId));
          if (!c.pageInfo.hasPreviousPage) break;
          before = c.pageInfo.startCursor;
        }
        assert.deepEqual(back, ref, `backward by ${order}`);
      }

      // A filter on another tenant counts nothing, and no error tells it exists.
      r = await call(srv, tok, '{ batches(filter: {tenantId: {in: ["A", "B"]}}) { totalCount } }');
      assert.equal(r.body.data.batches.totalCount, visible.filter((b) => b.tenantId !== null).length);

      // Single lookups: batch, node, nodes, _entities (by batchId and by id).
      const ids = allBatches.map((b) => idOf.get(b.id));
      r = await call(srv, tok, `query($ids: [ID!]!, $byKey: [_Any!]!, $byId: [_Any!]!, $one: ID!, $oneId: ID!) {
        batch(batchId: $one) { batchId }
        node(id: $oneId) { id }
        nodes(ids: $ids) { id ... on Batch { batchId } }
        byKey: _entities(representations: $byKey) { ... on Batch { batchId tenantId } }
        byId: _entities(representations: $byId) { ... on Batch { batchId } }
      }`, {
        ids,
        byKey: allBatches.map((b) => ({ __typename: 'Batch', batchId: b.id })),
        byId: ids.map((id) => ({ __typename: 'Batch', id })),
        one: allBatches[1].id, // tenant B
        oneId: ids[0], // tenant A
      });
      assert.equal(r.status, 200);
      assert.equal(r.body.errors, undefined, JSON.stringify(r.body.errors));
      const vis = new Set(want);
      const expect = allBatches.map((b) => (vis.has(b.id) ? b.id : null));
      assert.deepEqual(r.body.data.nodes.map((n) => n?.batchId ?? null), expect, 'nodes');
      assert.deepEqual(r.body.data.byKey.map((n) => n?.batchId ?? null), expect, '_entities by batchId');
      assert.deepEqual(r.body.data.byId.map((n) => n?.batchId ?? null), expect, '_entities by id');
      assert.equal(r.body.data.batch?.batchId ?? null, expect[1], 'batch(batchId) of tenant B');
      assert.equal(r.body.data.node?.id ?? null, vis.has(allBatches[0].id) ? ids[0] : null, 'node(id) of tenant A');
    });
  }
});

test('scopes, secure defaults and what stays open', async (t) => {
  const idp = await startIssuer(t);
  const srv = await startBatchql(t, {
    imports: [tenantBatches],
    flags: [...idp.flags({ readScope: 'batchql:read' })],
  });
  await t.test('a valid token without the read scope: 403 FORBIDDEN', async () => {
    const r = await call(srv, await idp.token((p) => { p.scope = 'openid profile'; }), '{ batches { totalCount } }');
    assert.equal(r.status, 403);
    assert.equal(r.body.errors[0].extensions.code, 'FORBIDDEN');
    assert.match(r.headers.get('www-authenticate'), /error="insufficient_scope".*scope="batchql:read"/);
  });
  await t.test('scp as an array grants the scope', async () => {
    const r = await call(srv, await idp.token((p) => { p.scp = ['batchql:read']; }), '{ batches { totalCount } }');
    assert.equal(r.status, 200);
  });
  await t.test('introspection is off with OIDC; _service { sdl } stays for gateways', async () => {
    const tok = await idp.clientCredentials({}, 'batchql:read');
    let r = await call(srv, tok, '{ __schema { queryType { name } } }');
    assert.equal(r.body.errors[0].extensions.code, 'GRAPHQL_VALIDATION_FAILED');
    r = await call(srv, tok, '{ _service { sdl } }');
    assert.match(r.body.data._service.sdl, /type Batch/);
  });
  await t.test('/healthz and the playground page need no token', async () => {
    for (const p of ['/healthz', '/']) {
      const res = await fetch(srv.url + p);
      await res.arrayBuffer();
      assert.equal(res.status, 200, p);
    }
  });
});

test('issuer down at startup: 503 with Retry-After, never 401', async (t) => {
  const srv = await startBatchql(t, { flags: ['--oidc-issuer', 'http://127.0.0.1:9/realms/x', '--oidc-audience', 'a'] });
  const r = await call(srv, 'eyJhbGciOiJSUzI1NiJ9.e30.x', '{ batches { totalCount } }');
  assert.equal(r.status, 503);
  assert.ok(Number(r.headers.get('retry-after')) > 0);
});

test('rate limit: 429 with Retry-After past the limit, other callers unaffected', async (t) => {
  const idp = await startIssuer(t);
  const srv = await startBatchql(t, { imports: [tenantBatches], flags: [...idp.flags(), '--rate-limit', '2'] });
  const busy = await idp.token((p) => { p.sub = 'busy'; });
  const calm = await idp.token((p) => { p.sub = 'calm'; });
  const statuses = [];
  let limited;
  for (let i = 0; i < 10; i++) {
    const r = await call(srv, busy, '{ batches { totalCount } }');
    statuses.push(r.status);
    if (r.status === 429) limited ??= r;
  }
  assert.ok(statuses.slice(0, 4).every((s) => s === 200), `burst of 4 (2N) passes: ${statuses}`);
  assert.ok(limited, `10 requests at once exceed 2/s: ${statuses}`);
  assert.equal(limited.body.errors[0].extensions.code, 'RATE_LIMITED');
  assert.ok(Number(limited.headers.get('retry-after')) >= 1);
  const other = await call(srv, calm, '{ batches { totalCount } }');
  assert.equal(other.status, 200, 'another caller is not limited');
});
