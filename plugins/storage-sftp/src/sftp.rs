//! The client side of the SFTP protocol, version 3 (the version OpenSSH
//! speaks, draft-ietf-secsh-filexfer-02), over any byte pipe: here the
//! stdin/stdout of an `ssh -s … sftp` the host spawns. Requests are sent
//! one at a time; data moves in packets of at most [`MAX_DATA`] bytes, so
//! memory stays bounded whatever the file size.

use std::io::{self, Read, Write};

/// Largest data payload per READ/WRITE; OpenSSH accepts messages up to
/// 256 KiB.
pub const MAX_DATA: usize = 255 * 1024;
/// Largest reply accepted (a READ reply plus headroom, or a long NAME).
const MAX_PACKET: usize = 1024 * 1024;

const INIT: u8 = 1;
const VERSION: u8 = 2;
const OPEN: u8 = 3;
const CLOSE: u8 = 4;
const READ: u8 = 5;
const WRITE: u8 = 6;
const OPENDIR: u8 = 11;
const READDIR: u8 = 12;
const REMOVE: u8 = 13;
const MKDIR: u8 = 14;
const RMDIR: u8 = 15;
const STAT: u8 = 17;
const RENAME: u8 = 18;
const STATUS: u8 = 101;
const HANDLE: u8 = 102;
const DATA: u8 = 103;
const NAME: u8 = 104;
const ATTRS: u8 = 105;
const EXTENDED: u8 = 200;
const EXTENDED_REPLY: u8 = 201;

pub const OPEN_READ: u32 = 0x01;
pub const OPEN_WRITE: u32 = 0x02;
pub const OPEN_CREATE: u32 = 0x08;
pub const OPEN_TRUNCATE: u32 = 0x10;

const ATTR_SIZE: u32 = 0x01;
const ATTR_UIDGID: u32 = 0x02;
const ATTR_PERMISSIONS: u32 = 0x04;
const ATTR_ACMODTIME: u32 = 0x08;
const ATTR_EXTENDED: u32 = 0x8000_0000;

const S_IFMT: u32 = 0o170000;
const S_IFDIR: u32 = 0o040000;

/// Why a request failed.
#[derive(Debug)]
pub enum Error {
    /// The server answered with a status other than OK.
    Status { code: u32, message: String },
    /// The pipe broke or the server sent something unexpected.
    Protocol(String),
}

impl Error {
    pub const NO_SUCH_FILE: u32 = 2;
    /// The generic failure (a full disk, among others, in SFTP v3).
    pub const FAILURE: u32 = 4;
    pub const PERMISSION_DENIED: u32 = 3;
    pub const OP_UNSUPPORTED: u32 = 8;

    pub fn is_missing(&self) -> bool {
        matches!(self, Error::Status { code, .. } if *code == Self::NO_SUCH_FILE)
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Protocol(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// What `stat` and directory listings tell about a file.
#[derive(Debug, Clone, Default)]
pub struct Attrs {
    pub size: Option<u64>,
    pub permissions: Option<u32>,
    pub mtime: Option<u32>,
}

impl Attrs {
    pub fn is_dir(&self) -> bool {
        self.permissions.is_some_and(|p| p & S_IFMT == S_IFDIR)
    }
}

/// Free space as `statvfs@openssh.com` reports it.
pub struct Space {
    pub available_bytes: u64,
    pub total_bytes: u64,
}

/// An open SFTP session over a reader and a writer.
pub struct Client<R: Read, W: Write> {
    reader: R,
    writer: W,
    next_id: u32,
    extensions: Vec<String>,
}

/// A packet under construction.
struct Packet(Vec<u8>);

impl Packet {
    fn new(kind: u8, id: Option<u32>) -> Self {
        let mut p = Packet(vec![0, 0, 0, 0, kind]);
        if let Some(id) = id {
            p.u32(id);
        }
        p
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.u32(v.len() as u32);
        self.0.extend_from_slice(v);
        self
    }
    fn str(&mut self, v: &str) -> &mut Self {
        self.bytes(v.as_bytes())
    }
    fn finish(mut self) -> Vec<u8> {
        let len = (self.0.len() - 4) as u32;
        self.0[..4].copy_from_slice(&len.to_be_bytes());
        self.0
    }
}

/// A reply being read.
struct Reply<'a> {
    data: &'a [u8],
}

impl<'a> Reply<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.data.len() < n {
            return Err(Error::Protocol("truncated reply".into()));
        }
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        Ok(head)
    }
    fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok((u64::from(self.u32()?) << 32) | u64::from(self.u32()?))
    }
    fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn string(&mut self) -> Result<String> {
        Ok(String::from_utf8_lossy(self.bytes()?).into_owned())
    }
    fn attrs(&mut self) -> Result<Attrs> {
        let flags = self.u32()?;
        let mut a = Attrs::default();
        if flags & ATTR_SIZE != 0 {
            a.size = Some(self.u64()?);
        }
        if flags & ATTR_UIDGID != 0 {
            self.take(8)?;
        }
        if flags & ATTR_PERMISSIONS != 0 {
            a.permissions = Some(self.u32()?);
        }
        if flags & ATTR_ACMODTIME != 0 {
            self.u32()?;
            a.mtime = Some(self.u32()?);
        }
        if flags & ATTR_EXTENDED != 0 {
            for _ in 0..self.u32()? {
                self.bytes()?;
                self.bytes()?;
            }
        }
        Ok(a)
    }
}

impl<R: Read, W: Write> Client<R, W> {
    /// Sends INIT and reads VERSION.
    pub fn start(reader: R, writer: W) -> Result<Self> {
        let mut client = Self {
            reader,
            writer,
            next_id: 1,
            extensions: Vec::new(),
        };
        let mut init = Packet::new(INIT, None);
        init.u32(3);
        client.send(init)?;
        let (kind, body) = client.receive()?;
        if kind != VERSION {
            return Err(Error::Protocol(format!(
                "expected VERSION, got packet type {kind}"
            )));
        }
        let mut reply = Reply { data: &body };
        let version = reply.u32()?;
        if version < 3 {
            return Err(Error::Protocol(format!(
                "server speaks SFTP version {version}"
            )));
        }
        while !reply.data.is_empty() {
            client.extensions.push(reply.string()?);
            reply.bytes()?;
        }
        Ok(client)
    }

    pub fn has_extension(&self, name: &str) -> bool {
        self.extensions.iter().any(|e| e == name)
    }

    fn send(&mut self, packet: Packet) -> Result<()> {
        self.writer.write_all(&packet.finish())?;
        self.writer.flush()?;
        Ok(())
    }

    fn receive(&mut self) -> Result<(u8, Vec<u8>)> {
        let mut head = [0u8; 5];
        self.reader.read_exact(&mut head).map_err(|e| {
            Error::Protocol(if e.kind() == io::ErrorKind::UnexpectedEof {
                "the connection closed".into()
            } else {
                e.to_string()
            })
        })?;
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        if len == 0 || len > MAX_PACKET {
            return Err(Error::Protocol(format!("reply of {len} bytes")));
        }
        let mut body = vec![0u8; len - 1];
        self.reader.read_exact(&mut body)?;
        Ok((head[4], body))
    }

    fn request(&mut self, kind: u8, fill: impl FnOnce(&mut Packet)) -> Result<(u8, Vec<u8>)> {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        let mut p = Packet::new(kind, Some(id));
        fill(&mut p);
        self.send(p)?;
        let (kind, body) = self.receive()?;
        let mut reply = Reply { data: &body };
        let got = reply.u32()?;
        if got != id {
            return Err(Error::Protocol(format!(
                "reply to request {got}, expected {id}"
            )));
        }
        Ok((kind, body[4..].to_vec()))
    }

    /// A STATUS reply as `Ok(code)` for OK/EOF, an error otherwise.
    fn status(kind: u8, body: &[u8]) -> Result<u32> {
        if kind != STATUS {
            return Err(Error::Protocol(format!(
                "expected STATUS, got packet type {kind}"
            )));
        }
        let mut reply = Reply { data: body };
        let code = reply.u32()?;
        let message = reply.string().unwrap_or_default();
        match code {
            0 | 1 => Ok(code),
            _ => Err(Error::Status { code, message }),
        }
    }

    fn expect_ok(&mut self, kind: u8, fill: impl FnOnce(&mut Packet)) -> Result<()> {
        let (k, body) = self.request(kind, fill)?;
        Self::status(k, &body).map(|_| ())
    }

    fn handle(&mut self, kind: u8, fill: impl FnOnce(&mut Packet)) -> Result<Vec<u8>> {
        let (k, body) = self.request(kind, fill)?;
        if k != HANDLE {
            Self::status(k, &body)?;
            return Err(Error::Protocol("expected HANDLE".into()));
        }
        Ok(Reply { data: &body }.bytes()?.to_vec())
    }

    pub fn stat(&mut self, path: &str) -> Result<Attrs> {
        let (k, body) = self.request(STAT, |p| {
            p.str(path);
        })?;
        if k != ATTRS {
            Self::status(k, &body)?;
            return Err(Error::Protocol("expected ATTRS".into()));
        }
        Reply { data: &body }.attrs()
    }

    pub fn open(&mut self, path: &str, flags: u32) -> Result<Vec<u8>> {
        self.handle(OPEN, |p| {
            p.str(path).u32(flags).u32(0);
        })
    }

    pub fn close(&mut self, handle: &[u8]) -> Result<()> {
        self.expect_ok(CLOSE, |p| {
            p.bytes(handle);
        })
    }

    /// Reads up to `len` bytes at `offset`; empty at the end of the file.
    pub fn read(&mut self, handle: &[u8], offset: u64, len: u32) -> Result<Vec<u8>> {
        let (k, body) = self.request(READ, |p| {
            p.bytes(handle).u64(offset).u32(len);
        })?;
        if k == DATA {
            return Ok(Reply { data: &body }.bytes()?.to_vec());
        }
        Self::status(k, &body)?;
        Ok(Vec::new())
    }

    pub fn write(&mut self, handle: &[u8], offset: u64, data: &[u8]) -> Result<()> {
        self.expect_ok(WRITE, |p| {
            p.bytes(handle).u64(offset).bytes(data);
        })
    }

    /// Names and attributes in a directory (without `.` and `..`).
    pub fn list(&mut self, path: &str) -> Result<Vec<(String, Attrs)>> {
        let handle = self.handle(OPENDIR, |p| {
            p.str(path);
        })?;
        let mut out = Vec::new();
        let outcome = loop {
            let (k, body) = match self.request(READDIR, |p| {
                p.bytes(&handle);
            }) {
                Ok(reply) => reply,
                Err(e) => break Err(e),
            };
            if k != NAME {
                match Self::status(k, &body) {
                    Ok(_) => break Ok(()),
                    Err(e) => break Err(e),
                }
            }
            let mut reply = Reply { data: &body };
            let parsed = (|| -> Result<()> {
                for _ in 0..reply.u32()? {
                    let name = reply.string()?;
                    reply.string()?;
                    let attrs = reply.attrs()?;
                    if name != "." && name != ".." {
                        out.push((name, attrs));
                    }
                }
                Ok(())
            })();
            if let Err(e) = parsed {
                break Err(e);
            }
        };
        let closed = self.close(&handle);
        outcome.and(closed).map(|_| out)
    }

    pub fn remove(&mut self, path: &str) -> Result<()> {
        self.expect_ok(REMOVE, |p| {
            p.str(path);
        })
    }

    pub fn mkdir(&mut self, path: &str) -> Result<()> {
        self.expect_ok(MKDIR, |p| {
            p.str(path).u32(0);
        })
    }

    pub fn rmdir(&mut self, path: &str) -> Result<()> {
        self.expect_ok(RMDIR, |p| {
            p.str(path);
        })
    }

    /// Renames, replacing `to` (`posix-rename@openssh.com`; plain RENAME,
    /// which refuses an existing target, after removing it otherwise).
    pub fn rename(&mut self, from: &str, to: &str) -> Result<()> {
        if self.has_extension("posix-rename@openssh.com") {
            return self.expect_ok(EXTENDED, |p| {
                p.str("posix-rename@openssh.com").str(from).str(to);
            });
        }
        match self.remove(to) {
            Ok(()) => {}
            Err(e) if e.is_missing() => {}
            Err(e) => return Err(e),
        }
        self.expect_ok(RENAME, |p| {
            p.str(from).str(to);
        })
    }

    /// Asks the server to flush a file to disk, where it can.
    pub fn fsync(&mut self, handle: &[u8]) -> Result<()> {
        if !self.has_extension("fsync@openssh.com") {
            return Ok(());
        }
        self.expect_ok(EXTENDED, |p| {
            p.str("fsync@openssh.com").bytes(handle);
        })
    }

    /// Free space of the file system holding `path`, where the server
    /// offers `statvfs@openssh.com`.
    pub fn space(&mut self, path: &str) -> Result<Option<Space>> {
        if !self.has_extension("statvfs@openssh.com") {
            return Ok(None);
        }
        let (k, body) = self.request(EXTENDED, |p| {
            p.str("statvfs@openssh.com").str(path);
        })?;
        if k != EXTENDED_REPLY {
            Self::status(k, &body)?;
            return Ok(None);
        }
        let mut r = Reply { data: &body };
        let _bsize = r.u64()?;
        let frsize = r.u64()?;
        let blocks = r.u64()?;
        let _bfree = r.u64()?;
        let bavail = r.u64()?;
        Ok(Some(Space {
            available_bytes: bavail.saturating_mul(frsize),
            total_bytes: blocks.saturating_mul(frsize),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_frame_and_parse() {
        let mut p = Packet::new(OPEN, Some(7));
        p.str("/a").u32(OPEN_READ).u32(0);
        let bytes = p.finish();
        assert_eq!(&bytes[..4], &((bytes.len() - 4) as u32).to_be_bytes());
        assert_eq!(bytes[4], OPEN);
        let mut r = Reply { data: &bytes[5..] };
        assert_eq!(r.u32().expect("id"), 7);
        assert_eq!(r.string().expect("path"), "/a");
        assert_eq!(r.u32().expect("flags"), OPEN_READ);
    }

    #[test]
    fn attributes_parse() {
        let mut p = Packet(Vec::new());
        p.u32(ATTR_SIZE | ATTR_PERMISSIONS | ATTR_ACMODTIME)
            .u64(42)
            .u32(0o040755)
            .u32(1)
            .u32(2);
        let a = Reply { data: &p.0 }.attrs().expect("attrs");
        assert_eq!(a.size, Some(42));
        assert!(a.is_dir());
        assert_eq!(a.mtime, Some(2));
    }

    #[test]
    fn statuses_become_errors() {
        let mut p = Packet(Vec::new());
        p.u32(2).str("No such file").str("");
        let e = Client::<&[u8], Vec<u8>>::status(STATUS, &p.0).expect_err("missing");
        assert!(e.is_missing());
        let mut p = Packet(Vec::new());
        p.u32(1).str("EOF").str("");
        assert_eq!(
            Client::<&[u8], Vec<u8>>::status(STATUS, &p.0).expect("eof"),
            1
        );
    }
}
