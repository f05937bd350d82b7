//! The bottom layer of the DataGuardian host: the domain's closed value
//! sets, secrets and their sealing, private files, source descriptions,
//! schedules and retention. Pure rules and small file helpers; it depends
//! on no other crate of the workspace (see docs/ARCHITECTURE.md).

pub mod access;
pub mod domain;
pub mod options;
pub mod private;
pub mod retention;
pub mod schedule;
pub mod secrets;
pub mod source;
pub mod text;
