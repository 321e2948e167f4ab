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

/// The environ key for one header name, or None when the header is not passed.
pub fn environ_key(name: &str, pass_authorization: bool) -> Option<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_like_apache() {
        let cases = [
            ("host", false, Some("HTTP_HOST")),
            ("X-Custom", false, Some("HTTP_X_CUSTOM")),
            ("x_forwarded_for", false, None), // `_` could pose as `-`: dropped
            ("content-type", false, Some("CONTENT_TYPE")),
            ("Content-Length", false, Some("CONTENT_LENGTH")),
            ("authorization", false, None),
            ("authorization", true, Some("HTTP_AUTHORIZATION")),
            ("proxy-authorization", true, None),
            ("proxy", false, None), // httpoxy
            ("", false, None),
        ];
        for (name, pass, want) in cases {
            assert_eq!(environ_key(name, pass).as_deref(), want, "{name}");
        }
    }
}
