//! Every integration test in one binary: one link instead of one per file,
//! and the shared helpers compiled once. Each module drives the real
//! `dataguardian` binary, real PostgreSQL and real files.

#[macro_use]
mod common;

mod access;
mod api_backup_restore;
mod api_contract;
mod api_lifecycle;
mod api_limits;
mod api_security;
mod api_strategies;
mod cluster;
mod confinement;
mod engine_mongodb;
mod engine_mysql;
mod engine_sqlserver;
mod every_database;
mod executions;
mod integrity;
mod migrations;
mod notifiers;
mod notify_channels;
mod observability;
mod otlp;
mod parallel_restore;
mod plugin_calls;
mod plugin_registry;
mod postgres_roundtrip;
mod queue;
mod sandbox;
mod sqlite_files;
mod storage_s3;
mod storage_sftp;
mod web_ui;
