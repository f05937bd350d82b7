//! Where the server's outbound connections may go.
//!
//! A storage endpoint, a webhook URL or an SMTP host is chosen by an API
//! user, so without a policy the server is a proxy into its own network:
//! a metadata service, a database on loopback, the server's own API. By
//! default every address that is not public is refused — loopback,
//! link-local (which holds the cloud metadata services), unique-local,
//! RFC 1918, carrier-grade NAT, unspecified, multicast — and so is the
//! server's own listen port on a local address. The operator allows more
//! with `--allow-egress CIDR|HOST[:PORT]`.
//!
//! The check is made on the *resolved* address right before the connect,
//! and the connection goes to that checked address: a name that resolves
//! to a public address when checked and to loopback when used (DNS
//! rebinding) cannot slip through.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

/// The flag (and variable) that widens the policy, named in refusals.
pub const ALLOW_FLAG: &str = "--allow-egress (DG_ALLOW_EGRESS)";

/// One `--allow-egress` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EgressRule {
    /// An address range, on every port or one.
    Net {
        net: IpAddr,
        prefix: u8,
        port: Option<u16>,
    },
    /// A host name as the user wrote it (lowercase), on every port or one:
    /// whatever it resolves to is allowed.
    Host { name: String, port: Option<u16> },
}

impl FromStr for EgressRule {
    type Err = String;

    /// `10.0.0.0/8`, `127.0.0.1`, `127.0.0.1:9000`, `[::1]:25`, `fd00::/8`,
    /// `minio.lan`, `minio.lan:9000`.
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let bad = || {
            format!(
                "`{text}` is not an address range, address or host name (with an optional :port)"
            )
        };
        if text.is_empty() {
            return Err(bad());
        }
        if let Some((addr, prefix)) = text.split_once('/') {
            let net: IpAddr = addr.trim_matches(['[', ']']).parse().map_err(|_| bad())?;
            let max = if net.is_ipv4() { 32 } else { 128 };
            let prefix: u8 = prefix.parse().map_err(|_| bad())?;
            if prefix > max {
                return Err(format!("`{text}`: a prefix is at most /{max}"));
            }
            return Ok(Self::Net {
                net,
                prefix,
                port: None,
            });
        }
        if let Ok(ip) = text.trim_matches(['[', ']']).parse::<IpAddr>() {
            return Ok(Self::Net {
                net: ip,
                prefix: if ip.is_ipv4() { 32 } else { 128 },
                port: None,
            });
        }
        if let Ok(addr) = text.parse::<SocketAddr>() {
            return Ok(Self::Net {
                net: addr.ip(),
                prefix: if addr.is_ipv4() { 32 } else { 128 },
                port: Some(addr.port()),
            });
        }
        let (name, port) = match text.rsplit_once(':') {
            Some((name, port)) => (name, Some(port.parse::<u16>().map_err(|_| bad())?)),
            None => (text, None),
        };
        let plausible = !name.is_empty()
            && name.len() <= 253
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if !plausible {
            return Err(bad());
        }
        Ok(Self::Host {
            name: name.to_ascii_lowercase(),
            port,
        })
    }
}

impl EgressRule {
    fn allows(&self, host: &str, addr: &SocketAddr) -> bool {
        match self {
            EgressRule::Net { net, prefix, port } => {
                port.is_none_or(|p| p == addr.port()) && in_net(&canonical(addr.ip()), net, *prefix)
            }
            EgressRule::Host { name, port } => {
                port.is_none_or(|p| p == addr.port())
                    && host.trim_end_matches('.').eq_ignore_ascii_case(name)
            }
        }
    }
}

/// The policy of one process.
#[derive(Debug, Clone, Default)]
pub struct EgressPolicy {
    /// `false` for the CLI: it acts as the user who runs it.
    enforced: bool,
    rules: Vec<EgressRule>,
    /// The server's own listen address: never a destination, whatever the
    /// rules say (a webhook into the server's own API).
    own: Option<SocketAddr>,
}

/// Why a destination was refused; the text names the address, the reason
/// and the flag, never anything the remote side said.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EgressRefusal(pub String);

impl EgressPolicy {
    /// No restriction (the CLI).
    pub fn unrestricted() -> Self {
        Self::default()
    }

    /// The server's policy: public addresses, plus what `rules` allow;
    /// never `own`.
    pub fn enforced(rules: Vec<EgressRule>, own: Option<SocketAddr>) -> Self {
        Self {
            enforced: true,
            rules,
            own,
        }
    }

    /// Whether a connection to `addr`, reached through the name `host`
    /// (the address itself when there was no name), may be made.
    pub fn check(&self, host: &str, addr: &SocketAddr) -> Result<(), EgressRefusal> {
        if !self.enforced {
            return Ok(());
        }
        let ip = canonical(addr.ip());
        if let Some(own) = self.own {
            let local = ip.is_loopback() || ip.is_unspecified() || ip == canonical(own.ip());
            if local && addr.port() == own.port() {
                return Err(EgressRefusal(format!(
                    "{} is this server's own listen address; outbound connections never go there",
                    shown(host, addr)
                )));
            }
        }
        let Some(class) = non_public(&ip) else {
            return Ok(());
        };
        if self.rules.iter().any(|r| r.allows(host, addr)) {
            return Ok(());
        }
        Err(EgressRefusal(format!(
            "{} is {class}; the egress policy refuses it (allow it with {ALLOW_FLAG}, e.g. `{}`)",
            shown(host, addr),
            suggestion(host, addr)
        )))
    }

    /// Resolves `host:port` and keeps the addresses the policy allows, in
    /// the resolver's order. Connect only to what this returns.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, EgressRefusal> {
        let bare = host.trim_matches(['[', ']']);
        let found: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((bare, port))
                .await
                .map_err(|e| {
                    EgressRefusal(format!("{host}:{port}: the name does not resolve ({e})"))
                })?
                .collect(),
        };
        let mut allowed = Vec::new();
        let mut first_refusal = None;
        for addr in found {
            match self.check(bare, &addr) {
                Ok(()) => allowed.push(addr),
                Err(e) => {
                    first_refusal.get_or_insert(e);
                }
            }
        }
        match (allowed.is_empty(), first_refusal) {
            (false, _) => Ok(allowed),
            (true, Some(refusal)) => Err(refusal),
            (true, None) => Err(EgressRefusal(format!(
                "{host}:{port}: the name resolves to no address"
            ))),
        }
    }
}

fn shown(host: &str, addr: &SocketAddr) -> String {
    let bare = host.trim_matches(['[', ']']);
    if bare.parse::<IpAddr>().is_ok() || bare.is_empty() {
        addr.to_string()
    } else {
        format!("{host}:{} ({})", addr.port(), addr.ip())
    }
}

fn suggestion(host: &str, addr: &SocketAddr) -> String {
    let bare = host.trim_matches(['[', ']']);
    if bare.parse::<IpAddr>().is_ok() || bare.is_empty() {
        match addr {
            SocketAddr::V4(a) => format!("{}:{}", a.ip(), a.port()),
            SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
        }
    } else {
        format!("{bare}:{}", addr.port())
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// What kind of non-public address `ip` is, or `None` for a public one.
fn non_public(ip: &IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => non_public_v6(v6),
    }
}

fn non_public_v4(ip: &Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_link_local() {
        Some("a link-local address (where cloud metadata services answer)")
    } else if ip.is_private() {
        Some("a private (RFC 1918) address")
    } else if a == 100 && (64..128).contains(&b) {
        Some("a carrier-grade NAT address")
    } else if a == 0 || ip.is_unspecified() {
        Some("an unspecified address")
    } else if ip.is_multicast() || ip.is_broadcast() || a >= 240 {
        Some("a multicast, broadcast or reserved address")
    } else if a == 192 && b == 0 && ip.octets()[2] == 0 {
        Some("an IETF protocol address")
    } else if a == 198 && (18..20).contains(&b) {
        Some("a benchmarking address (198.18.0.0/15)")
    } else if matches!(
        (a, b, ip.octets()[2]),
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113)
    ) {
        Some("a documentation address (TEST-NET)")
    } else if a == 192 && b == 88 && ip.octets()[2] == 99 {
        Some("a 6to4 relay address")
    } else {
        None
    }
}

/// The IPv4 address in the last 32 bits of `ip`.
fn low_v4(ip: &Ipv6Addr) -> Ipv4Addr {
    let [.., c, d] = ip.segments();
    Ipv4Addr::new((c >> 8) as u8, c as u8, (d >> 8) as u8, d as u8)
}

fn non_public_v6(ip: &Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_unspecified() {
        Some("an unspecified address")
    } else if first & 0xffc0 == 0xfe80 {
        Some("a link-local address (where cloud metadata services answer)")
    } else if first & 0xfe00 == 0xfc00 {
        Some("a unique-local address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else if first == 0x0064 && ip.segments()[1] == 0xff9b {
        // NAT64 (64:ff9b::/96, 64:ff9b:1::/48) embeds an IPv4 address:
        // judge that one.
        non_public_v4(&low_v4(ip))
    } else if ip.segments()[..5] == [0, 0, 0, 0, 0] && matches!(ip.segments()[5], 0 | 0xffff)
        || ip.segments()[..6] == [0, 0, 0, 0, 0xffff, 0]
    {
        // IPv4-compatible (::a.b.c.d), IPv4-mapped and IPv4-translated
        // (::ffff:0:a.b.c.d) forms: judge the IPv4 address.
        non_public_v4(&low_v4(ip)).or(Some("an IPv4-embedding address"))
    } else if first == 0x2002 {
        // 6to4 carries an IPv4 address in bits 16-47: judge that one.
        let [_, c, d, ..] = ip.segments();
        non_public_v4(&Ipv4Addr::new(
            (c >> 8) as u8,
            c as u8,
            (d >> 8) as u8,
            d as u8,
        ))
    } else if first == 0x2001 && ip.segments()[1] == 0x0db8 {
        Some("a documentation address (2001:db8::/32)")
    } else if first == 0x2001 && ip.segments()[1] == 0 {
        Some("a Teredo tunnel address")
    } else if ip.segments()[..4] == [0x0100, 0, 0, 0] {
        Some("a discard-only address (100::/64)")
    } else {
        None
    }
}

fn in_net(ip: &IpAddr, net: &IpAddr, prefix: u8) -> bool {
    match (ip, canonical(*net)) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - prefix as u32).unwrap_or(0);
            u32::from(*ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - prefix as u32).unwrap_or(0);
            u128::from(*ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn non_public_addresses_are_refused_by_default() {
        let p = EgressPolicy::enforced(vec![], None);
        for refused in [
            "127.0.0.1:9000",
            "127.5.5.5:80",
            "169.254.169.254:80",
            "10.1.2.3:443",
            "172.16.0.1:443",
            "192.168.1.1:25",
            "100.64.0.1:80",
            "0.0.0.0:80",
            "[::1]:80",
            "[fe80::1]:80",
            "[fd00:ec2::254]:80",
            "[::ffff:127.0.0.1]:80",
            "[64:ff9b::a9fe:a9fe]:80",
            "198.18.0.1:80",
            "192.0.2.1:80",
            "198.51.100.7:80",
            "203.0.113.9:80",
            "192.88.99.1:80",
            "[2001:db8::1]:80",
            "[100::1]:80",
            "[2002:a9fe:a9fe::]:80",
            "[::127.0.0.1]:80",
            "[::ffff:0:a9fe:a9fe]:80",
            "[2001::1]:80",
        ] {
            let e = p.check("", &addr(refused)).unwrap_err();
            assert!(e.0.contains("--allow-egress"), "{refused}: {e}");
        }
        for public in ["93.184.216.34:443", "[2606:4700::1111]:443", "1.1.1.1:53"] {
            assert!(p.check("", &addr(public)).is_ok(), "{public}");
        }
        assert!(EgressPolicy::unrestricted()
            .check("", &addr("127.0.0.1:1"))
            .is_ok());
    }

    #[test]
    fn rules_allow_ranges_addresses_ports_and_names() {
        let rules: Vec<EgressRule> = ["10.0.0.0/8", "127.0.0.1:9000", "minio.lan", "[::1]:25"]
            .iter()
            .map(|r| r.parse().unwrap())
            .collect();
        let p = EgressPolicy::enforced(rules, Some(addr("127.0.0.1:8080")));
        assert!(p.check("", &addr("10.9.9.9:1")).is_ok());
        assert!(p.check("", &addr("127.0.0.1:9000")).is_ok());
        assert!(p.check("", &addr("127.0.0.1:9001")).is_err());
        assert!(p.check("MINIO.lan", &addr("192.168.1.5:9000")).is_ok());
        assert!(p.check("other.lan", &addr("192.168.1.5:9000")).is_err());
        assert!(p.check("", &addr("[::1]:25")).is_ok());
        // The server's own port stays refused even where a rule allows.
        let everything = EgressPolicy::enforced(
            vec!["127.0.0.0/8".parse().unwrap()],
            Some(addr("0.0.0.0:8080")),
        );
        assert!(everything.check("", &addr("127.0.0.1:8081")).is_ok());
        let own = everything.check("", &addr("127.0.0.1:8080")).unwrap_err();
        assert!(own.0.contains("own listen address"), "{own}");
    }

    #[test]
    fn rules_parse_or_say_why() {
        assert_eq!(
            "192.168.0.0/16".parse::<EgressRule>().unwrap(),
            EgressRule::Net {
                net: "192.168.0.0".parse().unwrap(),
                prefix: 16,
                port: None
            }
        );
        for bad in ["", "10.0.0.0/33", "host:port", "a b", "http://x"] {
            assert!(bad.parse::<EgressRule>().is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn names_are_checked_by_what_they_resolve_to() {
        let p = EgressPolicy::enforced(vec![], None);
        let e = p.resolve("localhost", 80).await.unwrap_err();
        assert!(e.0.contains("loopback"), "{e}");
        let allowed = EgressPolicy::enforced(vec!["localhost:80".parse().unwrap()], None);
        assert!(!allowed.resolve("localhost", 80).await.unwrap().is_empty());
    }
}
