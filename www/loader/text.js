// The glue's TextDecoder / TextEncoder (www/loader/glue.js), imported in place of the page's
// globals. The glue creates both while the script is
// evaluated, before window.chattag exists, so a page's broken polyfill would stop chattag there.
// The page's own classes are used when they work; otherwise a small UTF-8 codec over
// encodeURIComponent (slower, only ever used on such pages).
const W = window;
const check = (f) => {
  try {
    return f();
  } catch (e) {}
};
const hex = (b) => '%' + (b < 16 ? '0' : '') + b.toString(16);

export const TextDecoder =
  check(() => new W.TextDecoder().decode(Uint8Array.of(104)) == 'h' && W.TextDecoder) ||
  class {
    decode(bytes = []) {
      return decodeURIComponent(Array.from(bytes, hex).join(''));
    }
  };

export const TextEncoder =
  check(() => new W.TextEncoder().encode('h')[0] == 104 && W.TextEncoder) ||
  class {
    encode(text = '') {
      return Uint8Array.from(unescape(encodeURIComponent(text)), (c) => c.charCodeAt(0));
    }
  };
