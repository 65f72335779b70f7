//! Splitting a YAML stream into its documents before parsing, so that each is parsed alone.
//!
//! libyaml cannot resume after a syntax error: one broken document would hide every one
//! after it. YAML forbids a document marker (`---` or `...` at the start of a line,
//! followed by a space or the line's end) inside content, even inside quoted or block
//! scalars, so splitting at those lines finds the same boundaries the parser would.
//! This module does not parse anything inside a document.

/// One document's text, and the 1-based line of the file it starts on.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Chunk<'a> {
    pub text: &'a str,
    pub first_line: usize,
}

enum Line {
    /// `---`: starts a document.
    Start,
    /// `...`: ends one.
    End,
    /// `%YAML`, `%TAG`: belongs to the document that follows.
    Directive,
    /// Blank or comment.
    Nothing,
    Content,
}

fn classify(line: &str) -> Line {
    let marker = |prefix: &str| {
        line.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n']))
    };
    let trimmed = line.trim_start();
    if marker("---") {
        Line::Start
    } else if marker("...") {
        Line::End
    } else if line.starts_with('%') {
        Line::Directive
    } else if trimmed.is_empty() || trimmed.starts_with('#') {
        Line::Nothing
    } else {
        Line::Content
    }
}

pub(super) fn split(text: &str) -> Vec<Chunk<'_>> {
    let mut chunks = Vec::new();
    let mut start = 0; // byte offset of the current chunk
    let mut first_line = 1;
    // Whether the current chunk already has a document (a marker or content): a `---` or a
    // directive then begins the next one; before that, they open this one.
    let mut started = false;
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let line_number = index + 1;
        let class = classify(line);
        let begins_next = matches!(class, Line::Start | Line::Directive) && started;
        if begins_next {
            chunks.push(Chunk {
                text: &text[start..offset],
                first_line,
            });
            start = offset;
            first_line = line_number;
            started = false;
        }
        offset += line.len();
        match class {
            Line::Start | Line::Content => started = true,
            Line::End => {
                chunks.push(Chunk {
                    text: &text[start..offset],
                    first_line,
                });
                start = offset;
                first_line = line_number + 1;
                started = false;
            }
            Line::Directive | Line::Nothing => {}
        }
    }
    if start < text.len() || chunks.is_empty() {
        chunks.push(Chunk {
            text: &text[start..],
            first_line,
        });
    }
    chunks
}

/// Rewrites `line N` in a parser message about a chunk into the line of the whole file.
pub(super) fn rebase_lines(message: &str, first_line: usize) -> String {
    const NEEDLE: &str = "line ";
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find(NEEDLE) {
        let after = &rest[at + NEEDLE.len()..];
        let digits = after
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(after.len());
        out.push_str(&rest[..at + NEEDLE.len()]);
        match after[..digits].parse::<usize>() {
            Ok(line) => out.push_str(&(line + first_line - 1).to_string()),
            Err(_) => out.push_str(&after[..digits]),
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(input: &str) -> Vec<(&str, usize)> {
        split(input)
            .into_iter()
            .map(|c| (c.text, c.first_line))
            .collect()
    }

    #[test]
    fn splits_at_document_markers() {
        let input = "a: 1\n---\nb: 2\n--- \nc: 3\n";
        assert_eq!(
            texts(input),
            [("a: 1\n", 1), ("---\nb: 2\n", 2), ("--- \nc: 3\n", 4)]
        );
    }

    #[test]
    fn a_leading_marker_and_comments_open_the_first_document() {
        let input = "# header\n---\na: 1\n---\n---\nb: 2";
        assert_eq!(
            texts(input),
            [("# header\n---\na: 1\n", 1), ("---\n", 4), ("---\nb: 2", 5)]
        );
    }

    #[test]
    fn markers_need_a_space_or_line_end_after_them() {
        let input = "a: |\n  ---x\n----\nb: 1\n";
        assert_eq!(texts(input).len(), 1);
    }

    #[test]
    fn directives_and_end_markers() {
        let input = "%YAML 1.2\n---\na: 1\n...\n%YAML 1.2\n---\nb: 2\n";
        assert_eq!(
            texts(input),
            [
                ("%YAML 1.2\n---\na: 1\n...\n", 1),
                ("%YAML 1.2\n---\nb: 2\n", 5)
            ]
        );
    }

    #[test]
    fn empty_input_is_one_empty_chunk() {
        assert_eq!(texts(""), [("", 1)]);
    }

    #[test]
    fn rebases_line_numbers() {
        assert_eq!(
            rebase_lines(
                "bad at line 2 column 3, while parsing at line 1 column 1",
                10
            ),
            "bad at line 11 column 3, while parsing at line 10 column 1"
        );
        assert_eq!(rebase_lines("no position", 10), "no position");
        assert_eq!(rebase_lines("ends with line ", 10), "ends with line ");
    }
}
