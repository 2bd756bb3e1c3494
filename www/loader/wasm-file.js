// The wasm beside the script (`chattag.<hash>.wasm`, resolved against the script's own URL),
// compiled while it downloads when the server sends `application/wasm`, and from the whole
// buffer when it does not.
import name from 'chattag:wasm-name';

export default async (script) => {
  const response = await fetch(new URL(name, (script && script.src) || document.baseURI));
  try {
    return await WebAssembly.compileStreaming(response.clone());
  } catch (e) {
    // A CSP without 'wasm-unsafe-eval' fails the same way either way: don't try twice.
    if (e instanceof WebAssembly.CompileError) throw e;
    return WebAssembly.compile(await response.arrayBuffer());
  }
};
