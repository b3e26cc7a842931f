// Shared helper for tests against the engine fakes (enginefake/): builds and
// starts `enginefake` on a free port, and checks Camunda 8 traffic against
// the official SDK's zod schemas (@camunda8/orchestration-cluster-api,
// pinned in package.json).
//
//   import { startEnginefake, camunda8Schemas, checkCamunda8Requests } from './lib/enginefake.mjs';
//
//   test('...', async (t) => {
//     const fake = await startEnginefake(t, { flags: ['--seed=false'] });
//     ... drive the code under test against fake.camunda8URL / fake.camunda7URL ...
//     const { failures } = await checkCamunda8Requests(fake.url, await camunda8Schemas());
//     assert.deepEqual(failures, []);
//   });
//
// Set ENGINEFAKE_BIN to use a binary that is already built.

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { goBinary, repoRoot, startProcess } from './process.mjs';

/** The SDK version whose schemas the fakes are checked against. */
export const SDK_VERSION = '9.1.5';

/** Returns the enginefake binary: $ENGINEFAKE_BIN, else built once per process. */
export function buildEnginefake() {
  return goBinary('ENGINEFAKE_BIN', 'enginefake', './enginefake/cmd/enginefake');
}

/**
 * Starts enginefake with flags; stopped in t.after.
 * @returns {Promise<{url: string, camunda8URL: string, camunda7URL: string,
 *   control: (method: string, path: string, body?: any) => Promise<any>,
 *   stop: () => Promise<void>}>} url is the base (http://127.0.0.1:PORT);
 *   camunda8URL ends in /v2, camunda7URL in /engine-rest.
 */
export async function startEnginefake(t, { flags = [] } = {}) {
  const p = startProcess(await buildEnginefake(), flags);
  if (t) t.after(p.stop);
  // It prints its URL as the first line of its standard output.
  const url = await p.waitFor('printing its URL', () => {
    const nl = p.stdout().indexOf('\n');
    return nl >= 0 && p.stdout().slice(0, nl).trim();
  });
  const control = async (method, route, body) => {
    const res = await fetch(url + route, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  return { url, camunda8URL: `${url}/v2`, camunda7URL: `${url}/engine-rest`, control, stop: p.stop };
}

let schemas;

/**
 * Loads the zod schemas of @camunda8/orchestration-cluster-api from its
 * dist/zod.gen-*.js (not exported by the package, so loaded by path).
 */
export function camunda8Schemas() {
  schemas ??= (async () => {
    const dir = path.join(repoRoot, 'e2e', 'node_modules', '@camunda8', 'orchestration-cluster-api');
    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
    if (pkg.version !== SDK_VERSION) {
      throw new Error(`@camunda8/orchestration-cluster-api is ${pkg.version}, want ${SDK_VERSION}: run npm ci in e2e/`);
    }
    const gen = readdirSync(path.join(dir, 'dist')).filter((f) => /^zod\.gen-.*\.js$/.test(f));
    if (gen.length !== 1) throw new Error(`want one dist/zod.gen-*.js, found ${JSON.stringify(gen)}`);
    const m = await import(pathToFileURL(path.join(dir, 'dist', gen[0])).href);
    const want = ['zBatchOperationSearchQuery', 'zBatchOperationItemSearchQuery', 'zBatchOperationSearchQueryResult',
      'zBatchOperationItemSearchQueryResult', 'zBatchOperationResponse', 'zProblemDetail'];
    for (const name of want) {
      if (!m[name]) throw new Error(`${gen[0]} has no ${name}`);
    }
    return m;
  })();
  return schemas;
}

/** The request and 200-response schemas of a Camunda 8 path, if it has them. */
export function schemasFor(z, method, p) {
  if (method === 'POST' && /\/v2\/batch-operations\/search$/.test(p)) {
    return { request: z.zBatchOperationSearchQuery, response: z.zBatchOperationSearchQueryResult };
  }
  if (method === 'POST' && /\/v2\/batch-operation-items\/search$/.test(p)) {
    return { request: z.zBatchOperationItemSearchQuery, response: z.zBatchOperationItemSearchQueryResult };
  }
  if (method === 'GET' && /\/v2\/batch-operations\/[^/]+$/.test(p)) {
    return { request: null, response: z.zBatchOperationResponse };
  }
  return null;
}

/** A search body as the SDK would send it: absent means {}. */
export function parseBody(body) {
  return body === '' ? {} : JSON.parse(body);
}

/** zod issues as one line each. */
export function issues(result) {
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
}

/**
 * Reads the Camunda 8 requests the fake received (GET /__fake/requests) and
 * checks every search body against the SDK's request schema. A request the
 * fake answered 200 must be valid; a request the schema rejects must have
 * been answered 400 (the fake is at least as strict as the schema).
 * @returns {Promise<{checked: number, invalid: object[], failures: string[]}>}
 *   invalid: the requests the schema rejects, with their issues.
 */
export async function checkCamunda8Requests(url, z) {
  const res = await fetch(`${url}/__fake/requests?engine=camunda8`);
  if (!res.ok) throw new Error(`GET /__fake/requests: ${res.status}`);
  const log = await res.json();
  let checked = 0;
  const invalid = [];
  const failures = [];
  for (const r of log) {
    const s = schemasFor(z, r.method, r.path);
    if (!s?.request) continue;
    checked++;
    let body;
    try {
      body = parseBody(r.body);
    } catch {
      body = Symbol('not JSON');
    }
    const result = s.request.safeParse(body);
    if (!result.success) invalid.push({ seq: r.seq, path: r.path, body: r.body, status: r.status, issues: issues(result) });
    if (r.status === 200 && !result.success) {
      failures.push(`#${r.seq} ${r.path} ${r.body}: answered 200 but the schema rejects it: ${issues(result).join('; ')}`);
    }
    if (!result.success && r.status !== 400) {
      failures.push(`#${r.seq} ${r.path} ${r.body}: the schema rejects it but the fake answered ${r.status}`);
    }
  }
  return { checked, invalid, failures };
}
