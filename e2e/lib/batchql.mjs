// Shared helper of the end-to-end tests: builds the batchql binary, fills a
// fresh bbolt file with `batchql import` / `batchql demo`, starts
// `batchql serve` on a free port and stops it when the test ends.
//
//   import { startBatchql, fixture } from './lib/batchql.mjs';
//
//   test('...', async (t) => {
//     const srv = await startBatchql(t, { imports: [fixture('c8_operation.json')] });
//     const res = await fetch(srv.queryURL, { method: 'POST', ... });
//   });
//
// Set BATCHQL_BIN to use a binary that is already built (test.sh does).

import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { goBinary, repoRoot, startProcess, waitOK } from './process.mjs';

const execFileP = promisify(execFile);

export { repoRoot };

/** The path of a file under importer/testdata/import (the engines' formats). */
export function fixture(name) {
  return path.join(repoRoot, 'importer', 'testdata', 'import', name);
}

/** The path of a file under e2e/fixtures (tenants, federation records). */
export function e2eFixture(name) {
  return path.join(repoRoot, 'e2e', 'fixtures', name);
}

/**
 * Returns the path of the batchql binary: $BATCHQL_BIN when set, else one
 * built once per process with `go build` into a temporary directory.
 */
export function buildBatchql() {
  return goBinary('BATCHQL_BIN', 'batchql', '.');
}

/** Environment for child processes: ours without BATCHQL_* (flags rule). */
function childEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('BATCHQL_')) env[k] = v;
  }
  return { ...env, ...extra };
}

/**
 * Runs the batchql binary with args to completion and returns its
 * {stdout, stderr}; rejects with both when it exits non-zero.
 */
export async function runBatchql(args, { env } = {}) {
  const bin = await buildBatchql();
  try {
    return await execFileP(bin, args, { env: childEnv(env), maxBuffer: 64 << 20 });
  } catch (err) {
    throw new Error(`batchql ${args.join(' ')} failed (exit ${err.code}):\n${err.stdout ?? ''}${err.stderr ?? ''}`);
  }
}

/**
 * Starts a batchql server on its own fresh database.
 *
 * @param {import('node:test').TestContext | undefined} t  the server is
 *   stopped (and its directory removed) in t.after; without t call stop().
 * @param {object} [opts]
 * @param {Array<string | {name: string, content: string}>} [opts.imports]
 *   files to import first, in order: paths, or files written into the temp
 *   directory (content as given).
 * @param {boolean | string[]} [opts.demo]  run `batchql demo` first (true:
 *   the default data set; an array: its flags, e.g. ['--operations', '3']).
 * @param {string[]} [opts.flags]  extra `batchql serve` flags.
 * @param {Record<string,string>} [opts.env]  extra environment variables.
 * @returns {Promise<{url: string, queryURL: string, dir: string, db: string,
 *   logs: () => string, stop: () => Promise<void>}>} url is the base URL
 *   (http://127.0.0.1:PORT, no trailing slash); queryURL is url + '/query'.
 */
export async function startBatchql(t, opts = {}) {
  const { imports = [], demo = false, flags = [], env = {} } = opts;
  const bin = await buildBatchql();
  const dir = await mkdtemp(path.join(tmpdir(), 'batchql-e2e-'));
  const db = path.join(dir, 'batchql.db');
  let stopped = false;
  let p;

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await p?.stop();
    await rm(dir, { recursive: true, force: true });
  };
  if (t) t.after(stop);

  try {
    if (imports.length > 0) {
      const files = [];
      for (const f of imports) {
        if (typeof f === 'string') {
          files.push(f);
        } else {
          const file = path.join(dir, f.name);
          await writeFile(file, f.content);
          files.push(file);
        }
      }
      await runBatchql(['import', '--db', db, '--progress', 'never', ...files], { env });
    }
    if (demo) {
      await runBatchql(['demo', '--db', db, '--progress', 'never', ...(Array.isArray(demo) ? demo : [])], { env });
    }

    p = startProcess(bin, ['serve', '--addr', '127.0.0.1:0', '--db', db, ...flags], { env: childEnv(env) });
    const addr = await p.waitFor('logging its address', () => listeningAddr(p.logs()));
    const url = `http://${addr}`;
    await waitOK(p, `${url}/healthz`);
    return { url, queryURL: `${url}/query`, dir, db, logs: p.logs, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The address of a "listening" log line, text or JSON format. */
function listeningAddr(out) {
  for (const line of out.split('\n')) {
    if (line.startsWith('{')) {
      try {
        const rec = JSON.parse(line);
        if (rec.msg === 'listening' && rec.addr) return rec.addr;
      } catch { /* not a whole line yet */ }
      continue;
    }
    const m = /\bmsg=listening\b.*?\baddr=(\S+)/.exec(line);
    if (m) return m[1].replace(/^"|"$/g, '');
  }
  return null;
}

/**
 * POSTs a GraphQL request to srv.queryURL and returns the parsed JSON body
 * (with the status as `status`).
 */
export async function gql(srv, query, variables, headers = {}) {
  const res = await fetch(srv.queryURL, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  return { status: res.status, ...body };
}
