//! Host-side bindings of the WIT package `dataguardian:plugin@0.1.0`.
//!
//! `host_world` carries the imports every plugin gets; the three export
//! worlds reuse them through `with` so one implementation serves all.

pub mod host_world {
    wasmtime::component::bindgen!({
        path: "../../../wit/since_v0.1",
        world: "host-imports",
        imports: { default: async | trappable },
        with: {
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "wasi": wasmtime_wasi::p2::bindings,
            "dataguardian:plugin/process.child": crate::process::ChildProcess,
        },
    });
}

pub mod engine_world {
    wasmtime::component::bindgen!({
        path: "../../../wit/since_v0.1",
        world: "engine-plugin",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "wasi": wasmtime_wasi::p2::bindings,
            "dataguardian:plugin/types": super::host_world::dataguardian::plugin::types,
            "dataguardian:plugin/log": super::host_world::dataguardian::plugin::log,
            "dataguardian:plugin/progress": super::host_world::dataguardian::plugin::progress,
            "dataguardian:plugin/process": super::host_world::dataguardian::plugin::process,
            "dataguardian:plugin/mail": super::host_world::dataguardian::plugin::mail,
            "dataguardian:plugin/file-modes": super::host_world::dataguardian::plugin::file_modes,
        },
    });
}

pub mod storage_world {
    wasmtime::component::bindgen!({
        path: "../../../wit/since_v0.1",
        world: "storage-plugin",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "wasi": wasmtime_wasi::p2::bindings,
            "dataguardian:plugin/types": super::host_world::dataguardian::plugin::types,
            "dataguardian:plugin/log": super::host_world::dataguardian::plugin::log,
            "dataguardian:plugin/progress": super::host_world::dataguardian::plugin::progress,
            "dataguardian:plugin/process": super::host_world::dataguardian::plugin::process,
            "dataguardian:plugin/mail": super::host_world::dataguardian::plugin::mail,
            "dataguardian:plugin/file-modes": super::host_world::dataguardian::plugin::file_modes,
        },
    });
}

pub mod notifier_world {
    wasmtime::component::bindgen!({
        path: "../../../wit/since_v0.1",
        world: "notifier-plugin",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "wasi": wasmtime_wasi::p2::bindings,
            "dataguardian:plugin/types": super::host_world::dataguardian::plugin::types,
            "dataguardian:plugin/log": super::host_world::dataguardian::plugin::log,
            "dataguardian:plugin/progress": super::host_world::dataguardian::plugin::progress,
            "dataguardian:plugin/process": super::host_world::dataguardian::plugin::process,
            "dataguardian:plugin/mail": super::host_world::dataguardian::plugin::mail,
            "dataguardian:plugin/file-modes": super::host_world::dataguardian::plugin::file_modes,
        },
    });
}

pub use engine_world::exports::dataguardian::plugin::engine::{BackupStats, TableCount};
pub use host_world::dataguardian::plugin::types::{
    CallContext, HealthReport, HealthStatus, Kv, PluginError, PluginInfo,
};
pub use notifier_world::exports::dataguardian::plugin::notifier::{Event, Severity};
pub use storage_world::exports::dataguardian::plugin::storage::ObjectInfo;

/// Lives here rather than beside `CheckStatus` in dg-core, which knows
/// nothing of the plugin contract.
impl From<HealthStatus> for dg_core::domain::CheckStatus {
    fn from(s: HealthStatus) -> Self {
        use dg_core::domain::CheckStatus;
        match s {
            HealthStatus::Ok => CheckStatus::Ok,
            HealthStatus::Timeout => CheckStatus::Timeout,
            HealthStatus::AuthFailed => CheckStatus::AuthFailed,
            HealthStatus::Unreachable => CheckStatus::Unreachable,
            HealthStatus::Error => CheckStatus::Error,
        }
    }
}
