// The wasm beside the script (`chattag.<hash>.wasm`, resolved against the script's own URL; see
// docs/hosting.md for its MIME type and CORS). `adopt(instance, module)` takes the instance; the
// promise resolves with nothing, so no object of ours passes through a page's
// Object.prototype.then.
import name from 'chattag:wasm-name';

export default (script, imports, adopt) => {
  const url = new URL(name, (script && script.src) || document.baseURI);
  let clean;
  try {
    clean = {}.then === undefined;
  } catch (e) {}
  // A page that put a `then` on Object.prototype would capture every promise that settles with an
  // object (the Response, the compiled module): fetched with XHR and compiled synchronously instead.
  if (!clean) {
    return new Promise((resolve, reject) => {
      const x = new XMLHttpRequest();
      x.open('GET', url);
      x.responseType = 'arraybuffer';
      x.onload = () => {
        try {
          const module = new WebAssembly.Module(x.response);
          adopt(new WebAssembly.Instance(module, imports()), module);
          resolve();
        } catch (e) {
          reject(e);
        }
      };
      x.onerror = reject;
      x.send();
    });
  }
  return (async () => {
    const response = await fetch(url);
    let r;
    try {
      // Compiled while it downloads: needs `Content-Type: application/wasm`.
      r = await WebAssembly.instantiateStreaming(response.clone(), imports());
    } catch (e) {
      // A CSP without 'wasm-unsafe-eval' fails the same way either way: don't try twice.
      if (e instanceof WebAssembly.CompileError) throw e;
      // Another MIME type: compiled from the whole buffer.
      r = await WebAssembly.instantiate(await response.arrayBuffer(), imports());
    }
    adopt(r.instance, r.module);
  })();
};
