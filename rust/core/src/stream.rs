//! The ordered hash as a stream: batches go in, chunks come out as soon as their end is final.
//!
//! Rows are processed in windows. For each window the fingerprints are computed (in parallel
//! tasks), the chunker decides which chunks are complete, and those chunks are hashed (in
//! parallel) while their rows are still in cache; batches whose rows are all in finished chunks
//! are then released. The hasher holds (zero-copy) the input batches that still have rows to
//! hash, and allocates per window only its fingerprint lanes, whatever the input size.

use std::collections::VecDeque;
use std::ops::Range;

use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::SchemaRef;
use rayon::prelude::*;

use crate::chunking::Chunker;
use crate::error::{Error, Result};
use crate::fingerprint::{hash_values, is_candidate, DictionaryCache, LoLane, LO_INIT};
use crate::hashing::{Ctx, Digest};
use crate::schema::CanonicalSchema;
use crate::table::{assemble, continues_increasing, ChunkHash, RowOrder, TableHash};

/// Rows per fingerprint task: a task's lane stays in L2 while every column is folded into it.
pub(crate) const TASK_ROWS: usize = 16 * 1024;
/// Rows per window: large enough for parallel work, small enough that a window's data stays in L3
/// until its chunks are hashed.
pub(crate) const WINDOW_ROWS: usize = 256 * 1024;

/// Incremental ordered hasher (docs/hash-spec.md §7–§9). (The unordered identity, §10, is
/// computed column by column by [`crate::Table`], with the same chunk and segment digests.)
pub struct OrderedHasher {
    schema: SchemaRef,
    canon: CanonicalSchema,
    chunker: Chunker,
    /// Batches holding every row from `base` on that is not yet in a hashed chunk.
    held: VecDeque<RecordBatch>,
    /// Global index of the first row of `held[0]`.
    base: u64,
    ends: Vec<u64>,
    /// Rows covered by chunks already handed to `hash_ranges`.
    hashed_rows: u64,
    chunks: Vec<ChunkHash>,
    dictionaries: DictionaryCache,
    /// Per canonical column: `Some(last value so far)` while it is an integer column without
    /// nulls whose values strictly increase (`Some(None)` before its first row), else `None`.
    /// Recorded in [`TableHash::increasing`] (ordered hashes only).
    increasing: Vec<Option<Option<i128>>>,
    /// Rows pushed but not yet fingerprinted (slices of held batches): fewer than
    /// [`WINDOW_ROWS`] between calls, so small batches make whole windows together.
    waiting: Vec<RecordBatch>,
    waiting_rows: usize,
}

impl OrderedHasher {
    pub fn new(schema: SchemaRef) -> Result<Self> {
        let canon = CanonicalSchema::new(&schema)?;
        let increasing = canon
            .columns
            .iter()
            .map(|c| {
                schema
                    .field(c.input_index)
                    .data_type()
                    .is_integer()
                    .then_some(None)
            })
            .collect();
        Ok(OrderedHasher {
            schema,
            canon,
            chunker: Chunker::new(),
            held: VecDeque::new(),
            base: 0,
            ends: Vec::new(),
            hashed_rows: 0,
            chunks: Vec::new(),
            dictionaries: DictionaryCache::default(),
            increasing,
            waiting: Vec::new(),
            waiting_rows: 0,
        })
    }

    pub fn canonical_schema(&self) -> &CanonicalSchema {
        &self.canon
    }

    /// Feed the next batch (any size). Rows are fingerprinted in windows of `WINDOW_ROWS`:
    /// a large batch is cut into several, small batches wait until they fill one.
    pub fn push(&mut self, batch: &RecordBatch) -> Result<()> {
        check_schema(&self.schema, batch)?;
        if batch.num_rows() == 0 {
            return Ok(());
        }
        // The batch is held whole (its windows are zero-copy slices of it anyway), so a chunk
        // that spans windows of one batch is one slice of it, not a concatenation.
        self.held.push_back(batch.clone());
        let mut off = 0;
        while off < batch.num_rows() {
            let len = (WINDOW_ROWS - self.waiting_rows).min(batch.num_rows() - off);
            self.waiting.push(batch.slice(off, len));
            self.waiting_rows += len;
            off += len;
            if self.waiting_rows == WINDOW_ROWS {
                self.push_window()?;
            }
        }
        Ok(())
    }

    /// Fingerprint the waiting rows (a window: one or more batch slices) while the chunks
    /// decided by the previous windows are hashed: the two halves of the pipeline run side by
    /// side on the thread pool.
    fn push_window(&mut self) -> Result<()> {
        let window = std::mem::take(&mut self.waiting);
        let n = std::mem::take(&mut self.waiting_rows) as u64;
        let first = self.chunker.rows();
        let dicts = (window.iter())
            .map(|piece| self.dictionaries.prepare(piece, &self.canon.columns))
            .collect::<Result<Vec<_>>>()?;
        let pending = self.take_decided();
        let ((candidates, increasing), hashed) = rayon::join(
            || {
                rayon::join(
                    || self.window_candidates(&window, first, &dicts),
                    || self.window_increasing(&window),
                )
            },
            || self.hash_ranges(pending),
        );
        self.increasing = increasing;
        self.store(hashed?);
        self.chunker
            .push(candidates?.into_iter().flatten(), n, &mut self.ends);
        Ok(())
    }

    /// Candidate rows (global indices) of a window (consecutive batch slices, with their
    /// dictionaries' value hashes), from its fingerprints' `lo` lane.
    fn window_candidates(
        &self,
        window: &[RecordBatch],
        first: u64,
        dicts: &[crate::fingerprint::BatchDictionaries],
    ) -> Result<Vec<Vec<u64>>> {
        // Where each slice starts in the window, then the window's rows.
        let starts = crate::table::starts_of(window);
        let n = starts[window.len()];
        let tasks: Vec<Range<usize>> = (0..n)
            .step_by(TASK_ROWS)
            .map(|s| s..(s + TASK_ROWS).min(n))
            .collect();
        tasks
            .into_par_iter()
            .map(|r| {
                let mut lo = vec![[LO_INIT]; r.len()];
                // The slices this task's rows lie in, each folded column by column.
                let from = crate::table::locate_in(&starts, r.start).0;
                for ((piece, &start), dicts) in window.iter().zip(&starts).zip(dicts).skip(from) {
                    if start >= r.end {
                        break;
                    }
                    let (s, e) = (r.start.max(start), r.end.min(start + piece.num_rows()));
                    let lane = &mut lo[s - r.start..e - r.start];
                    for (c, d) in self.canon.columns.iter().zip(dicts) {
                        let arr = piece.column(c.input_index).slice(s - start, e - s);
                        let dict = d.as_deref().map(|v| v.as_slice());
                        hash_values(arr.as_ref(), &mut LoLane(lane), &c.name, dict)?;
                    }
                }
                Ok(lo
                    .iter()
                    .enumerate()
                    .filter(|(_, x)| is_candidate(x[0]))
                    .map(|(i, _)| first + (r.start + i) as u64)
                    .collect())
            })
            .collect()
    }

    /// [`OrderedHasher::increasing`] after `window` (consecutive batch slices).
    fn window_increasing(&self, window: &[RecordBatch]) -> Vec<Option<Option<i128>>> {
        self.canon
            .columns
            .iter()
            .zip(&self.increasing)
            .map(|(c, &state)| {
                let mut last = state?;
                for piece in window {
                    let a = piece.column(c.input_index);
                    last = with_int_type!(
                        a.data_type(),
                        continues_increasing(a.as_ref(), last),
                        None
                    )?;
                }
                Some(last)
            })
            .collect()
    }

    /// Row ranges of the chunks decided since the last call.
    fn take_decided(&mut self) -> Vec<Range<u64>> {
        let mut start = self.hashed_rows;
        let ranges = self
            .ends
            .drain(..)
            .map(|e| {
                let r = start..e;
                start = e;
                r
            })
            .collect();
        self.hashed_rows = start;
        ranges
    }

    /// Hash chunks (in parallel) from the held batches.
    fn hash_ranges(&self, ranges: Vec<Range<u64>>) -> Result<Vec<ChunkHash>> {
        ranges
            .into_par_iter()
            .map(|r| {
                let cols = self
                    .canon
                    .columns
                    .iter()
                    .map(|c| self.column_range(c.input_index, r.clone()))
                    .collect::<Result<Vec<_>>>()?;
                chunk_hash(&self.canon, r, &cols)
            })
            .collect()
    }

    /// Keep hashed chunks and release the batches that lie entirely before the unhashed rows.
    fn store(&mut self, hashed: Vec<ChunkHash>) {
        self.chunks.extend(hashed);
        let done = self.chunks.last().map_or(0, |c| c.start + c.num_rows);
        while let Some(b) = self.held.front() {
            if self.base + b.num_rows() as u64 <= done {
                self.base += b.num_rows() as u64;
                self.held.pop_front();
            } else {
                break;
            }
        }
    }

    /// Column `col` over global rows `r` of the held batches: zero-copy within one batch,
    /// concatenated across batches.
    fn column_range(&self, col: usize, r: Range<u64>) -> Result<ArrayRef> {
        let dt = match self.held.front() {
            Some(b) => b.schema_ref().field(col).data_type().clone(),
            None => self.schema.field(col).data_type().clone(),
        };
        column_rows(&self.held, self.base, col, r, &dt)
    }

    /// No more batches: close the last chunk and compute the root.
    pub fn finish(mut self) -> Result<TableHash> {
        if self.waiting_rows > 0 {
            self.push_window()?;
        }
        self.chunker.finish(&mut self.ends);
        let pending = self.take_decided();
        let hashed = self.hash_ranges(pending)?;
        self.store(hashed);
        let mut h = assemble(
            &self.canon,
            RowOrder::Ordered,
            self.chunker.rows(),
            self.chunks,
        );
        h.increasing = (self.canon.columns.iter().zip(&self.increasing))
            .filter(|(_, state)| state.is_some())
            .map(|(c, _)| c.name.clone())
            .collect();
        Ok(h)
    }
}

/// Column `col` over global rows `r` of consecutive `batches` whose first row is global row
/// `first`: a zero-copy slice when the rows lie in one batch, a concatenation otherwise.
pub(crate) fn column_rows<'a>(
    batches: impl IntoIterator<Item = &'a RecordBatch>,
    first: u64,
    col: usize,
    r: Range<u64>,
    data_type: &arrow_schema::DataType,
) -> Result<ArrayRef> {
    let mut parts: Vec<ArrayRef> = Vec::new();
    let mut b_start = first;
    for b in batches {
        let b_end = b_start + b.num_rows() as u64;
        if b_end > r.start && b_start < r.end {
            let s = r.start.max(b_start);
            let e = r.end.min(b_end);
            parts.push(
                b.column(col)
                    .slice((s - b_start) as usize, (e - s) as usize),
            );
        }
        if b_end >= r.end {
            break;
        }
        b_start = b_end;
    }
    match parts.len() {
        0 => Ok(arrow_array::new_empty_array(data_type)),
        1 => Ok(parts.pop().expect("one part")),
        _ => {
            let refs: Vec<&dyn Array> = parts.iter().map(|a| a.as_ref()).collect();
            crate::canon::concat_arrays(&refs)
        }
    }
}

/// Check that `batch` has the expected column names and types.
pub(crate) fn check_schema(schema: &SchemaRef, batch: &RecordBatch) -> Result<()> {
    let bs = batch.schema();
    let same = bs.fields().len() == schema.fields().len()
        && bs
            .fields()
            .iter()
            .zip(schema.fields())
            .all(|(a, e)| a.name() == e.name() && a.data_type() == e.data_type());
    if same {
        Ok(())
    } else {
        Err(Error::SchemaMismatch(format!(
            "a batch has schema {bs}, expected {schema}"
        )))
    }
}

/// Hash one chunk given its columns (canonical order, all of the chunk's length).
pub(crate) fn chunk_hash(
    canon: &CanonicalSchema,
    rows: Range<u64>,
    columns: &[ArrayRef],
) -> Result<ChunkHash> {
    // The row count comes from the range, not from a column: a table may have no columns.
    let (start, n) = (rows.start, rows.end - rows.start);
    debug_assert!(columns.iter().all(|a| a.len() as u64 == n));
    let segments = canon
        .columns
        .iter()
        .zip(columns)
        .map(|(c, arr)| crate::canon::segment_digest(arr.as_ref(), &c.name))
        .collect::<Result<Vec<_>>>()?;
    Ok(finish_chunk(canon, start, n, segments))
}

/// The chunk digest from its segment digests (docs/hash-spec.md §8).
pub(crate) fn finish_chunk(
    canon: &CanonicalSchema,
    start: u64,
    n: u64,
    segments: Vec<Digest>,
) -> ChunkHash {
    let mut h = Ctx::Chunk.hasher();
    h.update(&canon.digest);
    h.update(&n.to_le_bytes());
    for s in &segments {
        h.update(s);
    }
    ChunkHash {
        start,
        num_rows: n,
        digest: h.finalize().into(),
        segments,
    }
}
