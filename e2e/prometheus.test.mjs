// Monitoring end to end: a real Prometheus (the Debian package's binary;
// bash test.sh installs it) scrapes a running batchql every second while a
// client sends a known number of GraphQL requests; Prometheus's HTTP API
// then has to answer batchql_graphql_requests_total and a histogram
// quantile that match what was sent.

import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startBatchql } from './lib/batchql.mjs';
import { startProcess, waitOK } from './lib/process.mjs';

const PROMETHEUS = process.env.PROMETHEUS_BIN || 'prometheus';

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function startPrometheus(t, target) {
  try {
    execFileSync(PROMETHEUS, ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error(`${PROMETHEUS} not found: install the Debian package prometheus (bash test.sh --install-only does) or set PROMETHEUS_BIN`);
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'batchql-prometheus-'));
  const config = path.join(dir, 'prometheus.yml');
  await writeFile(config, [
    'global:',
    '  scrape_interval: 1s',
    '  evaluation_interval: 1s',
    'scrape_configs:',
    '  - job_name: batchql',
    '    static_configs:',
    `      - targets: ['${target}']`,
    '',
  ].join('\n'));
  const port = await freePort();
  const p = startProcess(PROMETHEUS, [
    `--config.file=${config}`, `--storage.tsdb.path=${path.join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn',
  ]);
  t.after(async () => {
    await p.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const url = `http://127.0.0.1:${port}`;
  await waitOK(p, `${url}/-/ready`, 30000);
  return { url, logs: p.logs };
}

/** Runs a PromQL instant query; returns the vector's samples. */
async function promQuery(prom, expr) {
  const res = await fetch(`${prom.url}/api/v1/query?${new URLSearchParams({ query: expr })}`);
  const body = await res.json();
  assert.equal(body.status, 'success', `${expr}: ${JSON.stringify(body)}`);
  return body.data.result.map((r) => ({ labels: r.metric, value: Number(r.value[1]) }));
}

/** Polls expr until check(samples) holds (scrapes are every second). */
async function eventually(prom, expr, check, what) {
  let last;
  for (let i = 0; i < 60; i++) {
    last = await promQuery(prom, expr);
    if (check(last)) return last;
    await sleep(500);
  }
  assert.fail(`${what}: ${expr} gave ${JSON.stringify(last)}`);
}

test('Prometheus scrapes batchql and sees the requests sent', async (t) => {
  const srv = await startBatchql(t, {
    demo: ['--batches', '12', '--operations', '4', '--items-per-operation', '3'],
    flags: ['--metrics-addr', '127.0.0.1:0'],
  });
  const m = /msg="metrics listening" addr=(\S+)/.exec(srv.logs());
  assert.ok(m, `no "metrics listening" line:\n${srv.logs()}`);
  const metricsAddr = m[1];
  assert.equal((await fetch(`${srv.url}/metrics`)).status, 404, '/metrics is on --metrics-addr only');

  const prom = await startPrometheus(t, metricsAddr);
  await eventually(prom, 'up{job="batchql"}', (s) => s.length === 1 && s[0].value === 1, 'batchql is scraped');

  const post = (body) => fetch(srv.queryURL, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  const OK = 25;
  const FAILED = 5;
  let slowest = 0;
  for (let i = 0; i < OK; i++) {
    const start = performance.now();
    const res = await post({ query: 'query Ops($n: Int) { batchOperations(first: $n) { totalCount nodes { id } } }', variables: { n: 2 } });
    const body = await res.json();
    slowest = Math.max(slowest, (performance.now() - start) / 1000);
    assert.equal(body.data.batchOperations.totalCount, 4, JSON.stringify(body));
  }
  for (let i = 0; i < FAILED; i++) {
    const body = await (await post({ query: 'query Broken {' })).json();
    assert.equal(body.errors[0].extensions.code, 'GRAPHQL_PARSE_FAILED');
  }

  await eventually(prom, 'batchql_graphql_requests_total{operation_type="query",operation_name="Ops",code="OK"}',
    (s) => s.length === 1 && s[0].value === OK, `${OK} OK requests`);
  await eventually(prom, 'sum(batchql_graphql_requests_total{code="GRAPHQL_PARSE_FAILED"})',
    (s) => s.length === 1 && s[0].value === FAILED, `${FAILED} parse failures`);
  const [count] = await promQuery(prom, 'batchql_graphql_request_duration_seconds_count{operation_type="query"}');
  assert.equal(count.value, OK, 'the histogram counted every query');

  // The median by the histogram lies within the buckets: above zero and at
  // most the bucket bound above the slowest request the client timed (which
  // includes the network, so it is no faster than the server's own time).
  const [p50] = await promQuery(prom,
    'histogram_quantile(0.5, sum by (le) (batchql_graphql_request_duration_seconds_bucket{operation_type="query"}))');
  const bounds = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
  const bound = bounds.find((b) => b >= slowest) ?? Infinity;
  assert.ok(p50.value > 0 && p50.value <= bound, `p50 ${p50.value}s, slowest client time ${slowest}s (bucket ${bound})`);
  const records = await promQuery(prom, 'batchql_records');
  const byKind = Object.fromEntries(records.map((r) => [r.labels.kind, r.value]));
  assert.equal(byKind.batch, 12);
  assert.equal(byKind.batch_operation, 4);
  const [size] = await promQuery(prom, 'batchql_db_size_bytes');
  assert.ok(size.value > 0);
  const [gor] = await promQuery(prom, 'go_goroutines{job="batchql"}');
  assert.ok(gor.value > 0, 'the Go runtime collector');
});
