//! macOS probe (being written): until it lands, macOS reports "unsupported" through the same
//! path as the fallback so the seam type-checks.

use super::{Probe, ProbeError};

pub(super) fn new_probe() -> Result<Box<dyn Probe>, ProbeError> {
    Err(ProbeError::Unsupported("macos (probe not yet implemented)"))
}
