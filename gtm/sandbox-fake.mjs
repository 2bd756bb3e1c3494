// A small stand-in for Google Tag Manager's template sandbox, so template.tpl's code and its
// ___TESTS___ can run in node (tests/gtm.test.mjs) and in a real page (tests/browser/gtm-tag.test.mjs).
// It implements only the APIs the template requires, and it enforces the template's own
// ___WEB_PERMISSIONS___ the way GTM does: an API used without the permission throws.
//
// Not part of what GTM imports: the gallery reads template.tpl and metadata.yaml only.

/** Splits a .tpl file into its `___NAME___` sections. */
export function parseTemplate(text) {
  const sections = {};
  const re = /^___([A-Z_]+)___[ \t]*$/gm;
  const marks = [...text.matchAll(re)];
  marks.forEach((m, i) => {
    const start = m.index + m[0].length;
    const end = i + 1 < marks.length ? marks[i + 1].index : text.length;
    sections[m[1]] = text.slice(start, end).trim();
  });
  return sections;
}

/** The permission model of ___WEB_PERMISSIONS___: what each permission allows. */
export function readPermissions(list) {
  const out = { ids: [], globals: {}, injectUrls: [], consent: {}, logging: null };
  for (const p of list) {
    const id = p.instance.key.publicId;
    out.ids.push(id);
    const param = Object.fromEntries((p.instance.param || []).map((x) => [x.key, x.value]));
    if (id === 'access_globals') {
      for (const item of param.keys.listItem) {
        const [key, ...flags] = item.mapValue;
        const names = item.mapKey.map((k) => k.string);
        out.globals[key.string] = Object.fromEntries(names.slice(1).map((n, i) => [n, flags[i].boolean]));
      }
    } else if (id === 'inject_script') {
      out.injectUrls = param.urls.listItem.map((x) => x.string);
    } else if (id === 'access_consent') {
      for (const item of param.consentTypes.listItem) {
        const [type, read, write] = item.mapValue;
        out.consent[type.string] = { read: read.boolean, write: write.boolean };
      }
    } else if (id === 'logging') {
      out.logging = param.environments.string;
    }
  }
  return out;
}

/**
 * GTM's URL match patterns for inject_script: https only; a host of `*` or `*.domain`; `*` in
 * the path matches any run of characters (including `/`). Query and fragment are not matched.
 */
export function urlAllowed(url, patterns) {
  let u;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.protocol !== 'https:') return false;
  const esc = (s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  return patterns.some((pattern) => {
    const m = /^https:\/\/([^/]+)(\/.*)$/.exec(pattern);
    if (!m) return false;
    const [, host, path] = m;
    const hostOk = host === '*' || (host.startsWith('*.') ? u.hostname === host.slice(2) || u.hostname.endsWith(host.slice(1)) : u.hostname === host);
    const pathRe = new RegExp(`^${path.split('*').map(esc).join('.*')}$`);
    return hostOk && pathRe.test(u.pathname);
  });
}

/**
 * The sandbox APIs over a window object. Self-contained (no outer references) so a test can
 * ship its source into a browser page with `(${gtmApis})(window, env)`.
 *
 * env: { perms (readPermissions), consent: {type: bool|undefined}, inject(url, ok, fail),
 *        allowed(url) → bool, log(msg) }
 */
export function gtmApis(win, env) {
  const denied = (what) => {
    throw new Error(`permission denied: ${what}`);
  };
  const globalOk = (key, mode) => {
    const g = env.perms.globals[key];
    return !!g && (mode === 'readwrite' ? g.read && g.write : !!g[mode]);
  };
  const walk = (path) => {
    const parts = path.split('.');
    let obj = win;
    for (let i = 0; i < parts.length - 1; i++) {
      if (obj == null) return [undefined, parts[parts.length - 1]];
      obj = obj[parts[i]];
    }
    return [obj, parts[parts.length - 1]];
  };
  // GTM hands the template copies, never live page objects; functions come back callable.
  const copy = (v) => (v && typeof v === 'object' ? JSON.parse(JSON.stringify(v)) : v);
  const listeners = [];
  const consentOk = (type) => {
    const c = env.perms.consent[type];
    return !!c && c.read;
  };
  const apis = {
    copyFromWindow(key) {
      if (!globalOk(key, 'read')) denied(`access_globals read ${key}`);
      const [obj, last] = walk(key);
      return obj == null ? undefined : copy(obj[last]);
    },
    setInWindow(key, value, overwrite) {
      if (!globalOk(key, 'write')) denied(`access_globals write ${key}`);
      const [obj, last] = walk(key);
      if (obj == null) return false;
      if (obj[last] !== undefined && !overwrite) return false;
      obj[last] = copy(value);
      return true;
    },
    callInWindow(path, ...args) {
      if (!globalOk(path, 'execute')) denied(`access_globals execute ${path}`);
      const [obj, last] = walk(path);
      const fn = obj == null ? undefined : obj[last];
      return typeof fn === 'function' ? fn.apply(obj, args.map(copy)) : undefined;
    },
    createArgumentsQueue(fnKey, arrayKey) {
      if (!globalOk(fnKey, 'readwrite')) denied(`access_globals readwrite ${fnKey}`);
      if (!globalOk(arrayKey, 'readwrite')) denied(`access_globals readwrite ${arrayKey}`);
      if (typeof win[fnKey] !== 'function') {
        // Exactly the stub a site pastes: function(){(chattag.q=chattag.q||[]).push(arguments)}
        win[fnKey] = function () {
          const [obj, last] = walk(arrayKey);
          (obj[last] = obj[last] || []).push(arguments);
        };
      }
      const [obj, last] = walk(arrayKey);
      if (obj != null && !Array.isArray(obj[last])) obj[last] = [];
      return win[fnKey];
    },
    injectScript(url, onSuccess, onFailure, cacheToken) {
      if (!env.allowed(url)) denied(`inject_script ${url}`);
      env.inject(url, onSuccess, onFailure, cacheToken);
    },
    queryPermission(name, ...args) {
      if (name === 'inject_script') return env.allowed(args[0]);
      if (name === 'access_globals') return globalOk(args[1], args[0]);
      if (name === 'access_consent') return consentOk(args[0]);
      return false;
    },
    isConsentGranted(type) {
      if (!consentOk(type)) denied(`access_consent read ${type}`);
      // GTM: a consent type with no state counts as granted.
      return env.consent[type] !== false;
    },
    addConsentListener(type, fn) {
      if (!consentOk(type)) denied(`access_consent read ${type}`);
      listeners.push([type, fn]);
    },
    logToConsole(...args) {
      if (!env.perms.logging) denied('logging');
      env.log(args.join(' '));
    },
    makeString: (v) => String(v),
    Object: {
      keys: (o) => Object.keys(o),
      values: (o) => Object.values(o),
      entries: (o) => Object.entries(o),
      freeze: (o) => Object.freeze(o),
    },
  };
  /** What the page's consent platform does: changes state and notifies listeners. */
  const setConsent = (type, granted) => {
    const before = env.consent[type] !== false;
    env.consent[type] = granted;
    if (before === granted) return;
    for (const [t, fn] of listeners) if (t === type) fn(type, granted);
  };
  return { apis, setConsent };
}

/** Runs the sandboxed code with `require` resolved against `apis` (+ per-name overrides). */
export function runSandboxed(code, data, apis) {
  const require = (name) => {
    if (!(name in apis)) throw new Error(`require('${name}'): not an API this fake provides`);
    return apis[name];
  };
  // Top-level const/let of the template become locals of this function, as in the sandbox.
  return new Function('require', 'data', code)(require, data);
}

/** Deep equality as GTM's assertThat().isEqualTo() applies it (values, not references). */
export function deepEqual(a, b) {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual(a[k], b[k]));
}

/**
 * The ___TESTS___ block: `scenarios:` (each `- name:` with a `code: |-` block) and an optional
 * top-level `setup: |-` block — the only YAML shapes GTM's editor writes there.
 */
export function parseTests(yaml) {
  const lines = yaml.split('\n');
  const scenarios = [];
  let setup = '';
  let i = 0;
  const block = (indent) => {
    const out = [];
    while (i < lines.length && (lines[i].trim() === '' || lines[i].startsWith(' '.repeat(indent)))) {
      out.push(lines[i].slice(indent));
      i++;
    }
    while (out.length && out[out.length - 1].trim() === '') out.pop();
    return out.join('\n');
  };
  while (i < lines.length) {
    const line = lines[i];
    let m;
    if ((m = /^- name: (.*)$/.exec(line))) {
      scenarios.push({ name: m[1].trim(), code: '' });
      i++;
    } else if (/^ {2}code: \|-$/.test(line)) {
      i++;
      if (!scenarios.length) throw new Error('code: before any - name:');
      scenarios[scenarios.length - 1].code = block(4);
    } else if (/^setup: \|-$/.test(line)) {
      i++;
      setup = block(2);
    } else if (line.trim() === '' || line === 'scenarios:') {
      i++;
    } else {
      throw new Error(`___TESTS___ line ${i + 1} is not a shape this reader knows: ${line}`);
    }
  }
  return { scenarios, setup };
}

/**
 * Runs one ___TESTS___ scenario the way GTM's test runner does: `mock`, `runCode`, `assertApi`,
 * `assertThat`, `fail`. Unmocked APIs use the permission-checking fakes over a blank window.
 * Throws on the first failed assertion.
 */
export function runScenario(code, setup, sandboxCode, perms) {
  const calls = new Map();
  const record = (name, args) => {
    if (!calls.has(name)) calls.set(name, []);
    calls.get(name).push(args);
  };
  const win = {};
  const { apis } = gtmApis(win, {
    perms,
    consent: {},
    allowed: (url) => urlAllowed(url, perms.injectUrls),
    inject: () => {},
    log: () => {},
  });
  const mocks = {};
  const fail = (msg) => {
    throw new Error(msg || 'fail() called');
  };
  const mock = (name, impl) => {
    mocks[name] = typeof impl === 'function' ? impl : () => impl;
  };
  const spied = () => {
    const table = {};
    for (const name of Object.keys(apis)) {
      const real = apis[name];
      table[name] = typeof real === 'function'
        ? (...args) => {
            record(name, args);
            return (mocks[name] || real)(...args);
          }
        : real;
    }
    return table;
  };
  const runCode = (data) => {
    const d = { ...data, gtmOnSuccess: (...a) => record('gtmOnSuccess', a), gtmOnFailure: (...a) => record('gtmOnFailure', a) };
    runSandboxed(sandboxCode, d, spied());
  };
  const show = (v) => JSON.stringify(v);
  const assertApi = (name) => ({
    wasCalled() {
      if (!calls.has(name)) fail(`expected ${name} to be called`);
    },
    wasNotCalled() {
      if (calls.has(name)) fail(`expected ${name} not to be called; calls: ${show(calls.get(name))}`);
    },
    wasCalledWith(...expected) {
      const list = calls.get(name) || [];
      if (!list.some((args) => deepEqual(args, expected))) fail(`expected ${name} to be called with ${show(expected)}; calls: ${show(list)}`);
    },
  });
  const assertThat = (actual) => ({
    isEqualTo(expected) {
      if (!deepEqual(actual, expected)) fail(`expected ${show(actual)} to equal ${show(expected)}`);
    },
    isNotEqualTo(expected) {
      if (deepEqual(actual, expected)) fail(`expected ${show(actual)} to differ from ${show(expected)}`);
    },
    isTrue() {
      if (actual !== true) fail(`expected true, got ${show(actual)}`);
    },
    isFalse() {
      if (actual !== false) fail(`expected false, got ${show(actual)}`);
    },
    isUndefined() {
      if (actual !== undefined) fail(`expected undefined, got ${show(actual)}`);
    },
    isDefined() {
      if (actual === undefined) fail('expected a defined value');
    },
  });
  new Function('mock', 'runCode', 'assertApi', 'assertThat', 'fail', `${setup}\n${code}`)(mock, runCode, assertApi, assertThat, fail);
}
