// Snippet settings: `data-*` on the script tag, else `window.chattagConfig` (Google Tag Manager
// cannot set attributes). Pure: `read(raw)`, where `raw(attr, key)` hands over the raw string,
// undefined when unset (shell.js reads it). A bad value is a console warning and a safe default,
// never a failure.
// The prefix and the template are chat-ID and link rules: the wasm checks those (src/lib.rs
// CONFIGURE) and the loader says `BAD` of what it rejects.

// ASCII whitespace around a value (what a site owner's copy-paste adds).
const trim = (v) => v.replace(/^[\t\n\f\r ]+|[\t\n\f\r ]+$/g, '');
// `data-debug` present or "1" / "true" / "on" / "yes" → on; "0" / "false" / "off" / "no" → off; a
// value that throws when read as text (a hostile `toString`) → off.
export const on = (v) => {
  try {
    return v != null && v !== false && !/^(0|false|off|no)$/i.test(trim(String(v)));
  } catch (e) {
    return false;
  }
};

export const DEFAULT_LIFETIME_DAYS = 21;

// The warnings for the settings the wasm rejects (letters from src/browser/page.rs).
export const BAD = {
  p: 'prefix: must be 1-4 letters A-Z; using CT',
  t: 'template: needs {id}, at most 500 characters, only {id} {text} {url} {title}; using the default',
};

// → [settings, warnings]. `settings.prefix` / `.template` stay raw for the wasm. `lifetime` and
// `consentRequired` are renamed in the bundle (scripts/build.mjs INTERNAL_PROPS): they must stay
// names only the loader's own modules use.
export function read(raw) {
  const bad = [];
  // `data-<name>` on the script tag, else chattagConfig[key].
  const get = (name, key = name) => raw('data-' + name, key);
  const s = { lifetime: DEFAULT_LIFETIME_DAYS, prefix: get('prefix'), template: get('template') };
  let v = get('endpoint');
  if (v != null) {
    v = trim(v);
    // An absolute http(s) URL without spaces or control characters (a relative one was resolved
    // against the page by the shell).
    if (/^https?:\/\//i.test(v) && v.length <= 2048 && !/[\0- \x7f]/.test(v)) s.endpoint = v;
    else bad.push('endpoint: not an http(s) URL; sending nothing');
  }
  v = get('lifetime', 'lifetimeDays');
  if (v != null) {
    // Whole days; longer than any attribution window is a typo (`2100`) that would pin an ID for years.
    v = trim(v);
    if (/^\d{1,6}$/.test(v) && v > 0 && v <= 400) s.lifetime = +v;
    else bad.push('lifetime: whole days 1-400; using 21');
  }
  v = get('counter');
  if (v != null) {
    v = trim(v);
    if (/^\d{1,12}$/.test(v)) s.counter = v;
    else bad.push('counter: not a Metrica counter number; not using ym()');
  }
  v = get('consent');
  if (v != null) {
    v = trim(v);
    // Anything but "granted" requires consent: the privacy-safe reading of a value nobody can parse.
    s.consentRequired = !/^granted$/i.test(v);
    if (s.consentRequired && !/^required$/i.test(v)) bad.push('consent: granted or required; treating as required');
  }
  s.debug = on(get('debug'));
  return [s, bad];
}
