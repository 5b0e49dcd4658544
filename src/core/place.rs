//! Where a process works, as a person names it: the project a cargo was pointed at
//! (`--manifest-path`, `-C`), else its working directory. A build script's nested cargo runs
//! in the build script's package but builds the project its manifest path names (review L,
//! M6), and an IDE passes the manifest of the workspace it checks.

use std::path::{Component, Path, PathBuf};

/// The directory `cmd` works on: that of the manifest it was given (relative to `cwd`, after a
/// `-C DIR`), else `cwd`. Arguments after `--` belong to the program cargo runs, not to cargo.
pub fn workplace(cmd: &[String], cwd: Option<&Path>) -> Option<PathBuf> {
    let mut dir = cwd.map(Path::to_path_buf);
    let mut manifest = None;
    let mut args = cmd.iter().skip(1).map(String::as_str);
    while let Some(a) = args.next() {
        match a {
            "--" => break,
            "-C" => dir = join(dir, args.next()?),
            "--manifest-path" => manifest = args.next(),
            _ => {
                if let Some(m) = a.strip_prefix("--manifest-path=") {
                    manifest = Some(m);
                }
            }
        }
    }
    let Some(manifest) = manifest else {
        return dir;
    };
    let file = join(dir, manifest)?;
    file.parent().map(Path::to_path_buf)
}

/// `rel` under `base` (as it is when absolute), with `.` and `..` resolved as written: the
/// result is shown, not opened.
fn join(base: Option<PathBuf>, rel: &str) -> Option<PathBuf> {
    let rel = Path::new(rel);
    let joined = if rel.is_absolute() {
        rel.to_path_buf()
    } else {
        base?.join(rel)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(cmd: &str, cwd: Option<&str>) -> Option<PathBuf> {
        let cmd: Vec<String> = cmd.split(' ').map(String::from).collect();
        workplace(&cmd, cwd.map(Path::new))
    }

    #[test]
    fn a_manifest_path_names_the_project_a_cargo_works_on() {
        let chain = Some("/tmp/p/chainb");
        // A build script's nested cargo, run from its own package.
        assert_eq!(
            at("cargo build --manifest-path ../a/Cargo.toml", chain),
            Some("/tmp/p/a".into())
        );
        assert_eq!(
            at("cargo check --manifest-path=/ws/app/Cargo.toml -q", chain),
            Some("/ws/app".into())
        );
        assert_eq!(
            at("cargo -C ../a build --manifest-path sub/Cargo.toml", chain),
            Some("/tmp/p/a/sub".into())
        );
        assert_eq!(at("cargo -C /x build", chain), Some("/x".into()));
        // Without one, its working directory; after `--`, the program's arguments.
        assert_eq!(at("cargo build", chain), Some("/tmp/p/chainb".into()));
        assert_eq!(
            at("cargo run -- --manifest-path /elsewhere/Cargo.toml", chain),
            Some("/tmp/p/chainb".into())
        );
        // A relative manifest with no known working directory says nothing, nor does a
        // dangling `-C`; a dangling `--manifest-path` is no manifest.
        assert_eq!(at("cargo build --manifest-path a/Cargo.toml", None), None);
        assert_eq!(
            at("cargo build --manifest-path", chain),
            Some("/tmp/p/chainb".into())
        );
        assert_eq!(at("cargo -C", chain), None);
        assert_eq!(at("cargo build", None), None);
    }
}
