//! Entry point of the demo module's worker: a wasm module of its own holding the simulators, so
//! that the app's first load carries none of them. The page starts it when a demo module is
//! plugged in.

#[cfg(target_arch = "wasm32")]
fn main() {
    otadeck::transport::demo::host::serve_in_worker();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("The demo module's worker runs in the browser: `cargo xtask serve`, then open http://127.0.0.1:8080");
}
