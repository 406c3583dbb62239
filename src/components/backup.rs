//! Read the module's flash back and save it as a file: on the Device page, and one click before
//! a flash on the Flash page.

use otadeck_core::family::BackupRegion;
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use crate::hooks::use_device;

/// `len` bytes in words: KiB when whole, bytes otherwise.
fn size_words(len: u32) -> String {
    if len >= 1024 && len.is_multiple_of(1024) {
        format!("{} KiB", len / 1024)
    } else {
        format!("{len} bytes")
    }
}

/// The backup card: what a backup can read (one button per region), its progress, and the file
/// once read.
#[component]
pub fn BackupCard() -> Html {
    let (device, s) = use_device();
    let regions = device.backup_regions();
    if regions.is_empty() {
        return Html::default();
    }
    let button = |index: usize, region: &BackupRegion| {
        let on_backup = {
            let device = device.clone();
            let region = region.clone();
            Callback::from(move |_: MouseEvent| {
                let device = device.clone();
                let region = region.clone();
                spawn_local(async move { device.backup(region).await });
            })
        };
        let label = if regions.len() == 1 {
            "Back up now".to_string()
        } else {
            format!("Back up {}", region.name)
        };
        html! {
            <li class="backup-region">
                <span>
                    {format!("Read {} back ({} from {:#010x}).", region.what,
                             size_words(region.len), region.offset)}
                </span>
                <button id={format!("backup-start-{index}")} class="btn" onclick={on_backup}
                        disabled={s.busy}>{label}</button>
            </li>
        }
    };
    let reading = s.backup_read.map(|(done, total)| {
        let percent = done * 100 / total.max(1);
        html! {
            <p id="backup-reading" class="muted" role="status">
                {format!("Reading… {percent} % ({done} of {total} bytes)")}
            </p>
        }
    });
    html! {
        <section class="card" id="backup-card">
            <h2>{"Backup"}</h2>
            <p class="muted">
                {"Keep what the module holds as a file, to write it back if the new firmware is \
                  not right."}
            </p>
            <ul class="backup-regions">
                { for regions.iter().enumerate().map(|(i, r)| button(i, r)) }
            </ul>
            { for reading }
            if let Some(b) = &s.backup {
                <div class="row">
                    <a id="backup-save" class="btn btn-primary" href={b.url.clone()}
                       download={b.file_name.clone()}>
                        {format!("Save {}", b.file_name)}
                    </a>
                    <span id="backup-summary" class="mono small">
                        {format!("{} bytes, SHA-256 {}", b.len, b.sha256)}
                    </span>
                </div>
            }
        </section>
    }
}
