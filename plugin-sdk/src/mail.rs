//! Sending mail through the host (the `mail` import).
//!
//! The host speaks SMTP and TLS; the plugin names the server, the login
//! and the secret holding the password, whose value never enters plugin
//! memory. Only servers in the manifest's `smtp` rules (filled from the
//! call's config) and granted by the operator are reachable.

use crate::bindings::dataguardian::plugin::mail;
use crate::PluginResult;

pub use mail::{MailMessage as Message, SmtpSecurity as Security, SmtpServer as Server};

/// Delivers `message` through `server`; `Ok` once the server accepted it.
pub fn send(server: &Server, message: &Message) -> PluginResult<()> {
    mail::send(server, message)
}
