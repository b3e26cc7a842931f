// Apollo Federation (contract §7) with the real thing: batchql (the binary,
// over a database filled by `batchql import` from e2e/fixtures) and a second
// subgraph written here with @apollo/subgraph, which owns ProcessInstance,
// composed by @apollo/gateway's IntrospectAndCompose and queried over HTTP.
// The joins go both ways: batchql → processes (an item's processInstance) and
// processes → batchql (a process instance's batchOperationItems).

import test from 'node:test';
import assert from 'node:assert/strict';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { ApolloGateway, IntrospectAndCompose, RemoteGraphQLDataSource } from '@apollo/gateway';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import { startBatchql, gql, e2eFixture } from './lib/batchql.mjs';


// The process instances the second subgraph owns. 2251799813690999 has no
// batch operation items.
const processInstances = [
  { processInstanceKey: '2251799813690700', bpmnProcessId: 'order-fulfillment', state: 'ACTIVE' },
  { processInstanceKey: '2251799813690746', bpmnProcessId: 'payment-sub', state: 'ACTIVE' },
  { processInstanceKey: '2251799813690801', bpmnProcessId: 'invoice-approval', state: 'TERMINATED' },
  { processInstanceKey: '2251799813690802', bpmnProcessId: 'invoice-approval', state: 'TERMINATED' },
  { processInstanceKey: '2251799813690999', bpmnProcessId: 'shipping', state: 'COMPLETED' },
];

const processesSDL = parse(`
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])

  type ProcessInstance @key(fields: "processInstanceKey") {
    processInstanceKey: ID!
    bpmnProcessId: String
    state: String
  }

  type Query {
    processInstance(processInstanceKey: ID!): ProcessInstance
    processInstances: [ProcessInstance!]!
  }
`);

/** Starts the process-instance subgraph on a free loopback port. */
async function startProcesses() {
  const byKey = new Map(processInstances.map((p) => [p.processInstanceKey, p]));
  const referenced = []; // keys the gateway asked for through _entities
  const server = new ApolloServer({
    schema: buildSubgraphSchema({
      typeDefs: processesSDL,
      resolvers: {
        Query: {
          processInstance: (_, { processInstanceKey }) => byKey.get(processInstanceKey) ?? null,
          processInstances: () => processInstances,
        },
        ProcessInstance: {
          __resolveReference: ({ processInstanceKey }) => {
            referenced.push(processInstanceKey);
            return byKey.get(processInstanceKey) ?? null;
          },
        },
      },
    }),
    plugins: [ApolloServerPluginInlineTraceDisabled()],
  });
  const { url } = await startStandaloneServer(server, { listen: { host: '127.0.0.1', port: 0 } });
  return { url, server, referenced };
}

/** POSTs a query to the gateway and returns the parsed body. */
async function query(url, q, variables) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: q, variables }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body;
}

test('Apollo Gateway composes batchql with a process-instance subgraph', async (t) => {
  // batchql with introspection off: the gateway needs only _service { sdl }.
  const batchql = await startBatchql(t, {
    imports: [e2eFixture('federation-operations.json'), e2eFixture('federation-items.json')],
    flags: ['--introspection=false'],
  });
  const processes = await startProcesses();
  t.after(() => processes.server.stop());

  // The subgraph requests the gateway sends: subgraph name and, for
  // _entities, the number of representations.
  let fetches = [];
  const gateway = new ApolloServer({
    gateway: new ApolloGateway({
      supergraphSdl: new IntrospectAndCompose({
        subgraphs: [
          { name: 'batchql', url: batchql.queryURL },
          { name: 'processes', url: processes.url },
        ],
      }),
      buildService: ({ name, url }) => new RemoteGraphQLDataSource({
        url,
        willSendRequest({ request }) {
          fetches.push({ name, representations: request.variables?.representations?.length });
        },
      }),
    }),
  });
  const { url } = await startStandaloneServer(gateway, { listen: { host: '127.0.0.1', port: 0 } });
  t.after(() => gateway.stop());
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);

  await t.test('_service { sdl } with introspection off', async () => {
    const res = await gql(batchql, '{ _service { sdl } }');
    assert.equal(res.errors, undefined);
    assert.match(res.data._service.sdl, /type ProcessInstance @key\(fields: "processInstanceKey"\)/);
    const intro = await gql(batchql, '{ __schema { queryType { name } } }');
    assert.equal(intro.errors?.[0]?.extensions?.code, 'GRAPHQL_VALIDATION_FAILED');
  });

  await t.test('batchql → processes: items with their process instances', async () => {
    fetches = [];
    const body = await query(url, `{
      batchOperationItems {
        totalCount
        nodes {
          batchOperationKey itemKey state
          processInstance { processInstanceKey bpmnProcessId state }
          rootProcessInstance { bpmnProcessId state }
        }
      }
    }`);
    assert.deepEqual(body, {
      data: {
        batchOperationItems: {
          totalCount: 5,
          nodes: [
            {
              batchOperationKey: '2251799813685249', itemKey: '2251799813690746', state: 'FAILED',
              processInstance: { processInstanceKey: '2251799813690746', bpmnProcessId: 'payment-sub', state: 'ACTIVE' },
              rootProcessInstance: { bpmnProcessId: 'order-fulfillment', state: 'ACTIVE' },
            },
            {
              batchOperationKey: '2251799813685249', itemKey: '2251799813690801', state: 'COMPLETED',
              processInstance: { processInstanceKey: '2251799813690801', bpmnProcessId: 'invoice-approval', state: 'TERMINATED' },
              rootProcessInstance: null,
            },
            {
              batchOperationKey: '2251799813685249', itemKey: '2251799813690802', state: 'COMPLETED',
              processInstance: { processInstanceKey: '2251799813690802', bpmnProcessId: 'invoice-approval', state: 'TERMINATED' },
              rootProcessInstance: { bpmnProcessId: 'order-fulfillment', state: 'ACTIVE' },
            },
            {
              batchOperationKey: '2251799813685301', itemKey: '2251799813690746', state: 'COMPLETED',
              processInstance: { processInstanceKey: '2251799813690746', bpmnProcessId: 'payment-sub', state: 'ACTIVE' },
              rootProcessInstance: { bpmnProcessId: 'order-fulfillment', state: 'ACTIVE' },
            },
            {
              batchOperationKey: '2251799813685420', itemKey: '2251799813692200', state: 'COMPLETED',
              processInstance: null,
              rootProcessInstance: null,
            },
          ],
        },
      },
    });
    // One fetch from batchql, then one _entities call to the processes
    // subgraph per field (processInstance: 4 items, rootProcessInstance: 3),
    // never one per item.
    assert.deepEqual(fetches.slice(0, 1), [{ name: 'batchql', representations: undefined }]);
    assert.deepEqual(fetches.slice(1).sort((a, b) => a.representations - b.representations), [
      { name: 'processes', representations: 3 },
      { name: 'processes', representations: 4 },
    ]);
  });

  await t.test('processes → batchql: a process instance with its batch operation items', async () => {
    const body = await query(url, `query($key: ID!) {
      processInstance(processInstanceKey: $key) {
        processInstanceKey bpmnProcessId state
        batchOperationItems {
          totalCount
          nodes { itemKey state batchOperation { batchOperationType state } }
        }
      }
    }`, { key: '2251799813690746' });
    assert.deepEqual(body, {
      data: {
        processInstance: {
          processInstanceKey: '2251799813690746', bpmnProcessId: 'payment-sub', state: 'ACTIVE',
          batchOperationItems: {
            totalCount: 2,
            nodes: [
              { itemKey: '2251799813690746', state: 'FAILED', batchOperation: { batchOperationType: 'CANCEL_PROCESS_INSTANCE', state: 'PARTIALLY_COMPLETED' } },
              { itemKey: '2251799813690746', state: 'COMPLETED', batchOperation: { batchOperationType: 'MIGRATE_PROCESS_INSTANCE', state: 'COMPLETED' } },
            ],
          },
        },
      },
    });
  });

  await t.test('processes → batchql: every instance, with a filter, in one entity fetch', async () => {
    fetches = [];
    const body = await query(url, `{
      processInstances {
        processInstanceKey
        failed: batchOperationItems(filter: {state: {eq: FAILED}}) { totalCount }
        batchOperationItems(first: 1) { totalCount nodes { itemKey batchOperation { state } } }
      }
    }`);
    const item = (itemKey, state) => ({ itemKey, batchOperation: { state } });
    assert.deepEqual(body, {
      data: {
        processInstances: [
          { processInstanceKey: '2251799813690700', failed: { totalCount: 0 }, batchOperationItems: { totalCount: 0, nodes: [] } },
          { processInstanceKey: '2251799813690746', failed: { totalCount: 1 }, batchOperationItems: { totalCount: 2, nodes: [item('2251799813690746', 'PARTIALLY_COMPLETED')] } },
          { processInstanceKey: '2251799813690801', failed: { totalCount: 0 }, batchOperationItems: { totalCount: 1, nodes: [item('2251799813690801', 'PARTIALLY_COMPLETED')] } },
          { processInstanceKey: '2251799813690802', failed: { totalCount: 0 }, batchOperationItems: { totalCount: 1, nodes: [item('2251799813690802', 'PARTIALLY_COMPLETED')] } },
          { processInstanceKey: '2251799813690999', failed: { totalCount: 0 }, batchOperationItems: { totalCount: 0, nodes: [] } },
        ],
      },
    });
    assert.deepEqual(fetches, [
      { name: 'processes', representations: undefined },
      { name: 'batchql', representations: 5 },
    ]);
  });

  await t.test('a contradicting filter is BAD_USER_INPUT through the gateway', async () => {
    const body = await query(url, `{
      processInstance(processInstanceKey: "2251799813690746") {
        bpmnProcessId
        batchOperationItems(filter: {processInstanceKey: {eq: "1"}}) { totalCount }
      }
    }`);
    assert.equal(body.data.processInstance, null);
    assert.equal(body.errors.length, 1, JSON.stringify(body.errors));
    assert.equal(body.errors[0].extensions.code, 'BAD_USER_INPUT');
    assert.match(body.errors[0].message, /"filter\.processInstanceKey\.eq"/);
  });

  await t.test('batchql _entities by each key, in order, null for unknown', async () => {
    const ids = await gql(batchql, '{ batchOperation(batchOperationKey: "2251799813685301") { id } }');
    const res = await gql(batchql, `query($reps: [_Any!]!) { _entities(representations: $reps) {
      __typename
      ... on BatchOperation { batchOperationKey opState: state }
      ... on BatchOperationItem { batchOperationKey itemKey state }
    } }`, {
      reps: [
        { __typename: 'BatchOperationItem', batchOperationKey: '2251799813685420', itemKey: '2251799813692200' },
        { __typename: 'BatchOperation', id: ids.data.batchOperation.id },
        { __typename: 'BatchOperationItem', batchOperationKey: '2251799813685249', itemKey: '404' },
        { __typename: 'BatchOperation', id: ids.data.batchOperation.id },
        { __typename: 'BatchOperationItem', batchOperationKey: '2251799813685249', itemKey: '2251799813690746' },
      ],
    });
    assert.deepEqual(res, {
      status: 200,
      data: {
        _entities: [
          { __typename: 'BatchOperationItem', batchOperationKey: '2251799813685420', itemKey: '2251799813692200', state: 'COMPLETED' },
          { __typename: 'BatchOperation', batchOperationKey: '2251799813685301', opState: 'COMPLETED' },
          null,
          { __typename: 'BatchOperation', batchOperationKey: '2251799813685301', opState: 'COMPLETED' },
          { __typename: 'BatchOperationItem', batchOperationKey: '2251799813685249', itemKey: '2251799813690746', state: 'FAILED' },
        ],
      },
    });
  });
});
