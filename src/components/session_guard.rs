//! What the page does around a flash, whatever page is shown: the tab title carries the step
//! and percentage (and then the outcome), and leaving or reloading the page while a flash runs
//! asks first.

use otadeck_core::session::FlashErrorKind;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use yew::prelude::*;

use crate::hooks::{use_device, use_progress};
use crate::services::device::FlashView;

/// The tab title for `view`; `expected`: the version the image declares.
fn title(view: &FlashView, on_trial: bool, expected: Option<&str>) -> String {
    let state = match view {
        FlashView::Idle => return "otadeck".into(),
        FlashView::Running {
            step, done, total, ..
        } => {
            let percent = if *total == 0 { 0 } else { done * 100 / total };
            format!("{percent} % {}", step.label())
        }
        FlashView::Success(o) if !o.restarted => "↻ Restart pending".into(),
        FlashView::Success(_) if on_trial => "⚠ On trial".into(),
        FlashView::Success(o)
            if o.module
                .as_ref()
                .zip(expected)
                .is_some_and(|(m, e)| m.firmware_version != e) =>
        {
            "⚠ Another version runs".into()
        }
        FlashView::Success(_) => "✔ Verified".into(),
        FlashView::Failed(e) if e.kind == FlashErrorKind::Cancelled => "■ Cancelled".into(),
        FlashView::Failed(_) => "✖ Flash failed".into(),
    };
    format!("{state} · otadeck")
}

/// Renders nothing; keeps the title and the leave-page warning.
#[component]
pub fn SessionGuard() -> Html {
    let (device, s) = use_device();
    let progress = use_progress(&device);
    let on_trial = s.partitions.as_ref().is_some_and(|p| p.awaits_decision());
    let expected = s.image.as_ref().and_then(|i| i.version.clone());
    let text = title(&progress.get().view, on_trial, expected.as_deref());
    use_effect_with(text, |text| {
        if let Some(doc) = web_sys::window().and_then(|w| w.document()) {
            doc.set_title(text);
        }
    });
    use_effect_with(s.flashing, |flashing| {
        let window = web_sys::window();
        let guard = (*flashing).then(|| {
            Closure::<dyn FnMut(web_sys::BeforeUnloadEvent)>::new(
                |e: web_sys::BeforeUnloadEvent| {
                    // Browsers show their own words; the value only asks for the dialog.
                    e.prevent_default();
                    e.set_return_value("A flash is running");
                },
            )
        });
        if let (Some(w), Some(g)) = (&window, &guard) {
            let _ = w.add_event_listener_with_callback("beforeunload", g.as_ref().unchecked_ref());
        }
        move || {
            if let (Some(w), Some(g)) = (window, guard) {
                let _ = w.remove_event_listener_with_callback(
                    "beforeunload",
                    g.as_ref().unchecked_ref(),
                );
            }
        }
    });
    Html::default()
}
