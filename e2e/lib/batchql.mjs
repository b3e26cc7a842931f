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

import { spawn, execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

/** The repository root (the Go module). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The path of a file under importer/testdata/import (the engines' formats). */
export function fixture(name) {
  return path.join(repoRoot, 'importer', 'testdata', 'import', name);
}

const live = new Set(); // server processes still running
process.on('exit', () => {
  for (const p of live) {
    try { p.kill('SIGKILL'); } catch { /* already gone */ }
  }
});

let built; // Promise<string>: the binary, built once per test process

/**
 * Returns the path of the batchql binary: $BATCHQL_BIN when set, else one
 * built once per process with `go build` into a temporary directory.
 */
export function buildBatchql() {
  built ??= (async () => {
    if (process.env.BATCHQL_BIN) {
      const bin = path.resolve(process.env.BATCHQL_BIN);
      await access(bin);
      return bin;
    }
    const dir = await mkdtemp(path.join(tmpdir(), 'batchql-bin-'));
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    const bin = path.join(dir, 'batchql');
    try {
      await execFileP('go', ['build', '-o', bin, '.'], { cwd: repoRoot, maxBuffer: 16 << 20 });
    } catch (err) {
      throw new Error(`go build failed:\n${err.stderr || err.message}`);
    }
    return bin;
  })();
  return built;
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
  let proc;

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((resolve) => proc.once('exit', resolve));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    live.delete(proc);
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
          const p = path.join(dir, f.name);
          await writeFile(p, f.content);
          files.push(p);
        }
      }
      await runBatchql(['import', '--db', db, '--progress', 'never', ...files], { env });
    }
    if (demo) {
      await runBatchql(['demo', '--db', db, '--progress', 'never', ...(Array.isArray(demo) ? demo : [])], { env });
    }

    proc = spawn(bin, ['serve', '--addr', '127.0.0.1:0', '--db', db, ...flags], {
      env: childEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(proc);
    let out = '';
    proc.stdout.setEncoding('utf8').on('data', (s) => { out += s; });
    proc.stderr.setEncoding('utf8').on('data', (s) => { out += s; });
    const logs = () => out;

    const addr = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`batchql serve did not log its address in 30s:\n${out}`)), 30000);
      const check = () => {
        const a = listeningAddr(out);
        if (a) {
          clearTimeout(timer);
          proc.stderr.off('data', check);
          proc.off('exit', onExit);
          resolve(a);
        }
      };
      const onExit = (code, sig) => {
        clearTimeout(timer);
        reject(new Error(`batchql serve exited (${code ?? sig}) before listening:\n${out}`));
      };
      proc.stderr.on('data', check);
      proc.once('exit', onExit);
      check();
    });

    const url = `http://${addr}`;
    await waitHealthy(url, proc, logs);
    return { url, queryURL: `${url}/query`, dir, db, logs, stop };
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

async function waitHealthy(url, proc, logs) {
  const deadline = Date.now() + 15000;
  let last;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`batchql serve exited (${proc.exitCode ?? proc.signalCode}):\n${logs()}`);
    }
    try {
      const res = await fetch(`${url}/healthz`);
      await res.arrayBuffer();
      if (res.ok) return;
      last = `status ${res.status}`;
    } catch (err) {
      last = err.message;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url}/healthz not healthy in 15s (${last}):\n${logs()}`);
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
