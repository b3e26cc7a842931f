// CORS (contract §11) in a real browser (headless Chromium, as in
// playground.test.mjs; /usr/bin/chromium or $CHROMIUM_PATH): a web app
// served on another origin fetches batchql's /query with a bearer token. The
// browser sends a preflight (Authorization is not a simple header); for an
// origin in --cors-origins the query works, a 401 is readable by the app,
// and for an unlisted origin the browser blocks the request.

import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { startBatchql, e2eFixture } from './lib/batchql.mjs';
import { startIssuer } from './lib/oidc.mjs';
import { launchChromium } from './lib/chromium.mjs';

const tenantBatches = e2eFixture('tenant-batches.json');

/** A web app: one HTML page, served on 127.0.0.1 and localhost alike. */
async function startApp(t) {
  const srv = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>app</title><h1>batch dashboard</h1>');
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => srv.close());
  return srv.address().port;
}

/** Runs fetch(/query) inside the page; returns {status, body} or {error}. */
function fetchInPage(page, queryURL, token) {
  return page.evaluate(async ({ queryURL, token }) => {
    try {
      const headers = { 'content-type': 'application/json' };
      if (token) headers.authorization = `Bearer ${token}`;
      const res = await fetch(queryURL, {
        method: 'POST', headers, body: JSON.stringify({ query: '{ batches { totalCount nodes { tenantId } } }' }),
      });
      return { status: res.status, body: await res.json(), challenge: res.headers.get('www-authenticate') };
    } catch (err) {
      return { error: String(err) };
    }
  }, { queryURL, token });
}

test('a web app on a listed origin queries batchql with a bearer token; an unlisted one is blocked', { timeout: 120_000 }, async (t) => {
  const idp = await startIssuer(t);
  const port = await startApp(t);
  const listed = `http://localhost:${port}`;
  const unlisted = `http://127.0.0.1:${port}`;
  const api = await startBatchql(t, {
    imports: [tenantBatches],
    flags: [...idp.flags({ tenantClaim: 'tenants' }), '--cors-origins', `${listed},https://other.example`],
  });
  // batchql listens on 127.0.0.1 with another port: another origin for both pages.
  const token = await idp.clientCredentials({ tenants: ['A'] });
  const want = JSON.parse(readFileSync(tenantBatches, 'utf8')).filter((b) => b.tenantId === null || b.tenantId === 'A');

  const browser = await launchChromium(t);
  const page = await browser.newPage();
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });

  await t.test('listed origin: the query works and sees only tenant A (and untenanted) batches', async () => {
    await page.goto(`${listed}/`);
    const r = await fetchInPage(page, api.queryURL, token);
    assert.equal(r.error, undefined, r.error);
    assert.equal(r.status, 200);
    assert.equal(r.body.data.batches.totalCount, want.length);
    assert.ok(r.body.data.batches.nodes.every((n) => n.tenantId === null || n.tenantId === 'A'));
  });

  await t.test('listed origin: a 401 and its challenge are readable by the app', async () => {
    const r = await fetchInPage(page, api.queryURL, 'not-a-token');
    assert.equal(r.error, undefined, r.error);
    assert.equal(r.status, 401);
    assert.equal(r.body.errors[0].extensions.code, 'UNAUTHENTICATED');
    assert.match(r.challenge, /^Bearer error="invalid_token"/, 'WWW-Authenticate is exposed');
  });

  await t.test('unlisted origin: the browser blocks the request', async () => {
    await page.goto(`${unlisted}/`);
    consoleErrors.length = 0;
    const r = await fetchInPage(page, api.queryURL, token);
    assert.match(r.error ?? '', /TypeError: Failed to fetch/, JSON.stringify(r));
    assert.ok(consoleErrors.some((e) => /CORS policy/.test(e)), `the console names CORS: ${consoleErrors}`);
  });

  await t.test('the browser sent preflights, which batchql answered (its access log)', () => {
    const lines = api.logs().split('\n').filter((l) => /msg=request/.test(l) && /method=OPTIONS/.test(l));
    assert.ok(lines.length >= 2, `Authorization makes the browser send a preflight per origin:\n${api.logs()}`);
    assert.ok(lines.every((l) => /status=204/.test(l)), lines.join('\n'));
  });

  await t.test('the same preflight answered by hand: headers for a listed origin only', async () => {
    const pre = (origin) => fetch(api.queryURL, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
    let res = await pre(listed);
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), listed);
    assert.equal(res.headers.get('access-control-allow-methods'), 'GET, POST, OPTIONS');
    assert.match(res.headers.get('access-control-allow-headers'), /Authorization/);
    assert.match(res.headers.get('vary'), /Origin/);
    res = await pre(unlisted);
    assert.equal(res.headers.get('access-control-allow-origin'), null);
  });
});
