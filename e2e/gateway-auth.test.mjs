// Federation behind OIDC (contracts §7, §11): an Apollo Gateway forwards the
// caller's Authorization header to batchql (RemoteGraphQLDataSource's
// willSendRequest, the snippet the README shows), so a query through the
// gateway sees only the caller's tenants. Composition itself fetches
// _service { sdl } with a service token of its own (introspectionHeaders).

import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { ApolloGateway, IntrospectAndCompose, RemoteGraphQLDataSource } from '@apollo/gateway';
import { startBatchql, e2eFixture } from './lib/batchql.mjs';
import { startIssuer } from './lib/oidc.mjs';

const tenantBatches = e2eFixture('tenant-batches.json');
const allBatches = JSON.parse(readFileSync(tenantBatches, 'utf8'));

test('the gateway forwards the caller\'s token: tenant A sees only A\'s batches', async (t) => {
  const idp = await startIssuer(t);
  const batchql = await startBatchql(t, {
    imports: [tenantBatches, e2eFixture('federation-operations.json')],
    flags: idp.flags({ tenantClaim: 'tenants', readScope: 'batchql:read' }),
  });
  const serviceToken = await idp.clientCredentials({ sub: 'gateway' }, 'batchql:read');
  const sent = []; // Authorization headers the gateway sent to batchql

  const gateway = new ApolloServer({
    gateway: new ApolloGateway({
      supergraphSdl: new IntrospectAndCompose({
        subgraphs: [{ name: 'batchql', url: batchql.queryURL }],
        introspectionHeaders: { authorization: `Bearer ${serviceToken}` },
      }),
      buildService: ({ url }) => new RemoteGraphQLDataSource({
        url,
        willSendRequest({ request, context }) {
          if (context.authorization) request.http.headers.set('authorization', context.authorization);
          sent.push(request.http.headers.get('authorization'));
        },
      }),
    }),
  });
  const { url } = await startStandaloneServer(gateway, {
    listen: { host: '127.0.0.1', port: 0 },
    context: async ({ req }) => ({ authorization: req.headers.authorization }),
  });
  t.after(() => gateway.stop());

  const viaGateway = async (token) => {
    const headers = { 'content-type': 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await fetch(url, {
      method: 'POST', headers,
      body: JSON.stringify({ query: '{ batches(first: 100) { totalCount nodes { batchId tenantId } } batchOperations { totalCount } }' }),
    });
    return res.json();
  };

  for (const tenants of [['A'], ['B'], ['A', 'B']]) {
    await t.test(`tenants [${tenants}]`, async () => {
      const token = await idp.clientCredentials({ sub: `user-${tenants.join('')}`, tenants }, 'batchql:read');
      sent.length = 0;
      const body = await viaGateway(token);
      assert.equal(body.errors, undefined, JSON.stringify(body.errors));
      const want = allBatches.filter((b) => b.tenantId === null || tenants.includes(b.tenantId)).map((b) => b.id).sort();
      assert.deepEqual(body.data.batches.nodes.map((n) => n.batchId), want);
      assert.equal(body.data.batches.totalCount, want.length);
      assert.ok(body.data.batchOperations.totalCount > 0);
      assert.deepEqual(sent, [`Bearer ${token}`], 'the caller\'s token, not the service token, reached batchql');
    });
  }

  await t.test('without a token the gateway passes batchql\'s UNAUTHENTICATED on', async () => {
    const body = await viaGateway(undefined);
    assert.equal(body.data?.batches ?? null, null);
    assert.ok(body.errors?.length > 0);
    assert.match(JSON.stringify(body.errors), /UNAUTHENTICATED|401/);
  });
});
