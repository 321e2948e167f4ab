//! nodewsgi's native engine: the per-request hot path behind src/engine/native-engine.ts.
//! Results cross the N-API boundary as integers, offsets and packed strings (fields joined
//! with NUL), never as JS objects: building objects from Rust costs far more than the work.

mod alias;
mod headers;
mod path;
mod proxy;

use std::borrow::Cow;

use napi::bindgen_prelude::*;
use napi_derive::napi;

/// A JS string whose chars are all <= U+00FF as the bytes it stands for; None otherwise.
fn latin1(s: &str) -> Option<Cow<'_, [u8]>> {
    if s.is_ascii() {
        return Some(Cow::Borrowed(s.as_bytes()));
    }
    s.chars()
        .map(|c| u8::try_from(c as u32).ok())
        .collect::<Option<Vec<u8>>>()
        .map(Cow::Owned)
}

#[napi]
pub struct NativeAliasTable {
    table: alias::AliasTable,
    rejected: Vec<u32>,
}

#[napi]
impl NativeAliasTable {
    /// `kinds[i]`: 0 prefix (`sources[i]` the URL), 1 regex (`sources[i]` the Rust source,
    /// `prefixes[i]` its literal prefix), 2 evaluated by the caller. Strings are byte strings.
    #[napi(constructor)]
    pub fn new(kinds: Vec<u32>, sources: Vec<String>, prefixes: Vec<String>) -> Result<Self> {
        if kinds.len() != sources.len() || kinds.len() != prefixes.len() {
            return Err(Error::from_reason("alias table arrays differ in length"));
        }
        let bytes = |s: &str| {
            latin1(s)
                .map(|b| b.into_owned())
                .ok_or_else(|| Error::from_reason("alias table strings must be byte strings"))
        };
        let mut specs = Vec::with_capacity(kinds.len());
        for ((kind, source), prefix) in kinds.iter().zip(sources).zip(prefixes) {
            specs.push(match kind {
                0 => alias::RuleSpec::Prefix(bytes(&source)?),
                1 => alias::RuleSpec::Regex {
                    literal_prefix: bytes(&prefix)?,
                    source,
                },
                _ => alias::RuleSpec::Skip,
            });
        }
        let (table, rejected) = alias::AliasTable::compile(specs);
        Ok(NativeAliasTable { table, rejected })
    }

    /// Regex rules Rust could not compile: the caller evaluates them.
    #[napi(getter)]
    pub fn rejected(&self) -> Vec<u32> {
        self.rejected.clone()
    }
}

/// An Int32Array the caller lends for results (napi-rs reads `&mut [i32]` through
/// FromNapiValue only when it is not spelled as a reference parameter).
type OutSlots<'a> = &'a mut [i32];

/// The first rule of `table` matching `path`: its index, -1 for none, -2 when `path` is not
/// a byte string. `out[0]` gets the matched length, `out[1 + 2k]`/`out[2 + 2k]` group k's
/// offsets (-1 when the group did not take part).
#[napi]
pub fn find_alias(table: &NativeAliasTable, path: String, out: OutSlots) -> i32 {
    let Some(bytes) = latin1(&path) else {
        return -2;
    };
    match table.table.find(&bytes) {
        None => -1,
        Some(hit) => {
            if out.len() >= 21 {
                out[0] = hit.matched_length as i32;
                for (slot, &c) in out[1..21].iter_mut().zip(hit.captures.iter()) {
                    *slot = c as i32;
                }
            }
            hit.index as i32
        }
    }
}

/// The environ key of one request header name (`HTTP_X_FOO`, `CONTENT_TYPE`), or None when
/// the header is not passed to applications. The caller memoises it per name, so values never
/// cross the boundary.
#[napi]
pub fn header_environ_key(name: String, pass_authorization: bool) -> Option<String> {
    headers::environ_key(&name, pass_authorization)
}

fn join_pairs(pairs: &[(String, String)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('\0');
        }
        out.push_str(k);
        out.push('\0');
        out.push_str(v);
    }
    out
}

#[napi]
pub struct NativeProxyList {
    list: proxy::ProxyList,
}

#[napi]
impl NativeProxyList {
    #[napi(constructor)]
    pub fn new(entries: Vec<String>) -> Result<Self> {
        proxy::ProxyList::compile(entries.iter().map(String::as_str))
            .map(|list| NativeProxyList { list })
            .map_err(Error::from_reason)
    }

    #[napi]
    pub fn contains(&self, address: String) -> bool {
        self.list.contains(&address)
    }
}

/// The environ (NUL-joined, `count` fields) after trusted-proxy handling, as
/// `N \0 environ fields (N of them) \0 set fields`; None when a field holds a NUL.
#[napi]
pub fn apply_trusted_proxy_headers(
    packed: String,
    count: u32,
    remote_address: String,
    trusted_headers: Vec<String>,
    proxies: Option<&NativeProxyList>,
) -> Option<String> {
    let fields: Vec<&str> = if count == 0 {
        Vec::new()
    } else {
        packed.split('\0').collect()
    };
    if fields.len() != count as usize || !count.is_multiple_of(2) {
        return None;
    }
    let mut environ: Vec<(String, String)> = fields
        .chunks(2)
        .map(|p| (p[0].to_string(), p[1].to_string()))
        .collect();
    let set = proxy::apply(
        &mut environ,
        &remote_address,
        &trusted_headers,
        proxies.map(|p| &p.list),
    );
    let mut out = (environ.len() * 2).to_string();
    for part in [join_pairs(&environ), join_pairs(&set)] {
        if !part.is_empty() {
            out.push('\0');
            out.push_str(&part);
        }
    }
    Some(out)
}

/// The normalised path, or "400"/"404" (no leading `/`, so never a path).
/// `encoded_slashes`: 0 off, 1 on, 2 nodecode.
#[napi]
pub fn normalize_path(raw: String, encoded_slashes: u32) -> String {
    match path::normalize_path(&raw, encoded_slashes) {
        Ok(p) => p,
        Err(status) => status.to_string(),
    }
}

/// 0 proceed, 413 declared length over the limit, 411 chunked while not accepted.
#[napi]
pub fn body_verdict(declared_length: f64, chunked: bool, limit: f64, accept_chunked: bool) -> u32 {
    if chunked && !accept_chunked {
        411
    } else if limit > 0.0 && declared_length > limit {
        413
    } else {
        0
    }
}
