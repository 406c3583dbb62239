//! The otadeck web app: a Yew single-page app that flashes modules over Web Serial or the
//! in-page demo module, driving the sans-IO machines of `otadeck-core`.
//!
//! Everything here is browser code; on other targets the crate is empty so that native
//! `cargo test --workspace` stays fast.

#![cfg(target_arch = "wasm32")]

pub mod clock;
mod download;
pub mod image;
pub mod pump;
pub mod services;
pub mod theme;
pub mod transport;

mod app;
mod components;
mod hooks;
mod pages;
mod support;

/// Mount the app on the page body.
pub fn run() {
    theme::restore();
    yew::Renderer::<app::App>::new().render();
    // The offline copy is not needed for the first paint: registered in a task of its own.
    gloo::timers::callback::Timeout::new(0, services::offline::register_worker).forget();
}
