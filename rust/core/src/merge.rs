//! Hashing split across independent workers (docs/hash-spec.md §11): each worker summarises its
//! partition (consecutive rows), one coordinator merges the summaries, in partition order, into
//! exactly the hash of the whole table.
//!
//! A worker decides every chunk boundary whose look-back window lies inside its partition
//! ([`crate::chunking::local_decision`]) and hashes the **interior** chunks between its first
//! and last decided boundaries. The rows before the first and after the last decided boundary
//! are **seam rows**: kept (zero-copy slices, dictionaries decoded, columns in canonical order)
//! so that the coordinator can finish the decisions at each seam with the same [`Chunker`] as a
//! single machine and hash the seam chunks with the same chunk function.
//!
//! The interior is shipped in one of three forms ([`Interior`]): every chunk (the merge gives a
//! full [`TableHash`]), a compact range of O(log m) subtree hashes once the worker knows the
//! global index of its first interior chunk ([`chunk_offsets`], then [`merge_compact`] gives the
//! root and column digests), or only the count of interior chunks (enough for [`chunk_offsets`]).

use std::io::Cursor;
use std::ops::Range;
use std::sync::Arc;

use arrow_array::{Array, RecordBatch};
use arrow_schema::{Field, Schema, SchemaRef};
use rayon::prelude::*;

use crate::canon::decode_dictionaries;
use crate::chunking::{local_decision, Chunker, MAX_ROWS, MIN_ROWS};
use crate::error::{Error, Result};
use crate::fingerprint::{is_candidate, is_unordered_candidate};
use crate::hashing::Digest;
use crate::merkle::{compact_blocks, compact_range, leaf_hash, Frontier};
use crate::schema::CanonicalSchema;
use crate::stream::{chunk_hash, column_rows};
use crate::table::{
    assemble, column_digest, column_leaf, root_digest, validate_array, ChunkHash, ColumnHash,
    RowOrder, Table, TableHash, SCHEME,
};

/// Version of the serialized form written by [`PartitionSummary::to_bytes`].
pub const FORMAT_VERSION: u16 = 1;
/// First bytes of a serialized summary.
pub const MAGIC: &[u8; 8] = b"LFPSUMRY";

/// The interior chunks of a partition, in one of three forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interior {
    /// Every interior chunk, `start` counted from the partition's first row.
    Chunks(Vec<ChunkHash>),
    /// The compact range of the interior at global chunk index `first`: the subtree hashes of
    /// the blocks of [`compact_blocks`]`(first, count)`, for the chunk tree and for each column's
    /// tree (canonical order).
    Compact {
        first: u64,
        count: u64,
        chunk_tree: Vec<Digest>,
        column_trees: Vec<Vec<Digest>>,
    },
    /// Only the number of interior chunks.
    Unplaced { count: u64 },
}

impl Interior {
    /// Number of interior chunks.
    pub fn count(&self) -> u64 {
        match self {
            Interior::Chunks(c) => c.len() as u64,
            Interior::Compact { count, .. } | Interior::Unplaced { count } => *count,
        }
    }

    fn code(&self) -> u8 {
        match self {
            Interior::Chunks(_) => 0,
            Interior::Compact { .. } => 1,
            Interior::Unplaced { .. } => 2,
        }
    }
}

/// What a worker reports about its partition (docs/hash-spec.md §11).
#[derive(Debug, Clone)]
pub struct PartitionSummary {
    row_order: RowOrder,
    /// Schema of the seam rows: canonical column order, dictionaries decoded.
    schema: SchemaRef,
    canon: CanonicalSchema,
    num_rows: u64,
    /// The first candidate, when its decision depends on rows before the partition.
    head_candidate: Option<u64>,
    /// The last candidate of the partition (the look-back of the partitions after it).
    last_candidate: Option<u64>,
    /// `(first, last)` decided content boundaries, as chunk ends (one past the boundary row).
    boundaries: Option<(u64, u64)>,
    /// Unordered identity: `lo` of the first and last row in sorted order.
    lo_range: Option<(u64, u64)>,
    /// Rows `[0, head_rows)`, where `head_rows` is the first decided end or `num_rows`.
    head: Vec<RecordBatch>,
    /// Rows `[last decided end, num_rows)` (none without a decided boundary).
    tail: Vec<RecordBatch>,
    interior: Interior,
}

impl PartitionSummary {
    /// Summarise the rows of `table` (one partition) under `row_order`. For the unordered
    /// identity the partition is sorted locally (§10): merged partitions must be ranges of the
    /// fingerprints' `lo` lane, in increasing order.
    pub fn new(table: &Table, row_order: RowOrder) -> Result<Self> {
        match row_order {
            RowOrder::Ordered => Self::of_sequence(table, &table.lo_lanes()?, row_order),
            RowOrder::Unordered => {
                let (lo, sorted) = table.sorted_table()?;
                let mut s = Self::of_sequence(&sorted, &lo, row_order)?;
                s.lo_range = lo.first().zip(lo.last()).map(|(a, b)| (*a, *b));
                Ok(s)
            }
        }
    }

    /// The summary of `table`'s rows in the order given, whose fingerprints' `lo` lanes are `lo`.
    fn of_sequence(table: &Table, lo: &[u64], row_order: RowOrder) -> Result<Self> {
        let test = match row_order {
            RowOrder::Ordered => is_candidate,
            RowOrder::Unordered => is_unordered_candidate,
        };
        let n = lo.len() as u64;
        let candidates: Vec<u64> = (0..n).filter(|&i| test(lo[i as usize])).collect();
        let mut head_candidate = None;
        let mut boundaries: Option<(u64, u64)> = None;
        let mut previous = None;
        for &c in &candidates {
            match local_decision(c, previous) {
                None => head_candidate = Some(c),
                Some(true) => boundaries = Some((boundaries.map_or(c + 1, |b| b.0), c + 1)),
                Some(false) => {}
            }
            previous = Some(c);
        }
        // Interior chunks: the rows between the first and last decided boundary, chunked by the
        // same rule as a single machine, resumed after the first boundary.
        let mut ranges = Vec::new();
        if let Some((first, last)) = boundaries {
            let mut chunker = Chunker::new();
            chunker.skip_to_boundary(first);
            let mut ends = Vec::new();
            let inside = candidates
                .iter()
                .copied()
                .filter(|&c| c >= first && c < last);
            chunker.push(inside, last - first, &mut ends);
            let mut start = first;
            for e in ends {
                ranges.push(start..e);
                start = e;
            }
            debug_assert_eq!(start, last);
        }
        let table_canon = table.canonical_schema();
        let chunks = ranges
            .into_par_iter()
            .map(|r| {
                let cols = table_canon
                    .columns
                    .iter()
                    .map(|c| table.column_range(c.input_index, r.start as usize..r.end as usize))
                    .collect::<Result<Vec<_>>>()?;
                chunk_hash(table_canon, r, &cols)
            })
            .collect::<Result<Vec<_>>>()?;
        let schema = seam_schema(table)?;
        let canon = CanonicalSchema::new(&schema)?;
        debug_assert_eq!(canon.digest, table_canon.digest);
        let (head_end, tail_start) = boundaries.unwrap_or((n, n));
        let head = seam_rows(table, &schema, 0..head_end as usize)?;
        let tail = seam_rows(table, &schema, tail_start as usize..n as usize)?;
        Ok(PartitionSummary {
            row_order,
            schema,
            canon,
            num_rows: n,
            head_candidate,
            last_candidate: candidates.last().copied(),
            boundaries,
            lo_range: None,
            head,
            tail,
            interior: Interior::Chunks(chunks),
        })
    }

    pub fn num_rows(&self) -> u64 {
        self.num_rows
    }

    pub fn row_order(&self) -> RowOrder {
        self.row_order
    }

    pub fn schema_digest(&self) -> Digest {
        self.canon.digest
    }

    /// The schema of the seam rows (canonical column order, dictionaries decoded).
    pub fn seam_schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Number of seam rows kept (head and tail).
    pub fn seam_rows(&self) -> u64 {
        self.head
            .iter()
            .chain(&self.tail)
            .map(|b| b.num_rows() as u64)
            .sum()
    }

    pub fn interior(&self) -> &Interior {
        &self.interior
    }

    /// The same summary with its interior as a compact range placed at global chunk index
    /// `first` (from [`chunk_offsets`]), or with only its interior count when `first` is `None`.
    pub fn compact(&self, first: Option<u64>) -> Result<Self> {
        let interior =
            match (&self.interior, first) {
                (i, None) => Interior::Unplaced { count: i.count() },
                (Interior::Chunks(chunks), Some(first)) => {
                    if first.checked_add(chunks.len() as u64).is_none() {
                        return Err(Error::InvalidArgument(format!(
                            "first chunk index {first} + {} interior chunks overflows",
                            chunks.len()
                        )));
                    }
                    let chunk_leaves: Vec<Digest> =
                        chunks.iter().map(|c| leaf_hash(&c.digest)).collect();
                    let column_trees = (0..self.canon.columns.len())
                        .into_par_iter()
                        .map(|k| {
                            let leaves: Vec<Digest> = chunks
                                .iter()
                                .map(|c| leaf_hash(&column_leaf(c, k)))
                                .collect();
                            compact_range(first, &leaves)
                        })
                        .collect();
                    Interior::Compact {
                        first,
                        count: chunks.len() as u64,
                        chunk_tree: compact_range(first, &chunk_leaves),
                        column_trees,
                    }
                }
                (i @ Interior::Compact { first: f, .. }, Some(first)) if *f == first => i.clone(),
                (Interior::Compact { first: f, .. }, Some(first)) => {
                    return Err(Error::InvalidArgument(format!(
                    "this summary is already compacted at chunk index {f}, not {first}: compact \
                     the summary that holds its interior chunks"
                )))
                }
                (Interior::Unplaced { .. }, Some(_)) => return Err(Error::InvalidArgument(
                    "this summary holds only its interior chunk count: compact the summary that \
                     holds its interior chunks"
                        .into(),
                )),
            };
        Ok(PartitionSummary {
            row_order: self.row_order,
            schema: self.schema.clone(),
            canon: self.canon.clone(),
            num_rows: self.num_rows,
            head_candidate: self.head_candidate,
            last_candidate: self.last_candidate,
            boundaries: self.boundaries,
            lo_range: self.lo_range,
            head: self.head.clone(),
            tail: self.tail.clone(),
            interior,
        })
    }
}

/// The schema of seam rows: the columns in canonical order, dictionaries decoded (so that the
/// seam rows of partitions with different dictionaries concatenate), no metadata.
fn seam_schema(table: &Table) -> Result<SchemaRef> {
    let fields = table
        .canonical_schema()
        .columns
        .iter()
        .map(|c| {
            let f = table.schema().field(c.input_index);
            let empty = arrow_array::new_empty_array(f.data_type());
            let decoded = decode_dictionaries(empty.as_ref())?;
            Ok(Field::new(f.name(), decoded.data_type().clone(), true))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Arc::new(Schema::new(fields)))
}

/// Rows `r` of `table` as batches of the seam schema (zero-copy unless a dictionary is decoded).
fn seam_rows(table: &Table, schema: &SchemaRef, r: Range<usize>) -> Result<Vec<RecordBatch>> {
    if r.is_empty() {
        return Ok(Vec::new());
    }
    let part = table.select(&[r])?;
    part.batches()
        .iter()
        .map(|b| {
            let columns = table
                .canonical_schema()
                .columns
                .iter()
                .map(|c| owned(&decode_dictionaries(b.column(c.input_index).as_ref())?))
                .collect::<Result<Vec<_>>>()?;
            crate::table::batch_of(schema, columns, b.num_rows())
        })
        .collect()
}

/// `array` copied into buffers of its own: seam rows are a few chunks' worth, and must not keep
/// alive the buffers of the whole partition they were sliced from (for the unordered identity,
/// the sorted copy of it).
fn owned(array: &arrow_array::ArrayRef) -> Result<arrow_array::ArrayRef> {
    let data = array.to_data();
    let mut copy = arrow_data::transform::MutableArrayData::new(vec![&data], false, data.len());
    copy.try_extend(0, 0, data.len())?;
    Ok(arrow_array::make_array(copy.freeze()))
}

/// One step of the merged chunk sequence.
enum Item {
    /// A chunk made of seam rows (global row range), hashed by the coordinator.
    Seam(Range<u64>),
    /// The interior chunks of a partition whose first row is global row `offset`.
    Interior { partition: usize, offset: u64 },
}

/// The seam pass of §11: every chunk of the merged table, in order.
struct Plan {
    items: Vec<Item>,
    num_rows: u64,
    /// Every seam batch with its global first row, in row order.
    pieces: Vec<(u64, RecordBatch)>,
    /// The schema of the seam batches.
    schema: SchemaRef,
}

/// Check that the summaries can be merged: one row order, one schema, increasing `lo` ranges for
/// the unordered identity.
fn check_compatible(summaries: &[&PartitionSummary]) -> Result<()> {
    let Some(first) = summaries.first() else {
        return Err(Error::Merge(
            "no partition summaries: a merge needs at least one (an empty partition summarises \
             an empty table of its schema)"
                .into(),
        ));
    };
    let name = |o: RowOrder| match o {
        RowOrder::Ordered => "ordered",
        RowOrder::Unordered => "unordered",
    };
    for (p, s) in summaries.iter().enumerate().skip(1) {
        if s.row_order != first.row_order {
            return Err(Error::Merge(format!(
                "partition 0 is {} and partition {p} is {}: summarise every partition with one \
                 row_order",
                name(first.row_order),
                name(s.row_order)
            )));
        }
        if s.canon.digest != first.canon.digest {
            let a: Vec<String> = first.schema.fields().iter().map(describe).collect();
            let b: Vec<String> = s.schema.fields().iter().map(describe).collect();
            return Err(Error::SchemaMismatch(format!(
                "partitions 0 and {p} have different schemas: [{}] vs [{}]",
                a.join(", "),
                b.join(", ")
            )));
        }
        // Layouts may differ (string or large_string...): seam rows are then widened to one
        // layout per logical type before they are concatenated. Anything else is refused.
        let differs = first
            .schema
            .fields()
            .iter()
            .zip(s.schema.fields())
            .find(|(a, b)| widened_type(a.data_type()).ok() != widened_type(b.data_type()).ok());
        if let Some((a, b)) = differs {
            return Err(Error::SchemaMismatch(format!(
                "partitions 0 and {p} store column {:?} as {} and {}: their seam rows cannot be \
                 concatenated; give every partition the same Arrow types",
                a.name(),
                a.data_type(),
                b.data_type()
            )));
        }
    }
    let total = summaries
        .iter()
        .try_fold(0u64, |acc, s| acc.checked_add(s.num_rows));
    if total.is_none() {
        return Err(Error::Merge(
            "the partitions hold more than 2^64 rows".into(),
        ));
    }
    if first.row_order == RowOrder::Unordered {
        let mut previous: Option<(usize, u64)> = None;
        for (p, s) in summaries.iter().enumerate() {
            let Some((lo, hi)) = s.lo_range else { continue };
            if let Some((q, prev_hi)) = previous {
                if lo <= prev_hi {
                    return Err(Error::Merge(format!(
                        "unordered partitions {q} and {p} are not increasing ranges of the \
                         fingerprints' lo lane (partition {q} ends at lo = {prev_hi:#018x}, \
                         partition {p} starts at lo = {lo:#018x}): route rows to partitions by \
                         ranges of lo (e.g. its top bits) and merge them in range order"
                    )));
                }
            }
            previous = Some((p, hi));
        }
    }
    Ok(())
}

/// The type of `dt` arrays after [`crate::canon::widen_layout`].
fn widened_type(dt: &arrow_schema::DataType) -> Result<arrow_schema::DataType> {
    let empty = arrow_array::new_empty_array(dt);
    Ok(crate::canon::widen_layout(empty.as_ref())?
        .data_type()
        .clone())
}

/// The seam schema all summaries share once the columns whose layouts differ between them are
/// widened ([`crate::canon::widen_layout`]), and which columns those are.
fn common_seam_schema(summaries: &[&PartitionSummary]) -> Result<(SchemaRef, Vec<bool>)> {
    let first = &summaries[0].schema;
    let widen: Vec<bool> = (0..first.fields().len())
        .map(|k| {
            let dt = first.field(k).data_type();
            summaries
                .iter()
                .any(|s| s.schema.field(k).data_type() != dt)
        })
        .collect();
    let fields = (first.fields().iter().zip(&widen))
        .map(|(f, &w)| {
            Ok(match w {
                true => Field::new(f.name(), widened_type(f.data_type())?, true),
                false => f.as_ref().clone(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((Arc::new(Schema::new(fields)), widen))
}

fn describe(f: &arrow_schema::FieldRef) -> String {
    format!("{}: {}", f.name(), f.data_type())
}

fn inconsistent(p: usize) -> Error {
    Error::Merge(format!(
        "partition {p}: its summary is inconsistent (its boundaries do not follow from its \
         candidates)"
    ))
}

/// The seam pass: walk the partitions in order, finish the decisions of §7 at each seam with one
/// [`Chunker`], and list every chunk.
fn plan(summaries: &[&PartitionSummary]) -> Result<Plan> {
    check_compatible(summaries)?;
    let (schema, widen) = common_seam_schema(summaries)?;
    let seam = |b: &RecordBatch| -> Result<RecordBatch> {
        if !widen.contains(&true) {
            return Ok(b.clone());
        }
        let columns = (b.columns().iter().zip(&widen))
            .map(|(c, &w)| match w {
                true => crate::canon::widen_layout(c.as_ref()),
                false => Ok(c.clone()),
            })
            .collect::<Result<Vec<_>>>()?;
        crate::table::batch_of(&schema, columns, b.num_rows())
    };
    let mut chunker = Chunker::new();
    let mut ends = Vec::new();
    let mut items = Vec::new();
    let mut pieces = Vec::new();
    // Start of the next seam chunk.
    let mut seam_start = 0u64;
    let take_ends = |ends: &mut Vec<u64>, items: &mut Vec<Item>, seam_start: &mut u64| {
        for e in ends.drain(..) {
            items.push(Item::Seam(*seam_start..e));
            *seam_start = e;
        }
    };
    for (p, s) in summaries.iter().enumerate() {
        let g = chunker.rows();
        let mut at = g;
        for b in &s.head {
            pieces.push((at, seam(b)?));
            at += b.num_rows() as u64;
        }
        let head_candidate = s.head_candidate.map(|c| g + c);
        match s.boundaries {
            Some((first, last)) => {
                // The head: the seam candidate, then the first decided boundary, which ends the
                // head whatever the seam candidate turns out to be.
                let cands = head_candidate.into_iter().chain([g + first - 1]);
                chunker.push(cands, first, &mut ends);
                if chunker.open_chunk_start() != g + first {
                    return Err(inconsistent(p));
                }
                take_ends(&mut ends, &mut items, &mut seam_start);
                items.push(Item::Interior {
                    partition: p,
                    offset: g,
                });
                chunker.skip_to_boundary(g + last);
                seam_start = g + last;
                // The tail holds no content boundary; its run may still be cut at MAX.
                let mut at = g + last;
                for b in &s.tail {
                    pieces.push((at, seam(b)?));
                    at += b.num_rows() as u64;
                }
                chunker.push([], s.num_rows - last, &mut ends);
            }
            None => chunker.push(head_candidate, s.num_rows, &mut ends),
        }
        if let Some(c) = s.last_candidate {
            chunker.note_candidate(g + c);
        }
        take_ends(&mut ends, &mut items, &mut seam_start);
        if chunker.rows() != g + s.num_rows {
            return Err(inconsistent(p));
        }
    }
    chunker.finish(&mut ends);
    take_ends(&mut ends, &mut items, &mut seam_start);
    Ok(Plan {
        items,
        num_rows: chunker.rows(),
        pieces,
        schema,
    })
}

/// Hash the seam chunks (in parallel) from the seam rows.
fn hash_seams(canon: &CanonicalSchema, plan: &Plan) -> Result<Vec<ChunkHash>> {
    let schema = &plan.schema;
    let ranges: Vec<&Range<u64>> = plan
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Seam(r) => Some(r),
            Item::Interior { .. } => None,
        })
        .collect();
    let pieces = &plan.pieces;
    ranges
        .into_par_iter()
        .map(|r| {
            // A seam chunk lies in consecutive seam rows: interiors are never inside it.
            let i = pieces.partition_point(|(s, b)| s + b.num_rows() as u64 <= r.start);
            let first = pieces.get(i).map_or(r.start, |p| p.0);
            let cols = (0..canon.columns.len())
                .map(|k| {
                    let batches = pieces[i..].iter().map(|(_, b)| b);
                    column_rows(batches, first, k, r.clone(), schema.field(k).data_type())
                })
                .collect::<Result<Vec<_>>>()?;
            if cols.iter().any(|c| c.len() as u64 != r.end - r.start) {
                return Err(Error::Merge(format!(
                    "the seam rows of rows {}..{} are missing",
                    r.start, r.end
                )));
            }
            chunk_hash(canon, r.clone(), &cols)
        })
        .collect()
}

/// Global index of the first interior chunk of every partition, given the summaries of all
/// partitions in order (any form): what [`PartitionSummary::compact`] needs. The value of a
/// partition without interior chunks is not used.
pub fn chunk_offsets(summaries: &[&PartitionSummary]) -> Result<Vec<u64>> {
    let plan = plan(summaries)?;
    let mut offsets = vec![0; summaries.len()];
    let mut chunks = 0u64;
    let mut next = 0usize;
    for item in &plan.items {
        match item {
            Item::Seam(_) => chunks += 1,
            Item::Interior { partition, .. } => {
                // Partitions without an interior get the count so far.
                for o in &mut offsets[next..*partition] {
                    *o = chunks;
                }
                offsets[*partition] = chunks;
                next = partition + 1;
                chunks += summaries[*partition].interior.count();
            }
        }
    }
    for o in &mut offsets[next..] {
        *o = chunks;
    }
    Ok(offsets)
}

/// Merge the summaries of consecutive partitions, in order, into the hash of the whole table:
/// equal in every field (root, digests, chunk list with global starts) to [`Table::hash`] of the
/// concatenated partitions. Every summary must hold its interior chunks ([`Interior::Chunks`]);
/// compacted summaries merge with [`merge_compact`].
pub fn merge(summaries: &[&PartitionSummary]) -> Result<TableHash> {
    let plan = plan(summaries)?;
    let first = summaries[0];
    let seams = hash_seams(&first.canon, &plan)?;
    let mut seams = seams.into_iter();
    let mut chunks = Vec::new();
    for item in &plan.items {
        match item {
            Item::Seam(_) => chunks.extend(seams.next()),
            Item::Interior { partition, offset } => match &summaries[*partition].interior {
                Interior::Chunks(cs) => chunks.extend(cs.iter().map(|c| ChunkHash {
                    start: c.start + offset,
                    ..c.clone()
                })),
                other if other.count() == 0 => {}
                _ => {
                    return Err(Error::Merge(format!(
                        "partition {partition} is compacted: merge_compact merges compacted \
                         summaries (root and column digests, no chunk list)"
                    )))
                }
            },
        }
    }
    Ok(assemble(
        &first.canon,
        first.row_order,
        plan.num_rows,
        chunks,
    ))
}

/// The identity of a table without its chunk list: what [`merge_compact`] can compute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRoot {
    pub scheme: u8,
    pub row_order: RowOrder,
    pub num_rows: u64,
    pub num_chunks: u64,
    pub schema_digest: Digest,
    pub root: Digest,
    /// Columns in canonical (bytewise name) order.
    pub columns: Vec<ColumnHash>,
}

impl TableRoot {
    /// The parts of a full hash that a compact merge computes.
    pub fn of(h: &TableHash) -> TableRoot {
        TableRoot {
            scheme: h.scheme,
            row_order: h.row_order,
            num_rows: h.num_rows,
            num_chunks: h.chunks.len() as u64,
            schema_digest: h.schema_digest,
            root: h.root,
            columns: h.columns.clone(),
        }
    }
}

/// Merge summaries whose interiors are compact ranges (or full chunk lists, in any mix) into the
/// root and column digests of the whole table: the Merkle trees are built left to right from the
/// seam chunks' leaves and the interiors' aligned subtrees.
pub fn merge_compact(summaries: &[&PartitionSummary]) -> Result<TableRoot> {
    let plan = plan(summaries)?;
    let first = summaries[0];
    let canon = &first.canon;
    let seams = hash_seams(canon, &plan)?;
    let mut seams = seams.into_iter();
    let ncols = canon.columns.len();
    let mut chunk_tree = Frontier::new();
    let mut column_trees = vec![Frontier::new(); ncols];
    let push_chunk = |c: &ChunkHash, chunk_tree: &mut Frontier, cols: &mut [Frontier]| {
        chunk_tree.push_leaf(leaf_hash(&c.digest));
        for (k, t) in cols.iter_mut().enumerate() {
            t.push_leaf(leaf_hash(&column_leaf(c, k)));
        }
    };
    for item in &plan.items {
        match item {
            Item::Seam(_) => {
                let c = seams.next().expect("one hash per seam chunk");
                push_chunk(&c, &mut chunk_tree, &mut column_trees);
            }
            Item::Interior { partition, .. } => match &summaries[*partition].interior {
                Interior::Chunks(cs) => cs
                    .iter()
                    .for_each(|c| push_chunk(c, &mut chunk_tree, &mut column_trees)),
                Interior::Compact {
                    first: at,
                    count,
                    chunk_tree: hashes,
                    column_trees: cols,
                } => {
                    if *count > 0 && *at != chunk_tree.size() {
                        return Err(Error::Merge(format!(
                            "partition {partition} was compacted at chunk index {at}, but its \
                             interior starts at chunk {}: compact each summary at the offset \
                             chunk_offsets gives for it",
                            chunk_tree.size()
                        )));
                    }
                    let blocks = compact_blocks(*at, *count);
                    for (b, (_, level)) in blocks.iter().enumerate() {
                        chunk_tree.push_subtree(*level, hashes[b]);
                        for (t, col) in column_trees.iter_mut().zip(cols) {
                            t.push_subtree(*level, col[b]);
                        }
                    }
                }
                Interior::Unplaced { .. } => {
                    return Err(Error::Merge(format!(
                        "partition {partition} holds only its interior chunk count: merge \
                         summaries compacted at the offsets of chunk_offsets"
                    )))
                }
            },
        }
    }
    let m = chunk_tree.size();
    let n = plan.num_rows;
    let columns = canon
        .columns
        .iter()
        .zip(&column_trees)
        .map(|(c, t)| ColumnHash {
            name: c.name.clone(),
            logical_type: c.logical.display(),
            digest: column_digest(first.row_order, c, n, m, &t.root()),
        })
        .collect();
    Ok(TableRoot {
        scheme: SCHEME,
        row_order: first.row_order,
        num_rows: n,
        num_chunks: m,
        schema_digest: canon.digest,
        root: root_digest(first.row_order, &canon.digest, n, m, &chunk_tree.root()),
        columns,
    })
}

// ------------------------------------------------------------------------------------------------
// Serialized form (docs/hash-spec.md §11, "Summary wire format")
// ------------------------------------------------------------------------------------------------

const NONE: u64 = u64::MAX;

fn invalid(msg: impl Into<String>) -> Error {
    Error::InvalidSummary(msg.into())
}

/// The rows of `batches` as an Arrow IPC stream of `schema`.
fn ipc_bytes(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Vec<u8>> {
    let mut w = arrow_ipc::writer::StreamWriter::try_new(Vec::new(), schema)?;
    for b in batches.iter().filter(|b| b.num_rows() > 0) {
        w.write(b)?;
    }
    w.finish()?;
    Ok(w.into_inner()?)
}

/// Read an Arrow IPC stream of seam rows, fully validated.
fn read_ipc(bytes: &[u8], what: &str) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let fail =
        |e: arrow_schema::ArrowError| invalid(format!("{what}: not an Arrow IPC stream ({e})"));
    let reader =
        arrow_ipc::reader::StreamReader::try_new(Cursor::new(bytes), None).map_err(fail)?;
    let schema = reader.schema();
    let mut batches = Vec::new();
    for b in reader {
        let b = b.map_err(fail)?;
        for (f, c) in schema.fields().iter().zip(b.columns()) {
            validate_array(c.as_ref()).map_err(|e| {
                invalid(format!("{what}: column {:?} is malformed ({e})", f.name()))
            })?;
        }
        batches.push(b);
    }
    Ok((schema, batches))
}

/// Bounds-checked reader over the serialized bytes.
struct Bytes<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Bytes<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        if self.data.len() - self.at < n {
            return Err(invalid(format!("truncated (while reading {what})")));
        }
        let s = &self.data[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }
    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }
    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(
            self.take(8, what)?.try_into().expect("8 bytes"),
        ))
    }
    fn opt(&mut self, what: &str) -> Result<Option<u64>> {
        Ok(Some(self.u64(what)?).filter(|&v| v != NONE))
    }
    fn digest(&mut self, what: &str) -> Result<Digest> {
        Ok(self.take(32, what)?.try_into().expect("32 bytes"))
    }
    /// `count` digests, refusing a count the remaining bytes cannot hold before allocating.
    fn digests(&mut self, count: u64, what: &str) -> Result<Vec<Digest>> {
        if count > ((self.data.len() - self.at) / 32) as u64 {
            return Err(invalid(format!("truncated (while reading {what})")));
        }
        (0..count).map(|_| self.digest(what)).collect()
    }
}

impl PartitionSummary {
    /// The serialized summary (format version [`FORMAT_VERSION`], specified in
    /// docs/hash-spec.md §11): a fixed header, the seam rows as two Arrow IPC streams, the
    /// interior digests, and a BLAKE3 checksum of everything before it.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let put = |out: &mut Vec<u8>, v: u64| out.extend_from_slice(&v.to_le_bytes());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.push(SCHEME);
        out.push(self.row_order.code());
        out.push(self.interior.code());
        out.push(u8::from(self.boundaries.is_some()));
        put(&mut out, self.num_rows);
        let (first, last) = self.boundaries.unwrap_or((0, 0));
        put(&mut out, first);
        put(&mut out, last);
        put(&mut out, self.head_candidate.unwrap_or(NONE));
        put(&mut out, self.last_candidate.unwrap_or(NONE));
        let (lo_min, lo_max) = self.lo_range.unwrap_or((0, 0));
        put(&mut out, lo_min);
        put(&mut out, lo_max);
        for rows in [&self.head, &self.tail] {
            let ipc = ipc_bytes(&self.schema, rows)?;
            put(&mut out, ipc.len() as u64);
            out.extend_from_slice(&ipc);
        }
        put(&mut out, self.interior.count());
        match &self.interior {
            Interior::Chunks(chunks) => {
                for c in chunks {
                    put(&mut out, c.num_rows);
                    out.extend_from_slice(&c.digest);
                    c.segments.iter().for_each(|s| out.extend_from_slice(s));
                }
            }
            Interior::Compact {
                first,
                chunk_tree,
                column_trees,
                ..
            } => {
                put(&mut out, *first);
                chunk_tree.iter().for_each(|d| out.extend_from_slice(d));
                for t in column_trees {
                    t.iter().for_each(|d| out.extend_from_slice(d));
                }
            }
            Interior::Unplaced { .. } => {}
        }
        let checksum = crate::hashing::bytes_digest(&out);
        out.extend_from_slice(&checksum);
        Ok(out)
    }

    /// Read a summary written by [`to_bytes`](Self::to_bytes), checking its checksum, its seam
    /// rows (full Arrow validation) and every invariant the merge relies on.
    pub fn from_bytes(data: &[u8]) -> Result<Self> {
        if data.len() < MAGIC.len() + 2 || &data[..MAGIC.len()] != MAGIC {
            return Err(invalid(
                "not a lineage_fast partition summary (bad magic bytes)",
            ));
        }
        let version = u16::from_le_bytes([data[8], data[9]]);
        if version != FORMAT_VERSION {
            return Err(invalid(format!(
                "format version {version}, this lineage_fast reads version {FORMAT_VERSION}"
            )));
        }
        if data.len() < 10 + 32 {
            return Err(invalid("truncated (no checksum)"));
        }
        let (body, checksum) = data.split_at(data.len() - 32);
        if crate::hashing::bytes_digest(body) != checksum {
            return Err(invalid(
                "checksum mismatch: the bytes are corrupted or truncated",
            ));
        }
        let mut r = Bytes { data: body, at: 10 };
        let scheme = r.u8("scheme")?;
        if scheme != SCHEME {
            return Err(invalid(format!("hash scheme {scheme}, expected {SCHEME}")));
        }
        let row_order = match r.u8("row order")? {
            0 => RowOrder::Ordered,
            1 => RowOrder::Unordered,
            x => return Err(invalid(format!("unknown row order code {x}"))),
        };
        let form = r.u8("interior form")?;
        let has_boundaries = match r.u8("boundary flag")? {
            0 => false,
            1 => true,
            x => return Err(invalid(format!("boundary flag {x}"))),
        };
        let num_rows = r.u64("row count")?;
        let first = r.u64("first boundary")?;
        let last = r.u64("last boundary")?;
        let head_candidate = r.opt("head candidate")?;
        let last_candidate = r.opt("last candidate")?;
        let lo_min = r.u64("lo range")?;
        let lo_max = r.u64("lo range")?;
        let mut seams = Vec::new();
        for what in ["head rows", "tail rows"] {
            let len = r.u64(what)?;
            let bytes = r.take(usize::try_from(len).unwrap_or(usize::MAX), what)?;
            seams.push(read_ipc(bytes, what)?);
        }
        let (tail_schema, tail) = seams.pop().expect("tail");
        let (schema, head) = seams.pop().expect("head");
        if tail_schema.fields() != schema.fields() {
            return Err(invalid("the head and tail rows have different schemas"));
        }
        let canon = CanonicalSchema::new(&schema)?;
        if canon
            .columns
            .iter()
            .enumerate()
            .any(|(k, c)| c.input_index != k)
        {
            return Err(invalid("the seam columns are not in canonical order"));
        }
        let ncols = canon.columns.len();
        let count = r.u64("interior chunk count")?;
        let interior = match form {
            0 => {
                let per_chunk = 8 + 32 * (1 + ncols as u64);
                if count > (body.len() - r.at) as u64 / per_chunk {
                    return Err(invalid("truncated (while reading interior chunks)"));
                }
                let mut start = first;
                let mut chunks = Vec::with_capacity(count as usize);
                for _ in 0..count {
                    let n = r.u64("chunk rows")?;
                    if n == 0 || n > MAX_ROWS as u64 {
                        return Err(invalid(format!("an interior chunk of {n} rows")));
                    }
                    let digest = r.digest("chunk digest")?;
                    let segments = r.digests(ncols as u64, "segment digests")?;
                    chunks.push(ChunkHash {
                        start,
                        num_rows: n,
                        digest,
                        segments,
                    });
                    start = start.saturating_add(n);
                }
                if has_boundaries && start != last {
                    return Err(invalid(
                        "the interior chunks do not cover the interior rows",
                    ));
                }
                Interior::Chunks(chunks)
            }
            1 => {
                let at = r.u64("first chunk index")?;
                if at.checked_add(count).is_none() {
                    return Err(invalid("chunk index out of range"));
                }
                let blocks = compact_blocks(at, count).len() as u64;
                let chunk_tree = r.digests(blocks, "chunk tree")?;
                let column_trees = (0..ncols)
                    .map(|_| r.digests(blocks, "column trees"))
                    .collect::<Result<Vec<_>>>()?;
                Interior::Compact {
                    first: at,
                    count,
                    chunk_tree,
                    column_trees,
                }
            }
            2 => Interior::Unplaced { count },
            x => return Err(invalid(format!("unknown interior form {x}"))),
        };
        if r.at != body.len() {
            return Err(invalid("trailing bytes after the interior digests"));
        }
        let rows = |b: &[RecordBatch]| b.iter().map(|b| b.num_rows() as u64).sum::<u64>();
        let (head_rows, tail_rows) = (rows(&head), rows(&tail));
        // The invariants of a summary built by `new` (the merge relies on them).
        let min = MIN_ROWS as u64;
        let ok = match has_boundaries {
            true => {
                first >= 1
                    && first <= last
                    && last <= num_rows
                    && head_rows == first
                    && tail_rows == num_rows - last
                    && (count > 0 || first == last)
                    && count <= last - first
                    // The first decided boundary: its window is inside the partition or it is
                    // at least MIN after the seam candidate.
                    && match head_candidate {
                        None => first >= min,
                        Some(h) => h + 1 < min && h + min < first,
                    }
                    && last_candidate.is_some_and(|c| c + 1 >= last && c < num_rows)
            }
            false => {
                head_rows == num_rows
                    && tail_rows == 0
                    && count == 0
                    && head_candidate.is_none_or(|h| h + 1 < min)
                    && match (head_candidate, last_candidate) {
                        (None, None) => true,
                        (Some(h), Some(c)) => h <= c && c < num_rows,
                        _ => false,
                    }
            }
        };
        let lo_range = match row_order {
            RowOrder::Unordered if num_rows > 0 => Some((lo_min, lo_max)),
            _ => None,
        };
        if !ok || lo_range.is_some_and(|(a, b)| a > b) {
            return Err(invalid(
                "its row counts, boundaries and candidates are inconsistent",
            ));
        }
        Ok(PartitionSummary {
            row_order,
            schema,
            canon,
            num_rows,
            head_candidate,
            last_candidate,
            boundaries: has_boundaries.then_some((first, last)),
            lo_range,
            head,
            tail,
            interior,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, StringArray};

    /// Seam rows own their buffers: a summary keeps a few chunks' worth of memory, not the
    /// partition's (nor, for the unordered identity, its sorted copy).
    #[test]
    fn seam_rows_do_not_keep_the_partition_alive() {
        let n = 300_000;
        let s = StringArray::from_iter_values((0..n).map(|i| format!("{i:0100}")));
        let batch = RecordBatch::try_from_iter([("s", Arc::new(s) as ArrayRef)]).unwrap();
        let t = Table::new(batch.schema(), vec![batch]).unwrap();
        for order in [RowOrder::Ordered, RowOrder::Unordered] {
            let summary = PartitionSummary::new(&t, order).unwrap();
            let rows = summary.seam_rows() as usize;
            let held: usize = (summary.head.iter().chain(&summary.tail))
                .map(|b| b.get_array_memory_size())
                .sum();
            assert!(rows > 0 && rows < n / 2, "{order:?}: {rows} seam rows");
            assert!(
                held < rows * 200 + (64 << 10),
                "{order:?}: {held} bytes held for {rows} seam rows"
            );
        }
    }
}
