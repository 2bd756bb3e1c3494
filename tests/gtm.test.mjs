// The Google Tag Manager template (gtm/template.tpl): its sections are well-formed, its
// permissions are exactly what its code uses, its sandboxed code does the right thing against a
// permission-enforcing fake of the GTM APIs, and its own ___TESTS___ scenarios pass (and fail
// when the code is broken, so they are worth shipping).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gtmApis, parseTemplate, parseTests, readPermissions, runSandboxed, runScenario, urlAllowed } from '../gtm/sandbox-fake.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TPL = fs.readFileSync(path.join(ROOT, 'gtm', 'template.tpl'), 'utf8');
const S = parseTemplate(TPL);
const CODE = S.SANDBOXED_JS_FOR_WEB_TEMPLATE;
const PERMS = readPermissions(JSON.parse(S.WEB_PERMISSIONS));
const PARAMS = JSON.parse(S.TEMPLATE_PARAMETERS);

const SCRIPT = 'https://cdn.example.com/chattag/chattag.js';
const DATA = {
  scriptUrl: SCRIPT,
  endpoint: 'https://collector.example/v1/events',
  prefix: 'FL',
  template: '',
  lifetimeDays: '30',
  counter: '',
  consentMode: 'none',
  debug: false,
  qr: false,
};

function allParams(list = PARAMS) {
  return list.flatMap((p) => [p, ...allParams(p.subParams || [])]);
}

/** A page window + the fake APIs; `injected` lists what the tag asked to load. */
function sandbox({ consent = {}, window = {} } = {}) {
  const injected = [];
  const logs = [];
  const env = {
    perms: PERMS,
    consent,
    allowed: (url) => urlAllowed(url, PERMS.injectUrls),
    inject: (url, ok, fail) => injected.push({ url, ok, fail }),
    log: (m) => logs.push(m),
  };
  const { apis, setConsent } = gtmApis(window, env);
  const outcome = [];
  const run = (data) =>
    runSandboxed(CODE, { ...data, gtmOnSuccess: () => outcome.push('success'), gtmOnFailure: () => outcome.push('failure') }, apis);
  return { window, injected, logs, outcome, run, setConsent };
}

/** The stub's queue as plain arrays (the loader replays `chattag.q` the same way). */
const queued = (win) => (win.chattag?.q || []).map((args) => Array.from(args));

test('template has every section GTM expects, with valid JSON', () => {
  for (const name of ['INFO', 'TEMPLATE_PARAMETERS', 'SANDBOXED_JS_FOR_WEB_TEMPLATE', 'WEB_PERMISSIONS', 'TESTS']) {
    assert.ok(S[name], `section ___${name}___ missing`);
  }
  const info = JSON.parse(S.INFO);
  assert.equal(info.type, 'TAG');
  assert.deepEqual(info.containerContexts, ['WEB']);
  assert.equal(info.id, 'cvt_temp_public_id');
  assert.ok(info.displayName && info.description && info.brand?.displayName);
});

test('parameters: the settings GTM users need, and the code reads only declared ones', () => {
  const names = allParams().map((p) => p.name);
  for (const n of ['scriptUrl', 'endpoint', 'prefix', 'template', 'consentMode', 'counter', 'debug']) {
    assert.ok(names.includes(n), `parameter ${n} missing`);
  }
  const read = new Set([...CODE.matchAll(/\bdata\.([A-Za-z_]+)/g)].map((m) => m[1]));
  read.delete('gtmOnSuccess');
  read.delete('gtmOnFailure');
  for (const n of read) assert.ok(names.includes(n), `code reads data.${n}, which no parameter declares`);
  const consent = allParams().find((p) => p.name === 'consentMode');
  assert.deepEqual(consent.selectItems.map((i) => i.value).sort(), ['gtm', 'none', 'site']);
});

test('parameter validators accept good values and reject bad ones', () => {
  const re = (name) => new RegExp(allParams().find((p) => p.name === name).valueValidators.find((v) => v.type === 'REGEX').args[0]);
  assert.ok(re('scriptUrl').test(SCRIPT));
  assert.ok(!re('scriptUrl').test('http://cdn.example.com/chattag.js'), 'plain http refused');
  assert.ok(!re('scriptUrl').test('https://cdn.example.com/other.js'));
  assert.ok(re('prefix').test('') && re('prefix').test('FLWR') && !re('prefix').test('ct') && !re('prefix').test('ABCDE'));
  assert.ok(re('counter').test('98765432') && !re('counter').test('12ab'));
  assert.ok(re('endpoint').test('') && re('endpoint').test('https://c.example/v1/events') && !re('endpoint').test('javascript:alert(1)'));
  assert.ok(re('lifetimeDays').test('21') && !re('lifetimeDays').test('0') && !re('lifetimeDays').test('4000'));
});

test('permissions are exactly what the code uses', () => {
  const byApi = {
    setInWindow: 'access_globals', copyFromWindow: 'access_globals', callInWindow: 'access_globals',
    createArgumentsQueue: 'access_globals', injectScript: 'inject_script', isConsentGranted: 'access_consent',
    addConsentListener: 'access_consent', logToConsole: 'logging', queryPermission: null, makeString: null, Object: null,
  };
  const required = [...CODE.matchAll(/require\('([A-Za-z]+)'\)/g)].map((m) => m[1]);
  for (const api of required) assert.ok(api in byApi, `require('${api}') has no entry in this test's API map`);
  const needed = [...new Set(required.map((a) => byApi[a]).filter(Boolean))].sort();
  assert.deepEqual([...PERMS.ids].sort(), needed);
  assert.deepEqual(Object.keys(PERMS.globals).sort(), ['chattag', 'chattag.q', 'chattagConfig']);
  assert.deepEqual(PERMS.globals.chattagConfig, { read: true, write: true, execute: false });
  assert.deepEqual(PERMS.globals.chattag, { read: true, write: true, execute: true });
  assert.deepEqual(PERMS.consent, { analytics_storage: { read: true, write: false } });
  assert.equal(PERMS.logging, 'debug', 'console output only in GTM preview/debug');
});

test('inject_script patterns allow chattag.js on any https host and nothing else', () => {
  const ok = (u) => urlAllowed(u, PERMS.injectUrls);
  assert.ok(ok('https://cdn.example.com/chattag.js'));
  assert.ok(ok(SCRIPT));
  assert.ok(ok('https://collector.example/static/v1/chattag.js'));
  assert.ok(!ok('http://cdn.example.com/chattag.js'));
  assert.ok(!ok('https://cdn.example.com/chattag.js.evil.js'));
  assert.ok(!ok('https://cdn.example.com/other.js'));
});

test('sets window.chattagConfig, installs the stub, injects the script URL once loaded', () => {
  const s = sandbox();
  s.run(DATA);
  assert.deepEqual(s.window.chattagConfig, { endpoint: DATA.endpoint, prefix: 'FL', lifetimeDays: '30' });
  assert.equal(typeof s.window.chattag, 'function', 'the call-queue stub');
  assert.deepEqual(s.injected.map((i) => i.url), [SCRIPT]);
  assert.deepEqual(s.outcome, [], 'success waits for the script to load');
  s.injected[0].ok();
  assert.deepEqual(s.outcome, ['success']);
});

test('keeps settings the page set itself, the tag wins on the same key', () => {
  const s = sandbox({ window: { chattagConfig: { template: 'Order {id}', prefix: 'XX' } } });
  s.run({ ...DATA, debug: true, qr: true });
  assert.deepEqual(s.window.chattagConfig, {
    template: 'Order {id}', prefix: 'FL', endpoint: DATA.endpoint, lifetimeDays: '30', debug: true, qr: true,
  });
});

test('a running snippet is neither replaced nor re-stubbed', () => {
  const real = Object.assign(() => 'real', { version: '0.1.0' });
  const s = sandbox({ window: { chattag: real } });
  s.run(DATA);
  assert.equal(s.window.chattag, real);
});

test('consent mode GTM: nothing loads while analytics_storage is denied; grant loads it; a withdrawal reaches the snippet', () => {
  const s = sandbox({ consent: { analytics_storage: false } });
  s.run({ ...DATA, consentMode: 'gtm' });
  assert.equal(s.window.chattagConfig.consent, 'required');
  assert.deepEqual(s.injected, [], 'no request to the script host before consent');
  assert.deepEqual(s.outcome, ['success'], 'the tag itself completes');
  assert.deepEqual(queued(s.window), []);

  s.setConsent('analytics_storage', true);
  assert.deepEqual(s.injected.map((i) => i.url), [SCRIPT]);
  assert.deepEqual(queued(s.window), [['consent', true]], 'the grant is queued for the snippet to replay');

  s.setConsent('analytics_storage', false);
  s.setConsent('analytics_storage', true);
  assert.deepEqual(queued(s.window), [['consent', true], ['consent', false], ['consent', true]]);
  assert.equal(s.injected.length, 1, 'injected once');
});

test('consent mode GTM with consent already granted loads at once', () => {
  const s = sandbox({ consent: { analytics_storage: true } });
  s.run({ ...DATA, consentMode: 'gtm' });
  assert.deepEqual(s.injected.map((i) => i.url), [SCRIPT]);
  assert.deepEqual(queued(s.window), [['consent', true]]);
  s.injected[0].ok();
  assert.deepEqual(s.outcome, ['success']);
});

test('consent mode "site" loads the script in required mode and leaves the grant to the site', () => {
  const s = sandbox({ consent: { analytics_storage: false } });
  s.run({ ...DATA, consentMode: 'site' });
  assert.equal(s.window.chattagConfig.consent, 'required');
  assert.equal(s.injected.length, 1);
  s.setConsent('analytics_storage', true);
  assert.deepEqual(queued(s.window), [], 'GTM consent is not consulted');
});

test('a URL outside the permission fails the tag with a console hint, without injecting', () => {
  const s = sandbox();
  s.run({ ...DATA, scriptUrl: 'https://cdn.example.com/other.js' });
  assert.deepEqual(s.injected, []);
  assert.deepEqual(s.outcome, ['failure']);
  assert.match(s.logs.join('\n'), /Injects scripts/);
});

test('the fake enforces permissions (a template without access_globals cannot write the config)', () => {
  const perms = { ...PERMS, globals: {} };
  const { apis } = gtmApis({}, { perms, consent: {}, allowed: () => true, inject: () => {}, log: () => {} });
  assert.throws(() => runSandboxed(CODE, { ...DATA, gtmOnSuccess() {}, gtmOnFailure() {} }, apis), /permission denied: access_globals/);
});

const TESTS = parseTests(S.TESTS);

test('___TESTS___ has scenarios', () => {
  assert.ok(TESTS.scenarios.length >= 8, `found ${TESTS.scenarios.length}`);
  assert.ok(TESTS.setup.includes('mockData'));
});

for (const sc of TESTS.scenarios) {
  test(`___TESTS___ scenario passes: ${sc.name}`, () => {
    runScenario(sc.code, TESTS.setup, CODE, PERMS);
  });
}

test('___TESTS___ catch a broken template (consent ignored, wrong URL)', () => {
  const ignoresConsent = CODE.replace("if (data.consentMode !== 'gtm') {", 'if (true) {');
  assert.notEqual(ignoresConsent, CODE);
  const consentScenario = TESTS.scenarios.find((s) => /denied/.test(s.name));
  assert.throws(() => runScenario(consentScenario.code, TESTS.setup, ignoresConsent, PERMS));
  const wrongUrl = CODE.replace('injectScript(scriptUrl,', "injectScript(scriptUrl + '?x',");
  assert.notEqual(wrongUrl, CODE);
  assert.throws(() => runScenario(TESTS.scenarios[0].code, TESTS.setup, wrongUrl, PERMS));
});

test('metadata.yaml: gallery fields, and each version SHA is a commit holding gtm/template.tpl', (t) => {
  const meta = fs.readFileSync(path.join(ROOT, 'gtm', 'metadata.yaml'), 'utf8');
  assert.match(meta, /^homepage: "https:\/\/\S+"$/m);
  assert.match(meta, /^documentation: "https:\/\/\S+"$/m);
  const shas = [...meta.matchAll(/^ {2}- sha: ([0-9a-f]+)$/gm)].map((m) => m[1]);
  assert.ok(shas.length >= 1, 'at least one version');
  for (const sha of shas) assert.match(sha, /^[0-9a-f]{40}$/);
  assert.equal((meta.match(/^ {4}changeNotes: /gm) || []).length, shas.length, 'change notes for every version');
  const git = (...args) => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' });
  if (git('rev-parse', '--is-shallow-repository').stdout.trim() !== 'false') {
    t.skip('not a full git clone: cannot look the SHAs up');
    return;
  }
  for (const sha of shas) assert.equal(git('cat-file', '-e', `${sha}:gtm/template.tpl`).status, 0, `${sha} has no gtm/template.tpl`);
});
