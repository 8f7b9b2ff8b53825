//! The ordered hash of an Arrow C stream, batch by batch, in bounded memory.
//!
//! A reader thread pulls batches from the producer, imports and normalises them, and sends them
//! in groups of [`GROUP_ROWS`] rows or more (a large batch is a group). A group is also sent when
//! a batch arrives [`GROUP_WAIT`] or more after the group's first: a slow producer's batches go
//! one or two at a time, each held until the next one arrives (the read itself cannot time out)
//! or the stream ends. On the thread pool, group k+1 is validated while group k is
//! hashed; at most [`QUEUE`] groups wait in between. Memory is a few groups (those waiting, the
//! one validated, and those the hasher still has rows of: the open chunk spans at most
//! `MAX_ROWS` rows), whatever the stream's length.
//!
//! The GIL is released for the whole read: a producer written in C++ or Rust needs no GIL, and
//! pyarrow's C stream over Python code (`RecordBatchReader.from_batches` over a generator) takes
//! the GIL itself in `get_next` and on release. Holding the GIL while waiting for a batch would
//! deadlock on exactly that producer. The calling thread attaches briefly between groups to let
//! Ctrl-C (or any pending signal) stop a long hash.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{sync_channel, Receiver};

use arrow_array::ffi_stream::RecordBatchStreamReader;
use arrow_array::{RecordBatch, RecordBatchReader};
use lineage_core::table::{normalize_imported, validate_batch};
use lineage_core::{Error, OrderedHasher, TableHash};
use pyo3::prelude::*;
use rayon::prelude::*;

use crate::convert;
use crate::error::{exception, malformed_to_py, panic_to_py, to_py, ErrorKind};

/// Groups of batches read ahead of the hasher. More than one absorbs the moments when one side is
/// descheduled (the machine is shared, decoding has its own thread pool) at the cost of a few
/// groups of memory.
const QUEUE: usize = 3;
/// Rows of small batches sent to the hasher together: each hand-over between the threads costs a
/// few microseconds, which would dominate streams of small batches.
const GROUP_ROWS: usize = 64 * 1024;
/// Age of a group (since its first batch) past which the next batch to arrive closes it: the
/// hasher then keeps up with a slow producer, and checks for signals (Ctrl-C) after each group.
const GROUP_WAIT: std::time::Duration = std::time::Duration::from_millis(20);

/// Why a streamed hash stopped.
enum Failure {
    /// An expected error of the core (unsupported type, invalid data naming its column, ...).
    Core(Error),
    /// The producer reported an error (its message is kept).
    Producer(String),
    /// Importing foreign data panicked inside arrow-rs: the data is malformed.
    Malformed(Box<dyn Any + Send>),
    /// A bug: a panic while hashing.
    Panic(Box<dyn Any + Send>),
    /// A Python exception (a signal such as KeyboardInterrupt).
    Python(PyErr),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Core(e)
    }
}

impl Failure {
    fn into_py(self, py: Python<'_>) -> PyErr {
        match self {
            Failure::Core(e) => to_py(py, e),
            Failure::Producer(msg) => exception(py, ErrorKind::InvalidData, msg, &[]),
            Failure::Malformed(p) => malformed_to_py(py, p),
            Failure::Panic(p) => panic_to_py(py, p),
            Failure::Python(e) => e,
        }
    }
}

/// Hash the stream of `obj` (an `__arrow_c_stream__` exporter) in row order, streaming.
pub fn hash_ordered(
    py: Python<'_>,
    obj: &Bound<'_, PyAny>,
    threads: Option<usize>,
) -> PyResult<TableHash> {
    let reader = catch_unwind(AssertUnwindSafe(|| convert::stream_reader(obj)))
        .map_err(|p| malformed_to_py(py, p))??;
    let out = py.detach(move || {
        catch_unwind(AssertUnwindSafe(move || hash_reader(reader, threads)))
            .unwrap_or_else(|p| Err(Failure::Panic(p)))
    });
    out.map_err(|f| f.into_py(py))
}

/// Read on a scoped thread, hash on this one (inside a pool of `threads` workers when given).
fn hash_reader(
    reader: RecordBatchStreamReader,
    threads: Option<usize>,
) -> Result<TableHash, Failure> {
    let pool = match threads {
        None => None,
        Some(t) => Some(
            rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .map_err(|e| Error::InvalidArgument(format!("cannot start {t} threads: {e}")))?,
        ),
    };
    // The schema is checked (unsupported types, duplicate names) before any batch is read.
    let mut hasher = OrderedHasher::new(reader.schema())?;
    let (tx, rx) = sync_channel::<Result<Vec<RecordBatch>, Failure>>(QUEUE);
    std::thread::scope(|s| {
        s.spawn(move || {
            let mut reader = reader;
            let mut group: Vec<RecordBatch> = Vec::new();
            let mut rows = 0;
            let mut since = std::time::Instant::now();
            loop {
                let item = match catch_unwind(AssertUnwindSafe(|| reader.next())) {
                    Ok(None) => break,
                    // An empty batch adds nothing; skipped unvalidated, like `Table::new` does
                    // (arrow-rs would reject a valid empty utf8 array whose one offset is not 0).
                    Ok(Some(Ok(batch))) if batch.num_rows() == 0 => continue,
                    Ok(Some(Ok(batch))) => normalize(batch),
                    Ok(Some(Err(e))) => Err(Failure::Producer(convert::stream_failed(&e))),
                    Err(p) => Err(Failure::Malformed(p)),
                };
                let item = match item {
                    Ok(batch) => {
                        if group.is_empty() {
                            since = std::time::Instant::now();
                        }
                        rows += batch.num_rows();
                        group.push(batch);
                        if rows < GROUP_ROWS && since.elapsed() < GROUP_WAIT {
                            continue;
                        }
                        rows = 0;
                        Ok(std::mem::take(&mut group))
                    }
                    Err(f) => Err(f),
                };
                let failed = item.is_err();
                if tx.send(item).is_err() || failed {
                    break;
                }
            }
            if !group.is_empty() {
                let _ = tx.send(Ok(group));
            }
            // The stream is released here, on the reader thread, still without the GIL.
        });
        consume(rx, &mut hasher, pool.as_ref())
    })?;
    Ok(in_pool(pool.as_ref(), move || hasher.finish())?)
}

/// Run `f` on `pool` (rayon's global pool when `None`).
fn in_pool<R: Send>(pool: Option<&rayon::ThreadPool>, f: impl FnOnce() -> R + Send) -> R {
    match pool {
        Some(p) => p.install(f),
        None => f(),
    }
}

/// Hash every group of batches the reader sends; stop at the first failure or pending signal.
/// Dropping `rx` on return makes the reader thread stop at its next batch. Group k+1 is validated
/// while group k is hashed, both on the pool (a third busy thread would take cores from the
/// hashing tasks).
fn consume(
    rx: Receiver<Result<Vec<RecordBatch>, Failure>>,
    hasher: &mut OrderedHasher,
    pool: Option<&rayon::ThreadPool>,
) -> Result<(), Failure> {
    let push = |hasher: &mut OrderedHasher, group: Vec<RecordBatch>| -> Result<(), Failure> {
        group.iter().try_for_each(|b| hasher.push(b))?;
        Ok(())
    };
    let mut validated: Option<Vec<RecordBatch>> = None;
    for item in rx {
        let group = item?;
        let (checked, hashed) = in_pool(pool, || {
            rayon::join(
                || {
                    // Every batch at once; the first failure in stream order is reported.
                    let checked: Vec<Result<(), Failure>> =
                        group.par_iter().map(validate).collect();
                    checked.into_iter().collect::<Result<(), Failure>>()
                },
                || validated.take().map_or(Ok(()), |g| push(hasher, g)),
            )
        });
        hashed?;
        checked?;
        validated = Some(group);
        Python::attach(|py| py.check_signals()).map_err(Failure::Python)?;
    }
    if let Some(g) = validated {
        in_pool(pool, || push(hasher, g))?;
    }
    Ok(())
}

/// Import checks on one foreign batch: arrow-rs's quirks normalised. A panic here means the
/// foreign data is malformed.
fn normalize(batch: RecordBatch) -> Result<RecordBatch, Failure> {
    catch_unwind(AssertUnwindSafe(move || Ok(normalize_imported(batch)?)))
        .unwrap_or_else(|p| Err(Failure::Malformed(p)))
}

/// Every column of a batch fully validated, in parallel (the error names the column). A panic
/// here means the foreign data is malformed.
fn validate(batch: &RecordBatch) -> Result<(), Failure> {
    catch_unwind(AssertUnwindSafe(|| Ok(validate_batch(batch)?)))
        .unwrap_or_else(|p| Err(Failure::Malformed(p)))
}
