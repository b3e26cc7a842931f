// The GraphiQL playground in a real browser: batchql serves / with GraphiQL,
// React and ReactDOM from e2e/node_modules (--playground-assets); headless
// Chromium types a query into the editor, runs it and must see the result.
// Needs Chromium at /usr/bin/chromium (apt-get install -y chromium) or at
// $CHROMIUM_PATH.

import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startBatchql, fixture, gql } from './lib/batchql.mjs';

const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const nodeModules = path.join(path.dirname(fileURLToPath(import.meta.url)), 'node_modules');
const QUERY = '{ batchOperations(first: 3) { totalCount nodes { batchOperationKey } } }';

test('GraphiQL playground runs a query in Chromium', { timeout: 120_000 }, async (t) => {
  assert.ok(existsSync(executablePath),
    `no Chromium at ${executablePath}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  const srv = await startBatchql(t, {
    imports: [fixture('c8_operations_search.json'), fixture('c8_operation.json'), fixture('c8_legacy_operation.json')],
    flags: ['--playground-assets', nodeModules],
  });
  const want = await gql(srv, QUERY);
  assert.equal(want.errors, undefined);
  const keys = want.data.batchOperations.nodes.map((n) => n.batchOperationKey);
  assert.equal(keys.length, 3);

  const browser = await chromium.launch({
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
      '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
  t.after(() => browser.close());
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
  const typed = await page.evaluate(() =>
    document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.getValue());
  assert.equal(typed.replace(/\s+/g, ' ').trim(), QUERY, 'the editor holds the typed query');

  await page.locator('button.graphiql-execute-button').click();
  await page.waitForFunction((key) => {
    const cm = document.querySelector('.result-window .CodeMirror');
    return cm && cm.CodeMirror.getValue().includes(key);
  }, keys[2], { timeout: 30_000 });
  const result = JSON.parse(await page.evaluate(() =>
    document.querySelector('.result-window .CodeMirror').CodeMirror.getValue()));

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
