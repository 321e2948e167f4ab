//! Request headers -> CGI environ keys, as Apache's `ap_add_common_vars` and mod_wsgi do.

/// `http2env`: `HTTP_` + upper case, `-` -> `_`; None for any other character.
pub fn http2env(name: &str) -> Option<String> {
    if name.is_empty() {
        return None;
    }
    let mut key = String::with_capacity(5 + name.len());
    key.push_str("HTTP_");
    for b in name.bytes() {
        match b {
            b'a'..=b'z' => key.push((b - 32) as char),
            b'A'..=b'Z' | b'0'..=b'9' => key.push(b as char),
            b'-' => key.push('_'),
            _ => return None,
        }
    }
    Some(key)
}

fn trim_ows(v: &str) -> &str {
    v.trim_matches(|c| c == ' ' || c == '\t')
}

/// The environ key for one header name, or None when the header is not passed.
fn environ_key(name: &str, pass_authorization: bool) -> Option<String> {
    if name.eq_ignore_ascii_case("content-type") {
        Some("CONTENT_TYPE".into())
    } else if name.eq_ignore_ascii_case("content-length") {
        Some("CONTENT_LENGTH".into())
    } else if name.eq_ignore_ascii_case("proxy")
        || name.eq_ignore_ascii_case("proxy-authorization")
        || (name.eq_ignore_ascii_case("authorization") && !pass_authorization)
    {
        None // httpoxy, credentials meant for a proxy, Authorization unless passed
    } else {
        http2env(name)
    }
}

/// `headers` is flat `[name, value, ...]`; returns flat `[key, value, ...]`.
pub fn headers_to_environ<'a>(
    headers: impl Iterator<Item = &'a str>,
    pass_authorization: bool,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::with_capacity(16);
    let mut it = headers;
    while let (Some(name), Some(value)) = (it.next(), it.next()) {
        let Some(key) = environ_key(name, pass_authorization) else {
            continue;
        };
        let value = trim_ows(value);
        if let Some(entry) = out.iter_mut().find(|(k, _)| *k == key) {
            entry.1.push_str(", ");
            entry.1.push_str(value);
        } else {
            out.push((key, value.to_string()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_like_apache() {
        let h = [
            "host",
            "example.test",
            "x_forwarded_for",
            "1.2.3.4",
            "x-custom",
            "one",
            "X-Custom",
            "two",
            "content-type",
            "text/plain",
            "authorization",
            "Basic x",
            "x-spaces",
            "  padded  ",
            "proxy",
            "evil",
        ];
        let env = headers_to_environ(h.iter().copied(), false);
        let flat: Vec<&str> = env
            .iter()
            .flat_map(|(k, v)| [k.as_str(), v.as_str()])
            .collect();
        assert_eq!(
            flat,
            [
                "HTTP_HOST",
                "example.test",
                "HTTP_X_CUSTOM",
                "one, two",
                "CONTENT_TYPE",
                "text/plain",
                "HTTP_X_SPACES",
                "padded"
            ]
        );
    }
}
