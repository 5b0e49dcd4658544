//! The addresses git dependencies' servers resolve to, so a cargo's silent connection can be
//! told to be a git fetch rather than a registry download (see [`crate::core::gitfetch`]).
//! Host names are resolved by the system resolver, all at once and with a deadline: a resolver
//! that hangs costs one pass half a second, once in a cargo's life, never the pass's answer.

use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::core::gitfetch::{self, GitSource};

/// How long the resolver is given for all the hosts of one cargo's workspace.
const DEADLINE: Duration = Duration::from_millis(500);

/// `urls` with the addresses their servers resolve to; a URL with no server (a local path,
/// `file://`) or whose host did not resolve in time is left out.
pub fn git_sources(urls: &[String]) -> Vec<GitSource> {
    let endpoints: Vec<(String, (String, u16))> = (urls.iter())
        .filter_map(|u| Some((u.clone(), gitfetch::endpoint(u)?)))
        .collect();
    let resolved = resolve_all(endpoints.iter().map(|(_, e)| e.clone()).collect());
    endpoints
        .into_iter()
        .filter_map(|(url, e)| {
            let addrs = resolved.get(&e).filter(|a| !a.is_empty())?.clone();
            Some(GitSource { url, addrs })
        })
        .collect()
}

/// Each endpoint's addresses: an IP literal at once, a name on a thread of its own, all
/// answered within [`DEADLINE`] (a late answer is dropped with its thread).
fn resolve_all(mut endpoints: Vec<(String, u16)>) -> HashMap<(String, u16), Vec<SocketAddr>> {
    endpoints.sort();
    endpoints.dedup();
    let mut out = HashMap::new();
    let (tx, rx) = mpsc::channel();
    let mut asked = 0;
    for (host, port) in endpoints {
        if let Some(addr) = gitfetch::literal_addr(&host, port) {
            out.insert((host, port), vec![addr]);
            continue;
        }
        let tx = tx.clone();
        let spawned = std::thread::Builder::new()
            .name("resolve".into())
            .spawn(move || {
                let addrs = (host.as_str(), port)
                    .to_socket_addrs()
                    .map(Iterator::collect)
                    .unwrap_or_default();
                let _ = tx.send(((host, port), addrs));
            });
        asked += usize::from(spawned.is_ok());
    }
    let deadline = Instant::now() + DEADLINE;
    for _ in 0..asked {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok((endpoint, addrs)) = rx.recv_timeout(left) else {
            break;
        };
        out.insert(endpoint, addrs);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_names_resolve_and_local_paths_have_no_server() {
        let urls = [
            "http://127.0.0.1:19098/x.git".to_string(),
            "ssh://git@localhost:2222/o/r".to_string(),
            "file:///tmp/dep.git".to_string(),
        ];
        let sources = git_sources(&urls);
        let literal = sources.iter().find(|s| s.url == urls[0]).expect("literal");
        assert_eq!(literal.addrs, ["127.0.0.1:19098".parse().unwrap()]);
        // localhost is in every /etc/hosts: a name resolved by the system resolver.
        let named = sources
            .iter()
            .find(|s| s.url == urls[1])
            .expect("localhost");
        assert!(
            named
                .addrs
                .iter()
                .all(|a| a.ip().is_loopback() && a.port() == 2222),
            "{named:?}"
        );
        assert!(!sources.iter().any(|s| s.url == urls[2]));
    }
}
