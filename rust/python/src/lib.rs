//! The `_core` extension module of lineage_fast: converts Python objects to Arrow (zero-copy through
//! the Arrow PyCapsule interface), releases the GIL around the core, and maps core errors to the
//! exception classes of `lineage_fast.exceptions`. Nothing else lives here.

mod convert;
mod error;
mod merge;
mod stream;

use std::panic::{catch_unwind, AssertUnwindSafe};

use arrow_array::{Array, FixedSizeBinaryArray};
use lineage_core::diff as core_diff;
use lineage_core::{chunking, RowOrder, Table, TableHash};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use rayon::prelude::*;

use crate::error::{exception, panic_to_py, to_py, ErrorKind};

/// Run `f` with the GIL released, on `threads` worker threads (rayon's global pool when `None`),
/// turning core errors and panics into Python exceptions.
fn run<T: Send>(
    py: Python<'_>,
    threads: Option<usize>,
    f: impl FnOnce() -> lineage_core::Result<T> + Send,
) -> PyResult<T> {
    run_with(py, threads, f, panic_to_py)
}

/// [`run`], with the mapping of a caught panic to a Python exception chosen by the caller.
fn run_with<T: Send>(
    py: Python<'_>,
    threads: Option<usize>,
    f: impl FnOnce() -> lineage_core::Result<T> + Send,
    on_panic: fn(Python<'_>, Box<dyn std::any::Any + Send>) -> PyErr,
) -> PyResult<T> {
    let out = py.detach(move || {
        catch_unwind(AssertUnwindSafe(move || match threads {
            None => f(),
            Some(t) => rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .map_err(|e| {
                    lineage_core::Error::InvalidArgument(format!("cannot start {t} threads: {e}"))
                })?
                .install(f),
        }))
    });
    match out {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(to_py(py, e)),
        Err(payload) => Err(on_panic(py, payload)),
    }
}

fn check_threads(py: Python<'_>, threads: Option<usize>) -> PyResult<()> {
    match threads {
        Some(0) => Err(exception(
            py,
            ErrorKind::InvalidArgument,
            "threads must be at least 1".into(),
            &[],
        )),
        _ => Ok(()),
    }
}

/// Import `data` and build a validated core [`Table`] (validation runs with the GIL released).
fn table_of(py: Python<'_>, data: &Bound<'_, PyAny>, threads: Option<usize>) -> PyResult<Table> {
    table_of_checked(py, data, threads, true)
}

/// [`table_of`]; `validate = false` skips the full validation, for data this process already
/// validated (an immutable pyarrow object hashed before, see `lineage_fast.hashing.cached_hash`).
fn table_of_checked(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    threads: Option<usize>,
    validate: bool,
) -> PyResult<Table> {
    // arrow-rs builds arrays from foreign C data before anything can validate them, and asserts
    // on some malformed layouts: such a panic means the producer's data is malformed.
    let imported = catch_unwind(AssertUnwindSafe(|| convert::import(data)))
        .map_err(|p| error::malformed_to_py(py, p))??;
    // A panic while validating foreign data also means the data is malformed.
    run_with(
        py,
        threads,
        move || {
            let batches = imported
                .batches
                .into_iter()
                .map(lineage_core::table::normalize_imported)
                .collect::<lineage_core::Result<Vec<_>>>()?;
            let table = Table::new(imported.schema, batches)?;
            if validate {
                table.validate()?;
            }
            Ok(table)
        },
        error::malformed_to_py,
    )
}

fn parse_row_order(py: Python<'_>, row_order: &str) -> PyResult<RowOrder> {
    match row_order {
        "ordered" => Ok(RowOrder::Ordered),
        "unordered" => Ok(RowOrder::Unordered),
        other => Err(exception(
            py,
            ErrorKind::InvalidArgument,
            format!("row_order must be 'ordered' or 'unordered', got {other:?}"),
            &[],
        )),
    }
}

/// The name of a row order, as `parse_row_order` reads it.
pub(crate) fn order_name(o: RowOrder) -> &'static str {
    match o {
        RowOrder::Ordered => "ordered",
        RowOrder::Unordered => "unordered",
    }
}

/// The parts of a hash shared by `TableHash` and `TableRoot` (scheme, row order, rows, schema
/// digest, root, columns) as a dict.
pub(crate) fn identity_dict<'py>(
    py: Python<'py>,
    scheme: u8,
    row_order: RowOrder,
    num_rows: u64,
    schema_digest: &[u8; 32],
    root: &[u8; 32],
    columns: &[lineage_core::ColumnHash],
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("scheme", scheme)?;
    d.set_item("row_order", order_name(row_order))?;
    d.set_item("num_rows", num_rows)?;
    d.set_item("schema_digest", PyBytes::new(py, schema_digest))?;
    d.set_item("root", PyBytes::new(py, root))?;
    let cols = PyList::empty(py);
    for c in columns {
        cols.append((
            c.name.as_str(),
            c.logical_type.as_str(),
            PyBytes::new(py, &c.digest),
        ))?;
    }
    d.set_item("columns", cols)?;
    Ok(d)
}

fn hash_to_dict<'py>(py: Python<'py>, h: &TableHash) -> PyResult<Bound<'py, PyDict>> {
    let d = identity_dict(
        py,
        h.scheme,
        h.row_order,
        h.num_rows,
        &h.schema_digest,
        &h.root,
        &h.columns,
    )?;
    // Chunk and segment digests (thousands of them) come as the strings Python shows, formatted
    // here rather than one by one in Python.
    let prefixed = |d: &lineage_core::Digest| format!("blake3:{}", lineage_core::to_hex(d));
    let chunks = PyList::empty(py);
    for c in &h.chunks {
        let segs: Vec<String> = c.segments.iter().map(prefixed).collect();
        chunks.append((c.start, c.num_rows, prefixed(&c.digest), segs))?;
    }
    d.set_item("chunks", chunks)?;
    d.set_item("increasing", &h.increasing)?;
    Ok(d)
}

/// Hash `data` (any Arrow PyCapsule exporter) under scheme 1; returns the raw parts as a dict.
#[pyfunction]
#[pyo3(signature = (data, *, row_order = "ordered", threads = None))]
fn hash_table<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    row_order: &str,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    check_threads(py, threads)?;
    let order = parse_row_order(py, row_order)?;
    // An ordered hash of a stream is computed batch by batch, in bounded memory.
    if order == RowOrder::Ordered && data.hasattr("__arrow_c_stream__")? {
        return hash_to_dict(py, &stream::hash_ordered(py, data, threads)?);
    }
    let table = table_of(py, data, threads)?;
    let h = run(py, threads, move || table.hash(order))?;
    hash_to_dict(py, &h)
}

/// The 128-bit fingerprint of every row, as a `pyarrow.FixedSizeBinaryArray` of 16-byte values
/// (`lo` then `hi`, little-endian), exported without a copy.
#[pyfunction]
#[pyo3(signature = (data, *, threads = None))]
fn row_fingerprints<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    check_threads(py, threads)?;
    let table = table_of(py, data, threads)?;
    let data = run(py, threads, move || {
        // `[lo, hi]` as 16 little-endian bytes is a fingerprint's memory on little-endian hosts,
        // which then export the fingerprints without a copy.
        let mut words = table.fingerprints()?.into_flattened();
        if cfg!(target_endian = "big") {
            words.par_iter_mut().for_each(|w| *w = w.to_le());
        }
        let values = arrow_buffer::Buffer::from_vec(words);
        Ok(FixedSizeBinaryArray::new(16, values, None).into_data())
    })?;
    convert::export_array(py, data)
}

/// `(digest, num_rows, [(column, segment digest)])` of one chunk, as returned to Python.
type RawChunk<'py> = (Bound<'py, PyBytes>, u64, Vec<(String, Bound<'py, PyBytes>)>);

/// Digest and segment digests of all rows of `data` hashed as one chunk (docs/hash-spec.md §8).
#[pyfunction]
#[pyo3(signature = (data, *, threads = None))]
fn chunk_digest<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    threads: Option<usize>,
) -> PyResult<RawChunk<'py>> {
    check_threads(py, threads)?;
    let table = table_of(py, data, threads)?;
    let names: Vec<String> = table
        .canonical_schema()
        .columns
        .iter()
        .map(|c| c.name.clone())
        .collect();
    let c = run(py, threads, move || table.single_chunk())?;
    let segs = names
        .into_iter()
        .zip(&c.segments)
        .map(|(n, s)| (n, PyBytes::new(py, s)))
        .collect();
    Ok((PyBytes::new(py, &c.digest), c.num_rows, segs))
}

/// `(schema digest, [(digest, start, num_rows)], increasing columns)` of an ordered hash, as
/// Python passes it.
type RawHash = (Vec<u8>, Vec<(Vec<u8>, u64, u64)>, Vec<String>);

/// A 32-byte digest passed from Python (`what` names it in the error).
fn digest32(py: Python<'_>, bytes: Vec<u8>, what: &str) -> PyResult<lineage_core::Digest> {
    let n = bytes.len();
    bytes.try_into().map_err(|_| {
        exception(
            py,
            ErrorKind::InvalidArgument,
            format!("{what} must be 32 bytes, got {n}"),
            &[],
        )
    })
}

fn known_hash(
    py: Python<'_>,
    (schema, raw, increasing): RawHash,
) -> PyResult<core_diff::KnownHash> {
    let chunks = raw
        .into_iter()
        .map(|(d, start, num_rows)| {
            Ok(core_diff::ChunkSpan {
                digest: digest32(py, d, "a chunk digest")?,
                start,
                num_rows,
            })
        })
        .collect::<PyResult<_>>()?;
    Ok(core_diff::KnownHash {
        schema_digest: digest32(py, schema, "a schema digest")?,
        chunks,
        increasing,
    })
}

fn u64_bytes<'py>(py: Python<'py>, v: &[u64]) -> PyResult<Bound<'py, PyBytes>> {
    PyBytes::new_with(py, v.len() * 8, |buf| {
        for (dst, x) in buf.chunks_exact_mut(8).zip(v) {
            dst.copy_from_slice(&x.to_le_bytes());
        }
        Ok(())
    })
}

/// Row-level diff of two tables (keyed when `key` is not empty, multiset otherwise).
#[pyfunction]
#[pyo3(signature = (old, new, *, key, columns = None, duplicate_keys = "error", hashes = None, validated = (false, false), threads = None))]
#[allow(clippy::too_many_arguments)]
fn diff<'py>(
    py: Python<'py>,
    old: &Bound<'py, PyAny>,
    new: &Bound<'py, PyAny>,
    key: Vec<String>,
    columns: Option<Vec<String>>,
    duplicate_keys: &str,
    hashes: Option<(RawHash, RawHash)>,
    validated: (bool, bool),
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    check_threads(py, threads)?;
    let duplicate_keys = match duplicate_keys {
        "error" => core_diff::DuplicateKeys::Error,
        "match" => core_diff::DuplicateKeys::Match,
        other => {
            return Err(exception(
                py,
                ErrorKind::InvalidArgument,
                format!("duplicate_keys must be 'error' or 'match', got {other:?}"),
                &[],
            ))
        }
    };
    let hashes = match hashes {
        Some((o, n)) => Some((known_hash(py, o)?, known_hash(py, n)?)),
        None => None,
    };
    let opts = core_diff::DiffOptions {
        key,
        columns,
        duplicate_keys,
        hashes,
        validate: (!validated.0, !validated.1),
    };
    // The core validates what it reads (with pruning, not the rows of shared chunks).
    let old = table_of_checked(py, old, threads, false)?;
    let new = table_of_checked(py, new, threads, false)?;
    let (d, parts) = run(py, threads, move || {
        let d = core_diff::diff_tables(&old, &new, &opts)?;
        // The rows themselves, gathered here (pyarrow's take lacks kernels for view types and
        // unifies differing dictionaries, which fails for nested values).
        fn names(v: &[String]) -> Vec<&str> {
            v.iter().map(String::as_str).collect()
        }
        let (co, cn): (Vec<u64>, Vec<u64>) = d.changed.iter().copied().unzip();
        let key_and_compared: Vec<String> = d.key.iter().chain(&d.compared).cloned().collect();
        // Four gathers of scattered rows, waiting on memory more than computing: side by side.
        let ((added, removed), (changed_old, changed_new)) = rayon::join(
            || rayon::join(|| new.take_batch(&d.added), || old.take_batch(&d.removed)),
            || {
                rayon::join(
                    || old.project(&names(&d.compared))?.take_batch(&co),
                    || new.project(&names(&key_and_compared))?.take_batch(&cn),
                )
            },
        );
        let parts = [added?, removed?, changed_old?, changed_new?];
        Ok((d, parts))
    })?;
    let [added, removed, changed_old, changed_new] = parts;
    let out = PyDict::new(py);
    out.set_item("added_table", convert::export_batch(py, added)?)?;
    out.set_item("removed_table", convert::export_batch(py, removed)?)?;
    out.set_item("changed_old_table", convert::export_batch(py, changed_old)?)?;
    out.set_item("changed_new_table", convert::export_batch(py, changed_new)?)?;
    let s = &d.schema;
    out.set_item("added_columns", s.added.clone())?;
    out.set_item("removed_columns", s.removed.clone())?;
    out.set_item("type_changed", s.type_changed.clone())?;
    out.set_item("common_columns", s.common.clone())?;
    out.set_item("key", d.key.clone())?;
    out.set_item("compared", d.compared.clone())?;
    out.set_item("added", u64_bytes(py, &d.added)?)?;
    out.set_item("removed", u64_bytes(py, &d.removed)?)?;
    let (co, cn): (Vec<u64>, Vec<u64>) = d.changed.iter().copied().unzip();
    out.set_item("changed_old", u64_bytes(py, &co)?)?;
    out.set_item("changed_new", u64_bytes(py, &cn)?)?;
    // The changed columns of each changed row as an Arrow list: offsets and column indices.
    let k = d.compared.len().max(1);
    let mut offsets = Vec::with_capacity(d.changed.len() + 1);
    let mut values = Vec::new();
    offsets.push(0i64);
    for row in d.changed_flags.chunks(k) {
        values.extend(
            row.iter()
                .enumerate()
                .filter(|(_, f)| **f)
                .map(|(c, _)| c as i32),
        );
        offsets.push(values.len() as i64);
    }
    let offsets: Vec<u8> = offsets.iter().flat_map(|x| x.to_le_bytes()).collect();
    let values: Vec<u8> = values.iter().flat_map(|x| x.to_le_bytes()).collect();
    out.set_item("changed_offsets", PyBytes::new(py, &offsets))?;
    out.set_item("changed_columns", PyBytes::new(py, &values))?;
    out.set_item("column_changes", d.column_changes.clone())?;
    out.set_item("unchanged", d.unchanged)?;
    out.set_item("pruned_rows", d.pruned_rows)?;
    Ok(out)
}

/// `(digest, start, num_rows, segment digests of the common columns)` of one chunk.
type RawSegments = Vec<(Vec<u8>, u64, u64, Vec<Vec<u8>>)>;

/// `(old_start, old_stop, new_start, new_stop, column indices)` of one hunk.
type RawHunk = (u64, u64, u64, u64, Vec<usize>);

/// Hunks where two ordered hashes differ: `(old_start, old_stop, new_start, new_stop, columns)`.
#[pyfunction]
fn diff_chunks(
    py: Python<'_>,
    old: RawSegments,
    new: RawSegments,
    ncols: usize,
) -> PyResult<Vec<RawHunk>> {
    let convert = |raw: RawSegments| -> PyResult<Vec<core_diff::ChunkSegments>> {
        raw.into_iter()
            .map(|(d, start, num_rows, segs)| {
                if segs.len() != ncols {
                    return Err(exception(
                        py,
                        ErrorKind::InvalidArgument,
                        format!(
                            "a chunk has {} segment digests, expected {ncols}",
                            segs.len()
                        ),
                        &[],
                    ));
                }
                Ok(core_diff::ChunkSegments {
                    span: core_diff::ChunkSpan {
                        digest: digest32(py, d, "a chunk digest")?,
                        start,
                        num_rows,
                    },
                    segments: segs
                        .into_iter()
                        .map(|s| digest32(py, s, "a segment digest"))
                        .collect::<PyResult<_>>()?,
                })
            })
            .collect()
    };
    let (old, new) = (convert(old)?, convert(new)?);
    let hunks = core_diff::diff_chunks(&old, &new, ncols);
    Ok(hunks
        .into_iter()
        .map(|h| (h.old.start, h.old.end, h.new.start, h.new.end, h.columns))
        .collect())
}

/// Plain BLAKE3-256 of a file's bytes (memory-mapped, multi-threaded, GIL released).
#[pyfunction]
#[pyo3(signature = (path, *, threads = None))]
fn file_digest<'py>(
    py: Python<'py>,
    path: std::path::PathBuf,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyBytes>> {
    check_threads(py, threads)?;
    let d = run(py, threads, move || lineage_core::file_digest(&path))?;
    Ok(PyBytes::new(py, &d))
}

/// The plain BLAKE3-256 digest of bytes (stored JSON objects are named by it). Small inputs are
/// hashed with the GIL held: releasing it would cost more than the hash; large ones without it.
#[pyfunction]
fn bytes_digest<'py>(py: Python<'py>, data: &[u8]) -> Bound<'py, PyBytes> {
    let d = if data.len() < (1 << 20) {
        lineage_core::bytes_digest(data)
    } else {
        py.detach(|| lineage_core::bytes_digest(data))
    };
    PyBytes::new(py, &d)
}

/// The constants of hash scheme 1 (documented in docs/hash-spec.md).
#[pyfunction]
fn scheme_constants(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("scheme", lineage_core::SCHEME)?;
    d.set_item("candidate_bits", chunking::CANDIDATE_BITS)?;
    d.set_item("min_rows", chunking::MIN_ROWS)?;
    d.set_item("max_rows", chunking::MAX_ROWS)?;
    Ok(d)
}

#[pymodule(gil_used = false)]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(hash_table, m)?)?;
    m.add_function(wrap_pyfunction!(row_fingerprints, m)?)?;
    m.add_function(wrap_pyfunction!(chunk_digest, m)?)?;
    m.add_function(wrap_pyfunction!(file_digest, m)?)?;
    m.add_function(wrap_pyfunction!(diff, m)?)?;
    m.add_function(wrap_pyfunction!(diff_chunks, m)?)?;
    m.add_function(wrap_pyfunction!(bytes_digest, m)?)?;
    m.add_function(wrap_pyfunction!(scheme_constants, m)?)?;
    m.add_class::<merge::PySummary>()?;
    m.add_function(wrap_pyfunction!(merge::partition_summary, m)?)?;
    m.add_function(wrap_pyfunction!(merge::merge_summaries, m)?)?;
    m.add_function(wrap_pyfunction!(merge::chunk_offsets, m)?)?;
    m.add_function(wrap_pyfunction!(merge::merge_compact, m)?)?;
    Ok(())
}
