// The generated README's TypeScript recipe, run as written: the one
// `npx openapi-typescript` command against a generated project's served
// `/api/openapi.json` (openapi-typescript, pinned in package.json and
// installed by `npm ci`: nothing is downloaded here), and its typed fetch and
// axios clients, fenced blocks of the rendered README, type-checked against
// the types that produced with `tsc --noEmit` in strict mode (axios as
// installed here). A copy of each client with a misspelt field must fail,
// so the types are really used.
//
// Scenarios: `password` (the projects named by CROSS_APP_* and SAME_APP_*)
// and `oidc` (OIDC_CROSS_APP_*, OIDC_SAME_APP_*), each for the
// cross-origin and the same-origin project.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Backend, freePort, runScenario, tempDir } from './harness.mjs';
import { readme } from './vite.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const OPENAPI_TYPESCRIPT = path.join(HERE, 'node_modules', 'openapi-typescript', 'bin', 'cli.js');
const TSC = path.join(HERE, 'node_modules', 'typescript', 'bin', 'tsc');

/** The fenced blocks of a Markdown text, as `{ lang, text }`. */
function fencedBlocks(markdown) {
  const fence = /^```(\w*)\n([\s\S]*?)^```$/gm;
  return [...markdown.matchAll(fence)].map(([, lang, text]) => ({ lang, text }));
}

/** The README's one block that `test` picks. */
function theBlock(markdown, what, test) {
  const found = fencedBlocks(markdown).filter(test);
  assert.equal(found.length, 1, `the README has exactly one ${what}`);
  return found[0].text;
}

/** Runs `node <args>` in `cwd`; returns its output, failing on a non-zero exit unless `mayFail`. */
function node(args, cwd, { mayFail = false } = {}) {
  const run = spawnSync(process.execPath, args, { cwd, encoding: 'utf8' });
  const output = `${run.stdout}${run.stderr}`;
  if (!mayFail) assert.equal(run.status, 0, `node ${args.join(' ')} failed:\n${output}`);
  return { status: run.status, output };
}

const TSCONFIG = {
  compilerOptions: {
    strict: true,
    noEmit: true,
    target: 'es2022',
    module: 'esnext',
    moduleResolution: 'bundler',
    lib: ['es2022', 'dom'],
    noUnusedLocals: true,
    types: [],
  },
  include: ['src'],
};

/**
 * Starts the project in `dir` (binary `bin`), generates the types from its
 * served description with the README's command, and type-checks the
 * README's client against them.
 */
async function check({ bin, dir, sameOrigin, oidc }) {
  const port = await freePort();
  const origin = `http://localhost:${port}`;
  const frontend = 'http://localhost:5173';
  const backend = await Backend.start(bin, {
    BIND_ADDR: `127.0.0.1:${port}`,
    PUBLIC_ORIGIN: origin,
    ...(sameOrigin ? { STATIC_DIR: path.join(dir, 'frontend') } : { FRONTEND_ORIGINS: frontend }),
    ...(oidc
      ? {
          // Nothing listens there: discovery keeps trying in the background,
          // and the description is served all the same.
          OIDC_ISSUER_URL: `http://127.0.0.1:${await freePort()}`,
          OIDC_CLIENT_ID: 'typescript-check',
          OIDC_REDIRECT_URL: `${sameOrigin ? origin : frontend}/`,
        }
      : {}),
  });

  const markdown = readme(dir);
  const command = theBlock(markdown, 'openapi-typescript command', ({ text }) => /openapi-typescript/.test(text));
  const match = command.trim().match(/^npx openapi-typescript (\S+)\/api\/openapi\.json -o (\S+)$/);
  assert.ok(match, `the README's command has the expected form: ${command}`);
  const [, readmeOrigin, output] = match;
  assert.equal(output, 'src/api.d.ts');
  assert.match(readmeOrigin, /^https?:\/\//);

  const work = tempDir('typescript-');
  fs.mkdirSync(path.join(work, 'src'));
  // The README's command, with this run's port.
  node([OPENAPI_TYPESCRIPT, `${origin}/api/openapi.json`, '-o', output], work);
  const types = fs.readFileSync(path.join(work, output), 'utf8');
  assert.match(types, /"\/api\/notes\/\{id\}"/);
  assert.match(types, /Error: \{/);

  const client = theBlock(markdown, 'typed client', ({ lang, text }) => lang === 'ts' && text.startsWith('// src/client.ts'));
  const axiosClient = theBlock(
    markdown,
    'typed axios client',
    ({ lang, text }) => lang === 'ts' && text.startsWith('// src/client-axios.ts'),
  );
  fs.mkdirSync(path.join(work, 'node_modules'));
  fs.symlinkSync(path.join(HERE, 'node_modules', 'axios'), path.join(work, 'node_modules', 'axios'), 'dir');
  fs.writeFileSync(path.join(work, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2));
  const typeCheck = (files) => {
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(work, 'src', name), text);
    return node([TSC, '-p', 'tsconfig.json'], work, { mayFail: true });
  };
  const passed = typeCheck({ 'client.ts': client, 'client-axios.ts': axiosClient });
  assert.equal(passed.status, 0, `tsc refuses the README's clients:\n${passed.output}`);

  // The types are used: a misspelt field does not type-check.
  const misspelt = client.replace("{ title: 'Shopping' }", "{ titel: 'Shopping' }");
  assert.notEqual(misspelt, client, 'the client changes a title');
  const refused = typeCheck({ 'client.ts': misspelt });
  assert.notEqual(refused.status, 0, 'tsc accepts a misspelt field');
  assert.match(refused.output, /'titel' does not exist/);
  const misread = axiosClient.replace('return data.notes;', 'return data.notez;');
  assert.notEqual(misread, axiosClient, 'the axios client returns the notes');
  const refusedAxios = typeCheck({ 'client.ts': client, 'client-axios.ts': misread });
  assert.notEqual(refusedAxios.status, 0, 'tsc accepts a misspelt field with axios');
  assert.match(refusedAxios.output, /'notez' does not exist/);
  await backend.stop();
}

function projects(prefix) {
  const env = (name) => {
    const value = process.env[`${prefix}${name}`];
    assert.ok(value, `${prefix}${name} is set`);
    return value;
  };
  return [
    { bin: env('CROSS_APP_BIN'), dir: env('CROSS_APP_DIR'), sameOrigin: false },
    { bin: env('SAME_APP_BIN'), dir: env('SAME_APP_DIR'), sameOrigin: true },
  ];
}

await runScenario({
  async password() {
    for (const project of projects('')) await check({ ...project, oidc: false });
  },
  async oidc() {
    for (const project of projects('OIDC_')) await check({ ...project, oidc: true });
  },
});
