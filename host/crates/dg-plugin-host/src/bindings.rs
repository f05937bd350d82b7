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

/// Host-side bindings of the draft plugin API 0.2 (`wit/next`). Its worlds
/// import the 0.1 interfaces unchanged, so they are mapped onto the 0.1
/// bindings above: one host implementation of the imports serves both
/// versions, and only the exports (typed call context) differ — bridged
/// by [`crate::adapt`].
pub mod next {
    macro_rules! next_world {
        ($module:ident, $world:literal $(, $key:literal => $path:path)*) => {
            pub mod $module {
                wasmtime::component::bindgen!({
                    path: "../../../wit/next",
                    world: $world,
                    imports: { default: async | trappable },
                    exports: { default: async },
                    with: {
                        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
                        "wasi": wasmtime_wasi::p2::bindings,
                        "dataguardian:plugin/types@0.1.0": crate::bindings::host_world::dataguardian::plugin::types,
                        "dataguardian:plugin/log@0.1.0": crate::bindings::host_world::dataguardian::plugin::log,
                        "dataguardian:plugin/progress@0.1.0": crate::bindings::host_world::dataguardian::plugin::progress,
                        "dataguardian:plugin/process@0.1.0": crate::bindings::host_world::dataguardian::plugin::process,
                        "dataguardian:plugin/mail@0.1.0": crate::bindings::host_world::dataguardian::plugin::mail,
                        "dataguardian:plugin/file-modes@0.1.0": crate::bindings::host_world::dataguardian::plugin::file_modes,
                        $($key: $path,)*
                    },
                });
            }
        };
    }
    // The 0.2 `types` (typed call context, the records the exports use)
    // are generated once, with the notifier world, and shared.
    next_world!(notifier_world, "notifier-plugin");
    next_world!(engine_world, "engine-plugin",
        "dataguardian:plugin/types@0.2.0" => crate::bindings::next::notifier_world::dataguardian::plugin0_2_0::types);
    next_world!(storage_world, "storage-plugin",
        "dataguardian:plugin/types@0.2.0" => crate::bindings::next::notifier_world::dataguardian::plugin0_2_0::types);

    pub use notifier_world::dataguardian::plugin0_2_0::types;
}
