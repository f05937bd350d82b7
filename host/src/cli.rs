//! The command line: `backup`, `restore`, `verify`, `plugin list|inspect`.
//! Every flag can also come from a `DG_*` environment variable.

use crate::pipeline::{self, BackupRequest, Compression, RestoreRequest};
use crate::plugin::client::Target;
use crate::plugin::{tracing_sink, Activity, Plugins, RuntimeConfig};
use crate::source;
use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use dg_app::usecases::plugins::PluginSources;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How log lines are written.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// `dataguardian --version`: the version, the plugin API versions this
/// host speaks and the commit it was built from.
pub fn version_text() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        let apis: Vec<String> = crate::plugin::api_version::SUPPORTED
            .iter()
            .map(|v| v.to_string())
            .collect();
        format!(
            "{} (plugin API {}; commit {})",
            env!("CARGO_PKG_VERSION"),
            apis.join(", "),
            option_env!("DG_GIT_COMMIT").unwrap_or("unknown")
        )
    })
}

#[derive(Parser, Debug)]
#[command(
    name = "dataguardian",
    version = version_text(),
    about = "Backup and restore for databases and files"
)]
pub struct Cli {
    /// TOML file with defaults for any flag, keys named like the long flags
    /// (`listen = "0.0.0.0:8080"`); flags and DG_* variables win over it.
    #[arg(long, env = "DG_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Data directory (plugin cache, scratch space).
    #[arg(long, env = "DG_DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,
    /// Where precompiled plugins are cached (default DATA_DIR/cache/plugins);
    /// several data dirs may share one (the test suite does).
    #[arg(long, env = "DG_PLUGIN_CACHE_DIR", global = true)]
    pub plugin_cache_dir: Option<PathBuf>,
    /// Directory of installed plugins (`NAME.wasm`, its grant
    /// `NAME.grant.toml`); default DATA_DIR/plugins.
    #[arg(long, env = "DG_PLUGIN_DIR", global = true)]
    pub plugin_dir: Option<PathBuf>,
    /// The plugin registry installs come from by default: a base URL
    /// serving `index.json` (docs/PLUGINS.md).
    #[arg(long, env = "DG_REGISTRY", global = true)]
    pub registry: Option<String>,
    /// A publisher's public key file (`KEY.pub` from `registry keygen`)
    /// whose signed packages may be installed; repeatable, comma-separated
    /// in the environment. Without one, nothing can be installed.
    #[arg(
        long = "trusted-key",
        env = "DG_TRUSTED_KEYS",
        value_delimiter = ',',
        global = true
    )]
    pub trusted_keys: Vec<PathBuf>,
    /// PEM files of extra certificate authorities the SMTP notifier trusts
    /// besides the built-in web roots (a private mail relay's CA);
    /// comma-separated in the environment. None by default.
    #[arg(
        long = "smtp-ca-file",
        env = "DG_SMTP_CA_FILES",
        value_delimiter = ',',
        global = true
    )]
    pub smtp_ca_files: Vec<PathBuf>,
    /// Master key file for secrets at rest (created 0600 on first run;
    /// default DATA_DIR/master.key). `DG_MASTER_KEY` overrides it.
    #[arg(long, env = "DG_MASTER_KEY_FILE", global = true)]
    pub master_key_file: Option<PathBuf>,
    /// Log filter (`info`, `debug`, `dataguardian=trace`...).
    #[arg(long, env = "DG_LOG", default_value = "info", global = true)]
    pub log: String,
    /// How log lines are written to stderr: `text` (coloured only on a
    /// terminal, and never with `NO_COLOR` set) or `json` (one object per
    /// line, for log collectors).
    #[arg(
        long,
        env = "DG_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,
    /// Where a parallel restore (`jobs` > 1) spools the decompressed
    /// backup (default DATA_DIR/spool; created 0700).
    #[arg(long, env = "DG_RESTORE_SPOOL_DIR", global = true)]
    pub restore_spool_dir: Option<PathBuf>,
    /// Largest spool of one parallel restore, in MiB (default 100 GiB);
    /// checked with the free space before anything is written.
    #[arg(
        long,
        env = "DG_RESTORE_SPOOL_MAX_MB",
        default_value = "102400",
        global = true
    )]
    pub restore_spool_max_mb: u64,
    /// Ships logs and traces over OTLP/HTTP (protobuf) to this base URL
    /// (`/v1/logs` and `/v1/traces` are appended), e.g. SEQ's
    /// `http://seq:5341/ingest/otlp` or a collector's `http://otel:4318`.
    /// Off when unset.
    #[arg(long, env = "DG_OTLP_ENDPOINT", global = true)]
    pub otlp_endpoint: Option<String>,
    /// `NAME=VALUE` header sent with every export (`X-Seq-ApiKey=...`);
    /// repeatable, comma-separated in the environment.
    #[arg(
        long = "otlp-header",
        env = "DG_OTLP_HEADERS",
        value_delimiter = ',',
        global = true
    )]
    pub otlp_headers: Vec<String>,
    /// Wall-clock limit of a plugin's control call (info, health check,
    /// list, stat, send...), in seconds.
    #[arg(
        long,
        env = "DG_PLUGIN_CONTROL_TIMEOUT_SECS",
        default_value = "120",
        global = true
    )]
    pub plugin_control_timeout_secs: u64,
    /// CPU a control call may spend in plugin code before it is stopped,
    /// in seconds (a spinning plugin is stopped in this, not in minutes).
    #[arg(
        long,
        env = "DG_PLUGIN_CONTROL_CPU_SECS",
        default_value = "10",
        global = true
    )]
    pub plugin_control_cpu_secs: u64,
    /// Wall-clock limit of a data call (backup, restore, put, get), in
    /// seconds.
    #[arg(
        long,
        env = "DG_PLUGIN_DATA_TIMEOUT_SECS",
        default_value = "86400",
        global = true
    )]
    pub plugin_data_timeout_secs: u64,
    /// A data call that moved no byte and logged nothing this long is
    /// stopped, in seconds.
    #[arg(
        long,
        env = "DG_PLUGIN_STALL_SECS",
        default_value = "600",
        global = true
    )]
    pub plugin_stall_secs: u64,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server: REST API, scheduler, queue and workers.
    Serve(Box<ServeArgs>),
    /// Back up a datasource into a storage; prints a JSON summary.
    Backup(BackupArgs),
    /// Verify an execution, then restore it into a target.
    Restore(RestoreArgs),
    /// Check every checksum of an execution against its manifest.
    Verify(VerifyArgs),
    /// Plugins: list, inspect, install, update, remove, grant; and for
    /// authors new, build, pack, test.
    Plugin {
        #[command(subcommand)]
        command: crate::plugin_cli::PluginCommand,
    },
    /// A plugin registry: publisher keys and publishing packages.
    Registry {
        #[command(subcommand)]
        command: crate::plugin_cli::RegistryCommand,
    },
    /// Secrets at rest in the metadata database.
    Secrets {
        #[command(subcommand)]
        command: SecretsCommand,
    },
    /// Users who sign in to the API and the web UI (works whether the
    /// server runs or not).
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// API tokens for scripts and Prometheus.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Prints the REST API's OpenAPI document (as `/api/openapi.json`
    /// serves it), for generating clients without a running server.
    Openapi,
    /// Prints a completion script for a shell: `bash`, `zsh` or `fish`
    /// (docs/DEPLOYMENT.md shows where to put it).
    Completions {
        #[arg(value_enum)]
        shell: CompletionShell,
    },
}

/// Shells `completions` writes for.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Creates a user; prints it as JSON. The password is read from the
    /// first line of standard input, never from an argument.
    Create {
        #[arg(long)]
        username: String,
        /// Read the password from standard input (required: a password
        /// on the command line shows in `ps` and shell history).
        #[arg(long, required = true)]
        password_stdin: bool,
        /// `admin`, `operator`, `viewer` or a custom role.
        #[arg(long, default_value = "admin")]
        role: String,
        /// Metadata database (as for `serve`).
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
    },
    /// Sets a user's password (from standard input) and, with `--role`,
    /// their role; ends their sessions. Recovers a lost admin.
    SetPassword {
        #[arg(long)]
        username: String,
        #[arg(long, required = true)]
        password_stdin: bool,
        #[arg(long)]
        role: Option<String>,
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Creates an API token for a user and prints it alone on the last
    /// line of standard output (shown once; stored hashed).
    Create {
        #[arg(long)]
        username: String,
        /// A name to recognise the token by (`prometheus`, `nightly-script`).
        #[arg(long)]
        name: String,
        /// A permission the token carries (repeatable); without any, the
        /// token carries whatever the user's role allows.
        #[arg(long = "permission")]
        permissions: Vec<String>,
        /// Days until the token stops working; never, when left out.
        #[arg(long)]
        expires_in_days: Option<u32>,
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum SecretsCommand {
    /// Seal every stored secret under a new master key. With a key file,
    /// a new key is generated and the file rewritten; with
    /// `DG_MASTER_KEY=NEW,OLD`, everything is re-sealed under NEW. Stop
    /// the server first (it holds the old key in memory).
    RotateKey {
        /// Metadata database (as for `serve`).
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
    },
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to serve the API on (port 0 picks a free port).
    #[arg(long, env = "DG_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// Metadata database: `postgres://...` or `sqlite://PATH`; default
    /// `sqlite://DATA_DIR/dataguardian.db`.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Work queue on Redis (`redis://[:PASSWORD@]HOST:PORT[/DB]`; TLS is
    /// not supported yet), for several nodes on one PostgreSQL metadata
    /// database; without it the queue is the metadata database's own
    /// (docs/DEPLOYMENT.md).
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// Seconds between scheduler ticks.
    #[arg(long, env = "DG_SCHEDULER_TICK_SECS", default_value = "60")]
    pub scheduler_tick_secs: u64,
    /// Seconds before a backup or restore that failed temporarily is run
    /// again (doubled for each further attempt; 3 attempts in all).
    #[arg(long, env = "DG_RETRY_SECS", default_value = "30")]
    pub retry_secs: u64,
    /// Seconds before a failed notification delivery is tried again
    /// (doubled for each further attempt; 3 attempts in all).
    #[arg(long, env = "DG_NOTIFICATION_RETRY_SECS", default_value = "60")]
    pub notification_retry_secs: u64,
    /// Seconds a node's claim on a notification delivery holds: a delivery
    /// whose sender died mid-request is sent again after this. Keep it
    /// above the notifiers' own timeouts (a webhook waits at most 120 s).
    #[arg(long, env = "DG_DELIVERY_LEASE_SECS", default_value = "300")]
    pub delivery_lease_secs: u64,
    /// Seconds a signed-in session may go unused before it ends.
    #[arg(long, env = "DG_SESSION_IDLE_SECS", default_value = "28800")]
    pub session_idle_secs: u64,
    /// Seconds after sign-in a session ends, however much it is used.
    #[arg(long, env = "DG_SESSION_MAX_SECS", default_value = "604800")]
    pub session_max_secs: u64,
    /// Single sign-on: the OpenID Connect issuer URL, exactly as the
    /// provider's tokens name it (needs --public-url; the provider must
    /// allow PUBLIC_URL/api/auth/oidc/callback as a redirect URL).
    #[arg(long, env = "DG_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
    /// The client id registered at the provider.
    #[arg(long, env = "DG_OIDC_CLIENT_ID")]
    pub oidc_client_id: Option<String>,
    /// A file holding the client secret (first line); kept out of flags
    /// and the environment.
    #[arg(long, env = "DG_OIDC_CLIENT_SECRET_FILE")]
    pub oidc_client_secret_file: Option<PathBuf>,
    /// The ID-token claim whose value(s) pick the role.
    #[arg(long, env = "DG_OIDC_ROLE_CLAIM", default_value = "groups")]
    pub oidc_role_claim: String,
    /// `VALUE=ROLE`: a claim value and the role it gives (repeatable,
    /// comma-separated in the environment; first match wins).
    #[arg(
        long = "oidc-role-map",
        env = "DG_OIDC_ROLE_MAP",
        value_delimiter = ','
    )]
    pub oidc_role_map: Vec<String>,
    /// The role of a user no mapping matches; without it they are refused.
    #[arg(long, env = "DG_OIDC_DEFAULT_ROLE")]
    pub oidc_default_role: Option<String>,
    /// Seconds between health checks of datasources and storages.
    #[arg(long, env = "DG_HEALTH_INTERVAL_SECS", default_value = "300")]
    pub health_interval_secs: u64,
    /// Backups running at once.
    #[arg(long, env = "DG_BACKUP_CONCURRENCY", default_value = "3")]
    pub backup_concurrency: usize,
    /// Restores running at once.
    #[arg(long, env = "DG_RESTORE_CONCURRENCY", default_value = "2")]
    pub restore_concurrency: usize,
    /// When the daily retention cleanup runs (cron, UTC).
    #[arg(long, env = "DG_CLEANUP_CRON", default_value = "0 4 * * *")]
    pub cleanup_cron: String,
    /// Running work whose node was silent this long is failed.
    #[arg(long, env = "DG_STALE_AFTER_SECS", default_value = "120")]
    pub stale_after_secs: u64,
    /// Largest accepted request body, in KiB.
    #[arg(long, env = "DG_MAX_BODY_KB", default_value = "1024")]
    pub max_body_kb: usize,
    /// Connections served at once; more wait to be accepted until one
    /// closes (1-65536).
    #[arg(long, env = "DG_MAX_CONNECTIONS", default_value = "512")]
    pub max_connections: usize,
    /// Seconds a client may take to send a request's head (and an idle
    /// keep-alive connection stays open) before it is closed (1-300).
    #[arg(long, env = "DG_HEADER_TIMEOUT_SECS", default_value = "10")]
    pub header_timeout_secs: u64,
    /// On SIGTERM/Ctrl-C, seconds running backups and restores may take to
    /// finish before they are cancelled.
    #[arg(long, env = "DG_SHUTDOWN_GRACE_SECS", default_value = "60")]
    pub shutdown_grace_secs: u64,
    /// Host names the API answers to besides IP addresses and `localhost`
    /// (comma-separated; `*.example.com` for subdomains, `*` for any).
    #[arg(long, env = "DG_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,
    /// The URL users reach the server at (behind a proxy): its host is
    /// allowed and its origin may send writes.
    #[arg(long, env = "DG_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Directories no datasource path or storage root may be inside
    /// (comma-separated; `/` refuses only the root itself).
    #[arg(
        long,
        env = "DG_DENIED_ROOTS",
        value_delimiter = ',',
        default_value = "/,/etc,/proc,/sys,/dev,/boot,/root"
    )]
    pub denied_roots: Vec<PathBuf>,
    /// Directories where files and SQLite datasources, local storages and
    /// restore targets may live (comma-separated). Without it, only the
    /// data dir's own `backups/` may be used, as a storage.
    #[arg(long, env = "DG_ALLOWED_ROOTS", value_delimiter = ',')]
    pub allowed_roots: Vec<PathBuf>,
    /// Non-public destinations storages, notifiers and SMTP may connect to
    /// (repeatable or comma-separated): `CIDR`, `ADDRESS[:PORT]` or
    /// `HOST[:PORT]`. Loopback, link-local, private and metadata addresses
    /// are refused without it; the server's own port always is.
    #[arg(long, env = "DG_ALLOW_EGRESS", value_delimiter = ',')]
    pub allow_egress: Vec<crate::plugin::egress::EgressRule>,
    /// Milliseconds between system monitor samples (CPU, memory, runtime).
    #[arg(long, env = "SYSTEM_MONITOR_INTERVAL_MS", default_value = "5000")]
    pub system_monitor_interval_ms: u64,
    /// System monitor samples kept (the dashboard's history).
    #[arg(long, env = "SYSTEM_MONITOR_HISTORY_SIZE", default_value = "120")]
    pub system_monitor_history_size: usize,
}

#[derive(Args, Debug)]
pub struct StorageArgs {
    /// Storage plugin type.
    #[arg(long, env = "DG_STORAGE", default_value = "local")]
    pub storage: String,
    /// Storage configuration as JSON (for storages other than `local`).
    #[arg(long, env = "DG_STORAGE_CONFIG", hide_env_values = true)]
    pub storage_config: Option<String>,
}

#[derive(Args, Debug)]
pub struct BackupArgs {
    /// Engine type: postgres, sqlite, files...
    #[arg(long, env = "DG_ENGINE")]
    pub engine: String,
    /// URL for server engines, path for sqlite and files.
    #[arg(long, env = "DG_SOURCE", hide_env_values = true)]
    pub source: String,
    #[command(flatten)]
    pub storage: StorageArgs,
    /// Root directory of the `local` storage.
    #[arg(long, env = "DG_TO")]
    pub to: Option<PathBuf>,
    #[arg(long, env = "DG_JOB_ID", default_value = "cli")]
    pub job_id: String,
    #[arg(long, env = "DG_COMPRESSION", default_value = "zstd")]
    pub compression: Compression,
    /// gzip 1-9 (default 6), zstd 1-19 (default 1).
    #[arg(long, env = "DG_COMPRESSION_LEVEL")]
    pub compression_level: Option<i32>,
    /// Split the artifact into parts of at most this many MiB.
    #[arg(long, env = "DG_MAX_FILE_SIZE_MB")]
    pub max_file_size_mb: Option<u64>,
    /// Split into parts of this many bytes (tests and tuning).
    #[arg(long, env = "DG_MAX_FILE_SIZE_BYTES", hide = true)]
    pub max_file_size_bytes: Option<u64>,
    /// Files engine: glob of paths to include (repeatable).
    #[arg(long = "include", env = "DG_INCLUDE", value_delimiter = ',')]
    pub include: Vec<String>,
    /// Files engine: glob of paths to exclude (repeatable).
    #[arg(long = "exclude", env = "DG_EXCLUDE", value_delimiter = ',')]
    pub exclude: Vec<String>,
    /// Stop when nothing moved for this many seconds.
    #[arg(long, env = "DG_STALL_SECS", default_value = "600")]
    pub stall_secs: u64,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// Execution folder: `DIR/JOB/EXECUTION` for local storage, else
    /// `JOB/EXECUTION`.
    #[arg(long, env = "DG_FROM")]
    pub from: PathBuf,
    #[arg(long, env = "DG_ENGINE")]
    pub engine: String,
    /// URL or path to restore into.
    #[arg(long, env = "DG_TARGET", hide_env_values = true)]
    pub target: String,
    #[command(flatten)]
    pub storage: StorageArgs,
    /// Drop existing objects before restoring (engines that support it).
    #[arg(long, env = "DG_CLEAN")]
    pub clean: bool,
    /// For a backup of several databases: the database to restore (its
    /// name inside the backup).
    #[arg(long, env = "DG_DATABASE")]
    pub database: Option<String>,
    /// Parallel restore: a number or `auto` (the cores). Above 1 the
    /// backup is verified into a spool file first (--restore-spool-dir)
    /// and loaded with `pg_restore --jobs`, not as one transaction: the
    /// target must be empty unless --clean.
    #[arg(long, env = "DG_JOBS", default_value = "1")]
    pub jobs: String,
    #[arg(long, env = "DG_STALL_SECS", default_value = "600")]
    pub stall_secs: u64,
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Execution folder, as for `restore --from`.
    #[arg(env = "DG_VERIFY")]
    pub path: PathBuf,
    #[command(flatten)]
    pub storage: StorageArgs,
}

/// The long names of `serve`'s flags and the global ones, with `_` for
/// `-` (`backup_concurrency`): the server's own tunables, which the
/// settings API refuses so nobody stores one expecting it to take effect.
/// Taken from the parser itself, so a new flag is covered without a list
/// to keep in step.
pub fn server_flag_names() -> &'static std::collections::BTreeSet<String> {
    static NAMES: std::sync::OnceLock<std::collections::BTreeSet<String>> =
        std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        use clap::CommandFactory;
        let cli = Cli::command();
        let serve = cli.find_subcommand("serve").cloned();
        cli.get_arguments()
            .chain(serve.iter().flat_map(|s| s.get_arguments()))
            .filter_map(|a| a.get_long())
            .map(|l| l.replace('-', "_"))
            .collect()
    })
}

/// Logs to stderr, and ships logs and traces over OTLP when
/// `--otlp-endpoint` is set; the returned handle flushes them at exit.
pub fn init_logging(
    cli: &Cli,
    runtime: tokio::runtime::Handle,
) -> anyhow::Result<Option<crate::observe::otlp::Shipping>> {
    use crate::observe::otlp::{BoxedLayer, OtlpConfig, Shipping, NOT_SHIPPED};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{EnvFilter, Layer, Registry};
    let filter = |extra: &[&str]| {
        let mut directives = cli.log.clone();
        for target in extra {
            directives.push_str(&format!(",{target}=off"));
        }
        EnvFilter::try_new(&directives).unwrap_or_else(|_| EnvFilter::new("info"))
    };
    let stderr_layer = match cli.log_format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .with_filter(filter(&[]))
            .boxed(),
        LogFormat::Text => {
            // Colour codes only where a person reads a terminal: never in
            // a file, a pipe or a journal.
            use std::io::IsTerminal;
            let colour = std::io::stderr().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            tracing_subscriber::fmt::layer()
                .with_ansi(colour)
                .with_writer(std::io::stderr)
                .with_filter(filter(&[]))
                .boxed()
        }
    };
    let mut layers: Vec<BoxedLayer<Registry>> = vec![stderr_layer];
    let mut shipping = None;
    if let Some(config) = OtlpConfig::parse(cli.otlp_endpoint.as_deref(), &cli.otlp_headers)? {
        let (handle, shippers) = Shipping::start(&config, runtime)?;
        for shipper in shippers {
            layers.push(shipper.with_filter(filter(NOT_SHIPPED)).boxed());
        }
        shipping = Some((handle, config.endpoint));
    }
    let _ = tracing_subscriber::registry().with(layers).try_init();
    Ok(shipping.map(|(handle, endpoint)| {
        tracing::info!("shipping logs and traces over OTLP to {endpoint}");
        handle
    }))
}

pub async fn run(mut cli: Cli) -> anyhow::Result<()> {
    if let Command::Completions { shell } = cli.command {
        use clap::CommandFactory;
        let shell = match shell {
            CompletionShell::Bash => clap_complete::Shell::Bash,
            CompletionShell::Zsh => clap_complete::Shell::Zsh,
            CompletionShell::Fish => clap_complete::Shell::Fish,
        };
        clap_complete::generate(
            shell,
            &mut Cli::command(),
            "dataguardian",
            &mut std::io::stdout(),
        );
        return Ok(());
    }
    if let Command::Openapi = cli.command {
        let doc = crate::api::openapi_document();
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    // `plugin test DIR --config JSON`: the global flag's value is the
    // plugin's configuration there, not a file.
    let test_config = match &cli.command {
        Command::Plugin {
            command: crate::plugin_cli::PluginCommand::Test { .. },
        } => cli.config.take().map(|c| c.to_string_lossy().into_owned()),
        _ => None,
    };
    let data_dir = absolute(&cli.data_dir)?;
    crate::private::dir(&data_dir)
        .with_context(|| format!("creating the data dir {}", data_dir.display()))?;
    match &cli.command {
        Command::Registry { command } => return crate::plugin_cli::registry_command(command),
        Command::Plugin {
            command:
                crate::plugin_cli::PluginCommand::New {
                    name,
                    kind,
                    sdk_path,
                },
        } => return crate::plugin_scaffold::write(name, kind, sdk_path.as_deref()),
        Command::Secrets { command } => return secrets_command(&cli, command).await,
        Command::Admin { command } => return admin_command(&cli, command).await,
        Command::Token { command } => return token_command(&cli, command).await,
        _ => {}
    }
    // The server's scratch root is DATA_DIR/tmp, cleared at its start
    // under the data-dir lock; a CLI command (no lock: a server may run)
    // works in a root of its own beneath it, removed when it ends.
    let tmp = data_dir.join("tmp");
    let cli_root = match cli.command {
        Command::Serve(_) => None,
        _ => Some(
            crate::plugin::leftovers::CliRoot::create(&tmp)
                .with_context(|| format!("creating a scratch directory in {}", tmp.display()))?,
        ),
    };
    let scratch_root = cli_root.as_ref().map_or(tmp, |r| r.path().to_path_buf());
    let plugins = load_plugins(&cli, scratch_root)?;
    // The server's own files outside the data dir: no datasource or
    // storage may reach them (a restore over the plugin dir or the config
    // file would hand the next start to whoever wrote the backup).
    let mut private_paths = vec![
        master_key_file(&cli)?,
        plugin_cache_dir(&cli)?,
        plugin_dir(&cli)?,
    ];
    if let Some(config) = &cli.config {
        private_paths.push(absolute(config)?);
    }
    let sources = plugin_sources(&cli)?;
    let spool = spool_policy(&cli, &data_dir)?;
    let command = match cli.command {
        Command::Serve(args) => {
            return serve(&data_dir, private_paths, plugins, sources, spool, *args).await
        }
        command => command,
    };
    let work = async {
        match command {
            Command::Backup(args) => backup(&plugins, args).await,
            Command::Restore(args) => restore(&plugins, &spool, args).await,
            Command::Verify(args) => verify(&plugins, args).await,
            Command::Plugin { command } => {
                crate::plugin_cli::plugin_command(&plugins, &sources, command, test_config).await
            }
            Command::Serve(_)
            | Command::Registry { .. }
            | Command::Secrets { .. }
            | Command::Admin { .. }
            | Command::Openapi
            | Command::Completions { .. }
            | Command::Token { .. } => Ok(()),
        }
    };
    // Programs run in their own process groups, so Ctrl-C reaches only
    // this process: stopping here drops the running call, which kills its
    // programs, and the scratch root goes with `cli_root`.
    let outcome = tokio::select! {
        outcome = work => outcome,
        signal = interrupted() => Err(anyhow::anyhow!("stopped by {signal}")),
    };
    drop(plugins);
    drop(cli_root);
    outcome
}

/// The first SIGINT or SIGTERM.
async fn interrupted() -> &'static str {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = term => "SIGTERM",
    }
}

/// The file of a `sqlite://PATH[?options]` URL.
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// Where installed plugins live.
fn plugin_dir(cli: &Cli) -> anyhow::Result<PathBuf> {
    match &cli.plugin_dir {
        Some(d) => absolute(d),
        None => Ok(absolute(&cli.data_dir)?.join("plugins")),
    }
}

/// The plugin directory, default registry and trusted publisher keys.
fn plugin_sources(cli: &Cli) -> anyhow::Result<PluginSources> {
    Ok(PluginSources {
        dir: plugin_dir(cli)?,
        registry: cli.registry.clone(),
        trusted: crate::plugin_cli::trusted_keys(&cli.trusted_keys)?,
    })
}

/// The precompiled plugin cache in use.
fn plugin_cache_dir(cli: &Cli) -> anyhow::Result<PathBuf> {
    match &cli.plugin_cache_dir {
        Some(d) => absolute(d),
        None => Ok(absolute(&cli.data_dir)?.join("cache/plugins")),
    }
}

/// The master key file in use: `--master-key-file` or DATA_DIR/master.key.
fn master_key_file(cli: &Cli) -> anyhow::Result<PathBuf> {
    match &cli.master_key_file {
        Some(f) => absolute(f),
        None => Ok(absolute(&cli.data_dir)?.join("master.key")),
    }
}

/// Loads (or creates) the master keys and installs them for the store.
fn install_keyring(file: &Path) -> anyhow::Result<()> {
    let env = std::env::var("DG_MASTER_KEY").ok();
    let ring = crate::secrets::Keyring::load_or_create(env.as_deref(), file)
        .context("loading the master key")?;
    crate::secrets::install(ring);
    Ok(())
}

/// The single sign-on settings, when `--oidc-issuer` is given; every
/// refusal names its flag.
fn oidc_config(args: &ServeArgs) -> anyhow::Result<Option<dg_app::oidc::OidcConfig>> {
    let Some(issuer) = args.oidc_issuer.clone() else {
        return Ok(None);
    };
    let public = args
        .public_url
        .as_deref()
        .context("--oidc-issuer needs --public-url (the provider sends users back there)")?;
    let client_id = args
        .oidc_client_id
        .clone()
        .context("--oidc-issuer needs --oidc-client-id")?;
    let secret_file = args
        .oidc_client_secret_file
        .as_ref()
        .context("--oidc-issuer needs --oidc-client-secret-file")?;
    let secret = std::fs::read_to_string(secret_file)
        .with_context(|| format!("--oidc-client-secret-file {}", secret_file.display()))?;
    let secret = secret.lines().next().unwrap_or("").trim().to_string();
    if secret.is_empty() {
        crate::usage!(
            "--oidc-client-secret-file: {} is empty",
            secret_file.display()
        );
    }
    let mut role_map = Vec::new();
    for entry in &args.oidc_role_map {
        let Some((value, role)) = entry.rsplit_once('=') else {
            crate::usage!("--oidc-role-map: `{entry}` is not VALUE=ROLE");
        };
        role_map.push((value.trim().to_string(), role.trim().to_string()));
    }
    Ok(Some(dg_app::oidc::OidcConfig {
        issuer,
        client_id,
        client_secret: secret,
        redirect_url: format!("{}/api/auth/oidc/callback", public.trim_end_matches('/')),
        role_claim: args.oidc_role_claim.clone(),
        role_map,
        default_role: args.oidc_default_role.clone(),
    }))
}

/// The metadata database of `--database-url` (or DATA_DIR's SQLite file).
async fn open_metadata(
    cli: &Cli,
    database_url: &Option<String>,
) -> anyhow::Result<crate::store::Db> {
    let url = match database_url {
        Some(u) => u.clone(),
        None => crate::store::Db::sqlite_url(&absolute(&cli.data_dir)?),
    };
    crate::store::Db::connect(&url).await.with_context(|| {
        format!(
            "opening metadata database {}",
            crate::store::redact_url(&url)
        )
    })
}

/// The command line as an actor: the operating-system user running it.
fn cli_actor() -> dg_app::usecases::Actor {
    dg_app::usecases::Actor::Cli {
        user: std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| os_user_id()),
    }
}

/// `uid N` of this process, read from `/proc/self/status` (containers
/// often run without `USER`).
fn os_user_id() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| {
                    ids.split_whitespace()
                        .next()
                        .map(|uid| format!("uid {uid}"))
                })
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The first line of standard input, without its line ending.
fn password_from_stdin() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\n', '\r']).to_string();
    if password.is_empty() {
        bail!("no password on standard input (pipe it in: `printf '%s\\n' \"$PASSWORD\" | dataguardian admin create ...`)");
    }
    Ok(password)
}

/// Records what the command line did in the audit log.
async fn audit_cli(
    db: &crate::store::Db,
    action: &str,
    entity_type: &str,
    entity_id: &str,
    details: serde_json::Value,
) {
    let actor = cli_actor();
    let row = crate::store::access::AuditLog {
        id: crate::store::new_id(),
        created_at: crate::store::now(),
        actor_type: dg_core::domain::ActorKind::Cli,
        actor_id: None,
        actor: actor.to_string(),
        action: action.into(),
        entity_type: Some(entity_type.into()),
        entity_id: Some(entity_id.into()),
        client: None,
        outcome: dg_core::domain::AuditOutcome::Succeeded,
        status: None,
        details: sqlx::types::Json(details),
    };
    if let Err(e) = crate::store::access::insert_audit(db, &row).await {
        eprintln!("warning: the audit log could not be written: {e}");
    }
}

fn use_case_failed(e: dg_app::usecases::UseCaseError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

async fn admin_command(cli: &Cli, command: &AdminCommand) -> anyhow::Result<()> {
    use dg_app::usecases::access as uc;
    let actor = cli_actor();
    match command {
        AdminCommand::Create {
            username,
            role,
            database_url,
            ..
        } => {
            let password = password_from_stdin()?;
            let db = open_metadata(cli, database_url).await?;
            let user = uc::create_user(
                &db,
                &actor,
                uc::NewUser {
                    username: username.clone(),
                    password,
                    role: role.clone(),
                },
            )
            .await
            .map_err(use_case_failed)?;
            audit_cli(
                &db,
                "users.create",
                "users",
                &user.id,
                serde_json::json!({}),
            )
            .await;
            db.close().await;
            println!(
                "{}",
                serde_json::json!({"id": user.id, "username": user.username, "role": user.role})
            );
        }
        AdminCommand::SetPassword {
            username,
            role,
            database_url,
            ..
        } => {
            let password = password_from_stdin()?;
            let db = open_metadata(cli, database_url).await?;
            let user = crate::store::access::user_by_name(&db, username)
                .await?
                .with_context(|| format!("there is no user named `{username}`"))?;
            let user = uc::update_user(
                &db,
                &actor,
                &user.id,
                uc::UserChange {
                    username: None,
                    password: Some(password),
                    role: role.clone(),
                },
            )
            .await
            .map_err(use_case_failed)?;
            let changed: Vec<&str> = if role.is_some() {
                vec!["password", "role"]
            } else {
                vec!["password"]
            };
            audit_cli(
                &db,
                "users.update",
                "users",
                &user.id,
                serde_json::json!({ "changed": changed }),
            )
            .await;
            db.close().await;
            println!(
                "{}",
                serde_json::json!({"id": user.id, "username": user.username, "role": user.role})
            );
        }
    }
    Ok(())
}

async fn token_command(cli: &Cli, command: &TokenCommand) -> anyhow::Result<()> {
    use dg_app::usecases::access as uc;
    let TokenCommand::Create {
        username,
        name,
        permissions,
        expires_in_days,
        database_url,
    } = command;
    let permissions = if permissions.is_empty() {
        None
    } else {
        Some(
            permissions
                .iter()
                .map(|p| {
                    p.parse::<dg_core::access::Permission>()
                        .map_err(|e| crate::exit::Usage(format!("--permission: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?,
        )
    };
    let db = open_metadata(cli, database_url).await?;
    let owner = crate::store::access::user_by_name(&db, username)
        .await?
        .with_context(|| {
            format!(
                "there is no user named `{username}`; create one with `dataguardian admin create`"
            )
        })?;
    let created = uc::create_token(
        &db,
        &cli_actor(),
        &owner,
        uc::NewToken {
            name: name.clone(),
            permissions,
            expires_at: expires_in_days
                .map(|d| crate::store::now() + chrono::Duration::days(i64::from(d))),
        },
    )
    .await
    .map_err(use_case_failed)?;
    audit_cli(
        &db,
        "tokens.create",
        "tokens",
        &created.id,
        serde_json::json!({ "name": created.name }),
    )
    .await;
    db.close().await;
    eprintln!(
        "token `{}` of user `{}` created; it is shown once, keep it in a secret store",
        created.name, owner.username
    );
    println!("{}", created.token);
    Ok(())
}

async fn secrets_command(cli: &Cli, command: &SecretsCommand) -> anyhow::Result<()> {
    let SecretsCommand::RotateKey { database_url } = command;
    let _running = crate::private::lock_data_dir(&absolute(&cli.data_dir)?).context(
        "a server is running on this data dir; stop it before rotating the key (it holds the \
         old key in memory and would seal new secrets under it)",
    )?;
    let file = master_key_file(cli)?;
    install_keyring(&file)?;
    let url = database_url.clone().unwrap_or_else(|| {
        crate::store::Db::sqlite_url(&absolute(&cli.data_dir).unwrap_or_default())
    });
    let db = crate::store::Db::connect(&url)
        .await
        .with_context(|| {
            format!(
                "opening metadata database {}",
                crate::store::redact_url(&url)
            )
        })?
        .with_events(std::sync::Arc::new(crate::observe::events::StoreEvents));
    let rotating_file = crate::secrets::with_keyring(|ring| {
        Ok(ring.source == crate::secrets::KeySource::File(file.clone()))
    })?;
    if rotating_file {
        // New key in front, old ones still listed: every row stays
        // readable whatever step a crash interrupts.
        rotate_installed(|ring| {
            ring.rotate();
            ring.write_file(&file, false)
        })?;
    }
    let resealed = crate::store::sealed::reseal_all(&db).await?;
    let current = crate::secrets::with_keyring(|ring| Ok(ring.current_id().to_string()))?;
    if rotating_file {
        rotate_installed(|ring| {
            ring.retire_old();
            ring.write_file(&file, false)
        })?;
    }
    db.close().await;
    println!(
        "{}",
        serde_json::json!({
            "key_id": current,
            "resealed_rows": resealed,
            "key_source": if rotating_file { file.display().to_string() } else { "DG_MASTER_KEY".into() },
        })
    );
    if !rotating_file {
        eprintln!("every secret is sealed under key {current}; DG_MASTER_KEY may now list only it");
    }
    Ok(())
}

/// Changes the installed keyring in place.
fn rotate_installed(
    change: impl FnOnce(&mut crate::secrets::Keyring) -> Result<(), crate::secrets::SecretsError>,
) -> anyhow::Result<()> {
    crate::secrets::update(change).context("rotating the master key")
}

/// `private_paths`: the master key file first, then other files and
/// directories of the server's outside the data dir.
async fn serve(
    data_dir: &Path,
    private_paths: Vec<PathBuf>,
    plugins: Plugins,
    sources: PluginSources,
    restore_spool: pipeline::SpoolPolicy,
    args: ServeArgs,
) -> anyhow::Result<()> {
    let options = serve_options(data_dir, private_paths, sources, restore_spool, args)?;
    crate::server::serve(options, plugins).await
}

/// The API over a server state built as `serve` builds it (same flags,
/// same checks, same store), without listening, workers or recovery: for
/// in-process tests (`tower::ServiceExt::oneshot`) of the request guard,
/// the extractors and the OpenAPI document. `cli` must be a `serve`
/// command line.
pub async fn in_process(cli: Cli) -> anyhow::Result<axum::Router> {
    let data_dir = absolute(&cli.data_dir)?;
    crate::private::dir(&data_dir)
        .with_context(|| format!("creating the data dir {}", data_dir.display()))?;
    let plugins = load_plugins(&cli, data_dir.join("tmp"))?;
    let private_paths = vec![
        master_key_file(&cli)?,
        plugin_cache_dir(&cli)?,
        plugin_dir(&cli)?,
    ];
    let spool = spool_policy(&cli, &data_dir)?;
    let sources = plugin_sources(&cli)?;
    let Command::Serve(args) = cli.command else {
        bail!("in_process takes the arguments of `serve`");
    };
    let options = serve_options(&data_dir, private_paths, sources, spool, *args)?;
    let state = crate::server::open_state(&options, plugins).await?;
    Ok(crate::api::router(state))
}

/// Checks `serve`'s flags and resolves them into its options; installs
/// the master key.
fn serve_options(
    data_dir: &Path,
    private_paths: Vec<PathBuf>,
    plugin_sources: PluginSources,
    restore_spool: pipeline::SpoolPolicy,
    args: ServeArgs,
) -> anyhow::Result<crate::server::ServeOptions> {
    install_keyring(&private_paths[0])?;
    let mut private_paths = private_paths;
    // No datasource may back up, nor restore over, a spool.
    private_paths.push(restore_spool.dir.clone());
    if let Some(file) = args.database_url.as_deref().and_then(sqlite_file) {
        private_paths.push(absolute(&file)?);
    }
    if !(1..=65_536).contains(&args.max_connections) {
        crate::usage!("--max-connections: must be between 1 and 65536");
    }
    if !(1..=300).contains(&args.header_timeout_secs) {
        crate::usage!("--header-timeout-secs: must be between 1 and 300");
    }
    if args.scheduler_tick_secs == 0 {
        crate::usage!("--scheduler-tick-secs: must be at least 1");
    }
    if args.health_interval_secs == 0 {
        crate::usage!("--health-interval-secs: must be at least 1");
    }
    if args.system_monitor_interval_ms < 100 {
        crate::usage!("--system-monitor-interval-ms: must be at least 100");
    }
    if !(1..=100_000).contains(&args.system_monitor_history_size) {
        crate::usage!("--system-monitor-history-size: must be between 1 and 100000");
    }
    crate::schedule::Schedule::parse(&args.cleanup_cron, "UTC")
        .map_err(|e| crate::exit::Usage(format!("--cleanup-cron: {e}")))?;
    let oidc = oidc_config(&args)?;
    let config = crate::server::state::ServerConfig {
        data_dir: absolute(data_dir)?,
        scheduler_tick: Duration::from_secs(args.scheduler_tick_secs),
        health_interval: Duration::from_secs(args.health_interval_secs),
        backup_concurrency: args.backup_concurrency.max(1),
        restore_concurrency: args.restore_concurrency.max(1),
        cleanup_cron: args.cleanup_cron,
        stale_after: Duration::from_secs(args.stale_after_secs.max(30)),
        max_body_bytes: args.max_body_kb.max(1) * 1024,
        shutdown_grace: Duration::from_secs(args.shutdown_grace_secs),
        origin: crate::api::guard::OriginPolicy::new(
            &args.allowed_hosts,
            args.public_url.as_deref(),
        )
        .map_err(anyhow::Error::msg)?,
        denied_roots: args
            .denied_roots
            .iter()
            .filter(|p| !p.as_os_str().is_empty())
            .cloned()
            .collect(),
        allowed_roots: (!args.allowed_roots.is_empty()).then(|| args.allowed_roots.clone()),
        allow_egress: args.allow_egress.clone(),
        private_paths,
        monitor_interval: Duration::from_millis(args.system_monitor_interval_ms),
        monitor_history: args.system_monitor_history_size,
        retry_base: Duration::from_secs(args.retry_secs.max(1)),
        notification_retry_base: Duration::from_secs(args.notification_retry_secs.max(1)),
        delivery_lease: Duration::from_secs(args.delivery_lease_secs.max(1)),
        sessions: crate::auth::SessionPolicy {
            idle: Duration::from_secs(args.session_idle_secs.max(1)),
            absolute: Duration::from_secs(args.session_max_secs.max(1)),
        },
        oidc,
        public_url: args.public_url.clone(),
        restore_spool,
        plugin_sources,
    };
    for root in config
        .denied_roots
        .iter()
        .chain(config.allowed_roots.iter().flatten())
    {
        if !root.is_absolute() {
            crate::usage!(
                "--denied-roots / --allowed-roots: `{}` is not an absolute path",
                root.display()
            );
        }
    }
    Ok(crate::server::ServeOptions {
        listen: args.listen,
        database_url: args.database_url,
        redis_url: args.redis_url,
        config,
        connections: crate::server::http::ConnectionLimits {
            max_connections: args.max_connections,
            header_timeout: Duration::from_secs(args.header_timeout_secs),
        },
    })
}

/// Reads `--config FILE` / `DG_CONFIG` (TOML, keys named like the long
/// flags: `listen = "0.0.0.0:8080"`, `data_dir = "/var/lib/dg"`) and
/// exports each key as its `DG_*` variable unless already set, so the
/// order of precedence is flag > environment > file > default.
pub fn apply_config_file(args: &[String]) -> anyhow::Result<()> {
    let mut path = std::env::var("DG_CONFIG").ok();
    // `plugin test DIR --config JSON` has a `--config` of its own: the
    // global one can only come before it.
    let own_config = args
        .windows(2)
        .position(|w| w[0] == "plugin" && w[1] == "test")
        .unwrap_or(args.len());
    for (i, a) in args[..own_config].iter().enumerate() {
        if let Some(p) = a.strip_prefix("--config=") {
            path = Some(p.to_string());
        } else if a == "--config" {
            path = args.get(i + 1).cloned();
        }
    }
    let Some(path) = path else {
        return Ok(());
    };
    let text = std::fs::read_to_string(&path).with_context(|| format!("--config {path}"))?;
    let table: toml::Table = text
        .parse()
        .with_context(|| format!("--config {path}: not valid TOML"))?;
    for (key, value) in table {
        // Variables named as in the seed's deployments keep their names.
        let var = if matches!(
            key.as_str(),
            "database_url" | "system_monitor_interval_ms" | "system_monitor_history_size"
        ) {
            key.to_uppercase()
        } else {
            format!("DG_{}", key.to_uppercase().replace('-', "_"))
        };
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => {
                crate::usage!(
                    "--config {path}: `{key}` must be a string, number or boolean, not {other}"
                )
            }
        };
        if std::env::var_os(&var).is_none() {
            // Single-threaded start-up: nothing else reads the environment yet.
            unsafe { std::env::set_var(&var, text) };
        }
    }
    Ok(())
}

/// `scratch_root` must be absolute: scratch paths are handed to programs
/// running in `/`.
fn load_plugins(cli: &Cli, scratch_root: PathBuf) -> anyhow::Result<Plugins> {
    let config = RuntimeConfig {
        cache_dir: Some(plugin_cache_dir(cli)?),
        scratch_root,
        smtp_ca_files: cli.smtp_ca_files.clone(),
        limits: crate::plugin::runtime::CallLimits {
            control_timeout: Duration::from_secs(cli.plugin_control_timeout_secs.max(1)),
            control_cpu: Duration::from_secs(cli.plugin_control_cpu_secs.max(1)),
            data_timeout: Duration::from_secs(cli.plugin_data_timeout_secs.max(1)),
            stall_after: Duration::from_secs(cli.plugin_stall_secs.max(1)),
        },
    };
    let mut plugins = Plugins::with_builtins(config).context("loading built-in plugins")?;
    // Export calls are counted in this process's metrics (served by
    // `serve`; the runtime itself keeps no counters).
    plugins
        .runtime()
        .observe_calls(std::sync::Arc::new(crate::observe::metrics::PluginCalls));
    // Only the server finishes what a crash interrupted: a command run
    // beside a live server must not touch an install in progress.
    if matches!(cli.command, Command::Serve(_)) {
        for done in dg_app::usecases::plugins::recover(&plugin_dir(cli)?) {
            tracing::warn!("plugin directory: {done}");
        }
    }
    for problem in plugins.load_dir(&plugin_dir(cli)?) {
        tracing::warn!("plugin not loaded: {problem}");
    }
    Ok(plugins)
}

/// Storage client and key prefix for an execution path.
fn storage_for(
    plugins: &Plugins,
    args: &StorageArgs,
    local_root: Option<&Path>,
) -> anyhow::Result<crate::plugin::StorageClient> {
    let config = match (&args.storage_config, local_root) {
        (Some(json), _) => serde_json::from_str(json).context("--storage-config: invalid JSON")?,
        (None, Some(root)) if args.storage == "local" => {
            let root = absolute(root)?;
            serde_json::json!({ "path": root.to_str().context("--to: path is not UTF-8")? })
        }
        (None, _) => crate::usage!(
            "--storage-config is required for storage `{}`",
            args.storage
        ),
    };
    // Secrets (`secret_access_key`, `private_key`...) stay host-side, as
    // in the server: the plugin gets the rest.
    let (config, secrets) = crate::server::targets::split_secrets(&config);
    let target = Target::new(config, tracing_sink()).with_secrets(secrets);
    Ok(plugins.storage(&args.storage, target)?)
}

fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    Ok(if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()?.join(p)
    })
}

/// Splits `DIR/JOB/EXECUTION` into the local root and `JOB/EXECUTION`.
fn split_execution_path(path: &Path, local: bool) -> anyhow::Result<(Option<PathBuf>, String)> {
    let text = path.to_str().context("execution path is not UTF-8")?;
    let trimmed = text.trim_end_matches('/');
    if !local {
        return Ok((None, trimmed.trim_start_matches('/').to_string()));
    }
    let abs = absolute(Path::new(trimmed))?;
    let exec = abs
        .file_name()
        .context("execution path has no execution folder")?;
    let job_dir = abs.parent().context("execution path has no job folder")?;
    let job = job_dir
        .file_name()
        .context("execution path has no job folder")?;
    let root = job_dir
        .parent()
        .context("execution path has no storage root")?;
    Ok((
        Some(root.to_path_buf()),
        format!("{}/{}", job.to_string_lossy(), exec.to_string_lossy()),
    ))
}

async fn backup(plugins: &Plugins, args: BackupArgs) -> anyhow::Result<()> {
    let mut resolved = source::resolve("--source", &args.source)?;
    if !args.include.is_empty() {
        resolved.config["include"] = args.include.clone().into();
    }
    if !args.exclude.is_empty() {
        resolved.config["exclude"] = args.exclude.clone().into();
    }
    let max_part_bytes = match (args.max_file_size_bytes, args.max_file_size_mb) {
        (Some(0), _) | (None, Some(0)) => {
            crate::usage!("--max-file-size-mb: must be greater than 0")
        }
        (Some(b), _) => Some(b),
        (None, Some(mb)) => Some(mb << 20),
        (None, None) => None,
    };
    let compression_level = args
        .compression_level
        .map(|l| args.compression.check_level(l))
        .transpose()
        .map_err(|e| anyhow::anyhow!("--{}", e.replace('_', "-")))?;
    if args.storage.storage == "local" && args.to.is_none() && args.storage.storage_config.is_none()
    {
        crate::usage!("--to: required for local storage");
    }
    if let Some(to) = &args.to {
        std::fs::create_dir_all(to).with_context(|| format!("--to: creating {}", to.display()))?;
    }
    let storage = storage_for(plugins, &args.storage, args.to.as_deref())?;
    let mut target = Target::new(resolved.config, tracing_sink()).with_secrets(resolved.secrets);
    target.stall_after = Duration::from_secs(args.stall_secs);
    let engine = plugins.engine(&args.engine, target)?;
    engine.validate_config().await?;

    let activity: Arc<Activity> = Arc::default();
    let _progress = report_progress("backup", activity.clone());
    let started_at = chrono::Utc::now();
    let summary = pipeline::run_backup(BackupRequest {
        databases: Vec::new(),
        engine,
        storage,
        job_id: args.job_id.clone(),
        execution_id: uuid::Uuid::new_v4().to_string(),
        datasource_type: args.engine.clone(),
        compression: args.compression,
        compression_level,
        max_part_bytes,
        started_at,
        folder: crate::pipeline::layout::execution_folder(started_at),
        activity,
        cancel: Default::default(),
    })
    .await?;
    let m = &summary.manifest;
    let execution_path = match &args.to {
        Some(to) => absolute(to)?.join(&summary.prefix).display().to_string(),
        None => summary.prefix.clone(),
    };
    let out = serde_json::json!({
        "status": crate::domain::ExecutionStatus::Completed,
        "execution_path": execution_path,
        "execution_id": m.execution_id,
        "job_id": m.job_id,
        "files": m.chunks.iter().map(|c| c.file.clone()).collect::<Vec<_>>(),
        "total_size_bytes": m.total_size_bytes,
        "compressed_size_bytes": m.compressed_size_bytes,
        "compression": m.compression,
        "compression_ratio": m.compression_ratio,
        "checksum": m.checksum,
        "duration_ms": m.duration_ms,
        "metadata": m.metadata,
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// Logs bytes moved and the rate every few seconds until dropped.
struct ProgressReporter(tokio::task::JoinHandle<()>);

impl Drop for ProgressReporter {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn report_progress(what: &'static str, activity: Arc<Activity>) -> ProgressReporter {
    const EVERY: Duration = Duration::from_secs(5);
    ProgressReporter(tokio::spawn(async move {
        let started = std::time::Instant::now();
        loop {
            tokio::time::sleep(EVERY).await;
            let bytes = activity.bytes();
            let rate = bytes as f64 / started.elapsed().as_secs_f64() / 1e6;
            tracing::info!("{what}: {:.1} MB moved, {rate:.1} MB/s", bytes as f64 / 1e6);
        }
    }))
}

/// Where and how large parallel restores may spool.
fn spool_policy(cli: &Cli, data_dir: &Path) -> anyhow::Result<pipeline::SpoolPolicy> {
    if cli.restore_spool_max_mb == 0 {
        crate::usage!("--restore-spool-max-mb: must be at least 1");
    }
    let dir = match &cli.restore_spool_dir {
        Some(dir) => absolute(dir)?,
        None => data_dir.join("spool"),
    };
    Ok(pipeline::SpoolPolicy {
        dir,
        max_bytes: cli.restore_spool_max_mb.saturating_mul(1 << 20),
    })
}

async fn restore(
    plugins: &Plugins,
    spool: &pipeline::SpoolPolicy,
    args: RestoreArgs,
) -> anyhow::Result<()> {
    let jobs =
        pipeline::parse_jobs(&args.jobs).map_err(|m| crate::exit::Usage(format!("--jobs: {m}")))?;
    if jobs > 1 && !plugins.restores_in_parallel(&args.engine) {
        crate::usage!(
            "--jobs: the `{}` engine restores from one stream only; use --jobs 1",
            args.engine
        );
    }
    let local = args.storage.storage == "local" && args.storage.storage_config.is_none();
    let (root, prefix) = split_execution_path(&args.from, local)?;
    let storage = storage_for(plugins, &args.storage, root.as_deref())?;
    let resolved = source::resolve("--target", &args.target)?;
    let mut target = Target::new(resolved.config, tracing_sink()).with_secrets(resolved.secrets);
    target.stall_after = Duration::from_secs(args.stall_secs);
    let engine = plugins.engine(&args.engine, target)?;
    engine.validate_config().await?;
    let started = std::time::Instant::now();
    let mut options = Vec::new();
    if args.clean {
        options.push(("clean".to_string(), "true".to_string()));
    }
    let parallel = if jobs > 1 {
        pipeline::check_parallel_target(&engine, args.clean, "--clean")
            .await
            .map_err(|m| crate::exit::Usage(format!("--jobs: {m}")))?;
        Some(pipeline::Parallel {
            jobs,
            spool: spool.clone(),
            name: format!("cli-{}", uuid::Uuid::new_v4()),
        })
    } else {
        None
    };
    let activity: Arc<Activity> = Arc::default();
    let _progress = report_progress("restore", activity.clone());
    let manifest = pipeline::run_restore(RestoreRequest {
        storage,
        prefix: prefix.clone(),
        engine,
        options,
        activity,
        database: args.database,
        parallel,
    })
    .await?;
    let out = serde_json::json!({
        "status": "restored",
        "execution": prefix,
        "execution_id": manifest.execution_id,
        "checksum": manifest.checksum,
        "total_size_bytes": manifest.total_size_bytes,
        "duration_ms": started.elapsed().as_millis() as u64,
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

async fn verify(plugins: &Plugins, args: VerifyArgs) -> anyhow::Result<()> {
    let local = args.storage.storage == "local" && args.storage.storage_config.is_none();
    let (root, prefix) = split_execution_path(&args.path, local)?;
    let storage = storage_for(plugins, &args.storage, root.as_deref())?;
    let manifest = pipeline::verify_execution(&storage, &prefix).await?;
    let out = serde_json::json!({
        "status": "ok",
        "execution": prefix,
        "checksum": manifest.checksum,
        "files": manifest.chunks.iter().map(|c| c.file.clone()).collect::<Vec<_>>(),
        "compressed_size_bytes": manifest.compressed_size_bytes,
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn server_flags_come_from_the_parser() {
        let names = server_flag_names();
        for flag in [
            "backup_concurrency",
            "database_url",
            "master_key_file",
            "shutdown_grace_secs",
        ] {
            assert!(names.contains(flag), "{flag} missing from {names:?}");
        }
        assert!(!names.contains("theme"));
    }

    use super::*;

    #[test]
    fn execution_paths_split_into_root_and_prefix() {
        let (root, prefix) =
            split_execution_path(Path::new("/backups/job-1/2025-02-13_060001/"), true).expect("ok");
        assert_eq!(root, Some(PathBuf::from("/backups")));
        assert_eq!(prefix, "job-1/2025-02-13_060001");
        let (root, prefix) =
            split_execution_path(Path::new("job-1/2025-02-13_060001"), false).expect("ok");
        assert_eq!(root, None);
        assert_eq!(prefix, "job-1/2025-02-13_060001");
    }
}
