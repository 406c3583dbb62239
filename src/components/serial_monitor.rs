//! The serial monitor card: what the module prints, a line to send, the rate, line endings,
//! timestamps, clear and save. It holds the port only while no session runs.

use wasm_bindgen_futures::spawn_local;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::hooks::{use_device, use_store};
use crate::services::monitor::{Direction, LineEnding};

/// Rates offered.
const BAUDS: [u32; 6] = [9_600, 57_600, 115_200, 230_400, 460_800, 921_600];

fn ending_of(value: &str) -> LineEnding {
    match value {
        "none" => LineEnding::None,
        "lf" => LineEnding::Lf,
        "cr" => LineEnding::Cr,
        _ => LineEnding::CrLf,
    }
}

/// The serial monitor card, for a connected serial link.
#[component]
pub fn SerialMonitor() -> Html {
    let (device, s) = use_device();
    use_store(&device.monitor.view);
    let m = device.monitor.view.get().clone();
    let text = use_state(String::new);
    let ending = use_state(|| LineEnding::CrLf);
    let timestamps = use_state(|| true);
    let output = use_node_ref();
    {
        // Keep the newest line in view.
        let output = output.clone();
        use_effect_with((m.lines.len(), m.partial.len()), move |_| {
            if let Some(el) = output.cast::<web_sys::Element>() {
                el.set_scroll_top(f64::from(el.scroll_height()));
            }
        });
    }
    let Some(baud) = device.line_baud() else {
        return Html::default();
    };
    let on_toggle = {
        let (device, running) = (device.clone(), m.running);
        Callback::from(move |_: MouseEvent| {
            let device = device.clone();
            if running {
                spawn_local(async move { device.stop_monitor().await });
            } else {
                device.start_monitor();
            }
        })
    };
    let on_baud = {
        let device = device.clone();
        Callback::from(move |e: Event| {
            let value = e.target_unchecked_into::<HtmlInputElement>().value();
            let device = device.clone();
            if let Ok(b) = value.parse() {
                spawn_local(async move { device.monitor_baud(b).await });
            }
        })
    };
    let on_ending = {
        let ending = ending.clone();
        Callback::from(move |e: Event| {
            ending.set(ending_of(
                &e.target_unchecked_into::<HtmlInputElement>().value(),
            ))
        })
    };
    let on_timestamps = {
        let timestamps = timestamps.clone();
        Callback::from(move |e: Event| {
            timestamps.set(e.target_unchecked_into::<HtmlInputElement>().checked())
        })
    };
    let send = {
        let (device, text, ending) = (device.clone(), text.clone(), *ending);
        Callback::from(move |()| {
            let (device, line) = (device.clone(), (*text).clone());
            text.set(String::new());
            spawn_local(async move { device.monitor_send(&line, ending).await });
        })
    };
    let on_input = {
        let text = text.clone();
        Callback::from(move |e: InputEvent| {
            text.set(e.target_unchecked_into::<HtmlInputElement>().value())
        })
    };
    let on_key = {
        let send = send.clone();
        Callback::from(move |e: KeyboardEvent| {
            if e.key() == "Enter" {
                e.prevent_default();
                send.emit(());
            }
        })
    };
    let on_clear = {
        let device = device.clone();
        Callback::from(move |_: MouseEvent| device.clear_monitor())
    };
    let on_save = {
        let (device, stamps) = (device.clone(), *timestamps);
        Callback::from(move |_: MouseEvent| {
            let text = device.monitor.view.get().to_text(stamps);
            crate::download::offer_text("otadeck-serial-monitor.txt", &text, "text/plain");
        })
    };
    let idle = !s.busy;
    let lines = m.lines.iter().map(|l| {
        let class = match l.direction {
            Direction::FromModule => "mon-in",
            Direction::ToModule => "mon-out",
        };
        html! {
            <div class={class}>
                if *timestamps { <span class="mon-time">{&l.time}{" "}</span> }
                if l.direction == Direction::ToModule { <span class="mon-arrow">{"› "}</span> }
                {&l.text}
            </div>
        }
    });
    html! {
        <section class="card" id="monitor-card">
            <h2>{"Serial monitor"}</h2>
            <div class="row">
                <button id="monitor-toggle" class={classes!("btn", (!m.running).then_some("btn-primary"))}
                    onclick={on_toggle} disabled={!idle && !m.running}>
                    { if m.running { "Stop monitor" } else { "Start monitor" } }
                </button>
                <label class="field">{"Baud rate"}
                    <select id="monitor-baud" onchange={on_baud} disabled={!idle}>
                        { for BAUDS.iter().map(|b| html! { <option value={b.to_string()} selected={*b == baud}>{b}</option> }) }
                    </select>
                </label>
                <label class="field">{"Line ending"}
                    <select id="monitor-ending" onchange={on_ending}>
                        <option value="crlf" selected={*ending == LineEnding::CrLf}>{"CR LF"}</option>
                        <option value="lf" selected={*ending == LineEnding::Lf}>{"LF"}</option>
                        <option value="cr" selected={*ending == LineEnding::Cr}>{"CR"}</option>
                        <option value="none" selected={*ending == LineEnding::None}>{"None"}</option>
                    </select>
                </label>
                <label class="check">
                    <input id="monitor-timestamps" type="checkbox" checked={*timestamps} onchange={on_timestamps} />
                    {"Timestamps"}
                </label>
            </div>
            if !idle && !m.running {
                <p class="muted">{"A session uses the port now; the monitor can start when it is done."}</p>
            }
            <div id="monitor-output" class="monitor" ref={output} role="log" aria-live="polite">
                if m.dropped > 0 { <div class="muted">{format!("({} older lines dropped)", m.dropped)}</div> }
                { for lines }
                if !m.partial.is_empty() { <div class="mon-in">{&m.partial}</div> }
            </div>
            <div class="row">
                <input id="monitor-input" class="input field-grow" type="text" placeholder="Text to send"
                    value={(*text).clone()} oninput={on_input} onkeydown={on_key} disabled={!m.running} />
                <button id="monitor-send" class="btn" onclick={send.reform(|_: MouseEvent| ())} disabled={!m.running}>{"Send"}</button>
                <button id="monitor-clear" class="btn" onclick={on_clear}>{"Clear"}</button>
                <button id="monitor-save" class="btn" onclick={on_save} disabled={m.lines.is_empty()}>{"Save log"}</button>
            </div>
        </section>
    }
}
