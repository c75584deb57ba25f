//! RFC 1035 §5.1 master-file syntax, one entry at a time: tokens separated
//! by blanks, `;` comments, `( … )` continuing an entry over lines, quoted
//! strings, and `\` escapes. Tokens are handed on as written (quotes and
//! escapes included), so names and RDATA are decoded once, by whoever knows
//! what the token is.

/// One entry: a directive or a resource record, with the line it starts on.
/// Its tokens are the lexer's, until the next entry.
#[derive(Debug, PartialEq, Eq)]
pub struct Entry<'a, 'l> {
    pub line: usize,
    /// The entry starts with a blank: it has no owner and reuses the last.
    pub blank_owner: bool,
    pub tokens: &'l [&'a str],
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum LexError {
    #[error("a quoted string is not closed on its line")]
    OpenQuote,
    #[error("')' without a matching '('")]
    UnbalancedClose,
    #[error("'(' opened here is never closed")]
    OpenParenthesis,
}

/// Splits master-file text into entries.
pub struct Lexer<'a> {
    text: &'a str,
    at: usize,
    /// Line of the byte at `at`, counted from 1.
    line: usize,
    /// The current entry's tokens, in one buffer for the whole text rather
    /// than a new one per line.
    tokens: Vec<&'a str>,
}

impl<'a> Lexer<'a> {
    pub fn new(text: &'a str) -> Self {
        Lexer {
            text,
            at: 0,
            line: 1,
            tokens: Vec::new(),
        }
    }

    /// The next entry, `Ok(None)` at the end, or the error and its line.
    pub fn next_entry(&mut self) -> Result<Option<Entry<'a, '_>>, (usize, LexError)> {
        let bytes = self.text.as_bytes();
        loop {
            if self.at >= bytes.len() {
                return Ok(None);
            }
            let start_line = self.line;
            let blank_owner = matches!(bytes[self.at], b' ' | b'\t');
            let mut tokens = std::mem::take(&mut self.tokens);
            tokens.clear();
            let mut depth_opened_at: Option<usize> = None;
            loop {
                let Some(&b) = bytes.get(self.at) else {
                    if let Some(line) = depth_opened_at {
                        return Err((line, LexError::OpenParenthesis));
                    }
                    break;
                };
                match b {
                    b'\n' => {
                        self.at += 1;
                        self.line += 1;
                        if depth_opened_at.is_none() {
                            break;
                        }
                    }
                    b' ' | b'\t' | b'\r' => self.at += 1,
                    b';' => {
                        while bytes.get(self.at).is_some_and(|&c| c != b'\n') {
                            self.at += 1;
                        }
                    }
                    b'(' => {
                        if depth_opened_at.is_some() {
                            // Nested parentheses are not master-file syntax.
                            return Err((self.line, LexError::OpenParenthesis));
                        }
                        depth_opened_at = Some(self.line);
                        self.at += 1;
                    }
                    b')' => {
                        if depth_opened_at.take().is_none() {
                            return Err((self.line, LexError::UnbalancedClose));
                        }
                        self.at += 1;
                    }
                    b'"' => tokens.push(self.quoted()?),
                    _ => tokens.push(self.word()),
                }
            }
            self.tokens = tokens;
            if !self.tokens.is_empty() {
                return Ok(Some(Entry {
                    line: start_line,
                    blank_owner,
                    tokens: &self.tokens,
                }));
            }
        }
    }

    /// A quoted string, quotes included; `\"` does not close it.
    fn quoted(&mut self) -> Result<&'a str, (usize, LexError)> {
        let bytes = self.text.as_bytes();
        let start = self.at;
        self.at += 1;
        loop {
            match bytes.get(self.at) {
                None | Some(b'\n') => return Err((self.line, LexError::OpenQuote)),
                Some(b'\\') if bytes.get(self.at + 1) != Some(&b'\n') => self.at += 2,
                Some(b'"') => {
                    self.at += 1;
                    return Ok(&self.text[start..self.at.min(bytes.len())]);
                }
                Some(_) => self.at += 1,
            }
        }
    }

    /// An unquoted token: up to a blank, a line end, `;`, `(`, `)` or `"`,
    /// any of which a `\` makes part of it.
    fn word(&mut self) -> &'a str {
        let bytes = self.text.as_bytes();
        let start = self.at;
        while let Some(&b) = bytes.get(self.at) {
            match b {
                b'\\' if bytes.get(self.at + 1).is_some_and(|&c| c != b'\n') => self.at += 2,
                b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b')' | b'"' => break,
                _ => self.at += 1,
            }
        }
        // Every delimiter is ASCII, so `end` is on a character boundary.
        let end = self.at.min(bytes.len());
        self.at = end;
        &self.text[start..end]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(text: &str) -> Vec<(usize, bool, Vec<&str>)> {
        let mut lexer = Lexer::new(text);
        let mut out = Vec::new();
        while let Some(entry) = lexer.next_entry().unwrap() {
            out.push((entry.line, entry.blank_owner, entry.tokens.to_vec()));
        }
        out
    }

    #[test]
    fn splits_entries_and_joins_parentheses() {
        let text = "$TTL 60 ; comment\n\n; only a comment\n@ IN SOA ns host (\n 1 2 ; serial\n 3 4 5 )\n  IN A 192.0.2.1\nx TXT \"a;b\" \"c\\\"d\" e\\ f\n";
        assert_eq!(
            entries(text),
            vec![
                (1, false, vec!["$TTL", "60"]),
                (
                    4,
                    false,
                    vec!["@", "IN", "SOA", "ns", "host", "1", "2", "3", "4", "5"]
                ),
                (7, true, vec!["IN", "A", "192.0.2.1"]),
                (8, false, vec!["x", "TXT", "\"a;b\"", "\"c\\\"d\"", "e\\ f"]),
            ]
        );
    }

    #[test]
    fn errors_carry_their_line() {
        let mut lexer = Lexer::new("a A 192.0.2.1\nb TXT \"open\n");
        lexer.next_entry().unwrap();
        assert_eq!(lexer.next_entry(), Err((2, LexError::OpenQuote)));
        let mut lexer = Lexer::new("a A 192.0.2.1\n\nb SOA ( 1 2\n");
        lexer.next_entry().unwrap();
        assert_eq!(lexer.next_entry(), Err((3, LexError::OpenParenthesis)));
        let mut lexer = Lexer::new("a A 1.2.3.4 )\n");
        assert_eq!(lexer.next_entry(), Err((1, LexError::UnbalancedClose)));
    }
}
