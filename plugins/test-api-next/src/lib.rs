//! A notifier written against the draft plugin API 0.2 (`wit/next`),
//! without the SDK (which speaks 0.1): it proves the host loads a 0.2
//! component beside 0.1 ones, hands it the typed call context, and serves
//! it the 0.1 imports it reuses.

wit_bindgen::generate!({
    path: "../../wit/next",
    world: "notifier-plugin",
    generate_all,
});

use dataguardian::plugin0_1_0::log;
use dataguardian::plugin0_1_0::types::{PluginError, PluginInfo, PluginKind};
use exports::dataguardian::plugin0_2_0::notifier::Guest;
use exports::dataguardian::plugin0_2_0::notifier::{CallContext, Event};

#[used]
#[link_section = "dataguardian:api-version"]
static API_VERSION: [u8; 5] = *b"0.2.0";

struct Next;

impl Guest for Next {
    fn info() -> PluginInfo {
        PluginInfo {
            id: "test-api-next".into(),
            version: "0.2.0".into(),
            kind: PluginKind::Notifier,
            provides: vec!["test-api-next".into()],
            artifact_format: None,
            description: "A plugin API 0.2 notifier for the versioning tests.".into(),
            config_schema: "{}".into(),
        }
    }

    fn validate_config(_config: String) -> Result<(), PluginError> {
        Ok(())
    }

    /// Logs what it got through the 0.1 `log` import, and fails when the
    /// typed context is not what the host knows (`type-name`).
    fn send(ctx: CallContext, event: Event) -> Result<(), PluginError> {
        if ctx.type_name != "test-api-next" {
            return Err(PluginError::Failed(format!(
                "type-name is `{}`",
                ctx.type_name
            )));
        }
        log::log(
            log::Level::Info,
            &format!(
                "api 0.2 notifier got `{}` for type {}",
                event.title, ctx.type_name
            ),
            &[],
        );
        Ok(())
    }
}

export!(Next);
