// The wasm, inlined as base64 by scripts/build.mjs: no second request, no CORS or MIME
// requirements on the host serving chattag.js.
import base64 from 'chattag:wasm-base64';

export default () => Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
