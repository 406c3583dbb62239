// The demo module's worker: loads its wasm module (the simulators) and, when that fails, tells
// the page why instead of leaving it waiting.
importScripts("./otadeck-demo.js");
wasm_bindgen("./otadeck-demo_bg.wasm").catch((e) => postMessage([0, "failed: " + e]));
