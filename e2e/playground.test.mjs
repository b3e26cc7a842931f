// The GraphiQL playground in a real browser (headless Chromium; needs it at
// /usr/bin/chromium (apt-get install -y chromium) or at $CHROMIUM_PATH):
//  - by default batchql serves GraphiQL, React and ReactDOM from the binary:
//    with every request off the loopback blocked, the page opens on its
//    default query and variables, which return data on the demo data set;
//  - with --playground-assets e2e/node_modules, a query typed into the
//    editor runs and its result shows.

import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBatchql, fixture, gql } from './lib/batchql.mjs';
import { launchChromium, editorValue, runEditedQuery } from './lib/chromium.mjs';

const nodeModules = path.join(path.dirname(fileURLToPath(import.meta.url)), 'node_modules');
const QUERY = '{ batchOperations(first: 3) { totalCount nodes { batchOperationKey } } }';

test('the playground works offline and its default query returns demo data', { timeout: 120_000 }, async (t) => {
  const srv = await startBatchql(t, { demo: true });
  const browser = await launchChromium(t);
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const requests = [];
  const blocked = [];
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  // Only batchql (and data: URLs) may answer: anything else is aborted, as
  // on a machine without internet access.
  await page.route('**/*', (route) => {
    const u = route.request().url();
    requests.push(u);
    if (u.startsWith(`${srv.url}/`) || u.startsWith('data:')) return route.continue();
    blocked.push(u);
    return route.abort();
  });

  const resp = await page.goto(`${srv.url}/`, { waitUntil: 'load' });
  assert.equal(resp.status(), 200);
  const editor = '.graphiql-query-editor .CodeMirror';
  await page.locator(editor).waitFor({ state: 'visible', timeout: 30_000 });

  const query = await editorValue(page, editor);
  assert.match(query, /^query Trouble\(/m, 'the editor opens on the default query');
  const variables = await page.evaluate(() =>
    document.querySelectorAll('.graphiql-editor-tool .CodeMirror')[0].CodeMirror.getValue());
  const vars = JSON.parse(variables);
  assert.deepEqual(vars, { states: ['FAILED', 'PARTIALLY_COMPLETED'], first: 5 }, 'the variables editor holds the example');

  const want = await gql(srv, query, vars);
  assert.equal(want.errors, undefined);
  assert.equal(want.data.batchOperations.nodes.length, 5, 'the default query finds demo data');
  assert.ok(want.data.batches.nodes.length > 0);

  await page.locator('button.graphiql-execute-button').click();
  const key = want.data.batchOperations.nodes[4].batchOperationKey;
  await page.waitForFunction((k) => {
    const cm = document.querySelector('.result-window .CodeMirror');
    return cm && cm.CodeMirror.getValue().includes(k);
  }, key, { timeout: 30_000 });
  const result = JSON.parse(await editorValue(page, '.result-window .CodeMirror'));
  assert.deepEqual(result, { data: want.data }, 'the result pane shows the default query\'s data');

  const shotDir = await mkdtemp(path.join(tmpdir(), 'batchql-playground-'));
  const shot = path.join(shotDir, 'playground-default.png');
  await page.screenshot({ path: shot });
  console.log(`screenshot: ${shot}`);

  assert.deepEqual(blocked, [], 'the page asks for nothing beyond the loopback');
  for (const f of ['graphiql/graphiql.min.js', 'graphiql/graphiql.min.css', 'react/umd/react.production.min.js', 'react-dom/umd/react-dom.production.min.js']) {
    assert.ok(requests.includes(`${srv.url}/playground/${f}`), `${f} is served by batchql`);
  }
  assert.ok(requests.includes(`${srv.url}/query`), 'the query goes to batchql');
  assert.deepEqual(pageErrors, [], 'no uncaught errors in the page');
});

test('GraphiQL playground runs a query in Chromium', { timeout: 120_000 }, async (t) => {
  const srv = await startBatchql(t, {
    imports: [fixture('c8_operations_search.json'), fixture('c8_operation.json'), fixture('c8_legacy_operation.json')],
    flags: ['--playground-assets', nodeModules],
  });
  const want = await gql(srv, QUERY);
  assert.equal(want.errors, undefined);
  const keys = want.data.batchOperations.nodes.map((n) => n.batchOperationKey);
  assert.equal(keys.length, 3);

  const browser = await launchChromium(t);
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const requests = [];
  const pageErrors = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('pageerror', (e) => pageErrors.push(e.message));

  const resp = await page.goto(`${srv.url}/`, { waitUntil: 'load' });
  assert.equal(resp.status(), 200);
  // GraphiQL is up when its query editor is.
  const editor = page.locator('.graphiql-query-editor .CodeMirror');
  await editor.waitFor({ state: 'visible', timeout: 30_000 });

  // Replace the default query by typing (CodeMirror steps over the
  // brackets it closed itself).
  await editor.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  await page.keyboard.type(QUERY, { delay: 5 });
  await page.keyboard.press('Escape'); // close a completion list, if any
  const typed = await editorValue(page, '.graphiql-query-editor .CodeMirror');
  assert.equal(typed.replace(/\s+/g, ' ').trim(), QUERY, 'the editor holds the typed query');
  await runEditedQuery(page);
  await page.waitForFunction((key) => {
    const cm = document.querySelector('.result-window .CodeMirror');
    return cm && cm.CodeMirror.getValue().includes(key);
  }, keys[2], { timeout: 30_000 });
  const result = JSON.parse(await editorValue(page, '.result-window .CodeMirror'));

  // Show the start of the one-line query in the screenshot.
  await page.evaluate(() => document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.scrollTo(0, 0));
  const shotDir = await mkdtemp(path.join(tmpdir(), 'batchql-playground-'));
  const shot = path.join(shotDir, 'playground.png');
  await page.screenshot({ path: shot });
  console.log(`screenshot: ${shot}`);

  assert.deepEqual(result, { data: want.data }, 'the result pane shows the query result');
  assert.ok(await page.locator('.result-window').innerText().then((s) => s.includes(keys[0])),
    'the result is rendered in the result pane');
  const foreign = requests.filter((u) => !u.startsWith(`${srv.url}/`) && !u.startsWith('data:'));
  assert.deepEqual(foreign, [], 'the page loads nothing from outside batchql');
  assert.ok(requests.includes(`${srv.url}/playground/graphiql/graphiql.min.js`));
  assert.deepEqual(pageErrors, [], 'no uncaught errors in the page');
});
