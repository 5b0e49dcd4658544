//! Probe for platforms without one: every call says clearly that locks cannot be seen here, so
//! the rest of the program still builds and reports a useful error.

use super::{Probe, ProbeError, Targets};
use crate::core::model::{FileKey, LockSighting, ProcessFacts};

pub(super) fn new_probe() -> Result<Box<dyn Probe>, ProbeError> {
    Err(ProbeError::Unsupported(std::env::consts::OS))
}

/// Never constructed; present so the trait's shape is checked on every target.
pub struct Unsupported;

impl Probe for Unsupported {
    fn sightings(&mut self, _targets: &Targets) -> Result<Vec<LockSighting>, ProbeError> {
        Err(ProbeError::Unsupported(std::env::consts::OS))
    }
    fn process(&mut self, _pid: u32) -> Result<ProcessFacts, ProbeError> {
        Err(ProbeError::Unsupported(std::env::consts::OS))
    }
    fn descendants(&mut self, _pid: u32) -> Vec<u32> {
        Vec::new()
    }
    fn holds(&mut self, _pid: u32, _key: FileKey) -> Result<bool, ProbeError> {
        Err(ProbeError::Unsupported(std::env::consts::OS))
    }
}
