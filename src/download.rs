//! Offering what the page made (a log, a record) as a file the browser saves.

use wasm_bindgen::JsCast;

/// Offer `text` as a file `name` of type `mime`, as if a download link were clicked.
pub fn offer_text(name: &str, text: &str, mime: &str) {
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(text));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options) else {
        return;
    };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else {
        return;
    };
    if let Some(doc) = web_sys::window().and_then(|w| w.document()) {
        if let Ok(a) = doc.create_element("a") {
            let a: web_sys::HtmlElement = a.unchecked_into();
            let _ = a.set_attribute("href", &url);
            let _ = a.set_attribute("download", name);
            a.click();
        }
    }
    let _ = web_sys::Url::revoke_object_url(&url);
}
