// README.md's example queries work as pasted: every ```graphql block of its
// "Example queries" section runs against `batchql serve --demo` with the variables of the ```json block
// right after it (what GraphiQL's variables pane takes) and must return data
// without errors. The examples tell one story: each variable's value comes
// from the answer of an earlier example. The Camunda 7 `withFailures=true`
// mapping of the "From Camunda query parameters" table is one of the examples.
// (The federation section's query needs a gateway and a second subgraph;
// e2e/gateway.test.mjs covers that setup.)

import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'graphql';
import { startBatchql, gql, repoRoot } from './lib/batchql.mjs';

const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');

/** The text of README's "## Example queries" section, up to the next "## ". */
function exampleSection(markdown) {
  const start = markdown.indexOf('\n## Example queries\n');
  assert.ok(start >= 0, 'README.md has a "## Example queries" section');
  const end = markdown.indexOf('\n## ', start + 1);
  return markdown.slice(start, end < 0 ? undefined : end);
}

/**
 * The README's examples in order: each ```graphql block with its operation
 * name, its variable definitions and the parsed ```json block that follows
 * it with nothing but blank lines in between (undefined when there is none).
 */
function examples(markdown) {
  const blocks = [];
  const fence = /^```(\w*)[ \t]*\n([\s\S]*?)^```[ \t]*$/gm;
  for (let m; (m = fence.exec(markdown));) {
    blocks.push({ lang: m[1], text: m[2], start: m.index, end: m.index + m[0].length });
  }
  const out = [];
  blocks.forEach((b, i) => {
    if (b.lang !== 'graphql') return;
    const doc = parse(b.text);
    const ops = doc.definitions.filter((d) => d.kind === 'OperationDefinition');
    assert.equal(ops.length, 1, `README example at offset ${b.start} has one operation`);
    const op = ops[0];
    const name = op.name?.value ?? `(anonymous at offset ${b.start})`;
    const next = blocks[i + 1];
    let variables;
    if (next && next.lang === 'json' && markdown.slice(b.end, next.start).trim() === '') {
      variables = JSON.parse(next.text);
    }
    const vars = (op.variableDefinitions ?? []).map((v) => ({
      name: v.variable.name.value,
      required: v.type.kind === 'NonNullType' && !v.defaultValue,
    }));
    out.push({ name, query: b.text, variables, vars });
  });
  return out;
}

/** Every string in v (a JSON value), as a Set. */
function strings(v, set = new Set()) {
  if (typeof v === 'string') set.add(v);
  else if (Array.isArray(v)) v.forEach((x) => strings(x, set));
  else if (v && typeof v === 'object') Object.values(v).forEach((x) => strings(x, set));
  return set;
}

/**
 * Where data is empty: a null root field, an empty object, a connection
 * (`nodes`/`edges`) without records or a zero `totalCount`. Returns the
 * paths, e.g. ["batchOperations.nodes"].
 */
function emptySpots(data) {
  const spots = [];
  const walk = (v, p) => {
    if (Array.isArray(v)) {
      v.forEach((x, i) => walk(x, `${p}[${i}]`));
      return;
    }
    if (v === null || typeof v !== 'object') return;
    if (Object.keys(v).length === 0) spots.push(`${p} is {}`);
    for (const [k, x] of Object.entries(v)) {
      const q = p ? `${p}.${k}` : k;
      if ((k === 'nodes' || k === 'edges') && Array.isArray(x) && x.length === 0) spots.push(`${q} is []`);
      if (k === 'totalCount' && x === 0) spots.push(`${q} is 0`);
      walk(x, q);
    }
  };
  if (data === null || typeof data !== 'object') return ['data is missing'];
  for (const [k, v] of Object.entries(data)) {
    if (v === null) spots.push(`${k} is null`);
  }
  walk(data, '');
  return spots;
}

/** Collapses whitespace, also next to braces, for comparing snippets. */
function squash(s) {
  return s.replace(/\s+/g, ' ').replace(/\s*([{}:,])\s*/g, '$1').trim();
}

test('README examples as pasted: variables, data, one story', async (t) => {
  const exs = examples(exampleSection(readme));
  assert.ok(exs.length >= 5, `README has ${exs.length} graphql examples`);

  for (const ex of exs) {
    const missing = ex.vars.filter((v) => v.required && !(ex.variables && v.name in ex.variables));
    assert.deepEqual(missing.map((v) => v.name), [],
      `${ex.name} takes variables: a \`\`\`json block right after it must give them`);
    const unknown = Object.keys(ex.variables ?? {}).filter((k) => !ex.vars.some((v) => v.name === k));
    assert.deepEqual(unknown, [], `${ex.name}'s json block gives variables the query does not declare`);
  }

  const srv = await startBatchql(t, { flags: ['--demo'] });
  const seen = new Set(); // every string of the answers so far
  for (const ex of exs) {
    await t.test(ex.name, async () => {
      for (const [k, v] of Object.entries(ex.variables ?? {})) {
        if (typeof v !== 'string') continue;
        assert.ok(seen.has(v),
          `${ex.name}: variable ${k} = ${JSON.stringify(v)} is not in the answer of an earlier example`);
      }
      const res = await gql(srv, ex.query, ex.variables);
      assert.equal(res.errors, undefined, `${ex.name} answers without errors`);
      assert.equal(res.status, 200);
      assert.deepEqual(emptySpots(res.data), [], `${ex.name} returns data: ${JSON.stringify(res.data)}`);
      strings(res.data, seen);
    });
  }
});

test("README's withFailures mapping is a README example", () => {
  const row = readme.split('\n').find((l) => /^\|\s*`withFailures=true`\s*\|/.test(l));
  assert.ok(row, 'the "From Camunda query parameters" table has a withFailures=true row');
  const cell = row.split('|')[2];
  const spans = [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
  assert.ok(spans.length > 0, `the withFailures row maps to code: ${row}`);
  // Each comma-separated condition (outside braces) must be in one example's filter.
  const conds = spans.flatMap((s) => s.split(/,(?![^{]*\})/)).map(squash).filter(Boolean);
  const match = examples(exampleSection(readme)).filter((ex) => conds.every((c) => squash(ex.query).includes(c)));
  assert.ok(match.length > 0, `an example filters with ${conds.join(' and ')} (the withFailures row)`);
});
