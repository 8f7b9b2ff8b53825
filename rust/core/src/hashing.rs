//! The BLAKE3 domains of scheme 1. Every persistent digest is BLAKE3-256 in derive-key mode with its
//! own context string, so a digest of one role can never be presented as a digest of another.

use std::path::Path;
use std::sync::OnceLock;

use crate::{Error, Result};

/// A 256-bit BLAKE3 digest.
pub type Digest = [u8; 32];

/// The roles of scheme 1 (docs/hash-spec.md §2). The context strings are part of the format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ctx {
    Schema,
    Segment,
    Chunk,
    Column,
    Merkle,
    Root,
}

impl Ctx {
    /// The BLAKE3 derive-key context string of this role.
    pub const fn context(self) -> &'static str {
        match self {
            Ctx::Schema => "lineage_fast 2026-11 scheme 1 schema",
            Ctx::Segment => "lineage_fast 2026-11 scheme 1 segment",
            Ctx::Chunk => "lineage_fast 2026-11 scheme 1 chunk",
            Ctx::Column => "lineage_fast 2026-11 scheme 1 column",
            Ctx::Merkle => "lineage_fast 2026-11 scheme 1 merkle",
            Ctx::Root => "lineage_fast 2026-11 scheme 1 root",
        }
    }

    /// A fresh hasher for this role (clones a cached template: the context key is derived once).
    pub fn hasher(self) -> blake3::Hasher {
        static TEMPLATES: OnceLock<[blake3::Hasher; 6]> = OnceLock::new();
        let t = TEMPLATES.get_or_init(|| {
            [
                Ctx::Schema,
                Ctx::Segment,
                Ctx::Chunk,
                Ctx::Column,
                Ctx::Merkle,
                Ctx::Root,
            ]
            .map(|c| blake3::Hasher::new_derive_key(c.context()))
        });
        t[self as usize].clone()
    }
}

/// The plain BLAKE3-256 digest of a file's bytes (what `b3sum` prints), memory-mapped and hashed
/// on all threads of the current rayon pool. Used for the source files and artifacts of manifests
/// and runs: unlike table digests it identifies bytes, not logical content.
///
/// In a pool of one thread the file is read sequentially instead: one thread gains nothing from
/// the map, and the map would count the whole file in the process's resident memory (this is how
/// `hash_parquet` digests files beside reading them, in bounded memory).
pub fn file_digest(path: &Path) -> Result<Digest> {
    let mut h = blake3::Hasher::new();
    let read = if rayon::current_num_threads() == 1 {
        std::fs::File::open(path).and_then(|f| h.update_reader(f).map(|_| ()))
    } else {
        h.update_mmap_rayon(path).map(|_| ())
    };
    read.map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    Ok(*h.finalize().as_bytes())
}

/// The plain BLAKE3-256 digest of bytes in memory (what `b3sum` prints for a file holding them).
/// Used for stored JSON objects: a manifest's id is the digest of its canonical bytes.
pub fn bytes_digest(data: &[u8]) -> Digest {
    *blake3::hash(data).as_bytes()
}

/// Lowercase hex of a digest.
pub fn to_hex(d: &Digest) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(64);
    for b in d {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_digest_is_plain_blake3() {
        assert_eq!(
            to_hex(&bytes_digest(b"")),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        assert_eq!(bytes_digest(&data), *blake3::hash(&data).as_bytes());
    }

    #[test]
    fn file_digest_is_plain_blake3() {
        let dir = std::env::temp_dir().join(format!("lf-file-digest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("f.bin");
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&p, &data).unwrap();
        assert_eq!(file_digest(&p).unwrap(), *blake3::hash(&data).as_bytes());
        // One thread: read sequentially, same digest; a missing file is the same error.
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        assert_eq!(
            one.install(|| file_digest(&p)).unwrap(),
            *blake3::hash(&data).as_bytes()
        );
        let missing_one = one.install(|| file_digest(&dir.join("missing")));
        assert!(matches!(missing_one, Err(Error::Io { .. })));
        std::fs::write(&p, b"").unwrap();
        assert_eq!(file_digest(&p).unwrap(), *blake3::hash(b"").as_bytes());
        let missing = dir.join("missing");
        match file_digest(&missing) {
            Err(Error::Io { path, source }) => {
                assert!(path.ends_with("missing"));
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            other => panic!("expected an Io error, got {other:?}"),
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
