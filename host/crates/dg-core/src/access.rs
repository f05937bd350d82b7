//! Who may do what: the permissions of the API (one per resource and
//! action) and the built-in roles. A role is a name and a set of
//! permissions; the three built-in ones are defined here, in code, so a
//! permission added in a later version reaches them without a migration.
//! Custom roles are rows (`roles`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use crate::domain::{either, UnknownValue};

/// Declares the permission set: variants, their texts, `ALL`.
macro_rules! permissions {
    ($( $(#[$meta:meta])* $variant:ident => $text:literal ),+ $(,)?) => {
        /// One action on one kind of resource (`jobs:write`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum Permission {
            $( $(#[$meta])* #[serde(rename = $text)] $variant, )+
        }

        impl Permission {
            /// Every permission, in declaration order.
            pub const ALL: &'static [Permission] = &[$(Permission::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self { $(Permission::$variant => $text,)+ }
            }
        }

        impl FromStr for Permission {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, UnknownValue> {
                match s {
                    $($text => Ok(Permission::$variant),)+
                    other => Err(UnknownValue {
                        value: other.to_string(),
                        what: "permission",
                        allowed: either(&[$($text),+]),
                    }),
                }
            }
        }
    };
}

permissions! {
    DatasourcesRead => "datasources:read",
    DatasourcesWrite => "datasources:write",
    StoragesRead => "storages:read",
    StoragesWrite => "storages:write",
    /// List, copy, delete and download files in a storage (the explorer).
    StoragesExplore => "storages:explore",
    JobsRead => "jobs:read",
    JobsWrite => "jobs:write",
    /// Start a backup now, retry an upload.
    BackupsRun => "backups:run",
    BackupsDownload => "backups:download",
    /// Restore and verify backups.
    BackupsRestore => "backups:restore",
    ExecutionsRead => "executions:read",
    ExecutionsCancel => "executions:cancel",
    ExecutionsDelete => "executions:delete",
    NotificationsRead => "notifications:read",
    NotificationsWrite => "notifications:write",
    /// Users, roles, and other people's tokens and sessions.
    UsersManage => "users:manage",
    PluginsInstall => "plugins:install",
    SettingsWrite => "settings:write",
    AuditRead => "audit:read",
    MetricsRead => "metrics:read",
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<str> for Permission {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl utoipa::PartialSchema for Permission {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(Permission::ALL.iter().map(|p| p.as_str())))
            .description(Some("One action on one kind of resource"))
            .into()
    }
}

impl utoipa::ToSchema for Permission {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("Permission")
    }
}

/// A set of permissions, ordered (as listed and stored).
pub type Permissions = BTreeSet<Permission>;

/// The roles every server has; they cannot be changed or removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltInRole {
    /// Everything.
    Admin,
    /// Everything but users, plugins, settings and the audit log.
    Operator,
    /// Reads; no download, restore or explore.
    Viewer,
}

impl BuiltInRole {
    pub const ALL: &'static [BuiltInRole] = &[
        BuiltInRole::Admin,
        BuiltInRole::Operator,
        BuiltInRole::Viewer,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            BuiltInRole::Admin => "admin",
            BuiltInRole::Operator => "operator",
            BuiltInRole::Viewer => "viewer",
        }
    }

    pub fn by_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|r| r.name() == name)
    }

    pub fn permissions(self) -> Permissions {
        use Permission::*;
        match self {
            BuiltInRole::Admin => Permission::ALL.iter().copied().collect(),
            BuiltInRole::Operator => Permission::ALL
                .iter()
                .copied()
                .filter(|p| !matches!(p, UsersManage | PluginsInstall | SettingsWrite | AuditRead))
                .collect(),
            BuiltInRole::Viewer => [
                DatasourcesRead,
                StoragesRead,
                JobsRead,
                ExecutionsRead,
                NotificationsRead,
                MetricsRead,
            ]
            .into_iter()
            .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_round_trip_their_text() {
        for p in Permission::ALL {
            assert_eq!(p.as_str().parse::<Permission>(), Ok(*p));
            let json = serde_json::to_string(p).expect("json");
            assert_eq!(json, format!("\"{}\"", p.as_str()));
        }
        let e = "jobs:fly".parse::<Permission>().expect_err("unknown");
        assert!(e.to_string().contains("jobs:write"), "{e}");
    }

    #[test]
    fn built_in_roles_keep_their_promises() {
        use Permission::*;
        let operator = BuiltInRole::Operator.permissions();
        assert!(operator.contains(&BackupsRun) && operator.contains(&BackupsRestore));
        assert!(!operator.contains(&UsersManage) && !operator.contains(&AuditRead));
        let viewer = BuiltInRole::Viewer.permissions();
        for denied in [BackupsDownload, BackupsRestore, StoragesExplore, JobsWrite] {
            assert!(!viewer.contains(&denied), "{denied}");
        }
        assert!(viewer.iter().all(|p| p.as_str().ends_with(":read")));
        assert_eq!(
            BuiltInRole::Admin.permissions().len(),
            Permission::ALL.len()
        );
    }
}
