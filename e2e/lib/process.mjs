// Child processes of the end-to-end tests: Go binaries built once per test
// process, and servers started, waited for and stopped (SIGTERM, then
// SIGKILL after 5 s; any still running when Node exits are killed).
//
//   const bin = await goBinary('ENGINEFAKE_BIN', 'enginefake', './enginefake/cmd/enginefake');
//   const p = startProcess(bin, ['--seed=false']);
//   t.after(p.stop);
//   const url = await p.waitFor('its URL', () => /^(\S+)\n/.exec(p.stdout())?.[1]);

import { spawn, execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { access, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

/** The repository root (the Go module). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const built = new Map(); // name → Promise<string>

/**
 * Returns the path of a Go binary: $envVar when set, else `go build -o
 * TMP/name pkg` in the repository, once per test process.
 */
export function goBinary(envVar, name, pkg) {
  if (!built.has(name)) {
    built.set(name, (async () => {
      if (process.env[envVar]) {
        const bin = path.resolve(process.env[envVar]);
        await access(bin);
        return bin;
      }
      const dir = await mkdtemp(path.join(tmpdir(), `${name}-bin-`));
      process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
      const bin = path.join(dir, name);
      try {
        await execFileP('go', ['build', '-o', bin, pkg], { cwd: repoRoot, maxBuffer: 16 << 20 });
      } catch (err) {
        throw new Error(`go build ${name} failed:\n${err.stderr || err.message}`);
      }
      return bin;
    })());
  }
  return built.get(name);
}

const live = new Set(); // processes still running
process.on('exit', () => {
  for (const p of live) {
    try { p.kill('SIGKILL'); } catch { /* already gone */ }
  }
});

/**
 * Starts bin with args, its standard output and error collected.
 * @returns {{proc: import('node:child_process').ChildProcess,
 *   stdout: () => string, logs: () => string, exited: () => boolean,
 *   waitFor: (what: string, find: () => any, ms?: number) => Promise<any>,
 *   stop: () => Promise<void>}} logs is stdout and stderr interleaved.
 */
export function startProcess(bin, args, { env } = {}) {
  const name = path.basename(bin);
  const proc = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  let stdout = '';
  let all = '';
  proc.stdout.setEncoding('utf8').on('data', (s) => { stdout += s; all += s; });
  proc.stderr.setEncoding('utf8').on('data', (s) => { all += s; });
  const exited = () => proc.exitCode !== null || proc.signalCode !== null;

  /**
   * Resolves with find()'s first truthy answer, checked as output arrives;
   * rejects when the process exits first or after ms.
   */
  const waitFor = (what, find, ms = 30000) => new Promise((resolve, reject) => {
    const done = (fn, v) => {
      clearTimeout(timer);
      proc.stdout.off('data', check);
      proc.stderr.off('data', check);
      proc.off('exit', onExit);
      fn(v);
    };
    const check = () => {
      const v = find();
      if (v) done(resolve, v);
    };
    const onExit = (code, sig) => done(reject, new Error(`${name} exited (${code ?? sig}) before ${what}:\n${all}`));
    const timer = setTimeout(() => done(reject, new Error(`${name}: no ${what} in ${ms / 1000}s:\n${all}`)), ms);
    proc.stdout.on('data', check);
    proc.stderr.on('data', check);
    proc.once('exit', onExit);
    if (exited()) onExit(proc.exitCode, proc.signalCode);
    else check();
  });

  const stop = async () => {
    if (!exited()) {
      const gone = new Promise((resolve) => proc.once('exit', resolve));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(timer);
    }
    live.delete(proc);
  };

  return { proc, stdout: () => stdout, logs: () => all, exited, waitFor, stop };
}

/**
 * Polls url until it answers 2xx (every 50 ms, up to ms); fails at once when
 * the process p exits.
 */
export async function waitOK(p, url, ms = 15000) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    if (p.exited()) throw new Error(`${url}: the process exited (${p.proc.exitCode ?? p.proc.signalCode}):\n${p.logs()}`);
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.ok) return;
      last = `status ${res.status}`;
    } catch (err) {
      last = err.message;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} not OK in ${ms / 1000}s (${last}):\n${p.logs()}`);
}
