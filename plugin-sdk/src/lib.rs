//! The crate DataGuardian plugin authors depend on.
//!
//! A plugin is a WASI 0.2 component built for `wasm32-wasip2`. Implement one
//! of [`Engine`], [`Storage`] or [`Notifier`] and register it with
//! [`export_engine!`], [`export_storage!`] or [`export_notifier!`]. The
//! helpers here keep bulk bytes host-side: [`io::pipe`] splices a spawned
//! program's stdout into the sink without copying it into plugin memory.

pub mod config;
pub mod fs;
pub mod health;
pub mod http;
pub mod io;
pub mod keys;
pub mod log;
pub mod mail;
pub mod manifest;
pub mod modes;
pub mod process;
mod traits;

// Re-exported so a plugin needs no versions of its own to keep in step.
pub use schemars;
pub use serde;
pub use serde_json;

pub use traits::{empty_stats, Engine, Notifier, Storage};

/// The plugin API version this SDK speaks; the host checks it on load.
pub const API_VERSION: &str = "0.1.0";

/// Bindings of the host imports shared by every plugin world.
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "host-imports",
        generate_all,
    });
}

/// Bindings of the `engine-plugin` world.
#[doc(hidden)]
pub mod engine_world {
    wit_bindgen::generate!({
        path: "wit",
        world: "engine-plugin",
        with: {
            "wasi:io/error@0.2.12": crate::bindings::wasi::io::error,
            "wasi:io/poll@0.2.12": crate::bindings::wasi::io::poll,
            "wasi:io/streams@0.2.12": crate::bindings::wasi::io::streams,
            "wasi:clocks/wall-clock@0.2.12": crate::bindings::wasi::clocks::wall_clock,
            "wasi:filesystem/types@0.2.12": crate::bindings::wasi::filesystem::types,
            "wasi:filesystem/preopens@0.2.12": crate::bindings::wasi::filesystem::preopens,
            "wasi:clocks/monotonic-clock@0.2.12": crate::bindings::wasi::clocks::monotonic_clock,
            "wasi:http/types@0.2.12": crate::bindings::wasi::http::types,
            "wasi:http/outgoing-handler@0.2.12": crate::bindings::wasi::http::outgoing_handler,
            "dataguardian:plugin/types@0.1.0": crate::bindings::dataguardian::plugin::types,
            "dataguardian:plugin/log@0.1.0": crate::bindings::dataguardian::plugin::log,
            "dataguardian:plugin/progress@0.1.0": crate::bindings::dataguardian::plugin::progress,
            "dataguardian:plugin/process@0.1.0": crate::bindings::dataguardian::plugin::process,
            "dataguardian:plugin/mail@0.1.0": crate::bindings::dataguardian::plugin::mail,
            "dataguardian:plugin/file-modes@0.1.0": crate::bindings::dataguardian::plugin::file_modes,
        },
        pub_export_macro: true,
        export_macro_name: "export_engine_world",
        default_bindings_module: "dataguardian_plugin_sdk::engine_world",
    });
}

/// Bindings of the `storage-plugin` world.
#[doc(hidden)]
pub mod storage_world {
    wit_bindgen::generate!({
        path: "wit",
        world: "storage-plugin",
        with: {
            "wasi:io/error@0.2.12": crate::bindings::wasi::io::error,
            "wasi:io/poll@0.2.12": crate::bindings::wasi::io::poll,
            "wasi:io/streams@0.2.12": crate::bindings::wasi::io::streams,
            "wasi:clocks/wall-clock@0.2.12": crate::bindings::wasi::clocks::wall_clock,
            "wasi:filesystem/types@0.2.12": crate::bindings::wasi::filesystem::types,
            "wasi:filesystem/preopens@0.2.12": crate::bindings::wasi::filesystem::preopens,
            "wasi:clocks/monotonic-clock@0.2.12": crate::bindings::wasi::clocks::monotonic_clock,
            "wasi:http/types@0.2.12": crate::bindings::wasi::http::types,
            "wasi:http/outgoing-handler@0.2.12": crate::bindings::wasi::http::outgoing_handler,
            "dataguardian:plugin/types@0.1.0": crate::bindings::dataguardian::plugin::types,
            "dataguardian:plugin/log@0.1.0": crate::bindings::dataguardian::plugin::log,
            "dataguardian:plugin/progress@0.1.0": crate::bindings::dataguardian::plugin::progress,
            "dataguardian:plugin/process@0.1.0": crate::bindings::dataguardian::plugin::process,
            "dataguardian:plugin/mail@0.1.0": crate::bindings::dataguardian::plugin::mail,
            "dataguardian:plugin/file-modes@0.1.0": crate::bindings::dataguardian::plugin::file_modes,
        },
        pub_export_macro: true,
        export_macro_name: "export_storage_world",
        default_bindings_module: "dataguardian_plugin_sdk::storage_world",
    });
}

/// Bindings of the `notifier-plugin` world.
#[doc(hidden)]
pub mod notifier_world {
    wit_bindgen::generate!({
        path: "wit",
        world: "notifier-plugin",
        with: {
            "wasi:io/error@0.2.12": crate::bindings::wasi::io::error,
            "wasi:io/poll@0.2.12": crate::bindings::wasi::io::poll,
            "wasi:io/streams@0.2.12": crate::bindings::wasi::io::streams,
            "wasi:clocks/wall-clock@0.2.12": crate::bindings::wasi::clocks::wall_clock,
            "wasi:filesystem/types@0.2.12": crate::bindings::wasi::filesystem::types,
            "wasi:filesystem/preopens@0.2.12": crate::bindings::wasi::filesystem::preopens,
            "wasi:clocks/monotonic-clock@0.2.12": crate::bindings::wasi::clocks::monotonic_clock,
            "wasi:http/types@0.2.12": crate::bindings::wasi::http::types,
            "wasi:http/outgoing-handler@0.2.12": crate::bindings::wasi::http::outgoing_handler,
            "dataguardian:plugin/types@0.1.0": crate::bindings::dataguardian::plugin::types,
            "dataguardian:plugin/log@0.1.0": crate::bindings::dataguardian::plugin::log,
            "dataguardian:plugin/progress@0.1.0": crate::bindings::dataguardian::plugin::progress,
            "dataguardian:plugin/process@0.1.0": crate::bindings::dataguardian::plugin::process,
            "dataguardian:plugin/mail@0.1.0": crate::bindings::dataguardian::plugin::mail,
            "dataguardian:plugin/file-modes@0.1.0": crate::bindings::dataguardian::plugin::file_modes,
        },
        pub_export_macro: true,
        export_macro_name: "export_notifier_world",
        default_bindings_module: "dataguardian_plugin_sdk::notifier_world",
    });
}

pub use bindings::dataguardian::plugin::types::{
    CallContext, HealthReport, HealthStatus, Kv, PluginError, PluginInfo, PluginKind,
};
pub use bindings::wasi::io::streams::{InputStream, OutputStream, StreamError};
pub use engine_world::exports::dataguardian::plugin::engine::{BackupStats, TableCount};
pub use notifier_world::exports::dataguardian::plugin::notifier::{Event, Severity};
pub use storage_world::exports::dataguardian::plugin::storage::ObjectInfo;

/// Result type of every plugin operation.
pub type PluginResult<T> = Result<T, PluginError>;

/// The API version, embedded as a custom section so the host can check it
/// before instantiating the component.
#[doc(hidden)]
#[macro_export]
macro_rules! __embed_api_version {
    () => {
        #[used]
        #[link_section = "dataguardian:api-version"]
        static __DATAGUARDIAN_API_VERSION: [u8; 5] = *b"0.1.0";
    };
}

/// Exports a type implementing [`Engine`] as this component's engine.
#[macro_export]
macro_rules! export_engine {
    ($ty:ty) => {
        $crate::__embed_api_version!();
        struct __DgEngine;
        impl $crate::engine_world::exports::dataguardian::plugin::engine::Guest for __DgEngine {
            fn info() -> $crate::PluginInfo {
                <$ty as $crate::Engine>::info()
            }
            fn validate_config(config: String) -> $crate::PluginResult<()> {
                <$ty as $crate::Engine>::validate_config(&config)
            }
            fn health_check(ctx: $crate::CallContext) -> $crate::HealthReport {
                <$ty as $crate::Engine>::health_check(&ctx)
            }
            fn list_databases(ctx: $crate::CallContext) -> $crate::PluginResult<Vec<String>> {
                <$ty as $crate::Engine>::list_databases(&ctx)
            }
            fn backup(
                ctx: $crate::CallContext,
                sink: &$crate::OutputStream,
            ) -> $crate::PluginResult<$crate::BackupStats> {
                <$ty as $crate::Engine>::backup(&ctx, sink)
            }
            fn restore(
                ctx: $crate::CallContext,
                source: &$crate::InputStream,
            ) -> $crate::PluginResult<()> {
                <$ty as $crate::Engine>::restore(&ctx, source)
            }
            fn create_scratch_database(
                ctx: $crate::CallContext,
                name: String,
            ) -> $crate::PluginResult<String> {
                <$ty as $crate::Engine>::create_scratch_database(&ctx, &name)
            }
            fn drop_scratch_database(
                ctx: $crate::CallContext,
                name: String,
            ) -> $crate::PluginResult<()> {
                <$ty as $crate::Engine>::drop_scratch_database(&ctx, &name)
            }
            fn inspect(ctx: $crate::CallContext) -> $crate::PluginResult<Vec<$crate::TableCount>> {
                <$ty as $crate::Engine>::inspect(&ctx)
            }
        }
        $crate::engine_world::export_engine_world!(__DgEngine with_types_in $crate::engine_world);
    };
}

/// Exports a type implementing [`Storage`] as this component's storage.
#[macro_export]
macro_rules! export_storage {
    ($ty:ty) => {
        $crate::__embed_api_version!();
        struct __DgStorage;
        impl $crate::storage_world::exports::dataguardian::plugin::storage::Guest for __DgStorage {
            fn info() -> $crate::PluginInfo {
                <$ty as $crate::Storage>::info()
            }
            fn validate_config(config: String) -> $crate::PluginResult<()> {
                <$ty as $crate::Storage>::validate_config(&config)
            }
            fn health_check(ctx: $crate::CallContext) -> $crate::HealthReport {
                <$ty as $crate::Storage>::health_check(&ctx)
            }
            fn put(
                ctx: $crate::CallContext,
                key: String,
                source: &$crate::InputStream,
                size_hint: Option<u64>,
            ) -> $crate::PluginResult<u64> {
                <$ty as $crate::Storage>::put(&ctx, &key, source, size_hint)
            }
            fn get(
                ctx: $crate::CallContext,
                key: String,
                sink: &$crate::OutputStream,
                offset: u64,
                length: Option<u64>,
            ) -> $crate::PluginResult<u64> {
                <$ty as $crate::Storage>::get(&ctx, &key, sink, offset, length)
            }
            fn list(
                ctx: $crate::CallContext,
                prefix: String,
            ) -> $crate::PluginResult<Vec<$crate::ObjectInfo>> {
                <$ty as $crate::Storage>::list(&ctx, &prefix)
            }
            fn stat(
                ctx: $crate::CallContext,
                key: String,
            ) -> $crate::PluginResult<Option<$crate::ObjectInfo>> {
                <$ty as $crate::Storage>::stat(&ctx, &key)
            }
            fn delete(ctx: $crate::CallContext, key: String) -> $crate::PluginResult<()> {
                <$ty as $crate::Storage>::delete(&ctx, &key)
            }
            fn copy(
                ctx: $crate::CallContext,
                source_key: String,
                target_key: String,
            ) -> $crate::PluginResult<()> {
                <$ty as $crate::Storage>::copy(&ctx, &source_key, &target_key)
            }
            fn rename(
                ctx: $crate::CallContext,
                source_key: String,
                target_key: String,
            ) -> $crate::PluginResult<()> {
                <$ty as $crate::Storage>::rename(&ctx, &source_key, &target_key)
            }
        }
        $crate::storage_world::export_storage_world!(__DgStorage with_types_in $crate::storage_world);
    };
}

/// Exports a type implementing [`Notifier`] as this component's notifier.
#[macro_export]
macro_rules! export_notifier {
    ($ty:ty) => {
        $crate::__embed_api_version!();
        struct __DgNotifier;
        impl $crate::notifier_world::exports::dataguardian::plugin::notifier::Guest for __DgNotifier {
            fn info() -> $crate::PluginInfo {
                <$ty as $crate::Notifier>::info()
            }
            fn validate_config(config: String) -> $crate::PluginResult<()> {
                <$ty as $crate::Notifier>::validate_config(&config)
            }
            fn send(ctx: $crate::CallContext, event: $crate::Event) -> $crate::PluginResult<()> {
                <$ty as $crate::Notifier>::send(&ctx, &event)
            }
        }
        $crate::notifier_world::export_notifier_world!(__DgNotifier with_types_in $crate::notifier_world);
    };
}
