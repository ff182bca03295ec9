//! Enrichment: the client's address (trusted proxies, anonymisation), GeoIP, the parsed user
//! agent. Everything here is synchronous and allocation-light: it runs once per batch.

use std::net::IpAddr;
use std::path::Path;

use gosight_proto::{DeviceType, Geo, UserAgentInfo};
use ipnet::IpNet;
use maxminddb::geoip2;

use crate::error::IngestError;

/// Parses `trusted_proxies`: single addresses or CIDR ranges.
pub fn parse_proxies(entries: &[String]) -> Result<Vec<IpNet>, IngestError> {
    entries
        .iter()
        .map(|entry| {
            entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    IngestError::Config(format!(
                        "ingest.trusted_proxies: `{entry}` is not an address or CIDR range"
                    ))
                })
        })
        .collect()
}

/// The client's address: the peer, unless the peer is a trusted proxy, in which case the
/// right-most `X-Forwarded-For` entry that is not itself a trusted proxy.
pub fn client_ip(
    peer: Option<IpAddr>,
    forwarded_for: Option<&str>,
    trusted: &[IpNet],
) -> Option<IpAddr> {
    let peer = peer?;
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let Some(header) = forwarded_for else {
        return Some(peer);
    };
    let mut client = peer;
    for hop in header.rsplit(',') {
        let Ok(ip) = hop.trim().parse::<IpAddr>() else {
            break;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    Some(client)
}

/// Zeroes the host part: the last octet of IPv4, the last 80 bits of IPv6.
pub fn anonymize(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            IpAddr::from([a, b, c, 0])
        }
        IpAddr::V6(v6) => {
            let mut segments = v6.segments();
            for segment in &mut segments[3..] {
                *segment = 0;
            }
            IpAddr::from(segments)
        }
    }
}

/// A MaxMind City or Country database.
pub struct GeoIp {
    reader: maxminddb::Reader<Vec<u8>>,
}

impl std::fmt::Debug for GeoIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoIp").finish_non_exhaustive()
    }
}

impl GeoIp {
    pub fn open(path: &Path) -> Result<Self, IngestError> {
        let reader = maxminddb::Reader::open_readfile(path).map_err(|e| {
            IngestError::Config(format!("ingest.geoip_database: {}: {e}", path.display()))
        })?;
        Ok(Self { reader })
    }

    /// Country, subdivision and city of `ip`; empty fields where the database knows nothing.
    pub fn lookup(&self, ip: IpAddr) -> Geo {
        let mut geo = Geo::default();
        let Ok(result) = self.reader.lookup(ip) else {
            return geo;
        };
        let Ok(Some(city)) = result.decode::<geoip2::City>() else {
            return geo;
        };
        geo.country_code = city.country.iso_code.unwrap_or_default().to_string();
        if let Some(subdivision) = city.subdivisions.first() {
            geo.subdivision_code = subdivision.iso_code.unwrap_or_default().to_string();
            geo.subdivision_name = subdivision.names.english.unwrap_or_default().to_string();
        }
        geo.city = city.city.names.english.unwrap_or_default().to_string();
        geo
    }
}

/// Parses user agents with woothee, caching results (the same few agents repeat endlessly).
pub struct UserAgentParser {
    cache: quick_cache::sync::Cache<String, UserAgentInfo>,
}

impl std::fmt::Debug for UserAgentParser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserAgentParser").finish_non_exhaustive()
    }
}

impl Default for UserAgentParser {
    fn default() -> Self {
        Self {
            cache: quick_cache::sync::Cache::new(10_000),
        }
    }
}

/// User agents longer than this are cut before parsing and caching.
const MAX_UA_LEN: usize = 512;

impl UserAgentParser {
    pub fn parse(&self, user_agent: &str) -> UserAgentInfo {
        let user_agent = crate::validate::truncate(user_agent, MAX_UA_LEN);
        if let Some(info) = self.cache.get(user_agent) {
            return info;
        }
        let info = parse_uncached(user_agent);
        self.cache.insert(user_agent.to_string(), info.clone());
        info
    }
}

fn parse_uncached(user_agent: &str) -> UserAgentInfo {
    let Some(result) = woothee::parser::Parser::new().parse(user_agent) else {
        return UserAgentInfo {
            device_type: DeviceType::Other as i32,
            ..Default::default()
        };
    };
    let known = |s: &str| {
        if s == woothee::woothee::VALUE_UNKNOWN {
            String::new()
        } else {
            s.to_string()
        }
    };
    let is_bot = result.category == "crawler";
    let tablet =
        result.os.contains("iPad") || (result.os == "Android" && !user_agent.contains("Mobile"));
    let device_type = match result.category {
        _ if is_bot => DeviceType::Bot,
        "pc" => DeviceType::Desktop,
        "smartphone" | "mobilephone" if tablet => DeviceType::Tablet,
        "smartphone" | "mobilephone" => DeviceType::Mobile,
        _ => DeviceType::Other,
    };
    UserAgentInfo {
        browser: known(result.name),
        browser_version: known(result.version),
        os: known(result.os),
        os_version: known(&result.os_version),
        device_type: device_type as i32,
        is_bot,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = parse_proxies(&["10.0.0.0/8".into(), "192.0.2.1".into()]).unwrap();
        let peer = "10.1.2.3".parse().ok();
        let xff = Some("203.0.113.7, 198.51.100.2, 10.9.9.9");
        assert_eq!(client_ip(peer, xff, &trusted), "198.51.100.2".parse().ok());
        let untrusted_peer = "198.51.100.9".parse().ok();
        assert_eq!(client_ip(untrusted_peer, xff, &trusted), untrusted_peer);
        assert_eq!(client_ip(peer, Some("garbage"), &trusted), peer);
        assert!(parse_proxies(&["not-an-ip".into()]).is_err());
    }

    #[test]
    fn anonymize_zeroes_the_host_part() {
        assert_eq!(
            anonymize("203.0.113.77".parse().unwrap()).to_string(),
            "203.0.113.0"
        );
        assert_eq!(
            anonymize("2001:db8:1:2:3:4:5:6".parse().unwrap()).to_string(),
            "2001:db8:1::"
        );
    }

    #[test]
    fn user_agents_are_classified() {
        let parser = UserAgentParser::default();
        let chrome = parser.parse("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36");
        assert_eq!(chrome.browser, "Chrome");
        assert_eq!(chrome.os, "Linux");
        assert_eq!(chrome.device_type(), DeviceType::Desktop);
        let iphone = parser.parse("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1");
        assert_eq!(iphone.device_type(), DeviceType::Mobile);
        let bot = parser
            .parse("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)");
        assert!(bot.is_bot);
        assert_eq!(bot.device_type(), DeviceType::Bot);
        assert_eq!(parser.parse("").device_type(), DeviceType::Other);
    }
}
