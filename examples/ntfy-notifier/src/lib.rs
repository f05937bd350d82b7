//! An ntfy notifier: each event becomes a message on a topic.

use dataguardian_plugin_sdk::http::Request;
use dataguardian_plugin_sdk::schemars::JsonSchema;
use dataguardian_plugin_sdk::serde::Deserialize;
use dataguardian_plugin_sdk::*;

/// Where messages go.
#[derive(Deserialize, JsonSchema)]
#[serde(crate = "dataguardian_plugin_sdk::serde")]
#[schemars(crate = "dataguardian_plugin_sdk::schemars")]
struct Config {
    /// The ntfy server, e.g. `https://ntfy.sh`.
    server: String,
    /// The topic to publish to.
    topic: String,
    /// An access token, when the topic is protected. A secret: the host
    /// keeps it and never hands it to the plugin, so this is `None` here;
    /// it is declared for the configuration's schema.
    #[serde(default)]
    #[allow(dead_code)]
    #[schemars(extend("writeOnly" = true))]
    bearer_token: Option<String>,
}

struct Ntfy;

impl Notifier for Ntfy {
    fn info() -> PluginInfo {
        manifest_info!(Config)
    }

    fn validate_config(config: &str) -> PluginResult<()> {
        config::parse_json::<Config>(config).map(|_| ())
    }

    fn send(ctx: &CallContext, event: &Event) -> PluginResult<()> {
        let cfg: Config = config::parse(ctx)?;
        let url = format!("{}/{}", cfg.server.trim_end_matches('/'), cfg.topic);
        let priority = match event.severity {
            Severity::Critical => "high",
            Severity::Warning => "default",
            Severity::Info => "low",
        };
        let mut request = Request::new("POST", &url)?
            .header("title", &event.title)
            .header("priority", priority)
            .header("tags", &event.kind);
        if config::has_secret(ctx, "bearer_token") {
            request = request.auth("bearer secret=bearer_token");
        }
        let response = request.send(event.body.as_bytes())?;
        if response.is_success() {
            Ok(())
        } else {
            Err(PluginError::Failed(format!(
                "ntfy answered HTTP {}",
                response.status
            )))
        }
    }
}

export_notifier!(Ntfy);
