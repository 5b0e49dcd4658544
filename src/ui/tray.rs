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

/// The native item showing one [`Entry`], with the key it was made for and the label last
/// given to it (compared with the model's instead of the item's own text, which muda returns
/// with mnemonic escapes resolved: a label with `&` would otherwise be set again every second).
struct Native {
    key: String,
    shown: String,
    item: NativeItem,
}

enum NativeItem {
    Item(MenuItem),
    Check(CheckMenuItem),
    Separator(PredefinedMenuItem),
    Submenu(Submenu, Vec<Native>),
}

/// The menu or submenu a run of natives lives in.
#[derive(Clone, Copy)]
enum Parent<'a> {
    Menu(&'a Menu),
    Submenu(&'a Submenu),
}

/// The tray's live state (main thread only).
struct Tray {
    commands: UnboundedSender<UiCommand>,
    icon: Option<TrayIcon>,
    state: MenuState,
    snapshot: Option<UiSnapshot>,
    model: Option<MenuModel>,
    menu: Menu,
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
            menu: Menu::new(),
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
            config_file: None,
        };
        let model = self.state.build(&first, now());
        reconcile(Parent::Menu(&self.menu), &mut self.natives, &model.entries);
        let mut builder = TrayIconBuilder::new()
            .with_id("cargo-lockwatch")
            .with_menu(Box::new(self.menu.clone()))
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
                #[cfg(all(feature = "tray-sni", target_os = "linux"))]
                super::sni_watchdog::spawn();
                self.icon = Some(icon);
                self.shown_icon = Some(model.icon);
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
        if old != Some(&model) {
            reconcile(Parent::Menu(&self.menu), &mut self.natives, &model.entries);
            self.model = Some(model);
            self.refit();
        }
    }

    /// GTK keeps an open menu at the size it opened with: a longer row is cut and added rows
    /// scroll. Measure and place it again (only while it is open).
    #[cfg(all(target_os = "linux", not(feature = "tray-sni")))]
    fn refit(&self) {
        use gtk::prelude::{GtkMenuExt, WidgetExt};
        use tray_icon::menu::ContextMenu;
        let menu = self.menu.gtk_context_menu();
        if menu.is_visible() {
            menu.reposition();
        }
    }

    /// Other menus (macOS, StatusNotifierItem hosts) size themselves.
    #[cfg(not(all(target_os = "linux", not(feature = "tray-sni"))))]
    fn refit(&self) {}

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

/// Makes `natives`, the items in `parent`, show `entries`. The runs of items at the start and
/// the end whose keys did not change are updated in place; only the items between are removed
/// and the new ones inserted. The menu itself is never replaced, so a menu the user holds open
/// stays open while locks come and go (GTK closes a menu that is replaced).
fn reconcile(parent: Parent, natives: &mut Vec<Native>, entries: &[Entry]) {
    let old: Vec<&str> = natives.iter().map(|n| n.key.as_str()).collect();
    let new: Vec<String> = entries.iter().map(Entry::key).collect();
    let (head, tail) = unchanged_ends(&old, &new);
    let (old_end, new_end) = (natives.len() - tail, entries.len() - tail);
    for (n, e) in natives[..head].iter_mut().zip(entries) {
        n.update(e);
    }
    for (n, e) in natives[old_end..].iter_mut().zip(&entries[new_end..]) {
        n.update(e);
    }
    if head != old_end || head != new_end {
        tracing::debug!(
            "menu: rows {head}..{old_end} replaced by {} new ({:?})",
            new_end - head,
            &new[head..new_end]
        );
    }
    for gone in natives.drain(head..old_end) {
        if let Err(err) = parent.remove(gone.item()) {
            tracing::warn!("cannot remove a menu item: {err}");
        }
    }
    let added: Vec<Native> = entries[head..new_end].iter().map(Native::new).collect();
    for (at, n) in (head..).zip(&added) {
        if let Err(err) = parent.insert(n.item(), at) {
            tracing::warn!("cannot add a menu item: {err}");
        }
    }
    natives.splice(head..head, added);
}

/// How many keys at the start, and then at the end, `old` and `new` have in common.
fn unchanged_ends(old: &[&str], new: &[String]) -> (usize, usize) {
    let head = old.iter().zip(new).take_while(|(o, n)| *o == n).count();
    let room = old.len().min(new.len()) - head;
    let tail = (old.iter().rev().zip(new.iter().rev()))
        .take(room)
        .take_while(|(o, n)| *o == n)
        .count();
    (head, tail)
}

impl Parent<'_> {
    fn insert(self, item: &dyn IsMenuItem, at: usize) -> tray_icon::menu::Result<()> {
        match self {
            Parent::Menu(m) => m.insert(item, at),
            Parent::Submenu(s) => s.insert(item, at),
        }
    }

    fn remove(self, item: &dyn IsMenuItem) -> tray_icon::menu::Result<()> {
        match self {
            Parent::Menu(m) => m.remove(item),
            Parent::Submenu(s) => s.remove(item),
        }
    }
}

impl Native {
    /// Creates the native item for `entry`, with its submenu's items.
    fn new(entry: &Entry) -> Native {
        let (shown, item) = match entry {
            Entry::Item { id, label, enabled } => (
                label,
                NativeItem::Item(MenuItem::with_id(id.as_str(), text(label), *enabled, None)),
            ),
            Entry::Check { id, label, checked } => (
                label,
                NativeItem::Check(CheckMenuItem::with_id(
                    id.as_str(),
                    text(label),
                    true,
                    *checked,
                    None,
                )),
            ),
            Entry::Separator => (
                &String::new(),
                NativeItem::Separator(PredefinedMenuItem::separator()),
            ),
            Entry::Submenu { id, label, entries } => {
                let sub = Submenu::with_id(id.as_str(), text(label), true);
                let mut children = Vec::new();
                reconcile(Parent::Submenu(&sub), &mut children, entries);
                (label, NativeItem::Submenu(sub, children))
            }
        };
        Native {
            key: entry.key(),
            shown: shown.clone(),
            item,
        }
    }

    fn item(&self) -> &dyn IsMenuItem {
        match &self.item {
            NativeItem::Item(i) => i,
            NativeItem::Check(c) => c,
            NativeItem::Separator(s) => s,
            NativeItem::Submenu(s, _) => s,
        }
    }

    /// Copies `entry`'s text and state (it has this native's key) into the item.
    fn update(&mut self, entry: &Entry) {
        let label = match entry {
            Entry::Item { label, .. }
            | Entry::Check { label, .. }
            | Entry::Submenu { label, .. } => label,
            Entry::Separator => return,
        };
        let relabel = self.shown != *label;
        match (&mut self.item, entry) {
            (NativeItem::Item(item), Entry::Item { enabled, .. }) => {
                if relabel {
                    item.set_text(text(label));
                }
                if item.is_enabled() != *enabled {
                    item.set_enabled(*enabled);
                }
            }
            (NativeItem::Check(item), Entry::Check { checked, .. }) => {
                if relabel {
                    item.set_text(text(label));
                }
                if item.is_checked() != *checked {
                    item.set_checked(*checked);
                }
            }
            (NativeItem::Submenu(sub, children), Entry::Submenu { entries, .. }) => {
                if relabel {
                    sub.set_text(text(label));
                }
                reconcile(Parent::Submenu(sub), children, entries);
            }
            // Keys are compared before calling: a mismatch would be a bug; leave the item be.
            _ => return,
        }
        if relabel {
            self.shown = label.clone();
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

    fn keys(list: &[&str]) -> Vec<String> {
        list.iter().map(|k| k.to_string()).collect()
    }

    #[test]
    fn only_the_rows_between_unchanged_ends_are_replaced() {
        let old = [
            "item title",
            "separator",
            "item waiter/1",
            "separator",
            "item quit",
        ];
        // A second waiter joins: one insertion, everything else kept.
        let new = keys(&[
            "item title",
            "separator",
            "item waiter/1",
            "item waiter/2",
            "separator",
            "item quit",
        ]);
        assert_eq!(unchanged_ends(&old, &new), (3, 2));
        // The waiter leaves: one removal.
        assert_eq!(
            unchanged_ends(
                &old,
                &keys(&["item title", "separator", "separator", "item quit"])
            ),
            (2, 2)
        );
        // Nothing changed but texts: all kept.
        assert_eq!(unchanged_ends(&old, &keys(&old)), (5, 0));
        // Repeated keys never count twice: head and tail do not overlap.
        assert_eq!(
            unchanged_ends(&["separator", "separator"], &keys(&["separator"])),
            (1, 0)
        );
        assert_eq!(unchanged_ends(&[], &keys(&["item a"])), (0, 0));
    }

    #[cfg(target_os = "linux")]
    fn entry(id: &str, label: &str) -> Entry {
        Entry::Item {
            id: id.into(),
            label: label.into(),
            enabled: true,
        }
    }

    /// The ids and texts the native menu holds, submenus' items indented.
    #[cfg(target_os = "linux")]
    fn native_rows(items: Vec<tray_icon::menu::MenuItemKind>, depth: usize, out: &mut Vec<String>) {
        use tray_icon::menu::MenuItemKind;
        for kind in items {
            let pad = "  ".repeat(depth);
            match kind {
                MenuItemKind::MenuItem(i) => out.push(format!("{pad}{} {}", i.id().0, i.text())),
                MenuItemKind::Submenu(s) => {
                    out.push(format!("{pad}{} {} >", s.id().0, s.text()));
                    native_rows(s.items(), depth + 1, out);
                }
                MenuItemKind::Predefined(_) => out.push(format!("{pad}---")),
                MenuItemKind::Check(c) => out.push(format!(
                    "{pad}{} [{}] {}",
                    c.id().0,
                    c.is_checked(),
                    c.text()
                )),
                MenuItemKind::Icon(i) => out.push(format!("{pad}{} {}", i.id().0, i.text())),
            }
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_live_menu_follows_the_model_without_being_replaced() {
        let menu = Menu::new();
        let mut natives = Vec::new();
        let first = vec![
            entry("title", "1 waiting"),
            Entry::Separator,
            Entry::Submenu {
                id: "incident/a".into(),
                label: "cargo build waits".into(),
                entries: vec![entry("waiter/1", "cargo 1 waits 2s")],
            },
            Entry::Separator,
            entry("quit", "Quit"),
        ];
        reconcile(Parent::Menu(&menu), &mut natives, &first);
        let second = vec![
            entry("title", "2 waiting"),
            Entry::Separator,
            Entry::Submenu {
                id: "incident/a".into(),
                label: "cargo build waits".into(),
                entries: vec![
                    entry("waiter/1", "cargo 1 waits 3s"),
                    entry("waiter/2", "cargo 2 waits 0s"),
                ],
            },
            entry("incident/b", "cargo check waits"),
            Entry::Separator,
            Entry::Check {
                id: "pause".into(),
                label: "Pause & wait".into(),
                checked: true,
            },
            entry("quit", "Quit"),
        ];
        reconcile(Parent::Menu(&menu), &mut natives, &second);
        let mut rows = Vec::new();
        native_rows(menu.items(), 0, &mut rows);
        assert_eq!(
            rows,
            [
                "title 2 waiting",
                "---",
                "incident/a cargo build waits >",
                "  waiter/1 cargo 1 waits 3s",
                "  waiter/2 cargo 2 waits 0s",
                "incident/b cargo check waits",
                "---",
                "pause [true] Pause && wait", // & doubled: not a mnemonic
                "quit Quit",
            ]
        );
        reconcile(Parent::Menu(&menu), &mut natives, &first);
        let mut rows = Vec::new();
        native_rows(menu.items(), 0, &mut rows);
        assert_eq!(
            rows,
            [
                "title 1 waiting",
                "---",
                "incident/a cargo build waits >",
                "  waiter/1 cargo 1 waits 2s",
                "---",
                "quit Quit",
            ]
        );
        assert_eq!(natives.len(), 5);
    }
}
