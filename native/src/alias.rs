//! The compiled alias table: mod_alias prefix rules in a trie, regex rules behind a
//! literal-prefix trie (for `^/literal...` patterns) or a `RegexSet` (everything else).
//! The first rule in configuration order that matches wins, across both kinds.

use regex::bytes::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

const NONE: u32 = u32::MAX;

/// What a rule is, as the TypeScript wrapper hands it over.
pub enum RuleSpec {
    /// A prefix URL, already a byte string.
    Prefix(Vec<u8>),
    /// A translated Rust regex and the literal bytes every match must start with (after `^`).
    Regex {
        source: String,
        literal_prefix: Vec<u8>,
    },
    /// Evaluated by the JS wrapper (a regex Rust cannot run).
    Skip,
}

#[derive(Default)]
struct Node {
    /// Sorted by byte, so lookup is a binary search.
    children: Vec<(u8, u32)>,
    /// Prefix trie: the first rule whose collapsed URL ends here.
    rule: u32,
    /// Regex trie: the regex rules whose literal prefix ends here, in config order.
    rules: Vec<u32>,
}

struct Trie {
    nodes: Vec<Node>,
}

impl Trie {
    fn new() -> Self {
        Trie {
            nodes: vec![Node {
                rule: NONE,
                ..Node::default()
            }],
        }
    }

    fn child(&self, node: usize, byte: u8) -> Option<usize> {
        let children = &self.nodes[node].children;
        children
            .binary_search_by_key(&byte, |&(b, _)| b)
            .ok()
            .map(|i| children[i].1 as usize)
    }

    fn insert(&mut self, key: &[u8]) -> usize {
        let mut node = 0;
        for &b in key {
            node = match self.child(node, b) {
                Some(next) => next,
                None => {
                    let next = self.nodes.len();
                    self.nodes.push(Node {
                        rule: NONE,
                        ..Node::default()
                    });
                    let children = &mut self.nodes[node].children;
                    let at = children.partition_point(|&(c, _)| c < b);
                    children.insert(at, (b, next as u32));
                    next
                }
            };
        }
        node
    }
}

struct RegexRule {
    index: u32,
    regex: Regex,
}

pub struct AliasTable {
    prefix_trie: Trie,
    /// Per prefix rule: does its URL end with `/` (then no segment-boundary check is needed)?
    ends_with_slash: Vec<bool>,
    regexes: Vec<RegexRule>,
    /// Regex trie: node rules index into `regexes`.
    regex_trie: Trie,
    /// Regexes with no literal prefix, by position in `regexes`, in config order.
    unprefixed: Vec<u32>,
    unprefixed_set: Option<RegexSet>,
}

/// A successful match: the rule, how much of the path it consumed, and for regex rules the
/// capture offsets (start, end) of groups 0..=9, -1 when a group did not take part.
pub struct Hit {
    pub index: u32,
    pub matched_length: usize,
    pub captures: [i64; 20],
}

/// Collapse runs of `/` to one, as mod_alias's comparison treats them.
fn collapse_slashes(url: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(url.len());
    for &b in url {
        if b == b'/' && out.last() == Some(&b'/') {
            continue;
        }
        out.push(b);
    }
    out
}

fn build_regex(source: &str) -> Result<Regex, String> {
    RegexBuilder::new(source)
        .size_limit(64 << 20)
        .dfa_size_limit(16 << 20)
        .build()
        .map_err(|e| e.to_string())
}

impl AliasTable {
    /// Compiles the rules. Regex rules Rust rejects are left out and listed in `rejected`
    /// (the wrapper evaluates them with JavaScript instead).
    pub fn compile(rules: Vec<RuleSpec>) -> (AliasTable, Vec<u32>) {
        let n = rules.len();
        let mut table = AliasTable {
            prefix_trie: Trie::new(),
            ends_with_slash: vec![false; n],
            regexes: Vec::new(),
            regex_trie: Trie::new(),
            unprefixed: Vec::new(),
            unprefixed_set: None,
        };
        let mut unprefixed_sources = Vec::new();
        let mut rejected = Vec::new();
        for (i, rule) in rules.into_iter().enumerate() {
            let index = i as u32;
            match rule {
                RuleSpec::Prefix(url) => {
                    if url.is_empty() {
                        continue; // never matches (mod_alias needs at least one character)
                    }
                    table.ends_with_slash[i] = url.last() == Some(&b'/');
                    let node = table.prefix_trie.insert(&collapse_slashes(&url));
                    let slot = &mut table.prefix_trie.nodes[node].rule;
                    if *slot == NONE {
                        *slot = index;
                    }
                }
                RuleSpec::Regex {
                    source,
                    literal_prefix,
                } => {
                    let Ok(regex) = build_regex(&source) else {
                        rejected.push(index);
                        continue;
                    };
                    let position = table.regexes.len() as u32;
                    table.regexes.push(RegexRule { index, regex });
                    if literal_prefix.is_empty() {
                        table.unprefixed.push(position);
                        unprefixed_sources.push(source);
                    } else {
                        let node = table.regex_trie.insert(&literal_prefix);
                        table.regex_trie.nodes[node].rules.push(position);
                    }
                }
                RuleSpec::Skip => {}
            }
        }
        if unprefixed_sources.len() > 4 {
            // If the set is too big to build, the regexes are tried one by one instead.
            table.unprefixed_set = RegexSetBuilder::new(&unprefixed_sources)
                .size_limit(256 << 20)
                .dfa_size_limit(64 << 20)
                .build()
                .ok();
        }
        (table, rejected)
    }

    /// mod_alias `alias_matches` over every prefix rule at once: the lowest rule index whose
    /// URL matches, with the number of path bytes consumed.
    fn match_prefix(&self, path: &[u8]) -> Option<(u32, usize)> {
        let trie = &self.prefix_trie;
        let mut best: Option<(u32, usize)> = None;
        let mut node = 0usize;
        let mut i = 0usize;
        loop {
            let rule = trie.nodes[node].rule;
            if rule != NONE
                && (self.ends_with_slash[rule as usize] || i == path.len() || path[i] == b'/')
                && best.is_none_or(|(b, _)| rule < b)
            {
                best = Some((rule, i));
            }
            if i >= path.len() {
                break;
            }
            let c = path[i];
            match trie.child(node, c) {
                Some(next) => node = next,
                None => break,
            }
            i += 1;
            if c == b'/' {
                while i < path.len() && path[i] == b'/' {
                    i += 1;
                }
            }
        }
        best
    }

    fn regex_hit(&self, position: u32, path: &[u8]) -> Option<Hit> {
        let rule = &self.regexes[position as usize];
        let mut locs = rule.regex.capture_locations();
        let m = rule.regex.captures_read(&mut locs, path)?;
        let mut captures = [-1i64; 20];
        for g in 0..locs.len().min(10) {
            if let Some((s, e)) = locs.get(g) {
                captures[2 * g] = s as i64;
                captures[2 * g + 1] = e as i64;
            }
        }
        Some(Hit {
            index: rule.index,
            matched_length: m.end(),
            captures,
        })
    }

    /// The first rule in configuration order matching `path` (a byte string), ignoring
    /// rules marked Skip.
    pub fn find(&self, path: &[u8]) -> Option<Hit> {
        let mut best: Option<Hit> = self.match_prefix(path).map(|(index, len)| Hit {
            index,
            matched_length: len,
            captures: [-1; 20],
        });
        let limit = |best: &Option<Hit>| best.as_ref().map_or(NONE, |h| h.index);

        // Regexes whose literal prefix is a prefix of the path.
        let mut candidates: Vec<u32> = Vec::new();
        let trie = &self.regex_trie;
        let mut node = 0usize;
        for &c in path {
            match trie.child(node, c) {
                Some(next) => node = next,
                None => break,
            }
            candidates.extend_from_slice(&trie.nodes[node].rules);
        }
        candidates.sort_unstable();
        for position in candidates {
            if self.regexes[position as usize].index >= limit(&best) {
                break;
            }
            if let Some(hit) = self.regex_hit(position, path) {
                best = Some(hit);
                break;
            }
        }

        // Regexes that could match anywhere.
        if let Some(&first) = self.unprefixed.first() {
            if self.regexes[first as usize].index < limit(&best) {
                let found = match &self.unprefixed_set {
                    Some(set) => set.matches(path).iter().map(|k| self.unprefixed[k]).next(),
                    None => self
                        .unprefixed
                        .iter()
                        .copied()
                        .find(|&p| self.regexes[p as usize].regex.is_match(path)),
                };
                if let Some(position) = found {
                    if self.regexes[position as usize].index < limit(&best) {
                        best = self.regex_hit(position, path);
                    }
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rules: &[(&str, &str)]) -> AliasTable {
        let specs = rules
            .iter()
            .map(|&(kind, s)| match kind {
                "p" => RuleSpec::Prefix(s.as_bytes().to_vec()),
                "r" => RuleSpec::Regex {
                    source: format!("(?s-u){s}"),
                    literal_prefix: Vec::new(),
                },
                _ => {
                    let (prefix, source) = s.split_once(' ').unwrap();
                    RuleSpec::Regex {
                        source: format!("(?s-u){source}"),
                        literal_prefix: prefix.as_bytes().to_vec(),
                    }
                }
            })
            .collect();
        let (table, rejected) = AliasTable::compile(specs);
        assert!(rejected.is_empty());
        table
    }

    fn find(t: &AliasTable, path: &str) -> Option<(u32, usize)> {
        t.find(path.as_bytes()).map(|h| (h.index, h.matched_length))
    }

    #[test]
    fn prefix_rules_follow_mod_alias() {
        let t = table(&[("p", "/wiki"), ("p", "/media/"), ("p", "/a//b"), ("p", "/")]);
        assert_eq!(find(&t, "/wiki"), Some((0, 5)));
        assert_eq!(find(&t, "/wiki/x"), Some((0, 5)));
        assert_eq!(find(&t, "/wikix"), Some((3, 1)));
        assert_eq!(find(&t, "/media//x"), Some((1, 8)));
        assert_eq!(find(&t, "/media"), Some((3, 1)));
        assert_eq!(find(&t, "//a/b/c"), Some((2, 5)));
        assert_eq!(find(&t, "x"), None);
    }

    #[test]
    fn config_order_wins_across_kinds() {
        let t = table(&[
            ("l", "/app/ ^/app/([0-9]+)"),
            ("p", "/app"),
            ("r", r"\.css$"),
            ("r", "^/(x)(y)?"),
            ("r", "a"),
            ("r", "b"),
            ("r", "c"),
            ("r", "d"),
        ]);
        assert_eq!(find(&t, "/app/12/z"), Some((0, 7)));
        assert_eq!(find(&t, "/app/z.css"), Some((1, 4)));
        assert_eq!(find(&t, "/q/z.css"), Some((2, 8)));
        let hit = t.find(b"/x/d").unwrap();
        assert_eq!((hit.index, hit.matched_length), (3, 2));
        assert_eq!(&hit.captures[..6], &[0, 2, 1, 2, -1, -1]);
        assert_eq!(find(&t, "/d"), Some((7, 2)));
    }
}
