// The wasm beside the script (`chattag.<hash>.wasm`, resolved by the loader's `beside`; see
// docs/hosting.md for CORS). Fetched with XMLHttpRequest and compiled synchronously once it has
// arrived. Measured against fetch + WebAssembly.instantiateStreaming on the 100-link page (21
// interleaved runs each): 50 ms against 60 ms from script start to every link tagged — for a
// module this small the compile is a few ms of main thread, less than the streaming path's task
// hops. It is also 119 B smaller, requires no MIME type of the host, and no promise settles with
// an object of ours (a page that put a `then` on Object.prototype would capture it).
// `instantiate(bytes)` compiles them and hands the instance to the glue.
import name from 'chattag:wasm-name';

export default (beside, instantiate) =>
  new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open('GET', beside(name));
    x.responseType = 'arraybuffer';
    x.onload = () => {
      try {
        instantiate(x.response);
        resolve();
      } catch (e) {
        reject(e);
      }
    };
    x.onerror = reject;
    x.send();
  });
