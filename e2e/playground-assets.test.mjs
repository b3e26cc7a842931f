// The playground's files embedded in the batchql binary (web/assets) are the
// files of the npm packages e2e/package.json pins: same sha256 as in
// node_modules after npm ci, and the versions web/playground.go names for
// its CDN URLs are the installed ones. To refresh the copies after a version
// bump, see the comment at the top of web/playground.go.

import test from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');
const nodeModules = path.join(here, 'node_modules');
const assets = path.join(repo, 'web', 'assets');

const FILES = [
  'graphiql/graphiql.min.js',
  'graphiql/graphiql.min.css',
  'graphiql/LICENSE',
  'react/umd/react.production.min.js',
  'react/LICENSE',
  'react-dom/umd/react-dom.production.min.js',
  'react-dom/LICENSE',
];

const sha256 = async (p) => createHash('sha256').update(await readFile(p)).digest('hex');

test('web/assets holds the pinned packages\' files', async () => {
  const pkg = JSON.parse(await readFile(path.join(here, 'package.json'), 'utf8'));
  for (const name of ['graphiql', 'react', 'react-dom']) {
    const installed = JSON.parse(await readFile(path.join(nodeModules, name, 'package.json'), 'utf8'));
    assert.equal(installed.version, pkg.devDependencies[name], `${name} in node_modules is the pinned version (run npm ci)`);
  }
  for (const f of FILES) {
    assert.equal(await sha256(path.join(assets, f)), await sha256(path.join(nodeModules, f)),
      `web/assets/${f} differs from e2e/node_modules/${f}: refresh the copy (see web/playground.go)`);
  }
});

test('web/playground.go names the pinned versions', async () => {
  const pkg = JSON.parse(await readFile(path.join(here, 'package.json'), 'utf8'));
  const src = await readFile(path.join(repo, 'web', 'playground.go'), 'utf8');
  const version = (name) => src.match(new RegExp(`${name}Version\\s*=\\s*"([^"]+)"`))?.[1];
  assert.equal(version('graphiql'), pkg.devDependencies.graphiql);
  assert.equal(version('react'), pkg.devDependencies.react);
  assert.equal(pkg.devDependencies['react-dom'], pkg.devDependencies.react, 'react and react-dom share a version');
});
