//! The tray icon for each state, embedded in the binary so the daemon needs no asset files at
//! run time. The PNGs are rendered from `assets/icons/*.svg` by `assets/icons/render.sh`.
//!
//! Choosing the state is pure; decoding a PNG to the RGBA buffer tray-icon wants is behind the
//! `tray` feature, as only the tray needs it.

use serde::{Deserialize, Serialize};

use super::UiSnapshot;
use crate::core::model::IncidentState;

/// What the icon shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IconState {
    /// Every Cargo lock is free (an open padlock).
    Idle,
    /// A lock is held and nobody waits (a closed padlock).
    Held,
    /// A lock is held and someone waits (clock badge).
    Contended,
    /// A holder looks stale (exclamation badge).
    Stale,
    /// Watching is paused (pause badge).
    Paused,
}

impl IconState {
    /// Every state, in order of increasing alarm (paused last).
    pub const ALL: [IconState; 5] = [
        IconState::Idle,
        IconState::Held,
        IconState::Contended,
        IconState::Stale,
        IconState::Paused,
    ];

    /// The state a snapshot shows: paused wins, then the worst incident. Background locks
    /// (shared, nobody waits) never change the icon.
    pub fn of(snapshot: &UiSnapshot) -> IconState {
        if snapshot.paused {
            return IconState::Paused;
        }
        match snapshot.report.overall() {
            None => IconState::Idle,
            Some(IncidentState::Holding) => IconState::Held,
            Some(IncidentState::Blocking) => IconState::Contended,
            Some(IncidentState::Stale) => IconState::Stale,
        }
    }

    /// The file-name stem of this state's SVG and PNGs.
    pub fn name(self) -> &'static str {
        match self {
            IconState::Idle => "idle",
            IconState::Held => "held",
            IconState::Contended => "contended",
            IconState::Stale => "stale",
            IconState::Paused => "paused",
        }
    }
}

/// Which rendering of an icon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IconKind {
    /// Coloured, 22 px high (the macOS menu-bar size); `retina` doubles it.
    MenuBar {
        /// 2x (44 px).
        retina: bool,
    },
    /// Black + alpha, 22 px, for a macOS template image that AppKit tints to the menu bar.
    Template {
        /// 2x (44 px).
        retina: bool,
    },
    /// Coloured, 32 px (Linux trays); `retina` doubles it.
    Tray {
        /// 2x (64 px).
        retina: bool,
    },
}

impl IconKind {
    /// Edge length in pixels.
    pub fn pixels(self) -> u32 {
        match self {
            IconKind::MenuBar { retina } | IconKind::Template { retina } => {
                if retina {
                    44
                } else {
                    22
                }
            }
            IconKind::Tray { retina } => {
                if retina {
                    64
                } else {
                    32
                }
            }
        }
    }

    /// The icon this platform's tray should use: on macOS a 2x template (tray-icon draws it
    /// 22 pt high, so it is sharp on Retina); elsewhere the coloured 32 px icon.
    pub fn for_this_platform() -> IconKind {
        if cfg!(target_os = "macos") {
            IconKind::Template { retina: true }
        } else {
            IconKind::Tray { retina: false }
        }
    }
}

macro_rules! state_pngs {
    ($state:literal) => {
        [
            include_bytes!(concat!("../../assets/icons/png/", $state, "-22.png")).as_slice(),
            include_bytes!(concat!("../../assets/icons/png/", $state, "-22@2x.png")).as_slice(),
            include_bytes!(concat!(
                "../../assets/icons/png/",
                $state,
                "-template-22.png"
            ))
            .as_slice(),
            include_bytes!(concat!(
                "../../assets/icons/png/",
                $state,
                "-template-22@2x.png"
            ))
            .as_slice(),
            include_bytes!(concat!("../../assets/icons/png/", $state, "-32.png")).as_slice(),
            include_bytes!(concat!("../../assets/icons/png/", $state, "-32@2x.png")).as_slice(),
        ]
    };
}

/// Indexed by [`IconState`] order, then [`slot`].
static PNGS: [[&[u8]; 6]; 5] = [
    state_pngs!("idle"),
    state_pngs!("held"),
    state_pngs!("contended"),
    state_pngs!("stale"),
    state_pngs!("paused"),
];

fn slot(kind: IconKind) -> usize {
    match kind {
        IconKind::MenuBar { retina } => usize::from(retina),
        IconKind::Template { retina } => 2 + usize::from(retina),
        IconKind::Tray { retina } => 4 + usize::from(retina),
    }
}

/// The embedded PNG file for a state and rendering.
pub fn png(state: IconState, kind: IconKind) -> &'static [u8] {
    let row = match state {
        IconState::Idle => 0,
        IconState::Held => 1,
        IconState::Contended => 2,
        IconState::Stale => 3,
        IconState::Paused => 4,
    };
    PNGS[row][slot(kind)]
}

/// A decoded image: 8-bit RGBA, row-major, no padding.
#[cfg(tray)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgba {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 4` bytes.
    pub pixels: Vec<u8>,
}

/// Why a PNG could not be decoded.
#[cfg(tray)]
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The bytes are not a PNG the decoder understands.
    #[error("not a readable PNG: {0}")]
    Png(#[from] png::DecodingError),
    /// A colour layout this decoder does not convert.
    #[error("unsupported PNG colour layout {0:?}")]
    Layout(png::ColorType),
    /// The image data is shorter than its header promises.
    #[error("PNG data is truncated")]
    Truncated,
}

/// Decodes any 8/16-bit PNG (grey, grey+alpha, RGB, RGBA, palette) to RGBA.
#[cfg(tray)]
pub fn decode(bytes: &[u8]) -> Result<Rgba, DecodeError> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info()?;
    let size = reader.output_buffer_size().ok_or(DecodeError::Truncated)?;
    let mut buf = vec![0; size];
    let info = reader.next_frame(&mut buf)?;
    let (width, height) = (info.width, info.height);
    let n = (width as usize) * (height as usize);
    let data = buf
        .get(..info.buffer_size())
        .ok_or(DecodeError::Truncated)?;
    let pixels: Vec<u8> = match info.color_type {
        png::ColorType::Rgba => data.to_vec(),
        png::ColorType::Rgb => data
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
        png::ColorType::GrayscaleAlpha => data
            .chunks_exact(2)
            .flat_map(|p| [p[0], p[0], p[0], p[1]])
            .collect(),
        png::ColorType::Grayscale => data.iter().flat_map(|&g| [g, g, g, 255]).collect(),
        other => return Err(DecodeError::Layout(other)),
    };
    if pixels.len() != n * 4 {
        return Err(DecodeError::Truncated);
    }
    Ok(Rgba {
        width,
        height,
        pixels,
    })
}

/// The decoded icon for a state.
#[cfg(tray)]
pub fn rgba(state: IconState, kind: IconKind) -> Result<Rgba, DecodeError> {
    decode(png(state, kind))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::{Report, Source};

    fn png_size(bytes: &[u8]) -> (u32, u32) {
        // IHDR is the first chunk: width and height at bytes 16..24.
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&bytes[12..16], b"IHDR");
        let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
        let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
        (w, h)
    }

    const KINDS: [IconKind; 6] = [
        IconKind::MenuBar { retina: false },
        IconKind::MenuBar { retina: true },
        IconKind::Template { retina: false },
        IconKind::Template { retina: true },
        IconKind::Tray { retina: false },
        IconKind::Tray { retina: true },
    ];

    #[test]
    fn every_state_and_kind_is_a_png_of_the_right_size() {
        for state in IconState::ALL {
            for kind in KINDS {
                let px = kind.pixels();
                assert_eq!(png_size(png(state, kind)), (px, px), "{state:?} {kind:?}");
            }
        }
    }

    #[test]
    fn states_have_distinct_images() {
        for kind in KINDS {
            for (i, a) in IconState::ALL.iter().enumerate() {
                for b in &IconState::ALL[i + 1..] {
                    assert_ne!(png(*a, kind), png(*b, kind), "{a:?} = {b:?} as {kind:?}");
                }
            }
        }
    }

    #[test]
    fn state_follows_the_worst_incident_and_pause_wins() {
        let mut snap = UiSnapshot {
            report: Report::empty(Source::Daemon, 0.0, vec![]),
            paused: false,
            snoozed_until: None,
            launch_at_login: false,
            yield_ide: false,
            problems: Vec::new(),
            free_locks: None,
            watched_projects: None,
            config_file: None,
        };
        assert_eq!(IconState::of(&snap), IconState::Idle);
        snap.paused = true;
        assert_eq!(IconState::of(&snap), IconState::Paused);
    }

    #[cfg(tray)]
    #[test]
    fn icons_decode_to_rgba_and_templates_are_black_with_alpha() {
        for state in IconState::ALL {
            for kind in KINDS {
                let img = rgba(state, kind).unwrap();
                assert_eq!(img.width, kind.pixels());
                assert_eq!(img.pixels.len(), (img.width * img.height * 4) as usize);
                let opaque = img.pixels.chunks_exact(4).filter(|p| p[3] > 0).count();
                assert!(opaque > 40, "{state:?} {kind:?} is nearly empty");
                if let IconKind::Template { .. } = kind {
                    assert!(
                        img.pixels
                            .chunks_exact(4)
                            .all(|p| p[3] == 0 || p[..3] == [0, 0, 0]),
                        "{state:?} template has colour"
                    );
                }
            }
        }
    }

    #[cfg(tray)]
    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode(b"not a png").is_err());
        let truncated = &png(IconState::Stale, IconKind::Tray { retina: false })[..60];
        assert!(decode(truncated).is_err());
    }
}
