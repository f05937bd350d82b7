//! Logging into the host's log and the execution log.

use crate::bindings::dataguardian::plugin::log::{log, Level};
use crate::Kv;

fn emit(level: Level, message: &str, fields: &[(&str, &str)]) {
    let fields: Vec<Kv> = fields
        .iter()
        .map(|(k, v)| Kv {
            key: (*k).to_string(),
            value: (*v).to_string(),
        })
        .collect();
    log(level, message, &fields);
}

/// Logs `message` at debug level.
pub fn debug(message: &str) {
    emit(Level::Debug, message, &[]);
}

/// Logs `message` at info level.
pub fn info(message: &str) {
    emit(Level::Info, message, &[]);
}

/// Logs `message` at warn level.
pub fn warn(message: &str) {
    emit(Level::Warn, message, &[]);
}

/// Logs `message` at error level.
pub fn error(message: &str) {
    emit(Level::Error, message, &[]);
}

/// Logs `message` at `level` with structured `(key, value)` fields; an
/// empty slice logs no fields.
pub fn with_fields(level: Level, message: &str, fields: &[(&str, &str)]) {
    emit(level, message, fields);
}

pub use crate::bindings::dataguardian::plugin::log::Level as LogLevel;
