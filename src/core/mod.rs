//! The pure heart: the lock catalogue, the data model, origin classification, report building
//! and the stale policy. Nothing here touches the OS, so all of it is unit-tested anywhere.

pub mod catalog;
pub mod doing;
pub mod eta;
pub mod free_locks;
pub mod gitfetch;
pub mod graph;
pub mod insight;
pub mod model;
pub mod netwait;
pub mod origin;
pub mod place;
pub mod policy;
pub mod report;
pub mod text;
pub mod words;
pub mod yield_ide;
