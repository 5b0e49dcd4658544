//! Which git repository a cargo waiting on the network fetches, told from a registry download.
//! Cargo sets no timeout for a git fetch (libgit2's own transport) unless `http.timeout` is
//! set, and git sets none unless `http.lowSpeedLimit` is: a git server that never answers holds
//! the package cache for ever, where a silent registry is given up on after Cargo's retries
//! (review X, X7 and X15).
//!
//! Pure: the URLs come from a workspace's manifests and lockfile, or from the command line of
//! the `git fetch` child Cargo runs with `net.git-fetch-with-cli`; the addresses their servers
//! resolve to are given.

use std::net::{IpAddr, SocketAddr};

use super::model::{ChildProcess, GitFetch};

/// A git repository a workspace depends on, and the addresses its server resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitSource {
    /// As the manifest or the lockfile names it (`https://github.com/o/r`).
    pub url: String,
    /// Where its server listens.
    pub addrs: Vec<SocketAddr>,
}

/// The host and port a git URL connects to: `scheme://[user@]host[:port]/path` (the scheme's
/// port when none is given) or scp-like `user@host:path` (ssh, port 22). Cargo's `git+`
/// prefix, a `?branch=` query and a `#rev` fragment are allowed.
pub fn endpoint(url: &str) -> Option<(String, u16)> {
    let url = url.strip_prefix("git+").unwrap_or(url);
    let Some((scheme, rest)) = url.split_once("://") else {
        let (user_host, _) = url.split_once(':')?;
        let host = user_host.rsplit('@').next()?;
        return (!host.is_empty() && !host.contains('/')).then(|| (host.to_string(), 22));
    };
    let port = match scheme {
        "https" => 443,
        "http" => 80,
        "ssh" => 22,
        "git" => 9418,
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit('@').next()?;
    let (host, explicit) = split_port(host_port)?;
    let port = explicit.unwrap_or(port);
    (!host.is_empty()).then(|| (host.to_string(), port))
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`.
fn split_port(host_port: &str) -> Option<(&str, Option<u16>)> {
    if let Some(v6) = host_port.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        let port = after.strip_prefix(':').map(str::parse).transpose().ok()?;
        return Some((host, port));
    }
    match host_port.rsplit_once(':') {
        Some((host, port)) => Some((host, Some(port.parse().ok()?))),
        None => Some((host_port, None)),
    }
}

/// `url` as it may be shown and kept: an HTTP(S) URL without its user information, which is
/// often a token (`https://oauth2:TOKEN@gitlab.com/o/r`); an ssh user (`git@`) is no secret
/// and stays (review 15, D14).
pub fn without_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let bare = scheme.trim_start_matches("git+");
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((_, host)) if matches!(bare, "http" | "https") => format!("{scheme}://{host}{path}"),
        _ => url.to_string(),
    }
}

/// Whether `url` is fetched over ssh (`ssh://…`, or scp-like `git@host:path`): neither
/// Cargo's `http.timeout` nor git's `http.lowSpeedLimit` applies to it (review AA, AA2).
pub fn over_ssh(url: &str) -> bool {
    let url = url.strip_prefix("git+").unwrap_or(url);
    match url.split_once("://") {
        Some((scheme, _)) => scheme == "ssh",
        None => endpoint(url).is_some(),
    }
}

/// The git repository a cargo command line names (`cargo install --git URL`, `--git=URL`):
/// it fetches that one, which no manifest lists (review AA, AA3).
pub fn command_line_url(cmd: &[String]) -> Option<String> {
    let mut args = cmd.iter().skip(1).take_while(|a| *a != "--");
    while let Some(a) = args.next() {
        if a == "--git" {
            return args.next().map(|u| without_credentials(u));
        }
        if let Some(u) = a.strip_prefix("--git=") {
            return Some(without_credentials(u));
        }
    }
    None
}

/// A command-line argument with the credentials of a URL in it masked (`https://TOKEN@host/…`
/// → `https://***@host/…`, also after `--git=`): what a process was run with is shown and
/// kept, its tokens never are (review AA, AA1), and the mark says the shown command is not
/// the one `ps` shows (review AB, AB7).
pub fn arg_without_credentials(arg: &str) -> String {
    if !arg.contains("://") || !arg.contains('@') {
        return arg.to_string();
    }
    match arg.split_once('=') {
        Some((flag, value)) if flag.starts_with('-') => {
            format!("{flag}={}", masked_credentials(value))
        }
        _ => masked_credentials(arg),
    }
}

/// `url` with its credentials, if it has any, replaced by `***` (see [`without_credentials`]).
fn masked_credentials(url: &str) -> String {
    let bare = without_credentials(url);
    match bare.split_once("://") {
        Some((scheme, rest)) if bare != url => format!("{scheme}://***@{rest}"),
        _ => bare,
    }
}

/// The address a URL's host already is (an IP literal), so nothing needs resolving.
pub fn literal_addr(host: &str, port: u16) -> Option<SocketAddr> {
    host.parse::<IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, port))
}

/// The git URLs of a `Cargo.lock`: its `source = "git+URL?query#rev"` lines, without the
/// query and the revision, each once.
pub fn locked_git_urls(lockfile: &str) -> Vec<String> {
    let mut urls: Vec<String> = lockfile
        .lines()
        .filter_map(|l| l.trim().strip_prefix("source = \"git+"))
        .filter_map(|l| l.strip_suffix('"'))
        .map(|u| u.split(['?', '#']).next().unwrap_or(u).to_string())
        .collect();
    urls.sort();
    urls.dedup();
    urls
}

/// The git URLs a manifest names: every string `git = "…"` at any depth (dependencies of
/// every kind and target, `[workspace.dependencies]`, `[patch]`), each once.
pub fn manifest_git_urls(manifest: &toml::Table) -> Vec<String> {
    fn walk(table: &toml::Table, out: &mut Vec<String>) {
        for (key, value) in table {
            match value {
                toml::Value::String(url) if key == "git" => out.push(url.clone()),
                toml::Value::Table(t) => walk(t, out),
                _ => {}
            }
        }
    }
    let mut urls = Vec::new();
    walk(manifest, &mut urls);
    urls.sort();
    urls.dedup();
    urls
}

/// The source whose server `peer` (`ip:port`, as a connection's remote end is shown) is.
pub fn source_of<'a>(peer: &str, sources: &'a [GitSource]) -> Option<&'a GitSource> {
    let peer: SocketAddr = peer.parse().ok()?;
    let same = |a: &SocketAddr| a.ip().to_canonical() == peer.ip().to_canonical();
    sources
        .iter()
        .find(|s| s.addrs.iter().any(|a| same(a) && a.port() == peer.port()))
}

/// The git repository a cargo's `git fetch` child fetches (`net.git-fetch-with-cli`): its
/// first child is `git fetch … URL …` and every descendant is git or one of its helpers
/// (`git-remote-https`, `ssh`). `None` for any other tree, such as a build script's.
pub fn by_git_child(descendants: &[ChildProcess]) -> Option<GitFetch> {
    let helper = |c: &ChildProcess| c.name.raw().starts_with("git") || c.name.raw() == "ssh";
    if !descendants.iter().all(helper) {
        return None;
    }
    let first = descendants.first()?;
    let mut args = first.cmd.iter().skip_while(|a| *a != "fetch").skip(1);
    let url = args.find(|a| !a.starts_with('-'))?;
    Some(GitFetch {
        url: without_credentials(url),
        with_git_cli: true,
    })
}

/// The git fetch a blocker with `activity` waits in, whether or not it gives up: its `git
/// fetch` child's, or, with no child, the one whose server is one of its connections' peer
/// (`last_peer` during a pause between tries).
pub fn fetch_of(
    activity: &super::model::Activity,
    sources: &[GitSource],
    last_peer: Option<&str>,
) -> Option<GitFetch> {
    if let Some(fetch) = by_git_child(&activity.descendants) {
        return Some(fetch);
    }
    if !activity.descendants.is_empty() {
        return None;
    }
    // Any connection may be the fetch's, not only the first listed (review 15, D6).
    let mut peers = (activity.peers.iter().map(|p| p.remote.as_str())).chain(last_peer);
    let source = peers.find_map(|p| source_of(p, sources))?;
    Some(GitFetch {
        url: source.url.clone(),
        with_git_cli: false,
    })
}

/// Whether `fetch` gives up on a silent server with `settings`: git's low-speed limit for
/// git's fetch, `http.timeout` for Cargo's, neither over ssh.
pub fn gives_up(fetch: &GitFetch, settings: &super::netwait::NetSettings) -> bool {
    let set = match fetch.with_git_cli {
        true => settings.git_low_speed_secs.is_some(),
        false => settings.timeout_set,
    };
    set && !over_ssh(&fetch.url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_of_the_url_forms_cargo_accepts() {
        let at = |h: &str, p: u16| Some((h.to_string(), p));
        assert_eq!(endpoint("https://github.com/o/r"), at("github.com", 443));
        assert_eq!(
            endpoint("http://127.0.0.1:19098/x.git"),
            at("127.0.0.1", 19098)
        );
        assert_eq!(
            endpoint("git+https://gitlab.com/o/r?branch=main#0123abc"),
            at("gitlab.com", 443)
        );
        assert_eq!(
            endpoint("ssh://git@host.example/o/r"),
            at("host.example", 22)
        );
        assert_eq!(
            endpoint("ssh://git@host.example:2222/o/r"),
            at("host.example", 2222)
        );
        assert_eq!(endpoint("git@github.com:o/r.git"), at("github.com", 22));
        assert_eq!(endpoint("git://example.org/r"), at("example.org", 9418));
        assert_eq!(endpoint("http://[::1]:8080/r.git"), at("::1", 8080));
        assert_eq!(
            endpoint("https://user:pw@host.example/r"),
            at("host.example", 443)
        );
        // A local repository has no server.
        assert_eq!(endpoint("file:///tmp/dep.git"), None);
        assert_eq!(endpoint("/tmp/dep.git"), None);
        assert_eq!(endpoint("http://host:notaport/r"), None);
    }

    #[test]
    fn credentials_are_never_shown() {
        assert_eq!(
            without_credentials("https://oauth2:TOKEN@gitlab.com/o/r.git"),
            "https://gitlab.com/o/r.git"
        );
        assert_eq!(
            without_credentials("git+https://TOKEN@github.com/o/r?branch=x"),
            "git+https://github.com/o/r?branch=x"
        );
        assert_eq!(
            without_credentials("ssh://git@host/o/r"),
            "ssh://git@host/o/r"
        );
        assert_eq!(
            without_credentials("git@github.com:o/r.git"),
            "git@github.com:o/r.git"
        );
        assert_eq!(without_credentials("https://h/a@b"), "https://h/a@b");
    }

    #[test]
    fn ssh_urls_are_told_apart() {
        assert!(over_ssh("ssh://git@127.0.0.1:2222/x.git"));
        assert!(over_ssh("git@github.com:o/r.git"));
        assert!(!over_ssh("https://github.com/o/r"));
        assert!(!over_ssh("git+http://h/r"));
        assert!(!over_ssh("/local/path"));
    }

    #[test]
    fn an_install_names_its_repository_on_the_command_line() {
        let cmd = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert_eq!(
            command_line_url(&cmd("cargo install --git https://h/o/r --branch x")),
            Some("https://h/o/r".into())
        );
        assert_eq!(
            command_line_url(&cmd("cargo install --git=http://u:T@h/r")),
            Some("http://h/r".into())
        );
        assert_eq!(command_line_url(&cmd("cargo build")), None);
        assert_eq!(command_line_url(&cmd("cargo run -- --git x")), None);
    }

    #[test]
    fn command_lines_keep_no_token() {
        let arg = arg_without_credentials;
        assert_eq!(
            arg("http://user:TOKEN@127.0.0.1:9/x.git"),
            "http://***@127.0.0.1:9/x.git"
        );
        assert_eq!(arg("--git=https://TOKEN@h/r"), "--git=https://***@h/r");
        // Masked once more, a masked URL stays as it is; its repository is the same.
        assert_eq!(arg("https://***@h/r"), "https://***@h/r");
        let masked = ["cargo", "install", "--git", "https://***@h/r"].map(String::from);
        assert_eq!(command_line_url(&masked), Some("https://h/r".into()));
        // ssh's user is no secret (`git@host`): kept.
        assert_eq!(arg("ssh://git@h/r"), "ssh://git@h/r");
        assert_eq!(arg("--features=a@b"), "--features=a@b");
        assert_eq!(arg("build"), "build");
    }

    #[test]
    fn a_lockfile_s_git_sources_without_query_and_revision() {
        let lock = "[[package]]\nname = \"gx\"\nversion = \"0.1.0\"\n\
                    source = \"git+http://127.0.0.1:19098/x.git#33b173cc\"\n\n\
                    [[package]]\nname = \"gy\"\n\
                    source = \"git+https://github.com/o/y?branch=dev#abc\"\n\n\
                    [[package]]\nname = \"itoa\"\n\
                    source = \"registry+https://github.com/rust-lang/crates.io-index\"\n\n\
                    [[package]]\nname = \"gx2\"\n\
                    source = \"git+http://127.0.0.1:19098/x.git#33b173cc\"\n";
        assert_eq!(
            locked_git_urls(lock),
            ["http://127.0.0.1:19098/x.git", "https://github.com/o/y"]
        );
    }

    #[test]
    fn a_manifest_s_git_dependencies_at_any_depth() {
        let manifest: toml::Table = toml::from_str(
            "[package]\nname = \"p\"\n[dependencies]\na = { git = \"https://h/a\" }\n\
             b = \"1\"\n[target.'cfg(unix)'.build-dependencies]\nc = { git = \"ssh://h/c\" }\n\
             [workspace.dependencies]\nd = { git = \"https://h/a\", branch = \"x\" }\n\
             [patch.crates-io]\ne = { git = \"http://127.0.0.1:9/e.git\" }\n",
        )
        .unwrap();
        assert_eq!(
            manifest_git_urls(&manifest),
            ["http://127.0.0.1:9/e.git", "https://h/a", "ssh://h/c"]
        );
    }

    #[test]
    fn a_peer_is_matched_to_the_source_its_server_resolves_to() {
        let source = |url: &str, addrs: &[&str]| GitSource {
            url: url.into(),
            addrs: addrs.iter().map(|a| a.parse().unwrap()).collect(),
        };
        let sources = [
            source("https://github.com/o/r", &["140.82.121.4:443"]),
            source("http://127.0.0.1:19098/x.git", &["127.0.0.1:19098"]),
        ];
        let url = |peer| source_of(peer, &sources).map(|s| s.url.as_str());
        assert_eq!(url("127.0.0.1:19098"), Some("http://127.0.0.1:19098/x.git"));
        assert_eq!(url("140.82.121.4:443"), Some("https://github.com/o/r"));
        // The same address in IPv6's mapped form.
        assert_eq!(
            url("[::ffff:140.82.121.4]:443"),
            Some("https://github.com/o/r")
        );
        // A registry on the same host, another port; or another host: not a git fetch.
        assert_eq!(url("127.0.0.1:19099"), None);
        assert_eq!(url("18.160.0.1:443"), None);
        assert_eq!(url("not an address"), None);
    }

    fn child(pid: u32, name: &str, cmd: &str) -> ChildProcess {
        ChildProcess {
            pid,
            name: name.into(),
            cmd: cmd.split(' ').map(String::from).collect(),
            stopped: false,
        }
    }

    #[test]
    fn a_git_fetch_child_names_its_repository() {
        // As cargo 1.95 runs it with `net.git-fetch-with-cli`, and git its HTTP helper.
        let tree = [
            child(
                8922,
                "git",
                "git fetch --no-tags --force --update-head-ok http://127.0.0.1:19098/x.git \
                 +HEAD:refs/remotes/origin/HEAD",
            ),
            child(
                8923,
                "git",
                "/usr/lib/git-core/git remote-http http://127.0.0.1:19098/x.git",
            ),
            child(
                8924,
                "git-remote-http",
                "/usr/lib/git-core/git-remote-http http://127.0.0.1:19098/x.git",
            ),
        ];
        assert_eq!(
            by_git_child(&tree),
            Some(GitFetch {
                url: "http://127.0.0.1:19098/x.git".into(),
                with_git_cli: true
            })
        );
        let ssh = [
            child(
                5,
                "git",
                "git fetch --depth=1 --force git@h:o/r.git +HEAD:x",
            ),
            child(6, "ssh", "ssh git@h git-upload-pack 'o/r.git'"),
        ];
        assert_eq!(by_git_child(&ssh).unwrap().url, "git@h:o/r.git");
    }

    #[test]
    fn a_fetch_without_a_timeout_is_endless_for_the_history() {
        use super::super::model::Activity;
        let sources = [GitSource {
            url: "http://127.0.0.1:9/x.git".into(),
            addrs: vec!["127.0.0.1:9".parse().unwrap()],
        }];
        use super::super::netwait::NetSettings;
        let idle = Activity::default();
        let defaults = NetSettings::default();
        let timeout = NetSettings {
            timeout_set: true,
            ..defaults
        };
        // In a pause between tries, the peer last seen says which server it was.
        let endless =
            fetch_of(&idle, &sources, Some("127.0.0.1:9")).filter(|f| !gives_up(f, &defaults));
        assert_eq!(
            endless.map(|f| f.url),
            Some("http://127.0.0.1:9/x.git".into())
        );
        // `http.timeout` set: Cargo's transport gives up like a registry's.
        assert_eq!(
            fetch_of(&idle, &sources, Some("127.0.0.1:9")).filter(|f| !gives_up(f, &timeout)),
            None
        );
        // A registry's peer.
        assert_eq!(
            fetch_of(&idle, &sources, Some("127.0.0.1:10")).filter(|f| !gives_up(f, &defaults)),
            None
        );
        // git's own fetch never minds Cargo's timeout, only git's low-speed limit.
        let cli = Activity {
            descendants: vec![child(5, "git", "git fetch --force http://h/r.git +HEAD:x")],
            ..Activity::default()
        };
        assert!(
            fetch_of(&cli, &[], None)
                .filter(|f| !gives_up(f, &timeout))
                .is_some_and(|f| f.with_git_cli)
        );
        let low_speed = NetSettings {
            git_low_speed_secs: Some(20.0),
            ..defaults
        };
        assert_eq!(
            fetch_of(&cli, &[], None).filter(|f| !gives_up(f, &low_speed)),
            None
        );
    }

    #[test]
    fn other_trees_are_no_git_fetch() {
        // A build script that runs git, a git that does something else, no child at all.
        let script = [
            child(5, "build-script-bu", "/t/build/x/build-script-build"),
            child(6, "git", "git fetch https://h/r"),
        ];
        assert_eq!(by_git_child(&script), None);
        assert_eq!(by_git_child(&[child(5, "git", "git rev-parse HEAD")]), None);
        assert_eq!(by_git_child(&[]), None);
    }
}
