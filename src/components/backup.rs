//! Read the module's flash back and save it as a file: on the Device page, and one click before
//! a flash on the Flash page.

use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use crate::hooks::use_device;

/// The backup card: what a backup reads, the button, and the file once read.
#[component]
pub fn BackupCard() -> Html {
    let (device, s) = use_device();
    let Some(region) = device.backup_region() else {
        return Html::default();
    };
    let on_backup = {
        let device = device.clone();
        Callback::from(move |_: MouseEvent| {
            let device = device.clone();
            spawn_local(async move { device.backup().await });
        })
    };
    let size = if region.len >= 1024 && region.len.is_multiple_of(1024) {
        format!("{} KiB", region.len / 1024)
    } else {
        format!("{} bytes", region.len)
    };
    html! {
        <section class="card" id="backup-card">
            <h2>{"Backup"}</h2>
            <p class="muted">
                {format!("Read {} back ({size} from {:#010x}) and keep it as a file, to write it \
                          back if the new firmware is not right.", region.what, region.offset)}
            </p>
            <div class="row">
                <button id="backup-start" class="btn" onclick={on_backup} disabled={s.busy}>
                    { if s.busy { "Reading…" } else { "Back up now" } }
                </button>
                if let Some(b) = &s.backup {
                    <a id="backup-save" class="btn btn-primary" href={b.url.clone()} download={b.file_name.clone()}>
                        {format!("Save {}", b.file_name)}
                    </a>
                    <span id="backup-summary" class="mono small">
                        {format!("{} bytes, SHA-256 {}", b.len, b.sha256)}
                    </span>
                }
            </div>
        </section>
    }
}
