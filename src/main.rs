//! Entry point of the web app. The app itself lives in the library so that the browser test
//! suites can reach its transports.

#[cfg(target_arch = "wasm32")]
fn main() {
    otadeck::run();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("The otadeck web app runs in the browser: `cargo xtask serve`, then open http://127.0.0.1:8080");
}
