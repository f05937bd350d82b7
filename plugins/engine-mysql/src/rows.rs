//! Counts the rows a `mysqldump` / `mariadb-dump` stream holds, per table,
//! as the bytes go by. The dump is one consistent snapshot, so these are
//! the counts of exactly what the artifact contains — which MySQL cannot
//! give from a second session — and they cost the server nothing.
//!
//! The dumper writes table data as ``INSERT INTO `t` VALUES (…),(…);``
//! (MySQL on one line; MariaDB's dumper puts each row on a line of its
//! own) with string literals escaped (`\n`, `\'`, `\\`), and one
//! ``CREATE TABLE `t` (`` line per base table. Outside string literals
//! the values are numbers, `NULL` and `0x…` (`--hex-blob`), so every `(`
//! there opens one row and the first `;` ends the statement.

use memchr::{memchr, memchr2, memchr3};
use std::collections::BTreeMap;

/// The longest line head kept to recognise a statement: a table name and,
/// for tables with generated or invisible columns, the column list.
const HEAD_LIMIT: usize = 256 << 10;
const INSERT: &[u8] = b"INSERT INTO `";
const CREATE: &[u8] = b"CREATE TABLE `";
const VALUES: &[u8] = b" VALUES";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a line, collecting its head.
    Head,
    /// In a line that holds no rows.
    Skip,
    /// In a row list, outside any string literal.
    Values,
    /// Inside a string literal.
    Text,
    /// Inside a string literal, after a backslash.
    Escaped,
    /// Just after a quote that may close the literal or start `''`.
    Quote,
}

/// What a line head turned out to be.
enum Head {
    NeedMore,
    Other,
    Insert(String),
    Create(String),
}

/// Streaming row counter over a dump's bytes.
pub struct RowCounter {
    state: State,
    head: Vec<u8>,
    table: Option<String>,
    rows: u64,
    counts: BTreeMap<String, u64>,
}

impl Default for RowCounter {
    fn default() -> Self {
        Self {
            state: State::Head,
            head: Vec::with_capacity(128),
            table: None,
            rows: 0,
            counts: BTreeMap::new(),
        }
    }
}

impl RowCounter {
    /// Takes the next bytes of the dump, in any slicing.
    pub fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let used = match self.state {
                State::Head => self.head_byte(bytes[0]),
                State::Skip => match memchr(b'\n', bytes) {
                    Some(i) => {
                        self.state = State::Head;
                        i + 1
                    }
                    None => bytes.len(),
                },
                State::Values | State::Text | State::Escaped | State::Quote => self.data(bytes),
            };
            bytes = &bytes[used..];
        }
    }

    /// Rows per table, every table the dump created included (zero when
    /// it holds no rows); the end of the stream ends any open statement.
    pub fn finish(mut self) -> BTreeMap<String, u64> {
        self.end_statement();
        self.counts
    }

    /// Scans row data (values, string literals) until the statement
    /// ends or the bytes do; returns how many were used.
    fn data(&mut self, bytes: &[u8]) -> usize {
        let mut at = 0;
        loop {
            match self.state {
                State::Values => {
                    let Some(i) = memchr3(b'(', b'\'', b';', &bytes[at..]) else {
                        return bytes.len();
                    };
                    let i = at + i;
                    at = i + 1;
                    match bytes[i] {
                        b'(' => self.rows += 1,
                        b'\'' => self.state = State::Text,
                        _ => {
                            self.end_statement();
                            self.state = State::Skip;
                            return at;
                        }
                    }
                }
                State::Text => {
                    let Some(i) = memchr2(b'\'', b'\\', &bytes[at..]) else {
                        return bytes.len();
                    };
                    let i = at + i;
                    at = i + 1;
                    self.state = if bytes[i] == b'\\' {
                        State::Escaped
                    } else {
                        State::Quote
                    };
                }
                _ if at == bytes.len() => return at,
                State::Escaped => {
                    at += 1;
                    self.state = State::Text;
                }
                // `''` is a quote inside the literal; anything else is
                // read again as the first byte after it.
                State::Quote if bytes[at] == b'\'' => {
                    at += 1;
                    self.state = State::Text;
                }
                State::Quote => self.state = State::Values,
                State::Head | State::Skip => return at,
            }
        }
    }

    fn head_byte(&mut self, byte: u8) -> usize {
        self.head.push(byte);
        // A head is parsed whole only where it can be decided, so a long
        // column list is not parsed again at every byte.
        let decidable = self.head.len() <= CREATE.len() + 1
            || byte == b'\n'
            || (byte == b' '
                && (self.head.starts_with(CREATE)
                    || self.head[..self.head.len() - 1].ends_with(VALUES)));
        let head = if decidable {
            parse_head(&self.head)
        } else {
            Head::NeedMore
        };
        match head {
            Head::NeedMore if byte == b'\n' => self.head.clear(),
            Head::NeedMore if self.head.len() < HEAD_LIMIT => {}
            Head::NeedMore | Head::Other => {
                self.head.clear();
                if byte != b'\n' {
                    self.state = State::Skip;
                }
            }
            Head::Create(table) => {
                self.counts.entry(table).or_insert(0);
                self.head.clear();
                self.state = State::Skip;
            }
            Head::Insert(table) => {
                self.table = Some(table);
                self.head.clear();
                self.state = State::Values;
            }
        }
        1
    }

    fn end_statement(&mut self) {
        if let Some(table) = self.table.take() {
            *self.counts.entry(table).or_insert(0) += self.rows;
        }
        self.rows = 0;
    }
}

/// Recognises ``INSERT INTO `t` VALUES`` (then a space or a newline) and ``CREATE TABLE `t` `` heads.
fn parse_head(head: &[u8]) -> Head {
    for (keyword, insert) in [(INSERT, true), (CREATE, false)] {
        let shared = head.len().min(keyword.len());
        if head[..shared] != keyword[..shared] {
            continue;
        }
        let Some((name, rest)) = identifier(&head[shared..]) else {
            return Head::NeedMore;
        };
        if !insert {
            return Head::Create(name);
        }
        let rest = match rest.strip_prefix(b" (") {
            Some(list) => match after_columns(list) {
                Ok(rest) => rest,
                Err(undecided) => return undecided,
            },
            None => rest,
        };
        let seen = rest.len().min(VALUES.len());
        return if rest[..seen] != VALUES[..seen] {
            Head::Other
        } else {
            match rest.get(VALUES.len()) {
                None => Head::NeedMore,
                Some(b' ' | b'\n') => Head::Insert(name),
                Some(_) => Head::Other,
            }
        };
    }
    Head::Other
}

/// What follows a column list ``(`a`, `b`)`` (its opening parenthesis
/// already taken): the dumper names the columns of tables with generated
/// or invisible ones.
fn after_columns(mut list: &[u8]) -> Result<&[u8], Head> {
    loop {
        let Some(quoted) = list.strip_prefix(b"`") else {
            return Err(if list.is_empty() {
                Head::NeedMore
            } else {
                Head::Other
            });
        };
        let Some((_, rest)) = identifier(quoted) else {
            return Err(Head::NeedMore);
        };
        if let Some(rest) = rest.strip_prefix(b")") {
            return Ok(rest);
        }
        match rest.strip_prefix(b", ") {
            Some(next) => list = next,
            None if rest.len() < 2 && b", ".starts_with(rest) => return Err(Head::NeedMore),
            None => return Err(Head::Other),
        }
    }
}

/// A backquoted identifier's text (```` `` ```` is one backquote) and
/// what follows its closing quote; `None` until the close is certain.
fn identifier(bytes: &[u8]) -> Option<(String, &[u8])> {
    let mut name = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'`' {
            match bytes.get(i + 1) {
                Some(b'`') => {
                    name.push(b'`');
                    i += 2;
                    continue;
                }
                Some(_) => {
                    return Some((String::from_utf8_lossy(&name).into_owned(), &bytes[i + 1..]))
                }
                None => return None,
            }
        }
        name.push(bytes[i]);
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const DUMP: &str = "-- MariaDB dump\n\
/*!40101 SET NAMES utf8mb4 */;\n\
DROP TABLE IF EXISTS `a`;\n\
CREATE TABLE `a` (\n  `id` int(11) NOT NULL,\n  `t` text\n) ENGINE=InnoDB;\n\
INSERT INTO `a` VALUES (1,'x(y)'),(2,'it\\'s (\\\\'),(3,NULL),(4,'a''b(');\n\
INSERT INTO `a` VALUES (5,'\\n(')\n;\n\
CREATE TABLE `empty` (\n  `id` int\n);\n\
CREATE TABLE `we``ird VALUES (` (\n  `b` blob\n);\n\
INSERT INTO `we``ird VALUES (` VALUES (0x28,'('),(0x,'');\n\
/*!50001 CREATE VIEW `v` AS SELECT 1 AS `x` */;\n\
INSERT INTO `a` VALUES\n(6,'🎉 ('),\n(7,'x;y'),\n(8,0x3B28);\n\
-- INSERT INTO `a` VALUES (9,'comment');\n\
INSERT INTO `a` VALUESX (10);\n\
CREATE TABLE `gen` (\n  `a` int,\n  `b` int GENERATED ALWAYS AS (`a` * 2) VIRTUAL\n);\n\
INSERT INTO `gen` (`a`, `b`, `c) (`) VALUES (1,2,5),\n(2,4,5);\n\
INSERT INTO `gen` (`a` `b`) VALUES (3);\n";

    fn expected() -> BTreeMap<String, u64> {
        [("a", 8), ("empty", 0), ("gen", 2), ("we`ird VALUES (", 2)]
            .into_iter()
            .map(|(t, n)| (t.to_string(), n))
            .collect()
    }

    #[test]
    fn counts_rows_per_table_through_quotes_escapes_and_parentheses() {
        let mut c = RowCounter::default();
        c.feed(DUMP.as_bytes());
        assert_eq!(c.finish(), expected());
    }

    #[test]
    fn any_slicing_of_the_stream_gives_the_same_counts() {
        let bytes = DUMP.as_bytes();
        for size in 1..=17 {
            let mut c = RowCounter::default();
            for piece in bytes.chunks(size) {
                c.feed(piece);
            }
            assert_eq!(c.finish(), expected(), "pieces of {size}");
        }
    }

    #[test]
    fn a_dump_cut_inside_a_statement_counts_what_it_holds() {
        let mut c = RowCounter::default();
        c.feed(b"INSERT INTO `t` VALUES (1),(2");
        assert_eq!(c.finish().get("t"), Some(&2));
    }
}
