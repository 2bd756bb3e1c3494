// The wasm, inlined as base64 by scripts/build.mjs: no second request, no CORS or MIME
// requirements on the host serving chattag.js.
import base64 from 'chattag:wasm-base64';

// Uint8Array.fromBase64 where the browser has it; else a plain loop (measured ~50× faster than
// Uint8Array.from(atob(…), mapFn), which costs ~20 ms for this size).
export default () => {
  if (Uint8Array.fromBase64) return Uint8Array.fromBase64(base64);
  const bin = atob(base64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
};
