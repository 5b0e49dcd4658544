//! Small wording helpers shared by every surface (terminal, tray, notifications, logs), so a
//! duration reads the same everywhere.

use std::path::Path;

/// Formats bytes a second as `4 B/s`, `12 KB/s`, `3.4 MB/s`.
pub fn rate(bytes_per_sec: f64) -> String {
    match bytes_per_sec {
        r if r < 1024.0 => format!("{r:.0} B/s"),
        r if r < 1024.0 * 1024.0 => format!("{:.0} KB/s", r / 1024.0),
        r => format!("{:.1} MB/s", r / (1024.0 * 1024.0)),
    }
}

/// Formats seconds as `45s`, `3m12s`, `2h05m`, `3d04h`.
pub fn duration(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86400, (s % 86400) / 3600),
    }
}

/// A duration that is exact when `known`, else a lower bound: `≥ ` and rounded down (a hold
/// seen for 0.8 s is "≥ 0s", never "≥ 1s").
pub fn duration_known(secs: f64, known: bool) -> String {
    if known {
        duration(secs)
    } else {
        format!("≥ {}", duration(secs.floor()))
    }
}

/// [`duration_known`], or `None` for a lower bound under a second: "≥ 0s" says nothing (a hold
/// the daemon found a moment ago), so the caller leaves the time out or says something else.
pub fn duration_if_told(secs: f64, known: bool) -> Option<String> {
    (known || secs >= 1.0).then(|| duration_known(secs, known))
}

/// Between words that must stay on one line when a text wraps (see [`hanging`]); printed as a
/// space.
pub const KEEP: char = '\u{a0}';

/// `text` wrapped at `width` columns with a hanging indent: its first line after `first`, the
/// others after `rest`. Lines break at ASCII spaces only, never inside a word nor at a hyphen,
/// so a path or a crate name (`build-script-build`) stays whole, even past the width; [`KEEP`]
/// joins words that must share a line and is printed as a space.
pub fn hanging(text: &str, width: usize, first: &str, rest: &str) -> String {
    let opts = textwrap::Options::new(width)
        .word_separator(textwrap::WordSeparator::AsciiSpace)
        .word_splitter(textwrap::WordSplitter::NoHyphenation)
        .initial_indent(first)
        .subsequent_indent(rest)
        .break_words(false);
    textwrap::fill(text, opts).replace(KEEP, " ")
}

/// Shortens a path under the home directory to `~/…`, with control characters escaped.
pub fn tilde(path: &Path) -> String {
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty())
        && let Ok(rest) = path.strip_prefix(&home)
    {
        return format!("~/{}", escaped(rest));
    }
    escaped(path)
}

/// A path as text: control characters escaped (see [`printable`]) and bytes that are not UTF-8
/// as `\xff`, so the path shown is the path on disk.
fn escaped(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    printable(&bytes_text(path.as_os_str().as_bytes()))
}

/// `s` with its first letter in upper case, to begin a sentence.
pub fn upper_first(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// `s` with control characters escaped (`\n`, `\x1b`): a directory named with a newline
/// would break a report's layout, one with an escape sequence would drive the terminal. So are
/// the characters that reorder or hide text (`\u{202e}`, a zero-width space, a line
/// separator): another user's directory could otherwise make a line read as something else.
pub fn printable(s: &str) -> String {
    if !s.chars().any(needs_escape) {
        return s.to_string();
    }
    s.chars()
        .map(|c| match c {
            '\n' | '\t' | '\r' => c.escape_default().to_string(),
            c if c.is_ascii_control() => format!("\\x{:02x}", u32::from(c)),
            c if needs_escape(c) => c.escape_unicode().to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// Control characters, and the format and separator characters that reorder or hide text:
/// bidirectional overrides, embeddings and isolates, zero-width characters, line and paragraph
/// separators, the byte-order mark and interlinear annotations.
pub fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{61c}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}'
        )
}

/// Paths serialized as text even when they are not UTF-8 (a directory named with odd bytes):
/// serde's own impl refuses those, which would lose a whole report or history event. The bytes
/// that are not UTF-8 are written `\xff`; such a path is for reading, not for opening.
pub mod lossy_path {
    use std::path::PathBuf;

    use serde::Serializer;
    use serde::ser::SerializeSeq;

    /// A path as text: bytes that are not UTF-8 written `\xff`, as the terminal shows them
    /// (the same text whether a view reads the path here or from the daemon's socket).
    pub fn text(p: &std::path::Path) -> std::borrow::Cow<'_, str> {
        use std::os::unix::ffi::OsStrExt;
        super::bytes_text(p.as_os_str().as_bytes())
    }

    /// One path.
    pub fn path<S: Serializer>(p: &std::path::Path, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&text(p))
    }

    /// An optional path.
    pub fn opt<S: Serializer>(p: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
        match p {
            Some(p) => s.serialize_some(&text(p)),
            None => s.serialize_none(),
        }
    }

    /// A list of paths.
    pub fn list<S: Serializer>(ps: &[PathBuf], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(ps.len()))?;
        for p in ps {
            seq.serialize_element(&text(p))?;
        }
        seq.end()
    }
}

/// Whether two paths are the same as text: a report from the daemon carries bytes that are not
/// UTF-8 as `\xff` text, while paths read here have the bytes; compared so, both agree.
pub fn same_path(a: &Path, b: &Path) -> bool {
    lossy_path::text(a) == lossy_path::text(b)
}

/// Whether `path` is `dir` or below it, compared as text (see [`same_path`]).
pub fn path_under(path: &Path, dir: &Path) -> bool {
    let (path, dir) = (lossy_path::text(path), lossy_path::text(dir));
    Path::new(path.as_ref()).starts_with(dir.as_ref())
}

/// What is wrong with a duration, in words (humantime's own say "expected number at 0").
pub fn duration_error(e: &humantime::DurationError) -> String {
    use humantime::DurationError as E;
    match e {
        E::Empty => "it is empty".into(),
        E::UnknownUnit { unit, .. } if unit.is_empty() => "a unit is needed (s, m, h)".into(),
        E::UnknownUnit { unit, .. } => format!("`{unit}` is not a unit (ms, s, m, h, d, w, y)"),
        E::NumberOverflow => "it is too long".into(),
        E::InvalidCharacter(_) | E::NumberExpected(_) => {
            "write a number and a unit, without a sign".into()
        }
    }
}

/// Bytes as text, those that are not UTF-8 written `\xff`: how paths and command lines are
/// shown and sent, the same everywhere.
pub fn bytes_text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    if let Ok(t) = std::str::from_utf8(bytes) {
        return t.into();
    }
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out.into()
}

/// `humantime` (de)serialization of `Duration` fields ("10s", "5m", "1h 30m"), for the
/// configuration file.
pub mod duration_serde {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes a duration as humantime text.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    /// Reads humantime text, with an error that shows the expected form.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map_err(|e| {
            serde::de::Error::custom(format!(
                "`{text}` is not a duration like \"30s\" or \"5m\": {}",
                super::duration_error(&e)
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_duration_is_said_in_words() {
        let said = |t: &str| duration_error(&humantime::parse_duration(t).unwrap_err());
        assert_eq!(said("-5s"), "write a number and a unit, without a sign");
        assert_eq!(said("5"), "a unit is needed (s, m, h)");
        assert_eq!(said("5x"), "`x` is not a unit (ms, s, m, h, d, w, y)");
        assert_eq!(said(""), "it is empty");
    }

    #[test]
    fn a_path_that_is_not_utf8_is_written_as_the_terminal_shows_it() {
        use std::os::unix::ffi::OsStrExt;
        let odd = Path::new(std::ffi::OsStr::from_bytes(b"/src/bad\xff\xfename/\xc3"));
        assert_eq!(lossy_path::text(odd), r"/src/bad\xff\xfename/\xc3");
        let sent = Path::new(r"/src/bad\xff\xfename/\xc3");
        assert!(same_path(odd, sent) && !same_path(odd, Path::new("/src/bad")));
        assert!(path_under(&odd.join("target/debug"), sent));
        assert!(!path_under(Path::new("/src/badx"), Path::new("/src/bad")));
        assert_eq!(
            lossy_path::text(Path::new("/src/caf\u{e9}")),
            "/src/caf\u{e9}"
        );
    }

    #[test]
    fn a_lower_bound_rounds_down_and_an_exact_duration_rounds() {
        assert_eq!(duration_known(0.81, false), "≥ 0s");
        assert_eq!(duration_known(0.81, true), "1s");
        assert_eq!(duration_known(59.9, false), "≥ 59s");
        assert_eq!(duration_known(125.0, false), "≥ 2m05s");
        assert_eq!(duration_if_told(0.8, false), None, "≥ 0s tells nothing");
        assert_eq!(duration_if_told(0.8, true).as_deref(), Some("1s"));
        assert_eq!(duration_if_told(1.2, false).as_deref(), Some("≥ 1s"));
    }

    #[test]
    fn durations_read_at_a_glance() {
        assert_eq!(duration(0.4), "0s");
        assert_eq!(duration(-3.0), "0s");
        assert_eq!(duration(59.0), "59s");
        assert_eq!(duration(192.0), "3m12s");
        assert_eq!(duration(7500.0), "2h05m");
        assert_eq!(duration(3.0 * 86400.0 + 4.0 * 3600.0), "3d04h");
    }

    #[test]
    fn control_characters_in_paths_are_shown_escaped() {
        let p = Path::new("/src/new\nline/\x1b[31mred/target/debug/.cargo-lock");
        assert_eq!(
            tilde(p),
            "/src/new\\nline/\\x1b[31mred/target/debug/.cargo-lock"
        );
        assert_eq!(
            printable("a\tb\r\x07\x7f\u{85}"),
            "a\\tb\\r\\x07\\x7f\\u{85}"
        );
        assert_eq!(printable("plain ünïcode"), "plain ünïcode");
        assert_eq!(
            printable("p\u{202e}gpj.rs\u{200b}\u{2028}x\u{feff}"),
            "p\\u{202e}gpj.rs\\u{200b}\\u{2028}x\\u{feff}"
        );
        use std::os::unix::ffi::OsStrExt;
        let odd = Path::new(std::ffi::OsStr::from_bytes(b"/src/bad\xff\xfe-\xc3\xa9/x"));
        assert_eq!(tilde(odd), "/src/bad\\xff\\xfe-é/x");
    }
}
