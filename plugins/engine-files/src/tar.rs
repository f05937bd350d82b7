//! Just enough of the tar format for this engine: writing GNU headers and
//! reading what GNU tar, bsdtar and this writer produce.
//!
//! The writer only builds header blocks; file contents are moved by the
//! caller (host-side) so this module never sees them. Names longer than the
//! 100-byte header field get a GNU `././@LongLink` entry in front, which
//! every common tar reader understands. The reader also accepts POSIX
//! (`ustar` prefix and PAX `path`/`size`/`mtime` records) so archives made
//! by other tools restore too. Every entry carries its mode (setuid, setgid
//! and sticky included) and numeric owner, which restores give back. It is
//! pure `std` so it can be tested natively.

use std::io::{self, Read, Write};

/// Every tar header and data area is made of blocks of this size.
pub const BLOCK: usize = 512;

/// Largest long-name or PAX header accepted; anything bigger is not a name.
const MAX_META: u64 = 1 << 20;

/// Largest value the 12-byte size field holds in octal (8 GiB - 1).
const MAX_OCTAL_SIZE: u64 = 0o777_7777_7777;

/// What an entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    /// A symbolic link; its target is the entry's `link`.
    Symlink,
    /// Anything else (hard links, devices...), with its type flag.
    Other(u8),
}

/// An entry's mode and numeric owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Perm {
    /// Permission and special bits (`0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl Perm {
    /// What archives without better knowledge say: root's, 0755 for a
    /// directory, 0644 otherwise.
    pub fn default_for(kind: Kind) -> Self {
        Self {
            mode: if kind == Kind::Dir { 0o755 } else { 0o644 },
            uid: 0,
            gid: 0,
        }
    }
}

/// Zero bytes that bring `len` up to a whole number of blocks.
pub fn padding(len: u64) -> usize {
    let rem = (len % BLOCK as u64) as usize;
    if rem == 0 {
        0
    } else {
        BLOCK - rem
    }
}

/// The two zero blocks that end an archive.
pub fn end_of_archive() -> [u8; 2 * BLOCK] {
    [0; 2 * BLOCK]
}

/// Header block(s) for an entry: a GNU long-name entry when `name` does not
/// fit, then the header proper. Directory names should end with `/`.
pub fn header(name: &str, kind: Kind, size: u64, mtime: u64, perm: Perm) -> Vec<u8> {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(3 * BLOCK);
    if bytes.len() > 100 {
        // The long name travels as the data of a pseudo-entry, NUL-ended.
        let len = bytes.len() as u64 + 1;
        let meta = Perm::default_for(Kind::File);
        out.extend_from_slice(&block(b"././@LongLink", b'L', meta, len, 0, b""));
        out.extend_from_slice(bytes);
        out.push(0);
        out.resize(out.len() + padding(len), 0);
    }
    let flag = match kind {
        Kind::Dir => b'5',
        Kind::File => b'0',
        Kind::Symlink => b'2',
        Kind::Other(flag) => flag,
    };
    // Readers without GNU support see the name cut at 100 bytes.
    let short = &bytes[..bytes.len().min(100)];
    out.extend_from_slice(&block(short, flag, perm, size, mtime, b""));
    out
}

/// Header block(s) for a symbolic link `name` → `target`: GNU long-name and
/// long-link entries in front of the header when either does not fit.
pub fn symlink_header(name: &str, target: &str, mtime: u64, perm: Perm) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 * BLOCK);
    for (data, flag) in [(name.as_bytes(), b'L'), (target.as_bytes(), b'K')] {
        if data.len() > 100 {
            let len = data.len() as u64 + 1;
            let meta = Perm::default_for(Kind::File);
            out.extend_from_slice(&block(b"././@LongLink", flag, meta, len, 0, b""));
            out.extend_from_slice(data);
            out.push(0);
            out.resize(out.len() + padding(len), 0);
        }
    }
    let short = &name.as_bytes()[..name.len().min(100)];
    let link = &target.as_bytes()[..target.len().min(100)];
    out.extend_from_slice(&block(short, b'2', perm, 0, mtime, link));
    out
}

/// One GNU header block.
fn block(name: &[u8], flag: u8, perm: Perm, size: u64, mtime: u64, link: &[u8]) -> [u8; BLOCK] {
    let mut b = [0u8; BLOCK];
    b[..name.len()].copy_from_slice(name);
    b[157..157 + link.len()].copy_from_slice(link);
    put_octal(&mut b[100..108], u64::from(perm.mode & 0o7777));
    put_number(&mut b[108..116], u64::from(perm.uid));
    put_number(&mut b[116..124], u64::from(perm.gid));
    if size > MAX_OCTAL_SIZE {
        put_number(&mut b[124..136], size);
    } else {
        put_octal(&mut b[124..136], size);
    }
    put_octal(&mut b[136..148], mtime.min(0o777_7777_7777));
    b[156] = flag;
    b[257..265].copy_from_slice(b"ustar  \0");
    b[148..156].fill(b' ');
    let sum: u32 = b.iter().map(|&x| u32::from(x)).sum();
    put_octal(&mut b[148..155], u64::from(sum));
    b
}

/// Octal when the value fits the field, else GNU base-256 (high bit set,
/// value big-endian in the rest), as GNU tar writes large uids and sizes.
fn put_number(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    if digits >= 22 || value >> (3 * digits) == 0 {
        put_octal(field, value);
        return;
    }
    field.fill(0);
    field[0] = 0x80;
    let be = value.to_be_bytes();
    let n = be.len().min(field.len() - 1);
    let at = field.len() - n;
    field[at..].copy_from_slice(&be[be.len() - n..]);
}

/// Zero-padded octal digits filling all but the last byte, which is NUL.
fn put_octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(&text.as_bytes()[text.len() - digits..]);
    field[digits] = 0;
}

fn invalid(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// A numeric field: octal text, or GNU base-256 when the high bit is set.
fn number(field: &[u8]) -> io::Result<u64> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        // Only positive values that fit a u64 are meaningful here.
        let rest = &field[1..];
        let (high, low) = rest.split_at(rest.len().saturating_sub(8));
        if field[0] != 0x80 || high.iter().any(|&b| b != 0) {
            return Err(invalid("tar number out of range"));
        }
        return Ok(low.iter().fold(0, |acc, &b| (acc << 8) | u64::from(b)));
    }
    let text = std::str::from_utf8(field).map_err(|_| invalid("tar number is not text"))?;
    let text = text.trim_matches(|c| c == '\0' || c == ' ');
    if text.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(text, 8).map_err(|_| invalid(format!("bad tar number `{text}`")))
}

/// Bytes of a text field up to its first NUL.
fn text(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

fn utf8(bytes: &[u8]) -> io::Result<String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| invalid("entry name is not UTF-8"))
}

/// An entry read from an archive; its data follows in the stream.
#[derive(Debug)]
pub struct Entry {
    pub path: String,
    pub kind: Kind,
    /// A symbolic link's target.
    pub link: Option<String>,
    pub size: u64,
    pub mtime: u64,
    pub perm: Perm,
}

/// What PAX and GNU long-name entries say about the next entry.
#[derive(Default)]
struct Overrides {
    path: Option<String>,
    link: Option<String>,
    size: Option<u64>,
    mtime: Option<u64>,
    uid: Option<u64>,
    gid: Option<u64>,
}

/// Reads entries one after the other. Call [`Reader::next_entry`], then
/// optionally [`Reader::copy_data`]; unread data is skipped automatically.
pub struct Reader<R> {
    inner: R,
    /// Data bytes of the current entry not read yet.
    remaining: u64,
    /// Zero bytes after the current entry's data.
    pad: u64,
}

impl<R: Read> Reader<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            remaining: 0,
            pad: 0,
        }
    }

    /// The underlying reader, e.g. to drain what follows the archive.
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// The next entry, or `None` at the end-of-archive marker.
    pub fn next_entry(&mut self) -> io::Result<Option<Entry>> {
        let mut over = Overrides::default();
        loop {
            self.skip_rest()?;
            let mut b = [0u8; BLOCK];
            if !self.read_block(&mut b)? {
                // An archive without its end marker still ended.
                return Ok(None);
            }
            if b.iter().all(|&x| x == 0) {
                return Ok(None);
            }
            check_sum(&b)?;
            let flag = b[156];
            let size = number(&b[124..136])?;
            self.remaining = size;
            self.pad = padding(size) as u64;
            match flag {
                b'L' => over.path = Some(utf8(text(&self.read_meta(size)?))?),
                b'K' => over.link = Some(utf8(text(&self.read_meta(size)?))?),
                b'x' => parse_pax(&self.read_meta(size)?, &mut over)?,
                // Global PAX headers do not concern the next entry; their
                // data is skipped.
                b'g' => {}
                _ => return self.entry(&b, flag, over).map(Some),
            }
        }
    }

    /// Builds the entry of header `b`, applying long-name and PAX values.
    fn entry(&mut self, b: &[u8; BLOCK], flag: u8, over: Overrides) -> io::Result<Entry> {
        let path = match over.path {
            Some(p) => p,
            None => {
                let name = text(&b[..100]);
                let prefix = text(&b[345..500]);
                // Only POSIX ustar has a prefix field; GNU keeps other data
                // at those offsets.
                if &b[257..263] == b"ustar\0" && !prefix.is_empty() {
                    format!("{}/{}", utf8(prefix)?, utf8(name)?)
                } else {
                    utf8(name)?
                }
            }
        };
        if let Some(size) = over.size {
            self.remaining = size;
            self.pad = padding(size) as u64;
        }
        let kind = match flag {
            // Pre-POSIX archives mark directories only by a trailing `/`.
            b'0' | b'\0' if path.ends_with('/') => Kind::Dir,
            b'0' | b'\0' | b'7' => Kind::File,
            b'5' => Kind::Dir,
            b'2' => Kind::Symlink,
            other => Kind::Other(other),
        };
        let link = match (kind, over.link) {
            (Kind::Symlink, Some(link)) => Some(link),
            (Kind::Symlink, None) => Some(utf8(text(&b[157..257]))?),
            _ => None,
        };
        let id = |value: u64| u32::try_from(value).map_err(|_| invalid("tar owner id too large"));
        let perm = Perm {
            mode: (number(&b[100..108])? & 0o7777) as u32,
            uid: id(match over.uid {
                Some(uid) => uid,
                None => number(&b[108..116])?,
            })?,
            gid: id(match over.gid {
                Some(gid) => gid,
                None => number(&b[116..124])?,
            })?,
        };
        Ok(Entry {
            path,
            kind,
            link,
            size: self.remaining,
            mtime: match over.mtime {
                Some(mtime) => mtime,
                None => number(&b[136..148])?,
            },
            perm,
        })
    }

    /// Copies the current entry's data into `out`; returns the byte count.
    pub fn copy_data(&mut self, out: &mut impl Write) -> io::Result<u64> {
        let want = self.remaining;
        let copied = io::copy(&mut (&mut self.inner).take(want), out)?;
        self.remaining -= copied;
        if copied < want {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "archive ends inside an entry",
            ));
        }
        Ok(copied)
    }

    /// Skips unread data and padding of the current entry.
    fn skip_rest(&mut self) -> io::Result<()> {
        let total = self.remaining + self.pad;
        let skipped = io::copy(&mut (&mut self.inner).take(total), &mut io::sink())?;
        self.remaining = 0;
        self.pad = 0;
        if skipped < total {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "archive ends inside an entry",
            ));
        }
        Ok(())
    }

    /// Data of a long-name or PAX entry, which is read into memory.
    fn read_meta(&mut self, size: u64) -> io::Result<Vec<u8>> {
        if size > MAX_META {
            return Err(invalid(format!("tar metadata entry of {size} bytes")));
        }
        let mut data = Vec::with_capacity(size as usize);
        self.copy_data(&mut data)?;
        Ok(data)
    }

    /// Fills `b`; false on a clean end of stream before the first byte.
    fn read_block(&mut self, b: &mut [u8; BLOCK]) -> io::Result<bool> {
        let mut filled = 0;
        while filled < BLOCK {
            match self.inner.read(&mut b[filled..]) {
                Ok(0) if filled == 0 => return Ok(false),
                Ok(0) => return Err(invalid("archive ends inside a header")),
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}

/// Checks the header checksum, accepting the signed sums of old tars.
fn check_sum(b: &[u8; BLOCK]) -> io::Result<()> {
    let stored = number(&b[148..156])?;
    let mut unsigned: i64 = 0;
    let mut signed: i64 = 0;
    for (i, &x) in b.iter().enumerate() {
        let x = if (148..156).contains(&i) { b' ' } else { x };
        unsigned += i64::from(x);
        signed += i64::from(x as i8);
    }
    if stored as i64 == unsigned || stored as i64 == signed {
        Ok(())
    } else {
        Err(invalid("tar header checksum mismatch: not a tar archive?"))
    }
}

/// Applies the `path`, `size`, `mtime`, `uid` and `gid` records of a PAX header. Each
/// record is `<length> <key>=<value>\n`, `<length>` counting the whole record.
fn parse_pax(data: &[u8], over: &mut Overrides) -> io::Result<()> {
    let mut rest = data;
    while !rest.is_empty() && rest[0] != 0 {
        let space = rest
            .iter()
            .position(|&b| b == b' ')
            .ok_or_else(|| invalid("bad PAX record"))?;
        let len: usize = std::str::from_utf8(&rest[..space])
            .ok()
            .and_then(|s| s.parse().ok())
            .filter(|&l| l > space + 1 && l <= rest.len())
            .ok_or_else(|| invalid("bad PAX record length"))?;
        let record = &rest[space + 1..len];
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        if let Some(eq) = record.iter().position(|&b| b == b'=') {
            let (key, value) = (&record[..eq], &record[eq + 1..]);
            let num = || -> io::Result<u64> {
                let s = std::str::from_utf8(value).map_err(|_| invalid("bad PAX number"))?;
                // Times may carry a fraction; whole seconds are enough.
                let whole = s.split('.').next().unwrap_or(s);
                whole.parse().map_err(|_| invalid("bad PAX number"))
            };
            match key {
                b"path" => over.path = Some(utf8(value)?),
                b"linkpath" => over.link = Some(utf8(value)?),
                b"size" => over.size = Some(num()?),
                b"mtime" => over.mtime = Some(num().unwrap_or(0)),
                b"uid" => over.uid = Some(num()?),
                b"gid" => over.gid = Some(num()?),
                _ => {}
            }
        }
        rest = &rest[len..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An archive of `(name, kind, data)` as the engine writes it.
    fn archive(entries: &[(&str, Kind, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, kind, data) in entries {
            let perm = Perm::default_for(*kind);
            out.extend(header(name, *kind, data.len() as u64, 1_700_000_000, perm));
            out.extend_from_slice(data);
            out.resize(out.len() + padding(data.len() as u64), 0);
        }
        out.extend_from_slice(&end_of_archive());
        out
    }

    fn read_all(bytes: &[u8]) -> Vec<(String, Kind, Vec<u8>)> {
        let mut r = Reader::new(bytes);
        let mut got = Vec::new();
        while let Some(e) = r.next_entry().expect("entry") {
            let mut data = Vec::new();
            if e.kind == Kind::File {
                r.copy_data(&mut data).expect("data");
            }
            got.push((e.path, e.kind, data));
        }
        got
    }

    #[test]
    fn round_trips_long_and_unicode_names() {
        let long = format!("{}/fichier é ü 日本.txt", "répertoire long ".repeat(12));
        let bytes = archive(&[
            ("dir/", Kind::Dir, b""),
            ("dir/a b.txt", Kind::File, b"hello"),
            (&long, Kind::File, &[7u8; 1000]),
            ("empty", Kind::File, b""),
        ]);
        assert_eq!(bytes.len() % BLOCK, 0);
        let got = read_all(&bytes);
        assert_eq!(got.len(), 4);
        assert_eq!(got[0], ("dir/".into(), Kind::Dir, vec![]));
        assert_eq!(
            got[1],
            ("dir/a b.txt".into(), Kind::File, b"hello".to_vec())
        );
        assert_eq!(got[2], (long, Kind::File, vec![7u8; 1000]));
        assert_eq!(got[3], ("empty".into(), Kind::File, vec![]));
    }

    #[test]
    fn symlinks_round_trip_with_short_and_long_targets() {
        let long_target = format!("../{}", "deep/".repeat(40));
        let long_name = format!("{}link", "n/".repeat(60));
        let perm = Perm {
            mode: 0o777,
            uid: 0,
            gid: 0,
        };
        let mut bytes = symlink_header("cfg", "../etc/app.conf", 7, perm);
        bytes.extend(symlink_header(&long_name, &long_target, 7, perm));
        bytes.extend(end_of_archive());
        let mut r = Reader::new(&bytes[..]);
        let a = r.next_entry().expect("a").expect("entry");
        assert_eq!(
            (a.path.as_str(), a.kind, a.link.as_deref()),
            ("cfg", Kind::Symlink, Some("../etc/app.conf"))
        );
        let b = r.next_entry().expect("b").expect("entry");
        assert_eq!(b.path, long_name);
        assert_eq!(b.link.as_deref(), Some(long_target.as_str()));
        assert!(r.next_entry().expect("end").is_none());
    }

    #[test]
    fn unread_data_is_skipped() {
        let bytes = archive(&[("a", Kind::File, &[1u8; 700]), ("b", Kind::File, b"x")]);
        let mut r = Reader::new(&bytes[..]);
        assert_eq!(r.next_entry().expect("a").map(|e| e.path), Some("a".into()));
        assert_eq!(r.next_entry().expect("b").map(|e| e.size), Some(1));
        let mut data = Vec::new();
        r.copy_data(&mut data).expect("data");
        assert_eq!(data, b"x");
        assert!(r.next_entry().expect("end").is_none());
    }

    #[test]
    fn huge_sizes_use_base_256() {
        let h = header(
            "big",
            Kind::File,
            10 << 30,
            0,
            Perm::default_for(Kind::File),
        );
        assert_eq!(h[124], 0x80);
        assert_eq!(number(&h[124..136]).ok(), Some(10 << 30));
        check_sum(&h[..BLOCK].try_into().expect("one block")).expect("checksum");
    }

    #[test]
    fn pax_records_override_the_header() {
        let path = "p/ünïcode name that is long";
        let record_body = format!(" path={path}\n");
        let len = record_body.len() + 2; // two digits of length
        let pax = format!("{len}{record_body}14 mtime=12.5\n");
        let mut bytes = Vec::new();
        let perm = Perm::default_for(Kind::File);
        bytes.extend(header(
            "PaxHeader",
            Kind::Other(b'x'),
            pax.len() as u64,
            0,
            perm,
        ));
        bytes.extend_from_slice(pax.as_bytes());
        bytes.resize(bytes.len() + padding(pax.len() as u64), 0);
        bytes.extend(header("short", Kind::File, 2, 99, perm));
        bytes.extend_from_slice(b"hi");
        bytes.resize(bytes.len() + padding(2), 0);
        bytes.extend_from_slice(&end_of_archive());
        let mut r = Reader::new(&bytes[..]);
        let e = r.next_entry().expect("entry").expect("some");
        assert_eq!((e.path.as_str(), e.mtime, e.size), (path, 12, 2));
    }

    #[test]
    fn modes_and_owners_round_trip() {
        let cases = [
            (Kind::File, 0o600, 1000, 1000),
            (Kind::Dir, 0o700, 0, 0),
            (Kind::File, 0o4755, 0, 50),
            (Kind::Dir, 0o1777, 65534, 65534),
            // Beyond 7 octal digits: GNU base-256.
            (Kind::File, 0o640, 3_000_000, u32::MAX - 1),
        ];
        for (kind, mode, uid, gid) in cases {
            let perm = Perm { mode, uid, gid };
            let mut bytes = header("e/", kind, 0, 5, perm);
            bytes.extend_from_slice(&end_of_archive());
            let block: &[u8; BLOCK] = bytes[..BLOCK].try_into().expect("one block");
            check_sum(block).expect("checksum");
            let e = Reader::new(&bytes[..])
                .next_entry()
                .expect("entry")
                .expect("some");
            assert_eq!(e.perm, perm, "{mode:o} {uid} {gid}");
        }
    }

    #[test]
    fn pax_owners_override_the_header() {
        let pax = "16 uid=70000000\n12 gid=4242\n";
        let mut bytes = Vec::new();
        let perm = Perm::default_for(Kind::File);
        bytes.extend(header(
            "PaxHeader",
            Kind::Other(b'x'),
            pax.len() as u64,
            0,
            perm,
        ));
        bytes.extend_from_slice(pax.as_bytes());
        bytes.resize(bytes.len() + padding(pax.len() as u64), 0);
        bytes.extend(header(
            "f",
            Kind::File,
            0,
            0,
            Perm {
                mode: 0o600,
                ..perm
            },
        ));
        bytes.extend_from_slice(&end_of_archive());
        let e = Reader::new(&bytes[..])
            .next_entry()
            .expect("entry")
            .expect("some");
        assert_eq!(
            e.perm,
            Perm {
                mode: 0o600,
                uid: 70_000_000,
                gid: 4242
            }
        );
    }

    #[test]
    fn garbage_is_rejected() {
        let mut r = Reader::new(&[b'x'; BLOCK][..]);
        assert!(r.next_entry().is_err());
    }
}
