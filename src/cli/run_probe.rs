//! The probe of one run of the CLI (`status`, `--watch`, `wait`, `kill`): kept for the whole
//! run so repeated scans reuse what it learned, and handing on to the next run, through a small
//! file in the runtime directory, who inherited each dead locker's descriptor. Finding that
//! heir may read every process on the machine (about 20 µs each); checking a remembered one
//! reads one process, and a search still runs when it no longer holds the lock.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use crate::memo;
use crate::probe::{Heirs, Probe, ProbeError};

/// The file in the runtime directory.
const FILE: &str = "heirs.json";
/// At most this many locks are remembered (each is one dead locker's heirs).
const MAX_LOCKS: usize = 64;
/// At most this many holders per lock.
const MAX_HOLDERS: usize = 16;
/// A bigger file is not ours to trust.
const MAX_BYTES: u64 = 64 * 1024;

/// The run's probe, and the heirs last written (or read).
struct Kept {
    probe: Box<dyn Probe>,
    saved: Vec<Heirs>,
}

static KEPT: Mutex<Option<Kept>> = Mutex::new(None);

/// Runs `f` with this run's probe (made on first use, told the heirs earlier runs found), and
/// writes down the heirs it knows afterwards if they changed.
pub fn with_probe<T>(runtime: &Path, f: impl FnOnce(&mut dyn Probe) -> T) -> Result<T, ProbeError> {
    let mut kept = KEPT.lock().unwrap_or_else(PoisonError::into_inner);
    let kept = match kept.as_mut() {
        Some(k) => k,
        None => {
            let mut probe = crate::probe::platform()?;
            let saved = load(&memo_path(runtime));
            probe.recall_heirs(saved.clone());
            kept.insert(Kept { probe, saved })
        }
    };
    let out = f(kept.probe.as_mut());
    let now = kept.probe.heirs();
    if now != kept.saved {
        if let Err(e) = save(runtime, &now) {
            tracing::debug!("cannot remember dead lockers' heirs: {e}");
        }
        kept.saved = now;
    }
    Ok(out)
}

/// Where the heirs are written for runtime directory `base` (nothing is created).
fn memo_path(base: &Path) -> PathBuf {
    memo::path(base, FILE)
}

/// The heirs in `path`; none when it is missing, too big, not ours or not understood (it is
/// only a hint: the next search writes it again).
pub fn load(path: &Path) -> Vec<Heirs> {
    let Some(bytes) = memo::read(path, MAX_BYTES) else {
        return Vec::new();
    };
    let mut heirs: Vec<Heirs> = serde_json::from_slice(&bytes).unwrap_or_default();
    heirs.truncate(MAX_LOCKS);
    heirs.retain(|h| !h.holders.is_empty() && h.holders.len() <= MAX_HOLDERS);
    heirs
}

/// Writes `heirs` (removes the file when there are none) atomically, in the private runtime
/// directory (made if missing).
fn save(base: &Path, heirs: &[Heirs]) -> std::io::Result<()> {
    if heirs.is_empty() {
        return memo::remove(base, FILE);
    }
    let kept = &heirs[..heirs.len().min(MAX_LOCKS)];
    let bytes = serde_json::to_vec(kept).map_err(std::io::Error::other)?;
    memo::write(base, FILE, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn heirs(ino: u64) -> Heirs {
        Heirs {
            ino,
            dead: vec![100],
            holders: vec![200, 201],
        }
    }

    #[test]
    fn heirs_written_are_read_back_and_none_removes_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("run");
        let path = memo_path(&base);
        assert!(load(&path).is_empty(), "nothing yet");
        save(&base, &[heirs(7), heirs(9)]).unwrap();
        let path = memo_path(&base);
        assert_eq!(load(&path), vec![heirs(7), heirs(9)]);
        save(&base, &[]).unwrap();
        assert!(!path.exists(), "no heirs, no file");
        save(&base, &[]).unwrap();
    }

    #[test]
    fn a_corrupt_huge_or_odd_file_is_no_heirs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        for bytes in [
            b"{not json".to_vec(),
            b"\xff\xfe\x00odd".to_vec(),
            br#"[{"ino":1,"dead":[2],"holders":[]}]"#.to_vec(),
            br#"[{"ino":-1,"dead":[2],"holders":[3]}]"#.to_vec(),
            vec![b' '; (MAX_BYTES + 1) as usize],
        ] {
            fs::write(&path, &bytes).unwrap();
            assert!(
                load(&path).is_empty(),
                "{:?}",
                String::from_utf8_lossy(&bytes)
            );
        }
        fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), &path).unwrap();
        assert!(load(&path).is_empty(), "a symlink is not followed");
    }

    #[test]
    fn too_many_locks_or_holders_are_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        let mut many: Vec<Heirs> = (0..200).map(heirs).collect();
        many[0].holders = (0..100).collect();
        fs::write(&path, serde_json::to_vec(&many).unwrap()).unwrap();
        let got = load(&path);
        assert_eq!(
            got.len(),
            MAX_LOCKS - 1,
            "the first is dropped: too many holders"
        );
        assert_eq!(got[0], heirs(1));
    }
}
