//! Keeps the StatusNotifierItem icon registered when the panel's watcher restarts. ksni asks the
//! new watcher once, the moment it takes its bus name, and a watcher still starting up can miss
//! that call: the icon then never comes back (review G, H4). This thread listens for the watcher
//! taking its name and checks, a few times over the next seconds, that our item is listed,
//! registering it again if not. It sleeps in the D-Bus socket otherwise.

use std::time::{Duration, Instant};

use dbus::blocking::Connection;
use dbus::blocking::stdintf::org_freedesktop_dbus::Properties;

const WATCHER: &str = "org.kde.StatusNotifierWatcher";
/// The watcher taking its name (its first start, or a restart).
const WATCHER_APPEARS: &str = "type='signal',sender='org.freedesktop.DBus',\
    interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='org.kde.StatusNotifierWatcher'";
/// After the watcher appears: look after these delays, until our item is listed.
const CHECKS: [Duration; 6] = [
    Duration::from_millis(300),
    Duration::from_millis(700),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
    Duration::from_secs(8),
];
/// How long the thread sleeps when nothing is due (a signal wakes it sooner).
const IDLE: Duration = Duration::from_secs(3600);
const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// Starts the watchdog thread; without a session bus it logs why and does nothing.
pub fn spawn() {
    let started = std::thread::Builder::new()
        .name("sni-watchdog".into())
        .spawn(|| {
            if let Err(e) = Connection::new_session().and_then(|c| watch(&c)) {
                tracing::debug!("tray: the status-notifier watchdog stopped: {e}");
            }
        });
    if let Err(e) = started {
        tracing::debug!("tray: cannot start the status-notifier watchdog: {e}");
    }
}

fn watch(conn: &Connection) -> Result<(), dbus::Error> {
    conn.add_match_no_cb(WATCHER_APPEARS)?;
    // ksni registers at start too, racing a watcher that starts with us: check that as well.
    let mut due = Some((Instant::now() + CHECKS[0], 0));
    loop {
        let timeout = due.map_or(IDLE, |(at, _)| at.saturating_duration_since(Instant::now()));
        if let Some(msg) = conn.channel().blocking_pop_message(timeout)? {
            if let Ok((_, _, new_owner)) = msg.read3::<&str, &str, &str>()
                && !new_owner.is_empty()
            {
                due = Some((Instant::now() + CHECKS[0], 0));
            }
            continue;
        }
        match due {
            Some((at, step)) if Instant::now() >= at => {
                let listed = ensure_listed(conn).unwrap_or_else(|e| {
                    tracing::debug!("tray: cannot check the status-notifier watcher: {e}");
                    false
                });
                due = next_check(listed, step, Instant::now());
            }
            _ => {}
        }
    }
}

/// When to look again: never once our items are listed, else after the next delay, if any.
fn next_check(listed: bool, step: usize, now: Instant) -> Option<(Instant, usize)> {
    if listed {
        return None;
    }
    CHECKS.get(step + 1).map(|d| (now + *d, step + 1))
}

/// Registers any of our items the watcher does not list; true when all were listed already.
fn ensure_listed(conn: &Connection) -> Result<bool, dbus::Error> {
    let bus = conn.with_proxy(
        "org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        CALL_TIMEOUT,
    );
    let (names,): (Vec<String>,) = bus.method_call("org.freedesktop.DBus", "ListNames", ())?;
    let ours = our_items(names, std::process::id());
    if ours.is_empty() {
        return Ok(false); // ksni has not taken its name yet
    }
    let watcher = conn.with_proxy(WATCHER, "/StatusNotifierWatcher", CALL_TIMEOUT);
    let listed: Vec<String> = watcher.get(WATCHER, "RegisteredStatusNotifierItems")?;
    let mut all = true;
    for name in ours.iter().filter(|n| !is_listed(n, &listed)) {
        tracing::info!(
            "tray: the status-notifier watcher does not list our icon; registering it again"
        );
        watcher.method_call::<(), _, _, _>(
            WATCHER,
            "RegisterStatusNotifierItem",
            (name.as_str(),),
        )?;
        all = false;
    }
    Ok(all)
}

/// The bus names ksni took for this process's items: `org.kde.StatusNotifierItem-PID-N`.
fn our_items(names: Vec<String>, pid: u32) -> Vec<String> {
    let prefix = format!("org.kde.StatusNotifierItem-{pid}-");
    names
        .into_iter()
        .filter(|n| {
            n.strip_prefix(&prefix)
                .is_some_and(|k| k.parse::<u32>().is_ok())
        })
        .collect()
}

/// Watchers list an item by its bus name, alone (the Haskell and GNOME watchers) or followed by
/// its object path (KDE's).
fn is_listed(name: &str, listed: &[String]) -> bool {
    listed.iter().any(|l| {
        l == name
            || l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('/'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn only_this_process_s_items_are_ours() {
        let names = strings(&[
            "org.kde.StatusNotifierItem-42-1",
            "org.kde.StatusNotifierItem-421-1",
            "org.kde.StatusNotifierItem-42-x",
            "org.kde.StatusNotifierWatcher",
            ":1.7",
        ]);
        assert_eq!(our_items(names, 42), ["org.kde.StatusNotifierItem-42-1"]);
    }

    #[test]
    fn an_item_is_listed_by_name_or_by_name_and_path() {
        let name = "org.kde.StatusNotifierItem-42-1";
        assert!(is_listed(name, &strings(&[name])));
        assert!(is_listed(
            name,
            &strings(&[
                ":1.9/x",
                "org.kde.StatusNotifierItem-42-1/StatusNotifierItem"
            ])
        ));
        assert!(!is_listed(
            name,
            &strings(&["org.kde.StatusNotifierItem-42-12"])
        ));
        assert!(!is_listed(name, &[]));
    }

    #[test]
    fn checks_back_off_then_stop_and_stop_at_once_when_listed() {
        let now = Instant::now();
        assert_eq!(next_check(true, 0, now), None);
        assert_eq!(next_check(false, 0, now), Some((now + CHECKS[1], 1)));
        let last = CHECKS.len() - 1;
        assert_eq!(
            next_check(false, last - 1, now),
            Some((now + CHECKS[last], last))
        );
        assert_eq!(next_check(false, last, now), None);
    }
}
