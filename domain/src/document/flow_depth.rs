//! A fast upper bound on how deeply a YAML document nests flow collections (`[` and `{`),
//! computed before libyaml sees the text.
//!
//! Why: libyaml's scanner does work proportional to the current flow depth for every token,
//! so deep flow nesting costs time quadratic in its depth (a few MiB of `[` take hours), and
//! it reads a whole document before serde_yaml's recursion limit can object. A document
//! whose bound is too high is rejected unread.
//!
//! How: the text is scanned once, tracking every reading of it that could be libyaml's.
//! Outside flow collections every `[` or `{` might open one (or be text in a scalar or
//! comment), so each starts a new hypothesis. Inside, the lexical rules of libyaml's flow
//! context (quoted scalars, plain scalars, comments, tags and anchors) decide which brackets
//! count; where a rule is uncertain, both readings are kept. Hypotheses in the same lexical
//! state are merged into a range of depths, so there are never more than nine. The bound is
//! the deepest depth any hypothesis reaches; since libyaml's own reading is always among
//! them, it is never below the true depth. Block structure is not tracked: its cost is
//! linear. This module decides nothing else about the document.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lex {
    /// Between tokens: the next character starts one.
    Token,
    Plain,
    /// Blanks inside or after a plain scalar (a `#` now starts a comment).
    PlainSpace,
    Single,
    /// A `'` inside a single-quoted scalar: the end, or the first half of `''`.
    SingleEnd,
    Double,
    DoubleEscape,
    Comment,
    /// An anchor, alias or tag name.
    Property,
}

const STATES: usize = 9;

fn index(lex: Lex) -> usize {
    lex as usize
}

const LEXES: [Lex; STATES] = [
    Lex::Token,
    Lex::Plain,
    Lex::PlainSpace,
    Lex::Single,
    Lex::SingleEnd,
    Lex::Double,
    Lex::DoubleEscape,
    Lex::Comment,
    Lex::Property,
];

/// Flow hypotheses by lexical state: the range of depths (each at least 1) they stand for.
type Table = [Option<(usize, usize)>; STATES];

fn is_blank(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | b'\n')
}

/// Moves `(lo, hi)` by `delta` into `table[lex]`; a depth that reaches 0 leaves flow context
/// and needs no record (outside flow every bracket is a new hypothesis anyway).
fn add(table: &mut Table, lex: Lex, (lo, hi): (usize, usize), delta: isize) {
    let (lo, hi) = match delta {
        1 => (lo + 1, hi + 1),
        -1 if hi <= 1 => return,
        -1 => (lo.saturating_sub(1).max(1), hi - 1),
        _ => (lo, hi),
    };
    let slot = &mut table[index(lex)];
    *slot = Some(match *slot {
        Some((old_lo, old_hi)) => (old_lo.min(lo), old_hi.max(hi)),
        None => (lo, hi),
    });
}

/// Every reading of `byte` in state `lex`: the next state and the change of depth.
fn step(lex: Lex, byte: u8, next: Option<u8>, out: &mut dyn FnMut(Lex, isize)) {
    match lex {
        Lex::Token => match byte {
            b'[' | b'{' => out(Lex::Token, 1),
            b']' | b'}' => out(Lex::Token, -1),
            b',' | b':' | b'?' => out(Lex::Token, 0),
            b'\'' => out(Lex::Single, 0),
            b'"' => out(Lex::Double, 0),
            b'#' => out(Lex::Comment, 0),
            b'&' | b'*' | b'!' => out(Lex::Property, 0),
            b'-' if next.is_none_or(is_blank) => out(Lex::Token, 0),
            _ if is_blank(byte) => out(Lex::Token, 0),
            // Non-ASCII may be a Unicode line break (NEL, LS, PS) as well as text.
            0x80.. => {
                out(Lex::Token, 0);
                out(Lex::Plain, 0);
            }
            _ => out(Lex::Plain, 0),
        },
        Lex::Plain | Lex::PlainSpace => match byte {
            b'#' if lex == Lex::PlainSpace => out(Lex::Comment, 0),
            b'[' | b'{' => out(Lex::Token, 1),
            b']' | b'}' => out(Lex::Token, -1),
            b',' => out(Lex::Token, 0),
            // `: ` ends a plain scalar; `a:b` (and `a:'b`) is one scalar.
            b':' if next.is_none_or(is_blank) => out(Lex::Token, 0),
            _ if is_blank(byte) => out(Lex::PlainSpace, 0),
            0x80.. => {
                out(Lex::Plain, 0);
                out(Lex::PlainSpace, 0);
            }
            _ => out(Lex::Plain, 0),
        },
        Lex::Single => match byte {
            b'\'' => out(Lex::SingleEnd, 0),
            _ => out(Lex::Single, 0),
        },
        Lex::SingleEnd => match byte {
            b'\'' => out(Lex::Single, 0),
            _ => step(Lex::Token, byte, next, out),
        },
        Lex::Double => match byte {
            b'\\' => out(Lex::DoubleEscape, 0),
            b'"' => out(Lex::Token, 0),
            _ => out(Lex::Double, 0),
        },
        Lex::DoubleEscape => out(Lex::Double, 0),
        Lex::Comment => match byte {
            b'\n' | b'\r' => out(Lex::Token, 0),
            0x80.. => {
                out(Lex::Comment, 0);
                out(Lex::Token, 0);
            }
            _ => out(Lex::Comment, 0),
        },
        // Tags may hold `[`, `]` and `,` (verbatim `!<...>`), so keep both readings.
        Lex::Property => match byte {
            _ if is_blank(byte) => out(Lex::Token, 0),
            b'[' | b'{' => {
                out(Lex::Property, 0);
                out(Lex::Token, 1);
            }
            b']' | b'}' => {
                out(Lex::Property, 0);
                out(Lex::Token, -1);
            }
            b',' => {
                out(Lex::Property, 0);
                out(Lex::Token, 0);
            }
            _ => out(Lex::Property, 0),
        },
    }
}

/// An upper bound of the flow nesting depth of `text`; stops early once past `limit`.
pub(super) fn flow_depth_bound(text: &str, limit: usize) -> usize {
    let bytes = text.as_bytes();
    let mut table: Table = [None; STATES];
    let mut deepest = 0;
    let mut i = 0;
    while i < bytes.len() {
        if table.iter().all(Option::is_none) {
            // Only the reading "outside any flow collection" is alive: skip to a bracket.
            match bytes[i..].iter().position(|b| matches!(b, b'[' | b'{')) {
                Some(offset) => i += offset,
                None => break,
            }
        }
        let byte = bytes[i];
        let next = bytes.get(i + 1).copied();
        let mut next_table: Table = [None; STATES];
        if matches!(byte, b'[' | b'{') {
            add(&mut next_table, Lex::Token, (1, 1), 0);
        }
        for lex in LEXES {
            if let Some(depths) = table[index(lex)] {
                step(lex, byte, next, &mut |to, delta| {
                    add(&mut next_table, to, depths, delta)
                });
            }
        }
        table = next_table;
        let here = table.iter().flatten().map(|&(_, hi)| hi).max().unwrap_or(0);
        deepest = deepest.max(here);
        if deepest > limit {
            break;
        }
        i += 1;
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bound(text: &str) -> usize {
        flow_depth_bound(text, usize::MAX)
    }

    #[test]
    fn counts_real_nesting() {
        assert_eq!(bound("a: 1\nb: c\n"), 0);
        assert_eq!(bound("tags: [a, b]\n"), 1);
        assert_eq!(bound("a: [[1], {b: [2]}]\n"), 3);
        assert_eq!(bound("a: [\n  [\n    1\n  ]\n]\n"), 2);
    }

    #[test]
    fn brackets_inside_quotes_and_comments_do_not_close() {
        // Each `"]"` would hide a level from a reader that ignores quoting.
        let text = format!("a: {}1\n", "[\"]\", ".repeat(50));
        assert!(bound(&text) >= 50);
        let text = format!("a: {}1\n", "['it''s ]', ".repeat(50));
        assert!(bound(&text) >= 50);
        let text = format!("a: {}1\n", "[ # ]]]\n".repeat(50));
        assert!(bound(&text) >= 50);
        let text = format!("a: {}1\n", "[!t ".repeat(50));
        assert!(bound(&text) >= 50);
    }

    #[test]
    fn a_mid_scalar_quote_does_not_hide_brackets() {
        // `it's` is plain text; the quoted scalar after the comma holds a `]`.
        let text = format!("a: {}1\n", "[it's, \"x' ]]\", ".repeat(40));
        assert!(bound(&text) >= 40);
        let text = format!("a: {}1\n", "[a:'b, \"'] ]\", ".repeat(40));
        assert!(bound(&text) >= 40);
    }

    #[test]
    fn prose_and_block_scalars_stay_shallow() {
        let text = "description: |\n  See [the docs](https://x) and don't [panic.\n  {\"json\": [1, {\"a\": \"it's ]\"}]}\nspec:\n  tags: [a, b]\n";
        // One level for the unclosed `[panic.`, three for the JSON: an over-estimate, but small.
        assert_eq!(bound(text), 4);
    }

    #[test]
    fn stops_early_past_the_limit() {
        let text = "[".repeat(1_000_000);
        assert_eq!(flow_depth_bound(&text, 10), 11);
    }
}
