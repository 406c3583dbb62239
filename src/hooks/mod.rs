//! Hooks that connect components to the services: each redraws its component when, and only
//! when, the store it reads changes.

use yew::prelude::*;

use crate::services::device::{DeviceHandle, DeviceView, Progress};
use crate::services::devices::Devices;
use crate::services::log::SessionLog;
use crate::services::store::Store;

/// Redraw the component whenever `store` changes.
#[hook]
pub fn use_store<T: 'static>(store: &Store<T>) {
    let redraw = use_force_update();
    use_effect_with(store.clone(), move |store| {
        let watch = store.watch(Callback::from(move |_| redraw.force_update()));
        move || drop(watch)
    });
}

/// The devices service.
#[hook]
pub fn use_devices() -> Devices {
    use_context::<Devices>().expect("the app provides the devices service")
}

/// The device the pages work on, and what the pages show of it (redrawn when that changes).
#[hook]
pub fn use_device() -> (DeviceHandle, DeviceView) {
    let devices = use_devices();
    use_store(devices.list());
    let device = devices.current();
    use_store(&device.view);
    let view = device.view.get().clone();
    (device, view)
}

/// The flash in progress on `device` (redrawn on every progress event).
#[hook]
pub fn use_progress(device: &DeviceHandle) -> Store<Progress> {
    use_store(&device.progress);
    device.progress.clone()
}

/// The session log (redrawn on every line).
#[hook]
pub fn use_log() -> SessionLog {
    let devices = use_devices();
    use_store(devices.log());
    devices.log().clone()
}

/// The campaigns service and what it shows (redrawn when that changes).
#[hook]
pub fn use_campaigns() -> crate::services::campaign::Campaigns {
    let campaigns = use_context::<crate::services::campaign::Campaigns>()
        .expect("the app provides the campaigns service");
    use_store(&campaigns.view);
    campaigns
}

/// Whether the browser has a network now (redrawn on the `online` and `offline` events).
#[hook]
pub fn use_online() -> bool {
    let online = use_state(crate::services::offline::online);
    {
        let online = online.clone();
        use_effect_with((), move |_| {
            let window = web_sys::window().expect("a window");
            let (up, down) = (online.clone(), online);
            let on = gloo::events::EventListener::new(&window, "online", move |_| up.set(true));
            let off =
                gloo::events::EventListener::new(&window, "offline", move |_| down.set(false));
            move || drop((on, off))
        });
    }
    *online
}

/// 0 at the first render, then one more in each of the next `last` tasks: what a page shows
/// below the fold mounts stage by stage, so that no render (nor its layout) is a long task.
#[hook]
pub fn use_stages(last: u8) -> u8 {
    let stage = use_state(|| 0u8);
    {
        let stage = stage.clone();
        use_effect_with(*stage, move |now| {
            let next = (*now < last).then(|| {
                let now = *now;
                gloo::timers::callback::Timeout::new(0, move || stage.set(now + 1))
            });
            move || drop(next)
        });
    }
    *stage
}
