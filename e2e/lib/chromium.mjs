// Headless Chromium for the browser tests (playground, CORS, subscriptions
// in GraphiQL): /usr/bin/chromium (the Debian package bash test.sh
// installs) or $CHROMIUM_PATH, driven by playwright-core.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';

const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

// Quiet and offline: nothing but the test's own requests leave the browser.
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
  '--no-first-run', '--disable-component-update', '--disable-sync'];

/** Launches Chromium, closed in t.after; fails when it is not installed. */
export async function launchChromium(t) {
  assert.ok(existsSync(executablePath),
    `no Chromium at ${executablePath}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  const browser = await chromium.launch({ executablePath, args: ARGS });
  t.after(() => browser.close());
  return browser;
}

/** The text of the CodeMirror editor at selector. */
export function editorValue(page, selector) {
  return page.evaluate((sel) => document.querySelector(sel).CodeMirror.getValue(), selector);
}

/**
 * Clicks GraphiQL's run button after an edit of the query editor. GraphiQL
 * takes the operation name from the editor after a debounce: run at once and
 * it may still send the default query's name ("operation Trouble not found",
 * seen in CI); a second is plenty.
 */
export async function runEditedQuery(page) {
  await new Promise((r) => setTimeout(r, 1000));
  await page.locator('button.graphiql-execute-button').click();
}
