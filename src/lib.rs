//! otadeck web app
