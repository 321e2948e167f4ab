//! Apache 2.4's request-path normalisation (`ap_process_request_internal`):
//! `ap_normalize_path` (decode unreserved escapes, merge slashes, resolve `.`/`..`), then
//! `ap_unescape_url_ex` with AllowEncodedSlashes. Works on chars so decoded octets come back
//! as U+0000..U+00FF (a byte string, as WSGI's environ holds them).

pub const SLASHES_OFF: u32 = 0;
pub const SLASHES_ON: u32 = 1;
pub const SLASHES_NODECODE: u32 = 2;

fn hex(c: u32) -> Option<u32> {
    char::from_u32(c).and_then(|c| c.to_digit(16))
}

fn is_unreserved(c: u32) -> bool {
    matches!(c, 0x30..=0x39 | 0x41..=0x5a | 0x61..=0x7a | 0x2d | 0x2e | 0x5f | 0x7e)
}

const SLASH: u32 = b'/' as u32;
const DOT: u32 = b'.' as u32;

/// `ap_normalize_path` with NOT_ABOVE_ROOT and MERGE_SLASHES; false means 400.
fn normalize(path: &mut Vec<u32>, decode_unreserved: bool) -> bool {
    let at = |p: &Vec<u32>, i: usize| p.get(i).copied().unwrap_or(0);
    let mut ok = true;
    let (mut l, mut w) = (1usize, 1usize);
    while l < path.len() {
        if decode_unreserved && path[l] == b'%' as u32 {
            match (hex(at(path, l + 1)), hex(at(path, l + 2))) {
                (Some(h), Some(lo)) => {
                    let c = h * 16 + lo;
                    if is_unreserved(c) {
                        l += 2;
                        path[l] = c;
                    }
                }
                _ => ok = false,
            }
        }
        if w == 0 || path[w - 1] == SLASH {
            if path[l] == SLASH {
                while at(path, l) == SLASH {
                    l += 1;
                }
                continue;
            }
            if path[l] == DOT {
                let next = at(path, l + 1);
                if next == 0 || next == SLASH {
                    l += if l + 1 < path.len() { 2 } else { 1 };
                    continue;
                }
                let mut n = l + 1;
                let dotdot = at(path, n) == DOT
                    || (decode_unreserved
                        && at(path, n) == b'%' as u32
                        && {
                            n += 1;
                            at(path, n) == b'2' as u32
                        }
                        && {
                            n += 1;
                            at(path, n) == b'e' as u32 || at(path, n) == b'E' as u32
                        });
                let after = at(path, n + 1);
                if dotdot && (after == 0 || after == SLASH) {
                    if w > 1 {
                        w -= 1;
                        while w > 0 && path[w - 1] != SLASH {
                            w -= 1;
                        }
                    } else {
                        ok = false;
                    }
                    l = n + 1;
                    if l < path.len() {
                        l += 1;
                    }
                    continue;
                }
            }
        }
        path[w] = path[l];
        w += 1;
        l += 1;
    }
    path.truncate(w);
    ok
}

/// `unescape_url` with KEEP_UNRESERVED and the AllowEncodedSlashes flags: 0, 400 or 404.
fn unescape(path: &mut Vec<u32>, slashes: u32) -> u32 {
    let mut out = Vec::with_capacity(path.len());
    let (mut bad_escape, mut bad_path) = (false, false);
    let mut y = 0;
    while y < path.len() {
        let c = path[y];
        if c != b'%' as u32 {
            out.push(c);
            y += 1;
            continue;
        }
        let digits = (
            path.get(y + 1).copied().and_then(hex),
            path.get(y + 2).copied().and_then(hex),
        );
        match digits {
            (Some(h), Some(lo)) => {
                let d = h * 16 + lo;
                if d == 0 || (slashes == SLASHES_OFF && d == SLASH) {
                    bad_path = true;
                    out.push(d);
                    y += 3;
                } else if is_unreserved(d) || (slashes == SLASHES_NODECODE && d == SLASH) {
                    out.extend_from_slice(&path[y..y + 3]);
                    y += 3;
                } else {
                    out.push(d);
                    y += 3;
                }
            }
            _ => {
                bad_escape = true;
                out.push(c);
                y += 1;
            }
        }
    }
    *path = out;
    if bad_escape {
        400
    } else if bad_path {
        404
    } else {
        0
    }
}

/// Ok(path) or Err(status).
pub fn normalize_path(raw: &str, slashes: u32) -> Result<String, u32> {
    let mut path: Vec<u32> = raw.chars().map(|c| c as u32).collect();
    if path.first() != Some(&SLASH) {
        return if raw == "*" {
            Ok(raw.to_string())
        } else {
            Err(400)
        };
    }
    if !normalize(&mut path, true) {
        return Err(400);
    }
    let status = unescape(&mut path, slashes);
    if status != 0 {
        return Err(status);
    }
    if slashes == SLASHES_ON {
        normalize(&mut path, false);
    }
    Ok(path.into_iter().filter_map(char::from_u32).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apache_cases() {
        let n = |p| normalize_path(p, SLASHES_OFF);
        assert_eq!(n("/myapp//double//slash"), Ok("/myapp/double/slash".into()));
        assert_eq!(n("/myapp/./dot/../x"), Ok("/myapp/x".into()));
        assert_eq!(n("/myapp/%2Fenc"), Err(404));
        assert_eq!(n("/myapp/caf%C3%A9"), Ok("/myapp/caf\u{c3}\u{a9}".into()));
        assert_eq!(n("/a/%2e%2E/b"), Ok("/b".into()));
        assert_eq!(n("/.."), Err(400));
        assert_eq!(n("/a%zz"), Err(400));
        assert_eq!(n("/a%00"), Err(404));
        assert_eq!(
            normalize_path("/a%2Fb", SLASHES_NODECODE),
            Ok("/a%2Fb".into())
        );
        assert_eq!(
            normalize_path("/a/b%2F..%2Fc", SLASHES_ON),
            Ok("/a/c".into())
        );
    }
}
