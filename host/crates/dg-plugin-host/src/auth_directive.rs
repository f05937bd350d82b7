//! The `x-dataguardian-auth` request header, parsed once.
//!
//! A plugin asks the host to authenticate a request with a secret it never
//! holds: `aws-sigv4 secret=… access-key-id=… region=… service=…`,
//! `bearer secret=…` or `hmac-sha256 secret=… header=… [prefix=…]`. The
//! grant check and the signing must read the *same* secret name: a text
//! read twice with different rules (`bearer secret=token
//! secret=password`, first match for the check, last for the signing) would
//! pass a `bearer:token` grant and send the password. So the header is
//! parsed into this value at admission — duplicate, unknown and missing
//! keys refused — and that value is what signs.

use http::header::HeaderName;
use std::collections::HashMap;

/// One admitted directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthDirective {
    AwsSigv4 {
        secret: String,
        access_key_id: String,
        region: String,
        service: String,
    },
    Bearer {
        secret: String,
    },
    HmacSha256 {
        secret: String,
        header: HeaderName,
        prefix: String,
    },
}

impl AuthDirective {
    /// Parses `SCHEME key=value ...`; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut words = text.split_whitespace();
        let scheme = words.next().ok_or("the directive is empty")?;
        let (required, optional): (&[&str], &[&str]) = match scheme {
            "aws-sigv4" => (&["secret", "access-key-id", "region", "service"], &[]),
            "bearer" => (&["secret"], &[]),
            "hmac-sha256" => (&["secret", "header"], &["prefix"]),
            other => return Err(format!("unknown scheme `{other}`")),
        };
        let mut params: HashMap<&str, &str> = HashMap::new();
        for word in words {
            let (key, value) = word
                .split_once('=')
                .ok_or_else(|| format!("`{word}` is not KEY=VALUE"))?;
            if !required.contains(&key) && !optional.contains(&key) {
                return Err(format!("`{scheme}` takes no `{key}=`"));
            }
            if params.insert(key, value).is_some() {
                return Err(format!("`{key}=` is given twice"));
            }
        }
        let take = |key: &str| -> Result<String, String> {
            params
                .get(key)
                .map(|v| v.to_string())
                .ok_or_else(|| format!("`{scheme}` needs `{key}=`"))
        };
        Ok(match scheme {
            "aws-sigv4" => Self::AwsSigv4 {
                secret: take("secret")?,
                access_key_id: take("access-key-id")?,
                region: take("region")?,
                service: take("service")?,
            },
            "bearer" => Self::Bearer {
                secret: take("secret")?,
            },
            _ => {
                let name = take("header")?;
                Self::HmacSha256 {
                    secret: take("secret")?,
                    header: HeaderName::from_bytes(name.as_bytes())
                        .map_err(|_| format!("`{name}` is not a header name"))?,
                    prefix: params
                        .get("prefix")
                        .map(|p| p.to_string())
                        .unwrap_or_default(),
                }
            }
        })
    }

    pub fn scheme(&self) -> &'static str {
        match self {
            Self::AwsSigv4 { .. } => "aws-sigv4",
            Self::Bearer { .. } => "bearer",
            Self::HmacSha256 { .. } => "hmac-sha256",
        }
    }

    /// The name of the secret it uses.
    pub fn secret(&self) -> &str {
        match self {
            Self::AwsSigv4 { secret, .. }
            | Self::Bearer { secret }
            | Self::HmacSha256 { secret, .. } => secret,
        }
    }

    /// `SCHEME:SECRET`, as grants name it.
    pub fn grant_name(&self) -> String {
        format!("{}:{}", self.scheme(), self.secret())
    }

    /// Whether the body must be read before sending (to hash or sign it).
    pub fn reads_body(&self) -> bool {
        matches!(self, Self::AwsSigv4 { .. } | Self::HmacSha256 { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_forms_parse() {
        assert_eq!(
            AuthDirective::parse("bearer secret=token").unwrap(),
            AuthDirective::Bearer {
                secret: "token".into()
            }
        );
        let sig = AuthDirective::parse(
            "aws-sigv4 secret=secret_access_key access-key-id=AK region=us-east-1 service=s3",
        )
        .unwrap();
        assert_eq!(sig.grant_name(), "aws-sigv4:secret_access_key");
        let hmac =
            AuthDirective::parse("hmac-sha256 secret=secret header=x-sig prefix=sha256=").unwrap();
        assert_eq!(
            hmac,
            AuthDirective::HmacSha256 {
                secret: "secret".into(),
                header: HeaderName::from_static("x-sig"),
                prefix: "sha256=".into()
            }
        );
    }

    #[test]
    fn ambiguous_or_unknown_directives_are_refused() {
        for (text, says) in [
            ("bearer secret=token secret=password", "given twice"),
            ("bearer secret=token token=password", "takes no `token=`"),
            ("bearer secret", "not KEY=VALUE"),
            ("basic secret=x", "unknown scheme"),
            ("aws-sigv4 secret=k", "access-key-id="),
            ("hmac-sha256 secret=k header=bad\u{7f}", "not a header name"),
            ("", "empty"),
        ] {
            let e = AuthDirective::parse(text).unwrap_err();
            assert!(e.contains(says), "{text}: {e}");
        }
    }
}
