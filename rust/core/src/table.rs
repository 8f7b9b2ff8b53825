//! Orchestration of steps 2–5 over a whole table: fingerprints → chunks → chunk and column digests
//! → Merkle root. Work is split by logical row ranges, never by input batches, so the result is the
//! same for every batching and every thread count.

use std::ops::Range;

use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_buffer::{BooleanBuffer, Buffer};
use arrow_schema::SchemaRef;
use rayon::prelude::*;

use crate::canon::encode_cell;
use crate::error::{Error, Result};
use crate::fingerprint::{
    hash_values, BatchDictionaries, BothLanes, DictionaryCache, LoLane, HI_INIT, LO_INIT,
};
use crate::hashing::{Ctx, Digest};
use crate::merkle;
use crate::schema::CanonicalSchema;
use crate::stream::finish_chunk;
use crate::stream::OrderedHasher;
use crate::unordered::{radix_sort, GroupPlan, Kernel, Layout, BUCKET, PLACE_BYTES_PER_ROW};

/// The scheme number this crate implements.
pub const SCHEME: u8 = 1;

/// Row order semantics of a hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowOrder {
    /// Row order is part of the identity.
    Ordered,
    /// Multiset identity: equal for every permutation of the rows (duplicates count).
    Unordered,
}

impl RowOrder {
    pub(crate) fn code(self) -> u8 {
        match self {
            RowOrder::Ordered => 0,
            RowOrder::Unordered => 1,
        }
    }
}

/// One chunk: a range of rows (in the hashed order) and its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkHash {
    pub start: u64,
    pub num_rows: u64,
    pub digest: Digest,
    /// Segment digest of each column over this chunk, in canonical column order.
    pub segments: Vec<Digest>,
}

/// One column of a [`TableHash`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnHash {
    pub name: String,
    /// The logical type (see `Logical::display`).
    pub logical_type: String,
    pub digest: Digest,
}

/// The identity of a table under scheme 1.
#[derive(Debug, Clone)]
pub struct TableHash {
    pub scheme: u8,
    pub row_order: RowOrder,
    pub num_rows: u64,
    pub schema_digest: Digest,
    pub root: Digest,
    /// Columns in canonical (bytewise name) order.
    pub columns: Vec<ColumnHash>,
    pub chunks: Vec<ChunkHash>,
    /// Integer columns (canonical order) without nulls whose values strictly increase down the
    /// table, noted by the ordered hash as it reads them (empty for other hashes). A fact about
    /// the data, not part of its identity (equality ignores it): a keyed diff given this hash
    /// knows such a key never repeats without scanning it.
    pub increasing: Vec<String>,
}

/// How [`Table::canonical_order`] orders rows whose `lo` lanes tie.
#[derive(Clone, Copy)]
enum Ties<'a> {
    /// In any order: the caller checks that tied rows are equal.
    Unchecked,
    /// By row encoding, only the runs that hold these sorted positions (ascending), known to
    /// differ; the other tied rows are known to be equal.
    SortAt(&'a [u32]),
}

/// The canonical order as [`Table::sorted_positions`] gives it.
struct SortedPositions {
    /// Every row's sorted position.
    pos: Vec<u32>,
    /// Chunk ends.
    ends: Vec<u64>,
    /// Bit `p` is set when the rows at sorted positions `p - 1` and `p` tie on `lo` and are not
    /// yet known to be equal (`None`: no such pair).
    tied: Option<BooleanBuffer>,
    /// Positions `p` of tied pairs `p - 1`, `p` already found to differ.
    differ: Vec<u32>,
}

/// The result of one pass of [`Table::unordered_hash`].
enum Pass {
    Hashed(TableHash),
    /// The sorted positions `p` (ascending) whose rows tie with the row at `p - 1` but differ
    /// from it.
    Differ(Vec<u32>),
}

/// Equality of identities: every field but [`TableHash::increasing`].
impl PartialEq for TableHash {
    fn eq(&self, other: &Self) -> bool {
        self.scheme == other.scheme
            && self.row_order == other.row_order
            && self.num_rows == other.num_rows
            && self.schema_digest == other.schema_digest
            && self.root == other.root
            && self.columns == other.columns
            && self.chunks == other.chunks
    }
}

impl Eq for TableHash {}

/// A table as a sequence of record batches sharing one schema, addressed by global row index.
pub struct Table {
    schema: SchemaRef,
    canon: CanonicalSchema,
    batches: Vec<RecordBatch>,
    /// `starts[b]` is the global index of the first row of batch `b`; `starts[len]` = num_rows.
    starts: Vec<usize>,
}

impl Table {
    /// Build a table; checks that every batch has `schema` and that the schema is supported.
    pub fn new(schema: SchemaRef, batches: Vec<RecordBatch>) -> Result<Self> {
        let canon = CanonicalSchema::new(&schema)?;
        for (i, b) in batches.iter().enumerate() {
            crate::stream::check_schema(&schema, b)
                .map_err(|e| Error::SchemaMismatch(format!("batch {i}: {e}")))?;
        }
        let batches_kept = batches
            .into_iter()
            .filter(|b| b.num_rows() > 0)
            .collect::<Vec<_>>();
        let starts = starts_of(&batches_kept);
        Ok(Table {
            schema,
            canon,
            batches: batches_kept,
            starts,
        })
    }

    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    pub fn canonical_schema(&self) -> &CanonicalSchema {
        &self.canon
    }

    pub fn batches(&self) -> &[RecordBatch] {
        &self.batches
    }

    pub fn num_rows(&self) -> usize {
        *self.starts.last().unwrap_or(&0)
    }

    /// The same rows with only the columns named `names` (input names), zero-copy.
    pub fn project(&self, names: &[&str]) -> Result<Table> {
        let idx = names
            .iter()
            .map(|n| {
                self.schema
                    .index_of(n)
                    .map_err(|_| Error::InvalidArgument(format!("no column {n:?}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let schema = std::sync::Arc::new(self.schema.project(&idx)?);
        let batches = self
            .batches
            .iter()
            .map(|b| b.project(&idx))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Table::new(schema, batches)
    }

    /// The rows of `ranges` (ascending, disjoint global row ranges), in order, zero-copy.
    pub fn select(&self, ranges: &[Range<usize>]) -> Result<Table> {
        let mut batches = Vec::new();
        for r in ranges {
            if r.end > self.num_rows() || r.start > r.end {
                return Err(Error::InvalidArgument(format!(
                    "row range {}..{} outside a table of {} rows",
                    r.start,
                    r.end,
                    self.num_rows()
                )));
            }
            let mut s = r.start;
            while s < r.end {
                let (b, off) = self.locate(s);
                let n = (self.starts[b + 1] - s).min(r.end - s);
                batches.push(self.batches[b].slice(off, n));
                s += n;
            }
        }
        Table::new(self.schema.clone(), batches)
    }

    /// The rows `rows` (global row numbers, any order) as a table of one batch.
    pub fn take(&self, rows: &[u64]) -> Result<Table> {
        let batch = self.take_batch(rows)?;
        Table::new(batch.schema(), vec![batch])
    }

    /// The rows `rows` (global row numbers, any order), gathered into one batch (a dictionary
    /// column is decoded when its batches do not share one dictionary).
    pub fn take_batch(&self, rows: &[u64]) -> Result<RecordBatch> {
        if rows.is_empty() {
            let columns = self
                .schema
                .fields()
                .iter()
                .map(|f| arrow_array::new_empty_array(f.data_type()))
                .collect();
            let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(0));
            return Ok(RecordBatch::try_new_with_options(
                self.schema.clone(),
                columns,
                &options,
            )?);
        }
        if let Some(&r) = rows.iter().find(|&&r| r as usize >= self.num_rows()) {
            return Err(Error::InvalidArgument(format!(
                "row {r} outside a table of {} rows",
                self.num_rows()
            )));
        }
        let at: Vec<(usize, usize)> = rows.iter().map(|&r| self.locate(r as usize)).collect();
        let columns = (0..self.schema.fields().len())
            .into_par_iter()
            .map(|c| {
                let parts: Vec<&dyn Array> =
                    self.batches.iter().map(|b| b.column(c).as_ref()).collect();
                crate::canon::interleave_arrays(&parts, &at)
            })
            .collect::<Result<Vec<_>>>()?;
        batch_of(&self.schema, columns, rows.len())
    }

    /// Column `col` (input index) of global row `row`: (array, index within it).
    pub fn cell(&self, col: usize, row: usize) -> (&ArrayRef, usize) {
        let (b, off) = self.locate(row);
        (self.batches[b].column(col), off)
    }

    /// Fully validate every array (offsets, UTF-8, dictionary keys, buffer sizes). Data imported
    /// from foreign producers must pass this before it is hashed.
    pub fn validate(&self) -> Result<()> {
        self.batches.par_iter().try_for_each(validate_batch)
    }

    /// Locate global row `row`: (batch index, row within batch).
    fn locate(&self, row: usize) -> (usize, usize) {
        locate_in(&self.starts, row)
    }

    /// The first global row of each batch, then the row count (batches are never empty).
    pub(crate) fn batch_starts(&self) -> &[usize] {
        &self.starts
    }

    /// Column `col` (input index) over a global row range: a zero-copy slice when the range lies
    /// in one batch, a concatenation otherwise.
    pub fn column_range(&self, col: usize, range: Range<usize>) -> Result<ArrayRef> {
        let r = range.start as u64..range.end as u64;
        let dt = self.schema.field(col).data_type();
        crate::stream::column_rows(&self.batches, 0, col, r, dt)
    }

    /// Fold every column, in canonical order, into per-row lanes over one task's row range.
    fn fold_rows<S: crate::fingerprint::ValueSink>(
        &self,
        range: Range<usize>,
        dicts: &[BatchDictionaries],
        sink: &mut S,
    ) -> Result<()> {
        let (b, off) = self.locate(range.start);
        let batch = &self.batches[b];
        for (c, d) in self.canon.columns.iter().zip(&dicts[b]) {
            let arr = batch.column(c.input_index).slice(off, range.len());
            hash_values(
                arr.as_ref(),
                sink,
                &c.name,
                d.as_deref().map(|v| v.as_slice()),
            )?;
        }
        Ok(())
    }

    /// Row tasks: ranges of at most [`crate::stream::TASK_ROWS`] rows that never cross a batch.
    fn row_tasks(&self) -> Vec<Range<usize>> {
        let mut tasks = Vec::new();
        for w in self.starts.windows(2) {
            let mut s = w[0];
            while s < w[1] {
                let e = (s + crate::stream::TASK_ROWS).min(w[1]);
                tasks.push(s..e);
                s = e;
            }
        }
        tasks
    }

    /// The full 128-bit fingerprint `[lo, hi]` of every row.
    pub fn fingerprints(&self) -> Result<Vec<[u64; 2]>> {
        let mut fp = filled(self.num_rows(), [LO_INIT, HI_INIT]);
        self.fold_all(&mut fp, false)?;
        Ok(fp)
    }

    /// The `lo` lane of every row's fingerprint (what chunk boundaries read, docs/hash-spec.md §7).
    pub fn lo_lanes(&self) -> Result<Vec<u64>> {
        let mut lo = filled(self.num_rows(), [LO_INIT]);
        self.fold_all(&mut lo, true)?;
        Ok(lo.into_iter().map(|[x]| x).collect())
    }

    /// Fold every row into `out` (one entry per row, lanes pre-initialised) in parallel tasks.
    /// With `lo_only`, only the first word (`lo`) is computed.
    fn fold_all<const W: usize>(&self, out: &mut [[u64; W]], lo_only: bool) -> Result<()> {
        let mut cache = DictionaryCache::default();
        let dicts = self
            .batches
            .iter()
            .map(|b| cache.prepare(b, &self.canon.columns))
            .collect::<Result<Vec<_>>>()?;
        let tasks = self.row_tasks();
        let mut slices = Vec::with_capacity(tasks.len());
        let mut rest: &mut [[u64; W]] = out;
        for t in &tasks {
            let (head, tail) = rest.split_at_mut(t.len());
            slices.push(head);
            rest = tail;
        }
        tasks
            .into_par_iter()
            .zip(slices)
            .try_for_each(|(t, s)| match lo_only {
                true => self.fold_rows(t, &dicts, &mut LoLane(s)),
                false => self.fold_rows(t, &dicts, &mut BothLanes(s)),
            })
    }

    /// The row encoding (cell encodings of every column in canonical order) of global row `row`.
    pub fn encode_row(&self, row: usize, out: &mut Vec<u8>) -> Result<()> {
        let (b, off) = self.locate(row);
        for c in &self.canon.columns {
            encode_cell(
                self.batches[b].column(c.input_index).as_ref(),
                off,
                out,
                &c.name,
            )?;
        }
        Ok(())
    }

    /// The unordered identity (docs/hash-spec.md §10). The canonical order is computed first, as
    /// every row's sorted position ([`Table::sorted_positions`]), with the chunk ends it implies.
    /// Then, column after column, the column is moved into sorted order ([`Layout`], window by
    /// window of sorted positions within the memory budget) and the segment digests of the chunks
    /// are taken from it; the chunk digests are assembled from the segments at the end. No sorted
    /// copy of more than one column (or one window of it) is ever held.
    ///
    /// Rows whose `lo` lanes tie are duplicates but for a fingerprint collision, and duplicates
    /// may come in any order. So ties are first left in any order, and each moved column checks
    /// that its tied neighbours are equal, in sorted order (sequential reads, where ordering
    /// ties by row encoding reads each tied row at random). Only if some tied rows differ is the
    /// hash taken again, with those ties ordered by row encoding.
    fn unordered_hash(&self) -> Result<TableHash> {
        self.unordered_hash_within(self.num_rows() * PLACE_BYTES_PER_ROW + (64 << 20))
    }

    /// [`Table::unordered_hash`], moving columns in windows of at most `place_bytes` bytes.
    pub(crate) fn unordered_hash_within(&self, place_bytes: usize) -> Result<TableHash> {
        self.unordered_hash_of(&|| self.lo_lanes(), place_bytes)
            .map(|(hash, _)| hash)
    }

    /// [`Table::unordered_hash_within`] with the `lo` lanes given by `lanes` (called once, or
    /// twice when tied rows differ: they are not kept meanwhile), and the number of tie runs
    /// that had to be ordered by row encoding.
    pub(crate) fn unordered_hash_of(
        &self,
        lanes: &dyn Fn() -> Result<Vec<u64>>,
        place_bytes: usize,
    ) -> Result<(TableHash, usize)> {
        let differ = match self.unordered_pass(lanes, Ties::Unchecked, place_bytes)? {
            Pass::Hashed(hash) => return Ok((hash, 0)),
            Pass::Differ(differ) => differ,
        };
        match self.unordered_pass(lanes, Ties::SortAt(&differ), place_bytes)? {
            Pass::Hashed(hash) => Ok((hash, differ.len())),
            Pass::Differ(_) => unreachable!("a pass that sorts ties checks none"),
        }
    }

    /// One pass of [`Table::unordered_hash`] with ties ordered as `ties` says: the hash, or
    /// (ties left unchecked) the sorted position of the second row of every pair of tied
    /// neighbours found to differ.
    fn unordered_pass(
        &self,
        lanes: &dyn Fn() -> Result<Vec<u64>>,
        ties: Ties<'_>,
        place_bytes: usize,
    ) -> Result<Pass> {
        let n = self.num_rows();
        let sorted = self.sorted_positions(lanes()?, ties)?;
        let (pos, tied, mut differ) = (sorted.pos, sorted.tied, sorted.differ);
        let chunks: Vec<Range<usize>> = (sorted.ends.iter())
            .scan(0, |start, &e| {
                let r = *start..e as usize;
                *start = e as usize;
                Some(r)
            })
            .collect();
        let k = self.canon.columns.len();
        let mut segments: Vec<Vec<Digest>> = vec![vec![[0u8; 32]; k]; chunks.len()];
        let bytes: Vec<usize> = (self.canon.columns.iter())
            .map(|c| self.column_bytes(c.input_index))
            .collect();
        // How each column moves, decided once: it sets the windows and then moves them.
        let kernels: Vec<Kernel> = (self.canon.columns.iter())
            .map(|c| Kernel::of(&self.batches, c.input_index))
            .collect();
        let plans: Vec<Vec<Range<usize>>> = (kernels.iter().zip(&bytes))
            .map(|(kernel, &b)| self.windows(kernel, b, &chunks, place_bytes))
            .collect();
        // The widest columns first: the buffers they leave behind fit every later column, which
        // then reuses them (fresh memory costs page faults).
        let mut order: Vec<usize> = (0..k).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(bytes[i]));
        let layout = Layout::new(&self.batches, &self.starts, &pos);
        for i in order {
            let c = &self.canon.columns[i];
            for w in &plans[i] {
                let buckets = Layout::buckets(w);
                let at = layout.positions(&buckets).start;
                let sorted = layout.column(c.input_index, &kernels[i], buckets)?;
                let first = chunks.partition_point(|r| r.start < w.start);
                let last = chunks.partition_point(|r| r.start < w.end);
                let hashed = chunks[first..last]
                    .par_iter()
                    .map(|r| {
                        let part = sorted.slice(r.start - at, r.len());
                        let digest = crate::canon::segment_digest(part.as_ref(), &c.name)?;
                        // Tied neighbours both in `sorted` (those at its first row were
                        // compared by `sorted_positions`).
                        let Some(tied) = &tied else {
                            return Ok((digest, Vec::new()));
                        };
                        let from = r.start.max(at + 1);
                        let tied = tied.slice(from, r.end - from);
                        let pairs = tied.set_indices().map(|p| p + from - at);
                        let differ =
                            crate::canon::differs_from_previous(sorted.as_ref(), pairs, &c.name)?;
                        Ok((digest, differ))
                    })
                    .collect::<Result<Vec<_>>>()?;
                for (s, (d, unequal)) in segments[first..last].iter_mut().zip(hashed) {
                    s[i] = d;
                    differ.extend(unequal.into_iter().map(|p| (p + at) as u32));
                }
            }
        }
        drop(layout);
        drop(pos);
        if !differ.is_empty() {
            differ.sort_unstable();
            differ.dedup();
            return Ok(Pass::Differ(differ));
        }
        let hashed = (chunks.into_par_iter().zip(segments))
            .map(|(r, s)| finish_chunk(&self.canon, r.start as u64, r.len() as u64, s))
            .collect();
        Ok(Pass::Hashed(assemble(
            &self.canon,
            RowOrder::Unordered,
            n as u64,
            hashed,
        )))
    }

    /// Windows of sorted positions (whole chunks) in which a column moved by `kernel` (`bytes` of
    /// data, [`Table::column_bytes`]) is moved into sorted order: as few as `place_bytes` bytes
    /// allow.
    fn windows(
        &self,
        kernel: &Kernel,
        bytes: usize,
        chunks: &[Range<usize>],
        place_bytes: usize,
    ) -> Vec<Range<usize>> {
        let n = self.num_rows();
        // The window's values twice (partitioned and placed; for strings, lengths and offsets
        // with them) and up to 4 bytes of bookkeeping per row.
        let per_row = 2 * bytes.div_ceil(n.max(1)) + 4;
        let mut budget = place_bytes / per_row;
        if let Kernel::Interleave = kernel {
            budget = budget.min(crate::unordered::INTERLEAVE_ROWS);
        }
        let mut out: Vec<Range<usize>> = Vec::new();
        for r in chunks {
            match out.last_mut() {
                Some(w) if r.end - w.start <= budget => w.end = r.end,
                _ => out.push(r.clone()),
            }
        }
        out
    }

    /// Bytes of column `col`'s data (all batches; a slice counts only its own rows' bytes).
    fn column_bytes(&self, col: usize) -> usize {
        (self.batches.iter())
            .map(|b| {
                let a = b.column(col);
                (a.to_data().get_slice_memory_size()).unwrap_or_else(|_| a.get_array_memory_size())
            })
            .sum()
    }

    /// The canonical order of the unordered identity (docs/hash-spec.md §10) from the rows' `lo`
    /// lanes, with ties ordered as `ties` says: the sorted position of every row, and the chunk
    /// ends (§7 with the unordered candidate rule). With [`Ties::Unchecked`], also the sorted
    /// positions that tie with the one before (left for the caller to compare), but for those
    /// at the first row of a placement bucket, which are compared here.
    fn sorted_positions(&self, lo: Vec<u64>, ties: Ties<'_>) -> Result<SortedPositions> {
        let check = matches!(ties, Ties::Unchecked);
        let order = self.canonical_order(lo, ties)?;
        let n = order.len();
        let mut pos: Vec<u32> = huge_vec(n);
        let out = crate::unordered::Disjoint(pos.as_mut_ptr());
        // Positions and ties, 64 positions (one word of the tie bitmap) at a time.
        let mut words = vec![0u64; n.div_ceil(64)];
        words.par_iter_mut().enumerate().for_each(|(w, word)| {
            for p in w * 64..(w * 64 + 64).min(n) {
                let (x, r) = order[p];
                // SAFETY: `order` holds every row exactly once.
                unsafe { out.write(r as usize, p as u32) }
                if check && p > 0 && order[p - 1].0 == x {
                    *word |= 1 << (p % 64);
                }
            }
        });
        // SAFETY: every row's position was written above.
        unsafe { pos.set_len(n) };
        let mut differ = Vec::new();
        let tied = match words.iter().any(|&w| w != 0) {
            false => None,
            true => {
                let tied = BooleanBuffer::new(Buffer::from_vec(words), 0, n);
                for p in (BUCKET..n).step_by(BUCKET).filter(|&p| tied.value(p)) {
                    let (mut a, mut b) = (Vec::new(), Vec::new());
                    self.encode_row(order[p - 1].1 as usize, &mut a)?;
                    self.encode_row(order[p].1 as usize, &mut b)?;
                    if a != b {
                        differ.push(p as u32);
                    }
                }
                Some(tied)
            }
        };
        let mut chunker = crate::chunking::Chunker::new();
        let mut ends = Vec::new();
        let candidates = (order.iter().enumerate())
            .filter(|(_, e)| crate::fingerprint::is_unordered_candidate(e.0))
            .map(|(p, _)| p as u64);
        chunker.push(candidates, n as u64, &mut ends);
        chunker.finish(&mut ends);
        Ok(SortedPositions {
            pos,
            ends,
            tied,
            differ,
        })
    }

    /// Every row as `(lo, row)` in the canonical order of the unordered identity (docs/hash-spec.md
    /// §10), given the rows' `lo` lanes: by `lo`, ties as `ties` says. Rows are partitioned into
    /// groups, ranges of `lo` (consecutive in sorted order, [`GroupPlan`]), sorted side by side.
    fn canonical_order(&self, lo: Vec<u64>, ties: Ties<'_>) -> Result<Vec<(u64, u32)>> {
        let n = self.num_rows();
        if u32::try_from(n).is_err() {
            return Err(Error::InvalidArgument(format!(
                "the unordered identity handles at most 2^32 - 1 rows per table, got {n}"
            )));
        }
        let (plan, mut order) = GroupPlan::new(&lo);
        drop(lo);
        let mut groups = Vec::with_capacity(plan.len());
        let mut rest: &mut [(u64, u32)] = &mut order;
        for g in 0..plan.len() {
            let (head, tail) = rest.split_at_mut(plan.rows(g).len());
            groups.push((plan.rows(g).start, head));
            rest = tail;
        }
        groups
            .into_par_iter()
            .try_for_each_init(Vec::new, |scratch, (start, group)| {
                radix_sort(group, scratch);
                match ties {
                    Ties::Unchecked => Ok(()),
                    Ties::SortAt(at) => {
                        // The positions of `at` in this group, relative to it.
                        let from = at.partition_point(|&p| (p as usize) < start);
                        let to = at.partition_point(|&p| (p as usize) < start + group.len());
                        self.order_ties_at(group, at[from..to].iter().map(|&p| p as usize - start))
                    }
                }
            })?;
        Ok(order)
    }

    /// The rows in the canonical order of the unordered identity (docs/hash-spec.md §10), as one
    /// table, with the `lo` lane of each. Ties are first left in any order and their rows
    /// compared in the sorted table, as the unordered hash does; only if some differ are
    /// the rows taken again, with those ties ordered by row encoding.
    pub fn sorted_table(&self) -> Result<(Vec<u64>, Table)> {
        self.sorted_table_of(&|| self.lo_lanes())
    }

    /// [`Table::sorted_table`] with the `lo` lanes given by `lanes` (called once, or twice when
    /// tied rows differ).
    pub(crate) fn sorted_table_of(
        &self,
        lanes: &dyn Fn() -> Result<Vec<u64>>,
    ) -> Result<(Vec<u64>, Table)> {
        let take = |order: Vec<(u64, u32)>| -> Result<(Vec<u64>, Table)> {
            let sorted = self.in_order(&order)?;
            Ok((order.into_iter().map(|(x, _)| x).collect(), sorted))
        };
        let (lo, sorted) = take(self.canonical_order(lanes()?, Ties::Unchecked)?)?;
        let tied = || (1..lo.len()).filter(|&p| lo[p] == lo[p - 1]);
        if tied().next().is_none() {
            return Ok((lo, sorted));
        }
        let batch = &sorted.batches[0];
        let differ = (sorted.canon.columns.par_iter())
            .map(|c| {
                let column = batch.column(c.input_index);
                crate::canon::differs_from_previous(column, tied(), &c.name)
            })
            .collect::<Result<Vec<_>>>()?;
        let mut differ: Vec<u32> = differ.into_iter().flatten().map(|p| p as u32).collect();
        if differ.is_empty() {
            return Ok((lo, sorted));
        }
        differ.sort_unstable();
        differ.dedup();
        drop((lo, sorted));
        take(self.canonical_order(lanes()?, Ties::SortAt(&differ))?)
    }

    /// The rows in the order of `order` (`(lo, row)` pairs, every row once), as one table,
    /// moved column by column by the kernels of the unordered hash ([`Layout`]).
    fn in_order(&self, order: &[(u64, u32)]) -> Result<Table> {
        let n = order.len();
        debug_assert_eq!(n, self.num_rows());
        if n == 0 {
            return self.take(&[]);
        }
        let mut pos: Vec<u32> = huge_vec(n);
        let out = crate::unordered::Disjoint(pos.as_mut_ptr());
        order.par_iter().enumerate().for_each(|(p, &(_, r))| {
            // SAFETY: `order` holds every row exactly once.
            unsafe { out.write(r as usize, p as u32) }
        });
        // SAFETY: every row's position was written above.
        unsafe { pos.set_len(n) };
        let layout = Layout::new(&self.batches, &self.starts, &pos);
        let buckets = Layout::buckets(&(0..n));
        let columns = (0..self.schema.fields().len())
            .map(|c| layout.column(c, &Kernel::of(&self.batches, c), buckets.clone()))
            .collect::<Result<Vec<_>>>()?;
        let batch = batch_of(&self.schema, columns, n)?;
        Table::new(batch.schema(), vec![batch])
    }

    /// Order by row encoding the runs of equal `lo` in `sorted` (`(lo, row)` pairs sorted by
    /// `lo`) that hold the positions `at` (ascending).
    fn order_ties_at(
        &self,
        sorted: &mut [(u64, u32)],
        at: impl Iterator<Item = usize>,
    ) -> Result<()> {
        let mut done = 0;
        for p in at {
            if p < done {
                continue;
            }
            let x = sorted[p].0;
            let i = p - sorted[..p].iter().rev().take_while(|e| e.0 == x).count();
            let j = p + sorted[p..].iter().take_while(|e| e.0 == x).count();
            self.sort_by_encoding(&mut sorted[i..j])?;
            done = j;
        }
        Ok(())
    }

    /// Sort `run` (rows of one `lo`) by row encoding.
    fn sort_by_encoding(&self, run: &mut [(u64, u32)]) -> Result<()> {
        let mut encoded = (run.iter())
            .map(|&(x, r)| {
                let mut buf = Vec::new();
                self.encode_row(r as usize, &mut buf)?;
                Ok((buf, (x, r)))
            })
            .collect::<Result<Vec<_>>>()?;
        encoded.par_sort_unstable();
        for (slot, (_, e)) in run.iter_mut().zip(encoded) {
            *slot = e;
        }
        Ok(())
    }

    /// Hash every row of the table as one chunk (docs/hash-spec.md §8), whatever its size: the chunk
    /// function of the spec, used to verify chunks and to hash seam chunks when merging partitions.
    pub fn single_chunk(&self) -> Result<ChunkHash> {
        let n = self.num_rows();
        let cols = self
            .canon
            .columns
            .iter()
            .map(|c| self.column_range(c.input_index, 0..n))
            .collect::<Result<Vec<_>>>()?;
        crate::stream::chunk_hash(&self.canon, 0..n as u64, &cols)
    }

    /// Hash the table (docs/hash-spec.md §8–§9).
    pub fn hash(&self, row_order: RowOrder) -> Result<TableHash> {
        match row_order {
            RowOrder::Ordered => {
                let mut h = OrderedHasher::new(self.schema.clone())?;
                for b in &self.batches {
                    h.push(b)?;
                }
                h.finish()
            }
            RowOrder::Unordered => self.unordered_hash(),
        }
    }
}

/// A batch of `rows` rows holding `columns` under the field names and metadata of `schema`, each
/// field typed by its column: a dictionary column whose pieces had different dictionaries comes
/// back decoded from `interleave` or `concat`, and is hashed the same (logical values only).
pub(crate) fn batch_of(
    schema: &SchemaRef,
    columns: Vec<ArrayRef>,
    rows: usize,
) -> Result<RecordBatch> {
    let fields: Vec<arrow_schema::FieldRef> = schema
        .fields()
        .iter()
        .zip(&columns)
        .map(|(f, c)| match f.data_type() == c.data_type() {
            true => f.clone(),
            false => std::sync::Arc::new(f.as_ref().clone().with_data_type(c.data_type().clone())),
        })
        .collect();
    let schema = std::sync::Arc::new(arrow_schema::Schema::new_with_metadata(
        fields,
        schema.metadata().clone(),
    ));
    let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(rows));
    Ok(RecordBatch::try_new_with_options(
        schema, columns, &options,
    )?)
}

/// Rows of a column validated by one task of [`validate_batch`].
const VALIDATE_ROWS: usize = 128 * 1024;

/// Fully validate every column of `batch` (the error names the column), in parallel tasks of
/// at most `VALIDATE_ROWS` rows of flat columns: a large batch is not left to one thread per
/// column.
pub fn validate_batch(batch: &RecordBatch) -> Result<()> {
    use arrow_schema::DataType as D;
    let n = batch.num_rows();
    let schema = batch.schema();
    let jobs: Vec<(usize, Range<usize>)> = (0..batch.num_columns())
        .flat_map(|c| {
            // Only flat columns are split: a slice of a nested column would validate its whole
            // children again, and a slice of a dictionary its whole dictionary.
            let dt = schema.field(c).data_type();
            let flat = dt.is_primitive()
                || matches!(
                    dt,
                    D::Boolean
                        | D::Utf8
                        | D::LargeUtf8
                        | D::Utf8View
                        | D::Binary
                        | D::LargeBinary
                        | D::BinaryView
                        | D::FixedSizeBinary(_)
                );
            let step = if flat { VALIDATE_ROWS } else { n.max(1) };
            (0..n.max(1))
                .step_by(step)
                .map(move |s| (c, s..(s + step).min(n)))
        })
        .collect();
    jobs.into_par_iter().try_for_each(|(c, r)| {
        let column = batch.column(c);
        let checked = if r.len() == n {
            validate_array(column.as_ref())
        } else {
            // A slice recounts its nulls, so the count the producer declared for the whole
            // column is checked once, by the first slice's task.
            let whole = match r.start {
                0 => column.to_data().validate_nulls(),
                _ => Ok(()),
            };
            whole.and_then(|()| validate_array(column.slice(r.start, r.len()).as_ref()))
        };
        checked.map_err(|e| Error::InvalidData {
            column: schema.field(c).name().clone(),
            message: e.to_string(),
        })
    })
}

/// Full validation of one array. Dictionaries get a fast key-range check in place of arrow's
/// generic one (the values are validated recursively); everything else uses `validate_full`.
pub fn validate_array(array: &dyn Array) -> std::result::Result<(), arrow_schema::ArrowError> {
    use arrow_array::cast::AsArray;
    if let arrow_schema::DataType::Dictionary(..) = array.data_type() {
        checked_layout(array)?;
        let dict = array.as_any_dictionary();
        let n_values = dict.values().len();
        let key_nulls = dict.keys().logical_nulls();
        let keys = crate::canon::KeyView::new(dict.keys()).ok_or_else(|| {
            arrow_schema::ArrowError::InvalidArgumentError(
                "dictionary keys must be integers".into(),
            )
        })?;
        // A branch-free scan of each block of keys; only a block holding an out-of-range key
        // (allowed under a null) is searched row by row.
        // 32-bit keys (the common case) are first checked as they are, 4 to a vector compare;
        // other widths, or a table holding an out-of-range key, go through the blocks below.
        let maybe_bad = match &keys {
            crate::canon::KeyView::I32(v) => !crate::canon::keys_below(v, n_values),
            _ => true,
        };
        let mut bad = None;
        let mut search = |start: usize, block: &mut [usize]| {
            if bad.is_some() || !block.iter().fold(false, |acc, &k| acc | (k >= n_values)) {
                return;
            }
            bad = (block.iter().enumerate()).find_map(|(j, &k)| {
                let valid = key_nulls.as_ref().is_none_or(|nb| nb.is_valid(start + j));
                (valid && k >= n_values).then_some(start + j)
            });
        };
        if maybe_bad {
            keys.for_each_block(&mut search);
        }
        if let Some(i) = bad {
            return Err(arrow_schema::ArrowError::InvalidArgumentError(format!(
                "dictionary key at index {i} is out of range for a dictionary of {n_values} values"
            )));
        }
        return validate_array(dict.values().as_ref());
    }
    use arrow_schema::DataType as D;
    match array.data_type() {
        D::Utf8 => validate_bytes::<i32>(array, true),
        D::LargeUtf8 => validate_bytes::<i64>(array, true),
        D::Binary => validate_bytes::<i32>(array, false),
        D::LargeBinary => validate_bytes::<i64>(array, false),
        D::Utf8View => validate_views(array, true),
        D::BinaryView => validate_views(array, false),
        _ => array.to_data().validate_full(),
    }
}

/// The array's data, once arrow has checked its layout (buffer sizes, null count); the values
/// are the caller's to check.
fn checked_layout(
    array: &dyn Array,
) -> std::result::Result<arrow_data::ArrayData, arrow_schema::ArrowError> {
    let data = array.to_data();
    data.validate()?;
    data.validate_nulls()?;
    Ok(data)
}

/// Views of a string or binary view array: arrow's checks (`validate_full`: zero padding of
/// inline values, buffer index and bounds, prefix), with UTF-8 checked by an ASCII test first,
/// so only values with other characters pay for a UTF-8 decoder call.
fn validate_views(
    array: &dyn Array,
    utf8: bool,
) -> std::result::Result<(), arrow_schema::ArrowError> {
    use arrow_schema::ArrowError;
    let data = checked_layout(array)?;
    let views: &[u128] = &data.buffer::<u128>(0)[..data.len()];
    let buffers = &data.buffers()[1..];
    let text = |i: usize, b: &[u8]| match !utf8 || b.is_ascii() || std::str::from_utf8(b).is_ok() {
        true => Ok(()),
        false => Err(ArrowError::InvalidArgumentError(format!(
            "Encountered non-UTF-8 data at index {i}"
        ))),
    };
    // The high bit of each of an inline value's 12 bytes.
    const HIGH_BITS: u128 = 0x8080_8080_8080_8080_8080_8080;
    for (i, &v) in views.iter().enumerate() {
        let len = v as u32 as usize;
        if len <= 12 {
            let inline = v >> 32;
            if len < 12 && (inline >> (len * 8)) != 0 {
                return Err(ArrowError::InvalidArgumentError(format!(
                    "View at index {i} contained non-zero padding for string of length {len}"
                )));
            }
            // The padding is zero: ASCII when no byte has its high bit set.
            if inline & HIGH_BITS != 0 {
                text(i, &v.to_le_bytes()[4..4 + len])?;
            }
        } else {
            let (prefix, index, offset) = ((v >> 32) as u32, (v >> 64) as u32, (v >> 96) as u32);
            let value = (buffers.get(index as usize))
                .and_then(|b| b.get(offset as usize..offset as usize + len))
                .ok_or_else(|| {
                    ArrowError::InvalidArgumentError(format!(
                        "Invalid buffer index or slice at {i}: buffer {index}, {offset}..{}",
                        offset as usize + len
                    ))
                })?;
            if !value.starts_with(&prefix.to_le_bytes()) {
                return Err(ArrowError::InvalidArgumentError(
                    "Mismatch between embedded prefix and data".to_string(),
                ));
            }
            text(i, value)?;
        }
    }
    Ok(())
}

/// Offsets and UTF-8 of a string or binary array, checked in bulk: layout by arrow, then offsets
/// monotonic and in bounds, then (for strings) the whole value range as UTF-8 once, with every
/// offset on a character boundary. Equivalent to `validate_full`, without its per-value loop.
fn validate_bytes<O: arrow_array::OffsetSizeTrait>(
    array: &dyn Array,
    utf8: bool,
) -> std::result::Result<(), arrow_schema::ArrowError> {
    use arrow_schema::ArrowError;
    let data = checked_layout(array)?;
    // `buffer` starts at the data's offset already.
    let offsets: &[O] = &data.buffer::<O>(0)[..data.len() + 1];
    let values = data.buffers()[1].as_slice();
    let first = offsets[0];
    let last = offsets[offsets.len() - 1];
    // Pairs compared as two shifted slices (vectorised; `windows(2)` was not).
    let monotonic = (offsets[1..].iter().zip(offsets)).fold(true, |ok, (b, a)| ok & (b >= a));
    if first < O::zero() || !monotonic || last.as_usize() > values.len() {
        return Err(ArrowError::InvalidArgumentError(
            "offsets are negative, decreasing or beyond the values buffer".into(),
        ));
    }
    if utf8 {
        let range = &values[first.as_usize()..last.as_usize()];
        std::str::from_utf8(range)
            .map_err(|e| ArrowError::InvalidArgumentError(format!("invalid UTF-8: {e}")))?;
        // A valid buffer may still be cut inside a character: every offset must start one.
        let cut = offsets
            .iter()
            .map(|o| o.as_usize())
            .filter(|&o| o < last.as_usize())
            .any(|o| (values[o] & 0xC0) == 0x80);
        if cut {
            return Err(ArrowError::InvalidArgumentError(
                "invalid UTF-8: an offset splits a character".into(),
            ));
        }
    }
    Ok(())
}

/// Column digests and the root from the chunk list (docs/hash-spec.md §8–§9).
pub fn assemble(
    canon: &CanonicalSchema,
    row_order: RowOrder,
    num_rows: u64,
    chunks: Vec<ChunkHash>,
) -> TableHash {
    let columns = canon
        .columns
        .par_iter()
        .enumerate()
        .map(|(k, c)| {
            let leaves: Vec<[u8; 40]> = chunks.iter().map(|ch| column_leaf(ch, k)).collect();
            let tree = merkle::tree_hash(&leaves);
            ColumnHash {
                name: c.name.clone(),
                logical_type: c.logical.display(),
                digest: column_digest(row_order, c, num_rows, chunks.len() as u64, &tree),
            }
        })
        .collect();
    let digests: Vec<Digest> = chunks.iter().map(|c| c.digest).collect();
    let tree = merkle::tree_hash(&digests);
    TableHash {
        scheme: SCHEME,
        row_order,
        num_rows,
        schema_digest: canon.digest,
        root: root_digest(
            row_order,
            &canon.digest,
            num_rows,
            chunks.len() as u64,
            &tree,
        ),
        columns,
        chunks,
        increasing: Vec::new(),
    }
}

/// The leaf of column `k` for one chunk: `u64(n) ‖ segment digest` (docs/hash-spec.md §8).
pub(crate) fn column_leaf(chunk: &ChunkHash, k: usize) -> [u8; 40] {
    let mut leaf = [0u8; 40];
    leaf[..8].copy_from_slice(&chunk.num_rows.to_le_bytes());
    leaf[8..].copy_from_slice(&chunk.segments[k]);
    leaf
}

/// The column digest of §8 from the Merkle tree hash of the column's leaves.
pub(crate) fn column_digest(
    row_order: RowOrder,
    column: &crate::schema::CanonicalColumn,
    num_rows: u64,
    num_chunks: u64,
    tree: &Digest,
) -> Digest {
    let mut h = Ctx::Column.hasher();
    h.update(&[row_order.code()]);
    h.update(&column.descriptor);
    h.update(&num_rows.to_le_bytes());
    h.update(&num_chunks.to_le_bytes());
    h.update(tree);
    h.finalize().into()
}

/// The root of §9 from the Merkle tree hash of the chunk digests.
pub(crate) fn root_digest(
    row_order: RowOrder,
    schema_digest: &Digest,
    num_rows: u64,
    num_chunks: u64,
    tree: &Digest,
) -> Digest {
    let mut h = Ctx::Root.hasher();
    h.update(&[SCHEME, row_order.code()]);
    h.update(schema_digest);
    h.update(&num_rows.to_le_bytes());
    h.update(&num_chunks.to_le_bytes());
    h.update(tree);
    h.finalize().into()
}

/// Work around a quirk of arrow-rs's C Data import: an empty utf8/binary array whose single
/// offset is not zero is imported with an empty values buffer, which arrow-rs's own validation
/// then rejects ("first offset 1 ... larger than values length 0"), although the data is valid
/// Arrow (pyarrow validates it). Such empty arrays, at any depth, are replaced by canonical empty
/// arrays of the same type; likewise arrays whose values are all empty but whose offsets do not
/// start at zero get zero offsets. Nothing else is touched.
pub fn normalize_imported(batch: RecordBatch) -> Result<RecordBatch> {
    fn fix(data: arrow_data::ArrayData) -> arrow_data::ArrayData {
        use arrow_schema::DataType as D;
        let byte_type = matches!(
            data.data_type(),
            D::Utf8 | D::LargeUtf8 | D::Binary | D::LargeBinary
        );
        if byte_type && data.is_empty() {
            return arrow_data::ArrayData::new_empty(data.data_type());
        }
        if byte_type {
            // Every value empty (first offset == last offset) but the offsets do not start at
            // zero: arrow-rs imports an empty values buffer and then rejects the offsets. The
            // same values laid out canonically: zero offsets, no bytes, the same validity.
            let large = matches!(data.data_type(), D::LargeUtf8 | D::LargeBinary);
            let n = data.len();
            let (first, last) = match large {
                true => {
                    let o = &data.buffer::<i64>(0)[..=n];
                    (o[0], o[n])
                }
                false => {
                    let o = &data.buffer::<i32>(0)[..=n];
                    (i64::from(o[0]), i64::from(o[n]))
                }
            };
            if first == last && first != 0 {
                let width = if large { 8 } else { 4 };
                let offsets = arrow_buffer::Buffer::from(vec![0u8; (n + 1) * width]);
                let builder = arrow_data::ArrayData::builder(data.data_type().clone())
                    .len(n)
                    .nulls(data.nulls().cloned())
                    .add_buffer(offsets)
                    .add_buffer(arrow_buffer::Buffer::from(Vec::<u8>::new()));
                // SAFETY: n + 1 zero offsets over an empty values buffer are valid for any n, and
                // the validity bitmap is the array's own (same length and offset-adjusted).
                return unsafe { builder.build_unchecked() };
            }
        }
        if data.child_data().is_empty() {
            return data;
        }
        let children: Vec<_> = data.child_data().iter().cloned().map(fix).collect();
        if children
            .iter()
            .zip(data.child_data())
            .all(|(a, b)| a.ptr_eq(b))
        {
            return data;
        }
        // SAFETY: only empty children were replaced by empty children of the same type, so every
        // length, offset and buffer of the parent stays as valid as it was.
        unsafe { data.into_builder().child_data(children).build_unchecked() }
    }
    let is_bytes = |t: &arrow_schema::DataType| {
        use arrow_schema::DataType as D;
        matches!(t, D::Utf8 | D::LargeUtf8 | D::Binary | D::LargeBinary)
    };
    let needs = batch
        .columns()
        .iter()
        .any(|c| is_bytes(c.data_type()) || has_byte_children(c.data_type()));
    if !needs {
        return Ok(batch);
    }
    let columns: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(|c| arrow_array::make_array(fix(c.to_data())))
        .collect();
    Ok(RecordBatch::try_new_with_options(
        batch.schema(),
        columns,
        &arrow_array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
    )?)
}

/// Whether a nested type has a utf8/binary array below its top level.
fn has_byte_children(dt: &arrow_schema::DataType) -> bool {
    use arrow_schema::DataType as D;
    let is_bytes = |t: &D| matches!(t, D::Utf8 | D::LargeUtf8 | D::Binary | D::LargeBinary);
    match dt {
        D::List(f)
        | D::LargeList(f)
        | D::FixedSizeList(f, _)
        | D::ListView(f)
        | D::LargeListView(f) => is_bytes(f.data_type()) || has_byte_children(f.data_type()),
        D::Struct(fields) => fields
            .iter()
            .any(|f| is_bytes(f.data_type()) || has_byte_children(f.data_type())),
        D::Dictionary(_, v) => is_bytes(v) || has_byte_children(v),
        _ => false,
    }
}

/// True when `v` strictly increases and its first value exceeds `after` (if any). Checked in
/// blocks, branch-free within one (so it vectorises), stopping at the first failing block.
pub(crate) fn strictly_increasing<T: PartialOrd + Copy>(v: &[T], after: Option<T>) -> bool {
    const BLOCK: usize = 4096;
    if after.zip(v.first()).is_some_and(|(a, f)| a >= *f) {
        return false;
    }
    v.chunks(BLOCK).enumerate().all(|(i, c)| {
        (i == 0 || v[i * BLOCK - 1] < c[0])
            && c.iter()
                .zip(&c[1..])
                .fold(true, |acc, (a, b)| acc & (a < b))
    })
}

/// Whether `a`, an integer array of type `T`, continues a strictly increasing sequence whose last
/// value so far is `last`: no null, every value above the one before. Returns the new last value
/// (`last` when `a` is empty), or `None` when the sequence stops increasing. Checked in parallel
/// blocks ([`strictly_increasing`]).
pub(crate) fn continues_increasing<T: arrow_array::ArrowPrimitiveType>(
    a: &dyn Array,
    last: Option<i128>,
) -> Option<Option<i128>>
where
    T::Native: Into<i128> + PartialOrd,
{
    use arrow_array::cast::AsArray;
    const BLOCK: usize = 1 << 16;
    if a.null_count() > 0 {
        return None;
    }
    let v = a.as_primitive::<T>().values();
    if last.zip(v.first()).is_some_and(|(l, &f)| l >= f.into()) {
        return None;
    }
    let ok = v.par_chunks(BLOCK).enumerate().all(|(i, c)| {
        let before = (i > 0).then(|| v[i * BLOCK - 1]);
        strictly_increasing(c, before)
    });
    ok.then(|| v.last().map(|&x| x.into()).or(last))
}

/// The first row of each of `batches`, then their row count (what [`locate_in`] searches).
pub(crate) fn starts_of(batches: &[RecordBatch]) -> Vec<usize> {
    let mut starts = Vec::with_capacity(batches.len() + 1);
    let mut acc = 0;
    for b in batches {
        starts.push(acc);
        acc += b.num_rows();
    }
    starts.push(acc);
    starts
}

/// (batch, row within it) of global row `row < starts[len]`, given the batches' first rows
/// ([`Table::batch_starts`]).
pub(crate) fn locate_in(starts: &[usize], row: usize) -> (usize, usize) {
    let b = starts.partition_point(|&s| s <= row) - 1;
    (b, row - starts[b])
}

/// `n` copies of `x`, written in parallel: a large vector's first touch of its pages (faults and
/// zeroing by the kernel) is then shared by the threads.
pub(crate) fn filled<T: Copy + Send + Sync>(n: usize, x: T) -> Vec<T> {
    let mut v = huge_vec(n);
    (0..n).into_par_iter().map(|_| x).collect_into_vec(&mut v);
    v
}

/// An empty vector with capacity for `n` elements, backed by transparent huge pages when large:
/// 512 times fewer page faults (the diff of two 10M-row tables spent ~10 % of its time faulting in
/// 4 KiB pages of fingerprints).
pub(crate) fn huge_vec<T>(n: usize) -> Vec<T> {
    let mut v: Vec<T> = Vec::with_capacity(n);
    advise_huge(v.as_mut_ptr().cast(), n * std::mem::size_of::<T>());
    v
}

/// Ask for transparent huge pages under `ptr..ptr + bytes` (a large allocation of the caller's).
pub(crate) fn advise_huge(ptr: *mut u8, bytes: usize) {
    #[cfg(target_os = "linux")]
    if bytes >= 8 << 20 {
        const HUGE: usize = 2 << 20;
        let p = ptr as usize;
        let (start, end) = (p.next_multiple_of(HUGE), (p + bytes) & !(HUGE - 1));
        if end > start {
            // SAFETY: [start, end) lies inside the caller's allocation; the advice changes how
            // pages are backed, never their content, and a failure (e.g. huge pages disabled)
            // leaves ordinary pages.
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (ptr, bytes);
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int64Array, StringArray};
    use arrow_buffer::NullBuffer;
    use std::sync::Arc;

    /// A null count declared wrong (as a foreign producer could) is refused whether the column
    /// is validated whole or split into slices (which recount their own nulls).
    #[test]
    fn a_wrong_declared_null_count_is_refused_in_split_columns() {
        for n in [1_000, 3 * VALIDATE_ROWS + 5] {
            let bits = arrow_buffer::BooleanBuffer::from_iter((0..n).map(|i| i % 10 != 0));
            let nulls = n - bits.count_set_bits();
            for declared in [nulls - 1, nulls + 1] {
                // SAFETY (test): the count is deliberately wrong; nothing reads past the bitmap.
                let nb = unsafe { NullBuffer::new_unchecked(bits.clone(), declared) };
                let a = Int64Array::new((0..n as i64).collect::<Vec<_>>().into(), Some(nb));
                let batch = RecordBatch::try_from_iter([("x", Arc::new(a) as ArrayRef)]).unwrap();
                let err = validate_batch(&batch).expect_err("a wrong null count");
                assert!(matches!(&err, Error::InvalidData { column, .. } if column == "x"));
            }
            let nb = NullBuffer::new(bits.clone());
            let a = Int64Array::new((0..n as i64).collect::<Vec<_>>().into(), Some(nb));
            let batch = RecordBatch::try_from_iter([("x", Arc::new(a) as ArrayRef)]).unwrap();
            validate_batch(&batch).unwrap();
        }
    }

    /// The sorted table has the rows in the order of the definition (by `lo`, then by row
    /// encoding) when different rows tie (forged lanes) among duplicates, for any input order.
    #[test]
    fn sorted_table_orders_differing_ties_by_encoding() {
        let xs: Vec<i64> = (0..5_000).map(|i| (i * 7_919) % 3_001).collect();
        let forged = |xs: &[i64]| -> Vec<u64> {
            (xs.iter())
                .map(|&x| (x as u64 / 5).wrapping_mul(0x9E37_79B9_7F4A_7C15))
                .collect()
        };
        let rows = |xs: &[i64]| {
            let s = StringArray::from_iter_values(xs.iter().map(|x| format!("v{}", x % 7)));
            let batch = RecordBatch::try_from_iter([
                ("x", Arc::new(Int64Array::from(xs.to_vec())) as ArrayRef),
                ("s", Arc::new(s) as ArrayRef),
            ])
            .unwrap();
            Table::new(batch.schema(), vec![batch]).unwrap()
        };
        let encodings = |t: &Table| -> Vec<Vec<u8>> {
            (0..t.num_rows())
                .map(|r| {
                    let mut b = Vec::new();
                    t.encode_row(r, &mut b).unwrap();
                    b
                })
                .collect()
        };
        let t = rows(&xs);
        let mut want: Vec<(u64, Vec<u8>)> = forged(&xs).into_iter().zip(encodings(&t)).collect();
        want.sort();
        for xs in [xs.clone(), xs.iter().rev().copied().collect()] {
            let t = rows(&xs);
            let (lo, sorted) = t.sorted_table_of(&|| Ok(forged(&xs))).unwrap();
            let got: Vec<(u64, Vec<u8>)> = lo.into_iter().zip(encodings(&sorted)).collect();
            assert_eq!(got, want);
        }
    }

    /// Equal `lo` lanes are ordered by row encoding, whether the tied rows are duplicates or
    /// different rows (a fingerprint collision, forced here by passing equal lanes).
    #[test]
    fn ties_are_ordered_by_row_encoding() {
        let batch = RecordBatch::try_from_iter([
            (
                "x",
                std::sync::Arc::new(Int64Array::from(vec![3, 1, 2, 1, 3, 0])) as ArrayRef,
            ),
            (
                "s",
                std::sync::Arc::new(StringArray::from(vec!["c", "a", "b", "a", "c", "z"])) as _,
            ),
        ])
        .unwrap();
        let t = Table::new(batch.schema(), vec![batch]).unwrap();
        let encoding = |r: u32| {
            let mut b = Vec::new();
            t.encode_row(r as usize, &mut b).unwrap();
            b
        };
        // Rows 0..5 tie on lo = 7; row 5 sorts first on a smaller lo.
        let lo = [7, 7, 7, 7, 7, 1];
        let mut sorted: Vec<(u64, u32)> = (lo.iter().enumerate())
            .map(|(r, &x)| (x, r as u32))
            .collect();
        crate::unordered::radix_sort(&mut sorted, &mut Vec::new());
        t.order_ties_at(&mut sorted, [3].into_iter()).unwrap();
        let sorted_lo: Vec<u64> = sorted.iter().map(|e| e.0).collect();
        assert_eq!(sorted_lo, vec![1, 7, 7, 7, 7, 7]);
        assert_eq!(sorted[0].1, 5);
        let tied: Vec<Vec<u8>> = sorted[1..].iter().map(|e| encoding(e.1)).collect();
        assert!(
            tied.windows(2).all(|w| w[0] <= w[1]),
            "ties not in encoding order"
        );
    }
}
