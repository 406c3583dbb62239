//! The light and dark themes: the system's choice unless the technician picked one, which is
//! kept in the browser (`localStorage`). Either way it is set as `data-theme` on `<html>`, the
//! one switch the style sheet reads.

/// A colour theme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Theme {
    /// Dark ink on light cards: daylight.
    Light,
    /// Light ink on dark cards: a dark cab, at night.
    Dark,
}

const KEY: &str = "otadeck-theme";

impl Theme {
    /// The other theme.
    pub fn other(self) -> Theme {
        match self {
            Theme::Light => Theme::Dark,
            Theme::Dark => Theme::Light,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }
}

fn stored() -> Option<Theme> {
    let storage = web_sys::window()?.local_storage().ok()??;
    match storage.get_item(KEY).ok()??.as_str() {
        "dark" => Some(Theme::Dark),
        "light" => Some(Theme::Light),
        _ => None,
    }
}

fn system() -> Theme {
    let dark = web_sys::window()
        .and_then(|w| w.match_media("(prefers-color-scheme: dark)").ok().flatten())
        .is_some_and(|m| m.matches());
    if dark {
        Theme::Dark
    } else {
        Theme::Light
    }
}

/// The theme in effect: the one picked, else the system's.
pub fn current() -> Theme {
    stored().unwrap_or_else(system)
}

/// Show `theme`; `remember` keeps the choice for the next visit.
pub fn apply(theme: Theme, remember: bool) {
    let Some(window) = web_sys::window() else {
        return;
    };
    if let Some(root) = window.document().and_then(|d| d.document_element()) {
        let _ = root.set_attribute("data-theme", theme.name());
    }
    if remember {
        if let Ok(Some(storage)) = window.local_storage() {
            let _ = storage.set_item(KEY, theme.name());
        }
    }
}

/// At start: the theme picked before, else the system's; and while nothing is picked, a change
/// of the system's theme is followed.
pub fn restore() {
    apply(current(), false);
    let query = web_sys::window()
        .and_then(|w| w.match_media("(prefers-color-scheme: dark)").ok().flatten());
    if let Some(query) = query {
        let follow = wasm_bindgen::closure::Closure::<dyn FnMut()>::new(|| {
            if stored().is_none() {
                apply(system(), false);
            }
        });
        query.set_onchange(Some(wasm_bindgen::JsCast::unchecked_ref(follow.as_ref())));
        // Lives as long as the page.
        follow.forget();
    }
}
