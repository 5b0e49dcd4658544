//! The native tray: tray-icon on tao's event loop, which owns the main thread (macOS requires it,
//! and GTK wants one thread too). Everything else talks to it by message: the daemon pushes
//! [`UiSnapshot`]s through a [`UiHandle`] (a wrapped `EventLoopProxy`), menu clicks arrive
//! through muda's event handler into the same proxy, and the tray answers with [`UiCommand`]s on
//! a tokio channel. The loop sleeps in `ControlFlow::Wait` between messages.
//!
//! What the menu says and does is decided by the pure [`MenuState`]; this module only mirrors
//! that model into native items, updating labels in place when only texts changed so an open
//! menu keeps ticking instead of closing.

use std::fmt;

use tao::event::{Event, StartCause};
use tao::event_loop::{ControlFlow, EventLoopBuilder, EventLoopProxy};
use tokio::sync::mpsc::UnboundedSender;
use tray_icon::menu::{
    CheckMenuItem, IsMenuItem, Menu, MenuEvent, MenuItem, PredefinedMenuItem, Submenu,
};
use tray_icon::{Icon, TrayIcon, TrayIconBuilder};

use super::icons::{self, IconKind, IconState};
use super::menu::{Effect, Entry, MenuModel, MenuState};
use super::{UiCommand, UiSnapshot};

/// A message for the tray's event loop.
#[derive(Debug)]
pub enum UiEvent {
    /// A new state to show.
    Snapshot(Box<UiSnapshot>),
    /// A menu item was clicked (its id).
    MenuClicked(String),
    /// Close the tray and end the process with this code.
    Exit(i32),
}

/// The tray's event loop has ended; nothing more can be shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UiGone;

impl fmt::Display for UiGone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the tray's event loop has ended")
    }
}

impl std::error::Error for UiGone {}

/// How other threads reach the tray: cheap to clone, `Send`, usable from tokio tasks.
#[derive(Clone)]
pub struct UiHandle {
    proxy: EventLoopProxy<UiEvent>,
}

impl fmt::Debug for UiHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UiHandle")
    }
}

impl UiHandle {
    /// Shows a new snapshot (icon, tooltip and menu are updated as needed). Send one whenever
    /// something visible changes, and about once a second while a lock is held so times tick.
    pub fn show(&self, snapshot: UiSnapshot) -> Result<(), UiGone> {
        self.proxy
            .send_event(UiEvent::Snapshot(Box::new(snapshot)))
            .map_err(|_| UiGone)
    }

    /// Removes the tray icon and exits the process with `code` (the event loop never returns).
    /// Call it after the daemon has cleaned up, e.g. in answer to [`UiCommand::Quit`].
    pub fn exit(&self, code: i32) -> Result<(), UiGone> {
        self.proxy
            .send_event(UiEvent::Exit(code))
            .map_err(|_| UiGone)
    }
}

/// Runs the tray on the calling thread, which must be the main thread, and never returns.
///
/// `start` is called once the event loop runs and the tray exists, with the handle other
/// threads use to push snapshots; it must not block (spawn the daemon's runtime there). Clicks
/// and notification actions come back on `commands`. If no tray can be shown (no status-notifier
/// host, say), the loop keeps running without an icon so the daemon is unaffected.
///
/// `icon_dir` is where the Linux AppIndicator backend writes its icon files (a private
/// directory of ours; by default it would use a shared `/tmp/tray-icon`).
pub fn run(
    commands: UnboundedSender<UiCommand>,
    icon_dir: Option<std::path::PathBuf>,
    start: impl FnOnce(UiHandle) + 'static,
) -> ! {
    #[allow(
        unused_mut,
        reason = "only macOS changes the event loop before running it"
    )]
    let mut event_loop = EventLoopBuilder::<UiEvent>::with_user_event().build();
    #[cfg(target_os = "macos")]
    {
        use tao::platform::macos::{ActivationPolicy, EventLoopExtMacOS};
        // A menu-bar agent: no Dock icon, no app menu.
        event_loop.set_activation_policy(ActivationPolicy::Accessory);
    }
    let proxy = event_loop.create_proxy();
    let menu_proxy = proxy.clone();
    MenuEvent::set_event_handler(Some(move |event: MenuEvent| {
        let _ = menu_proxy.send_event(UiEvent::MenuClicked(event.id.0));
    }));

    let mut start = Some(start);
    let mut tray = Tray::new(commands, icon_dir);
    event_loop.run(move |event, _target, control_flow| {
        *control_flow = ControlFlow::Wait;
        match event {
            Event::NewEvents(StartCause::Init) => {
                tray.create();
                if let Some(start) = start.take() {
                    start(UiHandle {
                        proxy: proxy.clone(),
                    });
                }
            }
            Event::UserEvent(UiEvent::Snapshot(snapshot)) => tray.show(*snapshot),
            Event::UserEvent(UiEvent::MenuClicked(id)) => {
                if let Some(code) = tray.clicked(&id) {
                    tray.remove();
                    *control_flow = ControlFlow::ExitWithCode(code);
                }
            }
            Event::UserEvent(UiEvent::Exit(code)) => {
                tray.remove();
                *control_flow = ControlFlow::ExitWithCode(code);
            }
            _ => {}
        }
    })
}

fn now() -> f64 {
    crate::scan::now()
}

/// A native item, in the order [`MenuModel::shape`] lists them, with the label last given to
/// it (compared with the model's instead of the item's own text, which muda returns with
/// mnemonic escapes resolved: a label with `&` would otherwise be set again every second).
enum Native {
    Item(MenuItem, std::cell::RefCell<String>),
    Check(CheckMenuItem, std::cell::RefCell<String>),
    Separator,
    Submenu(Submenu, std::cell::RefCell<String>),
    End,
}

/// The tray's live state (main thread only).
struct Tray {
    commands: UnboundedSender<UiCommand>,
    icon: Option<TrayIcon>,
    state: MenuState,
    snapshot: Option<UiSnapshot>,
    model: Option<MenuModel>,
    natives: Vec<Native>,
    shown_icon: Option<IconState>,
    clipboard: Option<arboard::Clipboard>,
    icon_dir: Option<std::path::PathBuf>,
}

/// The StatusNotifierItem backend shows a title (the host's name for the item); the
/// AppIndicator one would show it as a text label beside the icon, so it gets none.
const SHOWS_TITLE: bool = cfg!(feature = "tray-sni");

impl Tray {
    fn new(commands: UnboundedSender<UiCommand>, icon_dir: Option<std::path::PathBuf>) -> Tray {
        Tray {
            icon_dir,
            commands,
            icon: None,
            state: MenuState::new(),
            snapshot: None,
            model: None,
            natives: Vec::new(),
            shown_icon: None,
            clipboard: None,
        }
    }

    /// Creates the tray icon with an idle menu (called at `StartCause::Init`).
    fn create(&mut self) {
        let first = UiSnapshot {
            report: crate::core::model::Report::empty(
                crate::core::model::Source::Daemon,
                now(),
                Vec::new(),
            ),
            paused: false,
            snoozed_until: None,
            launch_at_login: false,
            yield_ide: false,
            problems: Vec::new(),
            free_locks: None,
            watched_projects: None,
        };
        let model = self.state.build(&first, now());
        let (menu, natives) = build_menu(&model);
        let mut builder = TrayIconBuilder::new()
            .with_id("cargo-lockwatch")
            .with_menu(Box::new(menu))
            .with_tooltip(&model.tooltip);
        if SHOWS_TITLE {
            builder = builder.with_title(&model.tooltip);
        }
        if let Some(dir) = &self.icon_dir {
            builder = builder.with_temp_dir_path(dir);
        }
        let builder = match native_icon(model.icon) {
            Some(icon) => with_icon(builder, icon),
            None => builder,
        };
        #[cfg(target_os = "macos")]
        let builder = builder.with_autosave_name("cargo-lockwatch");
        match builder.build() {
            Ok(icon) => {
                self.icon = Some(icon);
                self.shown_icon = Some(model.icon);
                self.natives = natives;
                self.model = Some(model);
            }
            Err(e) => tracing::error!("cannot show the tray icon ({e}); running without it"),
        }
    }

    fn show(&mut self, snapshot: UiSnapshot) {
        let model = self.state.build(&snapshot, now());
        self.snapshot = Some(snapshot);
        self.apply(model);
    }

    fn redraw(&mut self) {
        if let Some(snapshot) = self.snapshot.take() {
            self.show(snapshot);
        }
    }

    fn apply(&mut self, model: MenuModel) {
        let Some(tray) = &self.icon else {
            return;
        };
        if self.shown_icon != Some(model.icon)
            && let Some(icon) = native_icon(model.icon)
        {
            #[cfg(target_os = "macos")]
            let result = tray.set_icon_templated(Some(icon));
            #[cfg(not(target_os = "macos"))]
            let result = tray.set_icon(Some(icon));
            match result {
                Ok(()) => self.shown_icon = Some(model.icon),
                Err(e) => tracing::warn!("cannot change the tray icon: {e}"),
            }
        }
        let old = self.model.as_ref();
        if old.map(|m| &m.tooltip) != Some(&model.tooltip) {
            if let Err(e) = tray.set_tooltip(Some(&model.tooltip)) {
                tracing::debug!("cannot set the tray tooltip: {e}");
            }
            if SHOWS_TITLE {
                tray.set_title(Some(&model.tooltip));
            }
        }
        if old == Some(&model) {
            return;
        }
        if old.is_some_and(|m| m.shape() == model.shape()) {
            update_in_place(&model.entries, &mut self.natives.iter());
        } else {
            let (menu, natives) = build_menu(&model);
            tray.set_menu(Some(Box::new(menu)));
            self.natives = natives;
        }
        self.model = Some(model);
    }

    /// Handles a click; returns an exit code when the tray must end now (the daemon is gone).
    fn clicked(&mut self, id: &str) -> Option<i32> {
        for effect in self.state.click(id, now()) {
            match effect {
                Effect::Send(cmd) => {
                    let quit = cmd == UiCommand::Quit;
                    if self.commands.send(cmd).is_err() {
                        tracing::warn!("the daemon is gone; the menu can only quit");
                        if quit {
                            return Some(0);
                        }
                    }
                }
                Effect::Copy(text) => self.copy(text),
                Effect::Redraw => self.redraw(),
            }
        }
        None
    }

    fn copy(&mut self, text: String) {
        if self.clipboard.is_none() {
            match arboard::Clipboard::new() {
                Ok(c) => self.clipboard = Some(c),
                Err(e) => {
                    tracing::warn!("no clipboard ({e}); diagnostics follow:\n{text}");
                    return;
                }
            }
        }
        // The clipboard stays open in `self`: on X11 its owner must live to serve pastes.
        if let Some(c) = &mut self.clipboard
            && let Err(e) = c.set_text(text.clone())
        {
            tracing::warn!("cannot copy to the clipboard ({e}); diagnostics follow:\n{text}");
        }
    }

    fn remove(&mut self) {
        if let Some(icon) = self.icon.take()
            && let Err(e) = icon.set_visible(false)
        {
            tracing::debug!("cannot hide the tray icon: {e}");
        }
    }
}

fn native_icon(state: IconState) -> Option<Icon> {
    let img = icons::rgba(state, IconKind::for_this_platform())
        .map_err(|e| tracing::error!("embedded {} icon: {e}", state.name()))
        .ok()?;
    Icon::from_rgba(img.pixels, img.width, img.height)
        .map_err(|e| tracing::error!("embedded {} icon: {e}", state.name()))
        .ok()
}

#[cfg(target_os = "macos")]
fn with_icon(builder: TrayIconBuilder, icon: Icon) -> TrayIconBuilder {
    builder.with_icon_templated(icon)
}

#[cfg(not(target_os = "macos"))]
fn with_icon(builder: TrayIconBuilder, icon: Icon) -> TrayIconBuilder {
    builder.with_icon(icon)
}

/// muda reads `&` as a mnemonic marker; labels are plain text.
fn text(label: &str) -> String {
    label.replace('&', "&&")
}

fn build_menu(model: &MenuModel) -> (Menu, Vec<Native>) {
    let menu = Menu::new();
    let mut natives = Vec::new();
    for e in &model.entries {
        if let Some(item) = build_entry(e, &mut natives)
            && let Err(err) = menu.append(item.as_ref())
        {
            tracing::warn!("cannot add a menu item: {err}");
        }
    }
    (menu, natives)
}

/// Creates the native item for `entry` (recursively), recording it in shape order.
fn build_entry(entry: &Entry, natives: &mut Vec<Native>) -> Option<Box<dyn IsMenuItem>> {
    match entry {
        Entry::Item { id, label, enabled } => {
            let item = MenuItem::with_id(id.as_str(), text(label), *enabled, None);
            natives.push(Native::Item(item.clone(), label.clone().into()));
            Some(Box::new(item))
        }
        Entry::Check { id, label, checked } => {
            let item = CheckMenuItem::with_id(id.as_str(), text(label), true, *checked, None);
            natives.push(Native::Check(item.clone(), label.clone().into()));
            Some(Box::new(item))
        }
        Entry::Separator => {
            natives.push(Native::Separator);
            Some(Box::new(PredefinedMenuItem::separator()))
        }
        Entry::Submenu { id, label, entries } => {
            let sub = Submenu::with_id(id.as_str(), text(label), true);
            natives.push(Native::Submenu(sub.clone(), label.clone().into()));
            for e in entries {
                if let Some(item) = build_entry(e, natives)
                    && let Err(err) = sub.append(item.as_ref())
                {
                    tracing::warn!("cannot add a submenu item: {err}");
                }
            }
            natives.push(Native::End);
            Some(Box::new(sub))
        }
    }
}

/// Copies texts and states into existing items; `natives` is in the same shape as `entries`.
fn update_in_place<'a>(entries: &[Entry], natives: &mut impl Iterator<Item = &'a Native>) {
    for e in entries {
        match (e, natives.next()) {
            (Entry::Item { label, enabled, .. }, Some(Native::Item(item, shown))) => {
                if *shown.borrow() != *label {
                    item.set_text(text(label));
                    shown.replace(label.clone());
                }
                if item.is_enabled() != *enabled {
                    item.set_enabled(*enabled);
                }
            }
            (Entry::Check { label, checked, .. }, Some(Native::Check(item, shown))) => {
                if *shown.borrow() != *label {
                    item.set_text(text(label));
                    shown.replace(label.clone());
                }
                if item.is_checked() != *checked {
                    item.set_checked(*checked);
                }
            }
            (Entry::Separator, Some(Native::Separator)) => {}
            (Entry::Submenu { label, entries, .. }, Some(Native::Submenu(sub, shown))) => {
                if *shown.borrow() != *label {
                    sub.set_text(text(label));
                    shown.replace(label.clone());
                }
                update_in_place(entries, natives);
                natives.next(); // its End marker
            }
            // Shapes are compared before calling; a mismatch means a bug, so stop quietly.
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ampersands_are_not_mnemonics() {
        assert_eq!(text("Tom & Jerry"), "Tom && Jerry");
        assert_eq!(text("plain"), "plain");
    }

    #[test]
    fn every_state_has_a_native_icon() {
        for state in IconState::ALL {
            assert!(native_icon(state).is_some(), "{state:?}");
        }
    }
}
