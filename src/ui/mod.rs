//! The face of the product: menu-bar/tray icon, menu and desktop notifications. The menu model,
//! icon choice and notification text are pure; the tray itself is behind the `tray` feature.
