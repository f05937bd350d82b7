//! `dataguardian serve`: the metadata store, the workers and the API in
//! one process.

pub mod http;

pub use dg_app::{paths, state, targets};

use crate::api;
use crate::plugin::Plugins;
use crate::queue::redis::RedisQueue;
use crate::queue::{EmbeddedQueue, WorkQueue};
use crate::store::{self, Db};
use crate::workers;
use anyhow::Context;
use dg_app::hostname;
use state::{AppState, Running, ServerConfig};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Everything `serve` needs, resolved from flags and environment.
pub struct ServeOptions {
    pub listen: SocketAddr,
    pub database_url: Option<String>,
    /// Redis for the work queue (`--redis-url`); the metadata database's
    /// own queue without it.
    pub redis_url: Option<String>,
    pub config: ServerConfig,
    /// Connection cap and header-read timeout (`server/http.rs`).
    pub connections: http::ConnectionLimits,
}

/// Runs the server until Ctrl-C / SIGTERM.
pub async fn serve(options: ServeOptions, plugins: Plugins) -> anyhow::Result<()> {
    let data_dir = &options.config.data_dir;
    crate::private::dir(data_dir)
        .with_context(|| format!("creating data dir {}", data_dir.display()))?;
    let _lock = crate::private::lock_data_dir(data_dir).with_context(|| {
        format!(
            "another dataguardian process uses {} (a server, or a key rotation)",
            data_dir.display()
        )
    })?;
    // Programs a killed predecessor left running (a dump waiting on a
    // lock would never notice), its secret files and scratch directories.
    let scratch_root = plugins.runtime().scratch_root().to_path_buf();
    crate::plugin::leftovers::clear_server_root(&scratch_root).log(&scratch_root);
    let leftovers = crate::pipeline::spool::clear_leftovers(&options.config.restore_spool.dir);
    if leftovers > 0 {
        tracing::info!(
            "removed {leftovers} spool file(s) of restores interrupted by the last stop from {}",
            options.config.restore_spool.dir.display()
        );
    }
    // Bound before anything runs, so the egress policy knows the port it
    // must never send to.
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("listening on {}", options.listen))?;
    let local = listener.local_addr()?;
    let (state, redis) = open_state_confined(&options, plugins, Some(local)).await?;
    let db = state.db.clone();
    state.monitor.spawn();
    if let Some(redis) = redis {
        // Down at start is no reason not to serve: the API answers, runs
        // are refused with 503 until Redis answers (the watch notices).
        if let Err(e) = redis.probe().await {
            tracing::error!("{e}; runs and restores are refused until it answers");
        }
        tokio::spawn(redis.watch());
    }
    // Other nodes' events on this node's stream, and theirs of ours.
    crate::observe::cluster::start(&state.db, &state.node_id, state.queue.clone());

    // Whatever this node had running died with its previous process;
    // other nodes' work is only taken over once their heartbeat is stale.
    let stale = store::now()
        - chrono::Duration::from_std(state.config.stale_after)
            .unwrap_or_else(|_| chrono::Duration::minutes(2));
    let recovered = workers::recovery::recover(&state, true, stale).await;
    if recovered > 0 {
        tracing::warn!("{recovered} execution(s) interrupted by the last stop marked failed");
    }
    // Partial uploads failures could not remove (a storage that was down).
    {
        let state = state.clone();
        tokio::spawn(async move {
            let swept = workers::cleanup::sweep_leftovers(&state, None).await;
            if swept > 0 {
                tracing::info!("removed {swept} partial upload(s) left by earlier failures");
            }
        });
    }
    workers::spawn_all(&state);

    tracing::info!("DataGuardian API on http://{local} (OpenAPI at /api/openapi.json)");
    announce_setup(&state, local).await?;
    // Machine-readable line for supervisors and tests (port 0 → real port).
    println!("{}", serde_json::json!({ "listening": local.to_string() }));
    let draining = state.clone();
    http::serve(
        listener,
        api::router(state),
        options.connections,
        async move {
            shutdown_signal().await;
            drain(&draining).await;
            workers::nodes::leave(&draining).await;
            // Event streams never end by themselves; the server would
            // wait for them forever.
            crate::observe::events::bus().close();
        },
    )
    .await;
    db.close().await;
    Ok(())
}

/// The state `serve` runs on, without listening or workers: the path
/// policy, the metadata store (migrated, secrets sealed), the queue, the
/// default storage and the notifier templates. For in-process tests.
pub async fn open_state(options: &ServeOptions, plugins: Plugins) -> anyhow::Result<AppState> {
    Ok(open_state_confined(options, plugins, None).await?.0)
}

/// [`open_state`], with the egress policy refusing `own` (the address
/// this server listens on); also the Redis queue when there is one, whose
/// watch the server starts.
async fn open_state_confined(
    options: &ServeOptions,
    plugins: Plugins,
    own: Option<SocketAddr>,
) -> anyhow::Result<(AppState, Option<Arc<RedisQueue>>)> {
    let data_dir = &options.config.data_dir;
    let paths = paths::PathPolicy::new(
        data_dir,
        options.config.private_paths.clone(),
        &options.config.denied_roots,
        options.config.allowed_roots.as_deref(),
    )
    .with_context(|| format!("resolving data dir {}", data_dir.display()))?;
    let paths = Arc::new(paths);
    plugins.confine(crate::plugin::Confinement {
        dirs: Some(paths.clone()),
        egress: Arc::new(crate::plugin::egress::EgressPolicy::enforced(
            options.config.allow_egress.clone(),
            own,
        )),
    });
    let url = options
        .database_url
        .clone()
        .unwrap_or_else(|| Db::sqlite_url(data_dir));
    let db = Db::connect(&url)
        .await
        .with_context(|| format!("opening metadata database {}", store::redact_url(&url)))?
        .with_events(Arc::new(crate::observe::events::StoreEvents));
    tracing::info!(
        "metadata database: {} ({})",
        db.backend(),
        store::redact_url(&url)
    );
    let sealed = store::sealed::reseal_all(&db)
        .await
        .context("sealing stored secrets under the master key")?;
    if sealed > 0 {
        tracing::info!("{sealed} stored configuration(s) had secrets not sealed under the current key; sealed now");
    }
    let (queue, redis): (Arc<dyn WorkQueue>, _) = match &options.redis_url {
        None => (
            Arc::new(EmbeddedQueue::new(db.clone(), Duration::from_secs(2))),
            None,
        ),
        Some(url) => {
            if matches!(db.pool(), store::Pool::Sqlite(_)) {
                tracing::warn!(
                    "a Redis queue with a SQLite metadata database serves one node only; \
                     several nodes need a PostgreSQL DATABASE_URL"
                );
            }
            let redis = Arc::new(
                // A URL that does not parse is a usage error (exit 2): no
                // restart will fix it.
                RedisQueue::new(url, db.clone(), Duration::from_secs(1))
                    .map_err(|e| crate::exit::Usage(format!("--redis-url: {e}")))?,
            );
            tracing::info!(
                "work queue: Redis at {}",
                dg_app::queue::redis::shown_url(url)
            );
            (redis.clone() as Arc<dyn WorkQueue>, Some(redis))
        }
    };
    let state = AppState {
        db,
        plugins: Arc::new(plugins),
        queue,
        config: Arc::new(options.config.clone()),
        paths,
        running: Arc::new(Running::default()),
        node_id: node_id(data_dir)?.into(),
        started_at: store::now(),
        monitor: Arc::new(crate::observe::monitor::Monitor::new(
            options.config.monitor_interval,
            options.config.monitor_history,
        )),
        access: Arc::default(),
        oidc: match &options.config.oidc {
            Some(c) => Some(Arc::new(
                dg_app::oidc::Oidc::new(c.clone()).context("single sign-on")?,
            )),
            None => None,
        },
    };
    ensure_default_storage(&state).await?;
    // Every installed notifier type gets its templates (version 1: the
    // built-in default), so they can be listed and edited before use.
    let notifier_types: Vec<String> = state
        .plugins
        .list()
        .iter()
        .filter(|p| p.kind() == crate::plugin::PluginKind::Notifier)
        .flat_map(|p| p.manifest.plugin.provides.iter().cloned())
        .collect();
    let types: Vec<&str> = notifier_types.iter().map(String::as_str).collect();
    crate::notify::seed_templates(&state.db, &types).await?;
    Ok((state, redis))
}

/// With no user at all, the log shows a one-time link to the UI's setup
/// page that creates the first administrator (`POST /api/auth/setup`); `dataguardian admin
/// create` does the same from the shell.
async fn announce_setup(state: &AppState, local: SocketAddr) -> anyhow::Result<()> {
    if store::access::count_users(&state.db).await? > 0 {
        return Ok(());
    }
    let token = state.access.new_setup_token();
    let base = state
        .config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{local}"));
    let base = base.trim_end_matches('/');
    // The web UI's setup page takes the token from the link; the same
    // token works on the API for a machine without a browser.
    tracing::warn!(
        "no user exists yet: open {base}/setup?token={token} to create the first administrator \
         (or `curl {base}/api/auth/setup -H 'content-type: application/json' -d '{{\"token\": \
         \"{token}\", \"username\": \"admin\", \"password\": \"…\"}}'`, or run `dataguardian admin \
         create --username NAME --password-stdin --role admin`); the token works once, until the \
         server restarts"
    );
    Ok(())
}

/// A fresh install gets a local storage under the data dir, so the first
/// job can be created without configuring anything else.
async fn ensure_default_storage(state: &AppState) -> anyhow::Result<()> {
    if !store::storages::all(&state.db).await?.is_empty() {
        return Ok(());
    }
    let root = std::path::absolute(state.config.data_dir.join("backups"))?;
    crate::private::dir(&root).with_context(|| format!("creating {}", root.display()))?;
    let path = root.to_str().context("data dir path is not UTF-8")?;
    let at = store::now();
    let row = store::rows::StorageLocation {
        id: store::new_id(),
        name: "Local (data dir)".into(),
        kind: "local".into(),
        config: crate::store::sealed::SealedJson(serde_json::json!({ "path": path })),
        is_default: true,
        status: crate::domain::StorageHealth::Unknown,
        available_space_gb: None,
        last_health_check_at: None,
        created_at: at,
        updated_at: at,
    };
    store::storages::insert(&state.db, &row).await?;
    tracing::info!("created default local storage at {path}");
    Ok(())
}

/// This node's identity in queue claims: the host name plus an id kept in
/// the data dir, so a restarted process recognises its own orphaned work.
fn node_id(data_dir: &std::path::Path) -> anyhow::Result<String> {
    let file = data_dir.join("node-id");
    let id = match std::fs::read_to_string(&file) {
        Ok(s) if !s.trim().is_empty() => s.trim().to_string(),
        _ => {
            let id = store::new_id();
            let _ = std::fs::remove_file(&file);
            crate::private::write_new(&file, id.as_bytes())
                .with_context(|| format!("writing {}", file.display()))?;
            id
        }
    };
    Ok(format!("{}-{id}", hostname()))
}

/// Stops taking work, lets what runs finish within the grace period, then
/// cancels the rest (their files are removed, their executions end
/// `cancelled` with the reason). HTTP keeps answering meanwhile, `/health`
/// with 503, so a load balancer moves away and progress stays visible.
async fn drain(state: &AppState) {
    state.running.start_draining();
    let grace = state.config.shutdown_grace;
    let running = state.running.count();
    if running == 0 {
        return;
    }
    tracing::info!(
        "draining: waiting up to {}s for {running} running execution(s)",
        grace.as_secs()
    );
    if state.running.wait_idle(grace).await {
        tracing::info!("draining: all executions finished");
        return;
    }
    let reason = format!(
        "cancelled: the server shut down and the execution did not finish within the \
         {}s grace period (--shutdown-grace-secs)",
        grace.as_secs()
    );
    tracing::warn!(
        "draining: cancelling {} execution(s)",
        state.running.count()
    );
    state.running.cancel_all(&reason);
    if !state.running.wait_idle(Duration::from_secs(30)).await {
        tracing::error!(
            "draining: {} execution(s) did not stop; the next start recovers them",
            state.running.count()
        );
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
