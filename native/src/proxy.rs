//! WSGITrustedProxies (apr_ipsubnet_create / apr_ipsubnet_test) and mod_wsgi 4.9's
//! `wsgi_process_proxy_headers`.

use crate::headers::http2env;

/// An address or block: IPv4 blocks are held as IPv4-mapped IPv6 so one test serves both.
#[derive(Clone, Copy)]
pub struct Subnet {
    addr: u128,
    mask: u128,
}

const V4_MAPPED: u128 = 0xffff_0000_0000;

fn parse_v4_strict(s: &str) -> Option<u32> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut v = 0u32;
    for p in parts {
        v = (v << 8) | parse_octet(p)?;
    }
    Some(v)
}

fn parse_octet(p: &str) -> Option<u32> {
    if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if p.len() > 1 && p.starts_with('0') {
        return None;
    }
    let n: u32 = p.parse().ok()?;
    (n <= 255).then_some(n)
}

fn parse_v6(s: &str) -> Option<u128> {
    if s.is_empty() {
        return None;
    }
    let (head, tail) = match s.find("::") {
        Some(i) => (&s[..i], Some(&s[i + 2..])),
        None => (s, None),
    };
    let groups = |part: &str, allow_v4: bool| -> Option<Vec<u16>> {
        let mut out = Vec::new();
        if part.is_empty() {
            return Some(out);
        }
        let pieces: Vec<&str> = part.split(':').collect();
        for (i, piece) in pieces.iter().enumerate() {
            if allow_v4 && i == pieces.len() - 1 && piece.contains('.') {
                let v4 = parse_v4_strict(piece)?;
                out.push((v4 >> 16) as u16);
                out.push(v4 as u16);
            } else {
                if piece.is_empty()
                    || piece.len() > 4
                    || !piece.bytes().all(|b| b.is_ascii_hexdigit())
                {
                    return None;
                }
                out.push(u16::from_str_radix(piece, 16).ok()?);
            }
        }
        Some(out)
    };
    let (front, back) = match tail {
        Some(t) => (groups(head, false)?, groups(t, true)?),
        None => (groups(head, true)?, Vec::new()),
    };
    let total = front.len() + back.len();
    if (tail.is_none() && total != 8) || (tail.is_some() && total > 7) {
        return None;
    }
    let mut all = front;
    all.resize(8 - back.len(), 0);
    all.extend(back);
    Some(all.iter().fold(0u128, |acc, &g| (acc << 16) | g as u128))
}

/// An address as the peer or an X-Forwarded-For entry gives it.
pub fn parse_address(s: &str) -> Option<u128> {
    if s.contains(':') {
        parse_v6(s)
    } else {
        parse_v4_strict(s).map(|v| V4_MAPPED | v as u128)
    }
}

fn prefix_mask(bits: u32, width: u32) -> u128 {
    // The mask over the low `width` bits of the mapped form.
    let host = width - bits;
    let ones: u128 = if host >= 128 { 0 } else { u128::MAX << host };
    if width == 32 {
        ones | !((1u128 << 32) - 1)
    } else {
        ones
    }
}

/// mod_wsgi's `wsgi_looks_like_ip` then `apr_ipsubnet_create`.
pub fn parse_subnet(entry: &str) -> Result<Subnet, String> {
    let looks_like_ip = !entry.is_empty()
        && if entry.contains(':') {
            entry.bytes().all(|b| b"0123456789abcdef:/".contains(&b))
        } else {
            entry.bytes().all(|b| b"0123456789./".contains(&b))
        };
    let bad = || format!("Unable to parse trusted proxy IP address/subnet of \"{entry}\".");
    if !looks_like_ip {
        return Err(bad());
    }
    let (ip, mask) = match entry.split_once('/') {
        Some((ip, mask)) => (ip, Some(mask)),
        None => (entry, None),
    };
    if ip.contains(':') {
        let addr = parse_v6(ip).ok_or_else(bad)?;
        let bits = match mask {
            None => 128,
            Some(m) => match m.parse::<u32>() {
                Ok(b) if (1..=128).contains(&b) && !m.starts_with('+') => b,
                _ => return Err(bad()),
            },
        };
        let mask = prefix_mask(bits, 128);
        return Ok(Subnet {
            addr: addr & mask,
            mask,
        });
    }
    // IPv4: a full address, or a leading part of one ("10.1") naming a block.
    let parts: Vec<&str> = ip.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return Err(bad());
    }
    let mut addr = 0u32;
    for (i, p) in parts.iter().enumerate() {
        let octet = p
            .parse::<u32>()
            .ok()
            .filter(|&n| n <= 255 && !p.is_empty())
            .ok_or_else(bad)?;
        addr |= octet << (24 - 8 * i);
    }
    let mut bits = 8 * parts.len() as u32;
    if let Some(m) = mask {
        if m.contains('.') {
            let dotted = parse_v4_strict(m).ok_or_else(bad)?;
            if dotted.leading_ones() + dotted.trailing_zeros() != 32 {
                return Err(bad());
            }
            bits = dotted.leading_ones();
        } else {
            match m.parse::<u32>() {
                Ok(b) if (1..=32).contains(&b) && !m.is_empty() => bits = b,
                _ => return Err(bad()),
            }
        }
    }
    let mask = prefix_mask(bits, 32);
    Ok(Subnet {
        addr: (V4_MAPPED | addr as u128) & mask,
        mask,
    })
}

pub struct ProxyList {
    subnets: Vec<Subnet>,
}

impl ProxyList {
    pub fn compile<'a>(entries: impl Iterator<Item = &'a str>) -> Result<ProxyList, String> {
        let subnets = entries.map(parse_subnet).collect::<Result<_, _>>()?;
        Ok(ProxyList { subnets })
    }

    pub fn contains_addr(&self, addr: u128) -> bool {
        self.subnets.iter().any(|s| addr & s.mask == s.addr)
    }

    pub fn contains(&self, address: &str) -> bool {
        parse_address(address).is_some_and(|a| self.contains_addr(a))
    }
}

const CLIENT: &[&str] = &["HTTP_X_FORWARDED_FOR", "HTTP_X_CLIENT_IP", "HTTP_X_REAL_IP"];
const SCHEME: &[&str] = &[
    "HTTP_X_FORWARDED_HTTPS",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_SCHEME",
    "HTTP_X_FORWARDED_SSL",
    "HTTP_X_HTTPS",
    "HTTP_X_SCHEME",
];
const HOST: &[&str] = &["HTTP_X_FORWARDED_HOST", "HTTP_X_HOST"];
const SCRIPT: &[&str] = &["HTTP_X_SCRIPT_NAME", "HTTP_X_FORWARDED_SCRIPT_NAME"];

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

fn get<'e>(environ: &'e [(String, String)], key: &str) -> Option<&'e str> {
    environ
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn put(environ: &mut Vec<(String, String)>, key: &str, value: String) {
    match environ.iter_mut().find(|(k, _)| k == key) {
        Some(entry) => entry.1 = value,
        None => environ.push((key.to_string(), value)),
    }
}

/// `wsgi_process_forwarded_for`.
fn forwarded_for(
    environ: &mut Vec<(String, String)>,
    set: &mut Vec<(String, String)>,
    value: &str,
    proxies: Option<&ProxyList>,
) {
    let Some(proxies) = proxies else {
        let value = value.trim_start_matches(is_space);
        if !value.is_empty() {
            let first = value.split(',').next().unwrap_or("");
            set.push((
                "REMOTE_ADDR".into(),
                first.trim_end_matches(is_space).to_string(),
            ));
        }
        return;
    };
    let mut items: Vec<&str> = Vec::new();
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches(is_space);
        if rest.is_empty() {
            break;
        }
        let (item, next) = match rest.find(',') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        items.push(item.trim_end_matches(is_space));
        rest = next;
    }
    if items.is_empty() {
        return;
    }
    let mut first: Option<usize> = None;
    for i in (0..items.len()).rev() {
        match parse_address(items[i]) {
            Some(a) if proxies.contains_addr(a) => first = Some(i),
            _ => break,
        }
    }
    let from = match first {
        Some(f) => f.saturating_sub(1),
        None => items.len() - 1,
    };
    set.push(("REMOTE_ADDR".into(), items[from].to_string()));
    put(environ, "HTTP_X_FORWARDED_FOR", items[from..].join(", "));
}

/// Applies the trusted headers to `environ` (HTTP_* keys) and returns the keys to set.
pub fn apply(
    environ: &mut Vec<(String, String)>,
    remote_address: &str,
    trusted_headers: &[String],
    proxies: Option<&ProxyList>,
) -> Vec<(String, String)> {
    let mut set = Vec::new();
    if trusted_headers.is_empty() {
        return set;
    }
    let trusted = proxies.is_none_or(|p| p.contains(remote_address));
    let names: Vec<String> = trusted_headers.iter().filter_map(|h| http2env(h)).collect();
    let (mut m_client, mut m_scheme, mut m_host, mut m_script) = (false, false, false, false);
    let (mut k_client, mut k_scheme, mut k_host, mut k_script): (
        Option<&str>,
        Option<&str>,
        Option<&str>,
        Option<&str>,
    ) = (None, None, None, None);
    for name in &names {
        let n = name.as_str();
        let value = if trusted {
            get(environ, n).map(str::to_string)
        } else {
            None
        };
        if CLIENT.contains(&n) {
            m_client = true;
            if let Some(v) = value {
                if n == "HTTP_X_FORWARDED_FOR" {
                    forwarded_for(environ, &mut set, &v, proxies);
                } else {
                    set.push(("REMOTE_ADDR".into(), v));
                }
                k_client = Some(n);
            }
        } else if HOST.contains(&n) {
            m_host = true;
            if let Some(v) = value {
                k_host = Some(n);
                put(environ, "HTTP_HOST", v);
            }
        } else if n == "HTTP_X_FORWARDED_SERVER" {
            if let Some(v) = value {
                set.push(("SERVER_NAME".into(), v));
            }
        } else if n == "HTTP_X_FORWARDED_PORT" {
            if let Some(v) = value {
                set.push(("SERVER_PORT".into(), v));
            }
        } else if SCRIPT.contains(&n) {
            m_script = true;
            if let Some(v) = value {
                set.push(("mod_wsgi.mount_point".into(), v.clone()));
                set.push(("SCRIPT_NAME".into(), v));
                k_script = Some(n);
            }
        } else if SCHEME.contains(&n) {
            m_scheme = true;
            if let Some(v) = value {
                k_scheme = Some(n);
                let on = if matches!(
                    n,
                    "HTTP_X_FORWARDED_PROTO" | "HTTP_X_FORWARDED_SCHEME" | "HTTP_X_SCHEME"
                ) {
                    v.eq_ignore_ascii_case("https")
                } else {
                    ["on", "true", "1"]
                        .iter()
                        .any(|t| v.eq_ignore_ascii_case(t))
                };
                if on {
                    set.push(("HTTPS".into(), "1".into()));
                    set.push(("wsgi.url_scheme".into(), "https".into()));
                }
            }
        }
    }
    let mut drop = |matched: bool, kept: Option<&str>, group: &[&str]| {
        if matched {
            environ.retain(|(k, _)| !group.contains(&k.as_str()) || Some(k.as_str()) == kept);
        }
    };
    drop(m_client, k_client, CLIENT);
    drop(m_scheme, k_scheme, SCHEME);
    drop(m_host, k_host, HOST);
    drop(m_script, k_script, SCRIPT);
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets() {
        let l = ProxyList::compile(
            [
                "10.0.0.0/8",
                "192.168",
                "::1",
                "2001:db8::/32",
                "172.16.0.0/255.240.0.0",
            ]
            .into_iter(),
        )
        .unwrap();
        assert!(l.contains("10.200.3.4"));
        assert!(l.contains("::ffff:10.1.1.1"));
        assert!(l.contains("192.168.7.7"));
        assert!(l.contains("::1"));
        assert!(l.contains("2001:db8:ffff::1"));
        assert!(l.contains("172.31.0.1"));
        assert!(!l.contains("172.32.0.1"));
        assert!(!l.contains("11.0.0.1"));
        assert!(!l.contains("localhost"));
        assert!(ProxyList::compile(["example.com"].into_iter()).is_err());
    }
}
