//! # lineage-core
//!
//! The pure-Rust core of lineage_fast: a canonical, layout-independent, chunked Merkle hash of Arrow
//! tables (hash scheme 1, specified in `docs/hash-spec.md`).
//!
//! The data flows through one module per step:
//!
//! | step | module |
//! |---|---|
//! | Arrow type → logical type, schema digest | [`schema`] |
//! | logical values → canonical bytes | [`canon`] |
//! | rows → 128-bit fingerprints | [`fingerprint`] |
//! | fingerprints → chunk boundaries | [`chunking`] |
//! | rows → canonical order of the unordered identity | [`unordered`] |
//! | chunk digests → Merkle root | [`merkle`] |
//! | two tables → row-level diff, two hashes → hunks | [`diff`] |
//! | aligned row runs → cells that differ (the keyed diff's fast path) | [`compare`] |
//! | streaming ordered hash (batches in, chunks out) | [`stream`] |
//! | partition summaries → hash of the whole table (workers + coordinator) | [`merge`](mod@merge) |
//! | orchestration over an in-memory table | [`table`] |
//!
//! ```
//! use std::sync::Arc;
//! use arrow_array::{Int64Array, RecordBatch};
//! use lineage_core::{Table, RowOrder};
//!
//! let batch = RecordBatch::try_from_iter([("x", Arc::new(Int64Array::from(vec![1, 2, 3])) as _)]).unwrap();
//! let table = Table::new(batch.schema(), vec![batch]).unwrap();
//! let h = table.hash(RowOrder::Ordered).unwrap();
//! assert_eq!(h.num_rows, 3);
//! ```

/// `$f::<T>($args..)` for the Arrow integer type `T` of data type `$dt` (the types an integer
/// key may have, and whose strict increase a hash records), or `$other` for any other data type.
macro_rules! with_int_type {
    ($dt:expr, $f:ident($($arg:expr),*), $other:expr) => {{
        use arrow_array::types::*;
        use arrow_schema::DataType as D;
        match $dt {
            D::Int8 => $f::<Int8Type>($($arg),*),
            D::Int16 => $f::<Int16Type>($($arg),*),
            D::Int32 => $f::<Int32Type>($($arg),*),
            D::Int64 => $f::<Int64Type>($($arg),*),
            D::UInt8 => $f::<UInt8Type>($($arg),*),
            D::UInt16 => $f::<UInt16Type>($($arg),*),
            D::UInt32 => $f::<UInt32Type>($($arg),*),
            D::UInt64 => $f::<UInt64Type>($($arg),*),
            _ => $other,
        }
    }};
}

pub mod canon;
pub mod chunking;
pub mod compare;
pub mod diff;
pub mod error;
pub mod fingerprint;
pub mod hashing;
pub mod merge;
pub mod merkle;
pub mod schema;
pub mod stream;
pub mod table;
pub mod unordered;

pub use error::{Error, Result};
pub use hashing::{bytes_digest, file_digest, to_hex, Digest};
pub use merge::{chunk_offsets, merge, merge_compact, PartitionSummary, TableRoot};
pub use stream::OrderedHasher;
pub use table::{ChunkHash, ColumnHash, RowOrder, Table, TableHash, SCHEME};
