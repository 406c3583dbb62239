//! What is available with no network: each kept file with its size and SHA-256, and buttons that
//! free the space.

use otadeck_core::session::group_digits;
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use crate::services::offline::{self, Kept};

/// The offline card. `#offline-list` lists one `li` per kept file once listed.
#[component]
pub fn OfflineCache() -> Html {
    let kept = use_state(|| None::<Result<Vec<Kept>, String>>);
    let refresh = {
        let kept = kept.clone();
        Callback::from(move |_: ()| {
            let kept = kept.clone();
            spawn_local(async move { kept.set(Some(offline::list().await)) });
        })
    };
    let on_list = refresh.reform(|_: MouseEvent| ());
    let on_clear = {
        let refresh = refresh.clone();
        Callback::from(move |_: MouseEvent| {
            let refresh = refresh.clone();
            spawn_local(async move {
                let _ = offline::clear_downloads().await;
                refresh.emit(());
            });
        })
    };
    let remove = |k: &Kept| {
        let (refresh, cache, url) = (refresh.clone(), k.cache, k.url.clone());
        Callback::from(move |_: MouseEvent| {
            let (refresh, url) = (refresh.clone(), url.clone());
            spawn_local(async move {
                let _ = offline::remove(cache, &url).await;
                refresh.emit(());
            });
        })
    };
    let body = match &*kept {
        None => {
            html! { <p class="muted">{"The app, the plans and every image it downloads are kept in this browser for use with no network."}</p> }
        }
        Some(Err(e)) => html! { <p class="bad">{e}</p> },
        Some(Ok(list)) => {
            let total: u64 = list.iter().map(|k| k.size).sum();
            html! {
                <>
                    <p id="offline-total">{format!("{} files, {} bytes", list.len(), group_digits(total))}</p>
                    <ul class="keys" id="offline-list">
                        { for list.iter().map(|k| html! {
                            <li data-cache={k.cache}>
                                <span class="wrap">{short(&k.url)}</span>
                                <span class="muted small">{format!("{} bytes · SHA-256 {}…", group_digits(k.size), &k.sha256[..16])}</span>
                                if k.cache == offline::CACHES[1] {
                                    <button class="btn small" onclick={remove(k)}>{"Remove"}</button>
                                }
                            </li>
                        }) }
                    </ul>
                </>
            }
        }
    };
    html! {
        <section class="card" id="offline-card">
            <h2>{"Available offline"}</h2>
            {body}
            <div class="row">
                <button id="offline-show" class="btn" onclick={on_list}>{"List what is kept"}</button>
                <button id="offline-clear" class="btn btn-danger" onclick={on_clear}>{"Remove the downloads"}</button>
            </div>
        </section>
    }
}

/// The path and query of `url` when it is on this site, else the whole URL.
fn short(url: &str) -> String {
    let origin = web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default();
    url.strip_prefix(&origin).unwrap_or(url).to_string()
}
