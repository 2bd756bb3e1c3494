// The wasm, inlined by scripts/build.mjs as a string of one character per byte, shifted by
// `shift` (`wasmLiteral` there says why): no second request, no CORS or MIME requirements on the
// host serving chattag.js.
import bytes, { shift } from 'chattag:wasm-bytes';

export default () => {
  const b = new Uint8Array(bytes.length);
  // A Uint8Array stores each value mod 256, which undoes the shift.
  for (let i = 0; i < bytes.length; i++) b[i] = bytes.charCodeAt(i) - shift;
  return b;
};
