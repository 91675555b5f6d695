// A real Vite (npm `vite`, installed by `npm ci` here) for the scenarios of
// shapes.mjs that check the generated README's Vite recipes: the minimal app
// in vite-app/, with the vite.config.js that the project's own README gives,
// served by the dev server or built with `vite build`.
//
// The configuration is never written here: it is the fenced block of the
// rendered README, with only the origins the README was rendered with
// replaced by the ports this run got. So the README's snippet and what the
// test runs cannot drift apart.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { onExit, onFailure, tempDir, waitFor } from './harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const VITE = path.join(HERE, 'node_modules', 'vite', 'bin', 'vite.js');
const APP = path.join(HERE, 'vite-app');

// ------------------------------------------------------------------- README

/** The generated project's README. */
export function readme(projectDir) {
  return fs.readFileSync(path.join(projectDir, 'README.md'), 'utf8');
}

/** The fenced code blocks of a Markdown text, as `{ lang, text }`. */
function fencedBlocks(markdown) {
  const blocks = [];
  const fence = /^```(\w*)\n([\s\S]*?)^```$/gm;
  for (const [, lang, text] of markdown.matchAll(fence)) blocks.push({ lang, text });
  return blocks;
}

/** The one fenced block of `markdown` that `test` picks, failing unless there is exactly one. */
function theBlock(markdown, what, test) {
  const found = fencedBlocks(markdown).filter(test);
  assert.equal(found.length, 1, `the README has exactly one ${what}: ${JSON.stringify(found, null, 2)}`);
  return found[0].text;
}

/** The README's vite.config.js (the one block that imports from 'vite'). */
export function viteConfigOf(markdown) {
  return theBlock(markdown, 'vite.config.js', ({ lang, text }) => lang === 'js' && /from 'vite';/.test(text));
}

/** The README's .env.development (the one block that sets VITE_API_URL). */
export function viteEnvOf(markdown) {
  return theBlock(markdown, '.env.development', ({ text }) => /^VITE_API_URL=/m.test(text))
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .join('\n');
}

/**
 * `text` with each key of `replacements` (a string the README was rendered
 * with, such as `5173`) replaced by its value, as whole words; each must be
 * there, so that a README that stops naming it fails here rather than
 * running with the rendered value.
 */
export function localize(text, replacements) {
  for (const [from, to] of Object.entries(replacements)) {
    const escaped = from.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    const word = new RegExp(`(?<![0-9A-Za-z])${escaped}(?![0-9A-Za-z])`, 'g');
    assert.match(text, word, `${from} is not in:\n${text}`);
    text = text.replace(word, to);
  }
  return text;
}

// ---------------------------------------------------------------------- app

/**
 * A folder holding the minimal app, `config` as its vite.config.js, `env` as
 * its .env.development (if given), and a node_modules that resolves `vite`
 * to the one installed here. The README's config imports its framework's
 * plugin (`@vitejs/plugin-react`): a stand-in plugin that does nothing is
 * installed under that name, so the config runs exactly as written.
 * `subdir`: where in the folder the app goes (`frontend`, as in a project).
 */
export function viteApp({ config, env, subdir = '.' }) {
  const root = tempDir('vite-app-');
  const dir = path.join(root, subdir);
  fs.mkdirSync(dir, { recursive: true });
  for (const file of fs.readdirSync(APP)) fs.copyFileSync(path.join(APP, file), path.join(dir, file));
  fs.writeFileSync(path.join(dir, 'vite.config.js'), config);
  if (env !== undefined) fs.writeFileSync(path.join(dir, '.env.development'), `${env}\n`);
  const modules = path.join(dir, 'node_modules');
  fs.mkdirSync(modules);
  fs.symlinkSync(path.join(HERE, 'node_modules', 'vite'), path.join(modules, 'vite'), 'dir');
  const plugin = path.join(modules, '@vitejs', 'plugin-react');
  fs.mkdirSync(plugin, { recursive: true });
  fs.writeFileSync(
    path.join(plugin, 'package.json'),
    JSON.stringify({ name: '@vitejs/plugin-react', type: 'module', exports: './index.js' }),
  );
  fs.writeFileSync(
    path.join(plugin, 'index.js'),
    "// A stand-in for the framework plugin the README's config names.\n" +
      "export default function react() {\n  return { name: 'stand-in-for-plugin-react' };\n}\n",
  );
  return { root, dir };
}

/** Runs `vite <args>` in `dir`; resolves with `{ child, output() }`. */
function vite(dir, args) {
  const child = spawn(process.execPath, [VITE, ...args], {
    cwd: dir,
    env: { PATH: process.env.PATH, NO_COLOR: '1', CI: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding('utf8').on('data', (chunk) => (output += chunk));
  }
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  return { child, exited, output: () => output };
}

/**
 * Starts the dev server in `dir`, which must come up at exactly `origin`
 * (the origin the config was localized to): resolves once it says so.
 */
export async function startDevServer(dir, origin) {
  const server = vite(dir, []);
  onExit(async () => {
    if (server.child.exitCode === null && server.child.signalCode === null) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });
  onFailure(() => console.error(`Vite's output:\n${server.output()}`));
  const local = await waitFor(`Vite to listen (output so far:\n${server.output()})`, () => {
    if (server.child.exitCode !== null) {
      throw new Error(`vite exited with ${server.child.exitCode}:\n${server.output()}`);
    }
    return server.output().match(/Local:\s+(\S+)/)?.[1];
  });
  assert.equal(local, `${origin}/`, `where Vite listens:\n${server.output()}`);
  return server;
}

/**
 * With `port` taken, the dev server must refuse to start rather than move to
 * another port (`strictPort`): the API allows one exact origin.
 */
export async function assertRefusesTakenPort(dir, port) {
  const blocker = net.createServer();
  await new Promise((resolve) => blocker.listen(port, '127.0.0.1', resolve));
  try {
    const server = vite(dir, []);
    let exited = false;
    server.exited.then(() => (exited = true));
    const code = await Promise.race([
      server.exited,
      // Stops polling once Vite has exited.
      waitFor('Vite to exit or listen', () => exited || (/Local:/.test(server.output()) && 'listening')),
    ]);
    if (code === 'listening') {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    assert.notEqual(code, 0, `with port ${port} taken Vite exited with 0:\n${server.output()}`);
    assert.notEqual(code, 'listening', `with port ${port} taken Vite moved elsewhere:\n${server.output()}`);
    assert.match(server.output(), new RegExp(`Port ${port} is already in use`));
  } finally {
    await new Promise((resolve) => blocker.close(resolve));
  }
}

/** Runs `vite build` in `dir`, failing with its output unless it succeeds. */
export async function build(dir) {
  const run = vite(dir, ['build']);
  const code = await run.exited;
  assert.equal(code, 0, `vite build failed:\n${run.output()}`);
  console.log(`vite build:\n${run.output()}`);
}
