//! The one error type of the core. Every expected failure is a variant here; the binding crate maps
//! each variant to a Python exception class.

use arrow_schema::ArrowError;

/// Errors raised while validating or hashing Arrow data.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A column (or a nested field inside it) has a type that scheme 1 does not define.
    #[error("column {column:?}: type {data_type} is not supported by hash scheme 1 ({reason})")]
    UnsupportedType {
        column: String,
        data_type: String,
        reason: String,
    },
    /// Two columns share one name; the identity would be ambiguous.
    #[error("duplicate column name {0:?}: column names must be unique")]
    DuplicateColumn(String),
    /// Record batches of one input disagree on their schema.
    #[error("schema mismatch: {0}")]
    SchemaMismatch(String),
    /// The Arrow data itself is malformed (failed full validation).
    #[error("invalid Arrow data in column {column:?}: {message}")]
    InvalidData { column: String, message: String },
    /// A value is outside what scheme 1 can encode (for example a value of 4 GiB or more).
    #[error("column {column:?}: {message}")]
    ValueOutOfRange { column: String, message: String },
    /// An argument given by the caller is invalid.
    #[error("{0}")]
    InvalidArgument(String),
    /// Partition summaries that cannot be merged (not adjacent, different schema, ...).
    #[error("cannot merge partition summaries: {0}")]
    Merge(String),
    /// Bytes that are not a valid serialized partition summary (truncated, corrupted, another
    /// format version).
    #[error("invalid partition summary: {0}")]
    InvalidSummary(String),
    /// A column named by the caller (a diff key, a compared column) does not exist.
    #[error("{message}")]
    ColumnNotFound { column: String, message: String },
    /// A diff key occurs more than once on one side.
    #[error("duplicate key in the {side} table: {count} row(s) repeat a key of an earlier row (rows {rows:?})")]
    DuplicateKey {
        side: String,
        /// Example rows (at most 10) that repeat a key.
        rows: Vec<u64>,
        /// Number of rows that repeat a key.
        count: u64,
    },
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// An error reported by arrow-rs.
    #[error("arrow error: {0}")]
    Arrow(#[from] ArrowError),
}

/// Result alias used across the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;
