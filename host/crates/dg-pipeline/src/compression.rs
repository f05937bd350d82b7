//! Compression codecs of artifacts. The host compresses (engines dump raw)
//! so every engine gets every codec and the checksum covers stored bytes.

use serde::{Deserialize, Serialize};
use std::io::{self, Read, Write};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    None,
    Gzip,
    #[default]
    Zstd,
    Lz4,
}

impl Compression {
    /// File extension appended to the artifact name, if any.
    pub fn extension(self) -> Option<&'static str> {
        match self {
            Compression::None => None,
            Compression::Gzip => Some("gz"),
            Compression::Zstd => Some("zst"),
            Compression::Lz4 => Some("lz4"),
        }
    }

    /// Level used when none is given. zstd 1 keeps pace with pg_dump on a
    /// 2-core machine where level 3 does not (docs/BENCHMARKS.md), and on
    /// dump data compresses about as well.
    pub fn default_level(self) -> Option<i32> {
        match self {
            Compression::None | Compression::Lz4 => None,
            Compression::Gzip => Some(6),
            Compression::Zstd => Some(1),
        }
    }

    /// Checks a requested level, naming the field on error.
    pub fn check_level(self, level: i32) -> Result<i32, String> {
        let range = match self {
            Compression::Gzip => 1..=9,
            Compression::Zstd => 1..=19,
            Compression::None | Compression::Lz4 => {
                return Err(format!("compression_level: {self} has no levels"))
            }
        };
        if range.contains(&level) {
            Ok(level)
        } else {
            Err(format!(
                "compression_level: {level} is outside {}..={} for {self}",
                range.start(),
                range.end()
            ))
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Lz4 => "lz4",
        }
    }
}

impl std::str::FromStr for Compression {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(Compression::None),
            "gzip" | "gz" => Ok(Compression::Gzip),
            "zstd" | "zst" => Ok(Compression::Zstd),
            "lz4" => Ok(Compression::Lz4),
            other => Err(format!(
                "compression `{other}`: expected none, gzip, zstd or lz4"
            )),
        }
    }
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A compressing writer; `finish` writes the trailer and returns the sink.
pub enum Encoder<W: Write> {
    None(W),
    Gzip(flate2::write::GzEncoder<W>),
    Zstd(zstd::Encoder<'static, W>),
    Lz4(lz4_flex::frame::FrameEncoder<W>),
}

impl<W: Write> Encoder<W> {
    /// `level` must have passed [`Compression::check_level`]; `None` uses
    /// the codec's default.
    pub fn new(kind: Compression, level: Option<i32>, sink: W) -> io::Result<Self> {
        let level = level.or(kind.default_level()).unwrap_or(0);
        Ok(match kind {
            Compression::None => Encoder::None(sink),
            Compression::Gzip => Encoder::Gzip(flate2::write::GzEncoder::new(
                sink,
                flate2::Compression::new(level.clamp(1, 9) as u32),
            )),
            Compression::Zstd => Encoder::Zstd(zstd::Encoder::new(sink, level)?),
            Compression::Lz4 => Encoder::Lz4(lz4_flex::frame::FrameEncoder::new(sink)),
        })
    }

    /// The sink, to inspect it after a failed write.
    pub fn sink_mut(&mut self) -> &mut W {
        match self {
            Encoder::None(w) => w,
            Encoder::Gzip(e) => e.get_mut(),
            Encoder::Zstd(e) => e.get_mut(),
            Encoder::Lz4(e) => e.get_mut(),
        }
    }

    pub fn finish(self) -> io::Result<W> {
        match self {
            Encoder::None(w) => Ok(w),
            Encoder::Gzip(e) => e.finish(),
            Encoder::Zstd(e) => e.finish(),
            Encoder::Lz4(e) => e.finish().map_err(io::Error::other),
        }
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::None(w) => w.write(buf),
            Encoder::Gzip(e) => e.write(buf),
            Encoder::Zstd(e) => e.write(buf),
            Encoder::Lz4(e) => e.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::None(w) => w.flush(),
            Encoder::Gzip(e) => e.flush(),
            Encoder::Zstd(e) => e.flush(),
            Encoder::Lz4(e) => e.flush(),
        }
    }
}

/// A decompressing reader for `kind`.
pub fn decoder<'a, R: Read + 'a>(kind: Compression, source: R) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match kind {
        Compression::None => Box::new(source),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(source)),
        Compression::Zstd => Box::new(zstd::Decoder::new(source)?),
        Compression::Lz4 => Box::new(lz4_flex::frame::FrameDecoder::new(source)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_codec_round_trips() {
        let data: Vec<u8> = (0..200_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        for kind in [
            Compression::None,
            Compression::Gzip,
            Compression::Zstd,
            Compression::Lz4,
        ] {
            let mut enc = Encoder::new(kind, None, Vec::new()).expect("encoder");
            enc.write_all(&data).expect("write");
            let packed = enc.finish().expect("finish");
            if kind != Compression::None {
                assert!(packed.len() < data.len(), "{kind} did not compress");
            }
            let mut out = Vec::new();
            decoder(kind, &packed[..])
                .expect("decoder")
                .read_to_end(&mut out)
                .expect("read");
            assert_eq!(out, data, "{kind}");
        }
    }

    #[test]
    fn levels_are_checked_per_codec() {
        assert_eq!(Compression::Zstd.check_level(19), Ok(19));
        assert!(Compression::Zstd.check_level(0).is_err());
        assert!(Compression::Gzip
            .check_level(10)
            .unwrap_err()
            .contains("1..=9"));
        assert!(Compression::Lz4
            .check_level(1)
            .unwrap_err()
            .contains("no levels"));
    }

    #[test]
    fn parses_names() {
        assert_eq!("zstd".parse::<Compression>(), Ok(Compression::Zstd));
        assert!("brotli"
            .parse::<Compression>()
            .unwrap_err()
            .contains("brotli"));
    }
}
