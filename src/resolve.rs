//! The addresses git dependencies' servers resolve to, so a cargo's silent connection can be
//! told to be a git fetch rather than a registry download (see [`crate::core::gitfetch`]).
//! Host names are resolved by the system resolver on threads of their own, at most one at a
//! time per host and [`MAX_IN_FLIGHT`] in all, and remembered for [`FRESH`]: a pass waits for
//! them at most [`DEADLINE`] in all, and a resolver that hangs costs a pass that much once, not
//! a thread per pass; an answer that comes late is used by the next pass.

use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::core::gitfetch::{self, GitSource};

/// How long one pass waits for the hosts it asked for, all together.
const DEADLINE: Duration = Duration::from_millis(500);
/// How long an answer is kept.
const FRESH: Duration = Duration::from_secs(300);
/// Lookups running at once, at most.
const MAX_IN_FLIGHT: usize = 8;

/// A host and port.
type Endpoint = (String, u16);

/// What is known of one endpoint.
#[derive(Debug, Clone)]
enum Lookup {
    /// A thread is asking the resolver.
    Asking,
    /// Its addresses (none when it did not resolve), and when they were learned.
    Known(Vec<SocketAddr>, Instant),
}

/// Every endpoint asked for by this process.
fn lookups() -> &'static Mutex<HashMap<Endpoint, Lookup>> {
    static CACHE: OnceLock<Mutex<HashMap<Endpoint, Lookup>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// For each list of URLs (one per cargo), the git sources with their servers' addresses; a
/// URL with no server (a local path, `file://`) or whose host has not resolved (yet) is left
/// out.
pub fn git_sources<K: Copy + Eq + std::hash::Hash>(
    urls: &HashMap<K, Vec<String>>,
) -> HashMap<K, Vec<GitSource>> {
    let endpoints: Vec<Endpoint> = (urls.values().flatten())
        .filter_map(|u| gitfetch::endpoint(u))
        .collect();
    let known = resolve_all(endpoints);
    let sources = |list: &Vec<String>| -> Vec<GitSource> {
        (list.iter())
            .filter_map(|url| {
                let addrs = known.get(&gitfetch::endpoint(url)?)?;
                (!addrs.is_empty()).then(|| GitSource {
                    url: url.clone(),
                    addrs: addrs.clone(),
                })
            })
            .collect()
    };
    urls.iter().map(|(k, list)| (*k, sources(list))).collect()
}

/// The addresses of `endpoints` known within [`DEADLINE`]: IP literals at once, names from the
/// cache or from lookups started now.
fn resolve_all(endpoints: Vec<Endpoint>) -> HashMap<Endpoint, Vec<SocketAddr>> {
    let mut out = HashMap::new();
    let mut names = Vec::new();
    for (host, port) in endpoints {
        match gitfetch::literal_addr(&host, port) {
            Some(addr) => {
                out.insert((host, port), vec![addr]);
            }
            None => names.push((host, port)),
        }
    }
    names.sort();
    names.dedup();
    for e in &names {
        ask(e);
    }
    let deadline = Instant::now() + DEADLINE;
    loop {
        let answered = known(&names);
        if answered.len() == names.len() || Instant::now() >= deadline {
            out.extend(answered);
            return out;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Starts a lookup of `e` unless one runs, its answer is fresh, or too many run.
fn ask(e: &Endpoint) {
    let Ok(mut cache) = lookups().lock() else {
        return;
    };
    let in_flight = (cache.values())
        .filter(|l| matches!(l, Lookup::Asking))
        .count();
    match cache.get(e) {
        Some(Lookup::Asking) => return,
        Some(Lookup::Known(_, at)) if at.elapsed() < FRESH => return,
        _ if in_flight >= MAX_IN_FLIGHT => return,
        _ => {}
    }
    let (host, port) = e.clone();
    let spawned = std::thread::Builder::new()
        .name("resolve".into())
        .spawn(move || {
            let addrs: Vec<SocketAddr> = (host.as_str(), port)
                .to_socket_addrs()
                .map(Iterator::collect)
                .unwrap_or_default();
            if let Ok(mut cache) = lookups().lock() {
                cache.insert((host, port), Lookup::Known(addrs, Instant::now()));
            }
        });
    if spawned.is_ok() {
        cache.insert(e.clone(), Lookup::Asking);
    }
}

/// The answers known now for `names`.
fn known(names: &[Endpoint]) -> HashMap<Endpoint, Vec<SocketAddr>> {
    let Ok(cache) = lookups().lock() else {
        return HashMap::new();
    };
    (names.iter())
        .filter_map(|e| match cache.get(e) {
            Some(Lookup::Known(addrs, _)) => Some((e.clone(), addrs.clone())),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_need_no_resolver_and_local_paths_have_no_server() {
        let urls = HashMap::from([(
            1u32,
            vec![
                "http://127.0.0.1:19098/x.git".to_string(),
                "https://[::1]:8443/y".to_string(),
                "file:///tmp/dep.git".to_string(),
            ],
        )]);
        let sources = &git_sources(&urls)[&1];
        let addrs: Vec<(&str, Vec<SocketAddr>)> = (sources.iter())
            .map(|s| (s.url.as_str(), s.addrs.clone()))
            .collect();
        assert_eq!(
            addrs,
            [
                (
                    "http://127.0.0.1:19098/x.git",
                    vec!["127.0.0.1:19098".parse().unwrap()]
                ),
                ("https://[::1]:8443/y", vec!["[::1]:8443".parse().unwrap()]),
            ]
        );
    }

    #[test]
    fn a_lookup_that_runs_is_not_started_again_and_its_answer_is_kept() {
        let e: Endpoint = ("lookup-test.invalid".into(), 443);
        lookups().lock().unwrap().insert(e.clone(), Lookup::Asking);
        ask(&e);
        assert!(matches!(lookups().lock().unwrap()[&e], Lookup::Asking));
        // Answered: the answer is what the next pass reads.
        let addr: SocketAddr = "192.0.2.7:443".parse().unwrap();
        (lookups().lock().unwrap()).insert(e.clone(), Lookup::Known(vec![addr], Instant::now()));
        ask(&e);
        assert_eq!(known(std::slice::from_ref(&e))[&e], vec![addr]);
    }
}
