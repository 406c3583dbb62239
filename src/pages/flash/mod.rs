//! The Flash page: connect, choose an image, flash, watch, read the result. One card per step;
//! the page holds only what two cards share (the download form).

mod connect_card;
mod flash_card;
mod granted;
mod image_card;
mod install_choices;
mod source_card;
mod source_form;

use yew::prelude::*;

use crate::components::backup::BackupCard;
use crate::components::log_view::LogView;
use crate::hooks::use_stages;
use connect_card::ConnectCard;
use flash_card::FlashCard;
use image_card::ImageCard;
use source_card::SourceCard;

/// A package the module downloads itself, as typed so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DownloadForm {
    /// The module downloads (true) rather than otadeck sending a file.
    pub on: bool,
    /// The package URL.
    pub url1: String,
    /// The mini FOTA second stage, empty for one stage.
    pub url2: String,
}

/// Properties of [`FlashPage`].
#[derive(Properties, PartialEq, Default)]
pub struct FlashPageProps {
    /// A source to load at once (`#/install?manifest=<url>`).
    #[prop_or_default]
    pub manifest: Option<AttrValue>,
}

/// The Flash page.
#[component]
pub fn FlashPage(props: &FlashPageProps) -> Html {
    let download = use_state(DownloadForm::default);
    // The cards below the connect card mount in the tasks that follow: short renders.
    let stage = use_stages(2);
    html! {
        <div class="page page-split">
            <div class="col">
                <ConnectCard />
                if stage >= 1 {
                    <SourceCard initial_url={props.manifest.clone()} />
                }
                if stage >= 2 {
                    <ImageCard download={download.clone()} />
                    <BackupCard />
                }
            </div>
            <div class="col">
                <FlashCard download={download} />
                <section class="card">
                    <h2>{"Log"}</h2>
                    <LogView limit={Some(12)} />
                </section>
            </div>
        </div>
    }
}
