//! The canonical row order of the unordered identity (docs/hash-spec.md §10), built the way §11
//! builds it on many workers: rows are partitioned into ranges of their fingerprint's `lo` lane
//! ([`GroupPlan`]), each group is sorted on its own ([`radix_sort`]) and its rows are moved into
//! sorted order ([`Placement`]). [`crate::Table`] then streams the groups, in order, through the
//! ordered hasher with the unordered candidate rule. No global sort and no sorted copy of the
//! whole table is ever built: memory in flight is one group.

use std::ops::Range;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{
    make_array, Array, ArrayRef, BooleanArray, GenericByteArray, OffsetSizeTrait, RecordBatch,
};
use arrow_buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_data::ArrayData;
use arrow_schema::DataType;
use rayon::prelude::*;

use crate::error::Result;

/// Memory that the group in flight may take per input row (beyond the per-row `lo` lanes and row
/// numbers): with them, the unordered hash stays within 40 B/row + 64 MiB. Within that bound
/// groups are as large as possible, because each group reads the rows it needs in one forward
/// pass over the input, and fewer, denser passes are faster.
const GROUP_BYTES_PER_ROW: usize = 16;
/// Fewest rows per group (small tables).
const MIN_GROUP_ROWS: usize = 1 << 16;

/// Bits of `lo` that assign a row to its group.
const GROUP_BITS: u32 = 16;

/// Groups of the unordered identity: ranges of the top [`GROUP_BITS`] bits of `lo`, so a group's
/// rows are consecutive in sorted order. A group holds at most an eighth of the rows, and no
/// more than [`GROUP_BYTES_PER_ROW`] allows, unless more rows than that share their top bits
/// (massively duplicated rows); such a group is sorted whole but placed piece by piece
/// ([`GroupPlan::piece_rows`]), so memory stays within the budget.
pub(crate) struct GroupPlan {
    /// Rows a group aims at; a larger group (rows sharing their top bits) is placed piece by
    /// piece of this many rows.
    target: usize,
    /// Group of each `lo` bucket.
    group_of: Vec<u32>,
    /// `starts[g]`: first position of group `g` in the partitioned rows; `starts[len]` = rows.
    starts: Vec<usize>,
}

impl GroupPlan {
    /// Groups for rows whose fingerprints' `lo` lanes are `lo`, of about `row_bytes` bytes each.
    pub(crate) fn new(lo: &[u64], row_bytes: usize) -> Self {
        let counts = lo
            .par_chunks(1 << 20)
            .map(|part| {
                let mut h = vec![0u32; 1 << GROUP_BITS];
                for &x in part {
                    h[(x >> (64 - GROUP_BITS)) as usize] += 1;
                }
                h
            })
            .reduce(
                || vec![0u32; 1 << GROUP_BITS],
                |mut a, b| {
                    a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                    a
                },
            );
        // A group of g rows holds about g × (2 × row_bytes + 40) bytes: its rows in sorted order,
        // the copy kept of the open chunk, and its sort keys.
        let by_memory = lo.len() * GROUP_BYTES_PER_ROW / (2 * row_bytes + 40);
        let target = (lo.len() / 8).min(by_memory).max(MIN_GROUP_ROWS);
        let mut group_of = Vec::with_capacity(counts.len());
        let mut starts = vec![0usize];
        let mut open = 0usize;
        for &c in &counts {
            if open > 0 && open + c as usize > target {
                starts.push(starts[starts.len() - 1] + open);
                open = 0;
            }
            open += c as usize;
            group_of.push((starts.len() - 1) as u32);
        }
        starts.push(starts[starts.len() - 1] + open);
        GroupPlan {
            target,
            group_of,
            starts,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.starts.len() - 1
    }

    /// Most rows placed (gathered in sorted order) at once.
    pub(crate) fn piece_rows(&self) -> usize {
        self.target
    }

    fn group(&self, lo: u64) -> usize {
        self.group_of[(lo >> (64 - GROUP_BITS)) as usize] as usize
    }

    /// Positions of group `g`'s rows in the output of [`GroupPlan::partition`].
    pub(crate) fn rows(&self, g: usize) -> Range<usize> {
        self.starts[g]..self.starts[g + 1]
    }

    /// Every row number, grouped by group, ascending within each group.
    pub(crate) fn partition(&self, lo: &[u64]) -> Vec<u32> {
        scatter(lo.len(), self.len(), |i| self.group(lo[i]), |i| i as u32).0
    }
}

/// A stable parallel scatter: items `0..n` grouped by `bucket(i) < buckets`, each written as
/// `value(i)`, in item order within a bucket. Returns the values and each bucket's length. Work
/// is split into row ranges; each range counts, then writes into its own slice of every bucket.
fn scatter<T: Copy + Default + Send + Sync>(
    n: usize,
    buckets: usize,
    bucket: impl Fn(usize) -> usize + Sync,
    value: impl Fn(usize) -> T + Sync,
) -> (Vec<T>, Vec<usize>) {
    let task_rows = n.div_ceil(4 * rayon::current_num_threads()).max(1 << 15);
    let tasks: Vec<Range<usize>> = (0..n)
        .step_by(task_rows)
        .map(|s| s..(s + task_rows).min(n))
        .collect();
    let counts: Vec<Vec<usize>> = tasks
        .par_iter()
        .map(|t| {
            let mut c = vec![0usize; buckets];
            for i in t.clone() {
                c[bucket(i)] += 1;
            }
            c
        })
        .collect();
    let mut out = vec![T::default(); n];
    let mut slices: Vec<Vec<&mut [T]>> = tasks.iter().map(|_| Vec::new()).collect();
    let mut rest: &mut [T] = &mut out;
    for b in 0..buckets {
        for (t, c) in counts.iter().enumerate() {
            let (head, tail) = rest.split_at_mut(c[b]);
            slices[t].push(head);
            rest = tail;
        }
    }
    tasks.into_par_iter().zip(slices).for_each(|(t, mut dst)| {
        let mut fill = vec![0usize; buckets];
        for i in t {
            let b = bucket(i);
            dst[b][fill[b]] = value(i);
            fill[b] += 1;
        }
    });
    let sizes = (0..buckets)
        .map(|b| counts.iter().map(|c| c[b]).sum())
        .collect();
    (out, sizes)
}

/// Sort `(key, index)` pairs by key (ties in any order): one scatter pass on the top bits of the
/// keys' range, about 64 keys per bucket, then the buckets sorted in parallel.
pub(crate) fn radix_sort(v: &mut Vec<(u64, u32)>) {
    if v.len() < 1 << 12 {
        v.sort_unstable_by_key(|e| e.0);
        return;
    }
    let (min, max) = v
        .par_iter()
        .fold(|| (u64::MAX, 0), |(a, b), e| (a.min(e.0), b.max(e.0)))
        .reduce(|| (u64::MAX, 0), |x, y| (x.0.min(y.0), x.1.max(y.1)));
    if min == max {
        return; // one key (massively repeated rows): already sorted, no copy
    }
    let span_bits = 64 - (max - min).leading_zeros();
    let bits = (v.len() / 64).max(2).ilog2().min(span_bits).max(1);
    let shift = span_bits.saturating_sub(bits);
    let (mut out, sizes) = scatter(
        v.len(),
        1 << bits,
        |i| ((v[i].0 - min) >> shift) as usize,
        |i| v[i],
    );
    let mut rest: &mut [(u64, u32)] = &mut out;
    let mut parts = Vec::with_capacity(sizes.len());
    for c in &sizes {
        let (head, tail) = rest.split_at_mut(*c);
        parts.push(head);
        rest = tail;
    }
    parts
        .into_par_iter()
        .with_min_len(256)
        .for_each(|p| p.sort_unstable_by_key(|e| e.0));
    *v = out;
}

/// Where the rows of one group go: `members` (ascending global row numbers) are read in input
/// order, batch by batch, and member `k` is written at sorted position `dest[k]`. Reading forward
/// and writing inside a group-sized array keeps every access cache- and prefetch-friendly.
pub(crate) struct Placement<'a> {
    batches: &'a [RecordBatch],
    members: &'a [u32],
    /// `(batch, members range, first global row of the batch)`, in input order.
    runs: Vec<(usize, Range<usize>, usize)>,
    dest: Vec<u32>,
}

impl<'a> Placement<'a> {
    /// `starts[b]` is the first global row of batch `b`; `rank[p]` is the member at position `p`.
    pub(crate) fn new(
        batches: &'a [RecordBatch],
        starts: &[usize],
        members: &'a [u32],
        rank: &[u32],
    ) -> Self {
        let mut dest = vec![0u32; rank.len()];
        for (p, &k) in rank.iter().enumerate() {
            dest[k as usize] = p as u32;
        }
        let mut runs = Vec::new();
        let mut k = 0;
        for (b, w) in starts.windows(2).enumerate() {
            let end = k + members[k..].partition_point(|&r| (r as usize) < w[1]);
            if end > k {
                runs.push((b, k..end, w[0]));
            }
            k = end;
        }
        Placement {
            batches,
            members,
            runs,
            dest,
        }
    }

    fn len(&self) -> usize {
        self.members.len()
    }

    /// Column `col` of the group in sorted order. Fixed-width, boolean, string/binary and
    /// dictionary columns are moved by dedicated kernels; other types by arrow's interleave.
    pub(crate) fn column(&self, col: usize) -> Result<ArrayRef> {
        let dt = self.batches[0].column(col).data_type().clone();
        let fast = match &dt {
            DataType::Boolean => Some(self.booleans(col)),
            DataType::Utf8 | DataType::Binary => self.bytes::<i32>(col, &dt),
            DataType::LargeUtf8 | DataType::LargeBinary => self.bytes::<i64>(col, &dt),
            DataType::Dictionary(..) => self.dictionary(col, &dt),
            _ => self.fixed(col, &dt, |a| a.clone()),
        };
        match fast {
            Some(a) => Ok(a),
            None => self.interleaved(col),
        }
    }

    /// Validity in sorted order, if any member is null.
    fn nulls(&self, col: usize) -> Option<NullBuffer> {
        let any = self
            .runs
            .iter()
            .any(|(b, ..)| self.batches[*b].column(col).null_count() > 0);
        if !any {
            return None;
        }
        let mut valid = vec![true; self.len()];
        for (b, ks, first) in &self.runs {
            if let Some(nb) = self.batches[*b].column(col).nulls() {
                for k in ks.clone() {
                    valid[self.dest[k] as usize] = nb.is_valid(self.members[k] as usize - first);
                }
            }
        }
        Some(NullBuffer::new(BooleanBuffer::from(valid))).filter(|n| n.null_count() > 0)
    }

    /// Fixed-width values: `part(array)` picks the array whose values move (the array itself, or
    /// a dictionary's keys).
    fn fixed(
        &self,
        col: usize,
        dt: &DataType,
        part: impl Fn(&ArrayRef) -> ArrayRef,
    ) -> Option<ArrayRef> {
        let w = dt.primitive_width()?;
        let data = match w {
            1 => self.move_values::<u8>(col, &part),
            2 => self.move_values::<u16>(col, &part),
            4 => self.move_values::<u32>(col, &part),
            8 => self.move_values::<u64>(col, &part),
            16 => self.move_values::<u128>(col, &part),
            _ => return None,
        };
        let nulls = self.nulls(col);
        ArrayData::builder(dt.clone())
            .len(self.len())
            .add_buffer(data)
            .nulls(nulls)
            .build()
            .ok()
            .map(make_array)
    }

    fn move_values<T: arrow_buffer::ArrowNativeType>(
        &self,
        col: usize,
        part: &impl Fn(&ArrayRef) -> ArrayRef,
    ) -> Buffer {
        let mut out = vec![T::default(); self.len()];
        for (b, ks, first) in &self.runs {
            let a = part(self.batches[*b].column(col)).to_data();
            let values: &[T] = &a.buffer::<T>(0)[a.offset()..];
            for k in ks.clone() {
                out[self.dest[k] as usize] = values[self.members[k] as usize - first];
            }
        }
        Buffer::from_vec(out)
    }

    fn booleans(&self, col: usize) -> ArrayRef {
        let mut out = vec![false; self.len()];
        for (b, ks, first) in &self.runs {
            let a = self.batches[*b].column(col);
            let values = a.as_boolean().values();
            for k in ks.clone() {
                out[self.dest[k] as usize] = values.value(self.members[k] as usize - first);
            }
        }
        Arc::new(BooleanArray::new(BooleanBuffer::from(out), self.nulls(col)))
    }

    /// Strings and binaries: lengths first (their prefix sums are the new offsets), then bytes.
    /// `None` when the group's bytes do not fit the offset type.
    fn bytes<O: OffsetSizeTrait>(&self, col: usize, dt: &DataType) -> Option<ArrayRef> {
        let nulls = self.nulls(col);
        let arrays: Vec<ArrayData> = self
            .batches
            .iter()
            .map(|b| b.column(col).to_data())
            .collect();
        let view = |b: usize| {
            let a = &arrays[b];
            let offsets: &[O] = &a.buffer::<O>(0)[a.offset()..];
            (offsets, a.buffers()[1].as_slice())
        };
        let mut lens = vec![0usize; self.len()];
        for (b, ks, first) in &self.runs {
            let (offsets, _) = view(*b);
            for k in ks.clone() {
                let i = self.members[k] as usize - first;
                lens[self.dest[k] as usize] = (offsets[i + 1] - offsets[i]).as_usize();
            }
        }
        if let Some(nb) = &nulls {
            crate::canon::for_each_null(nb, |i| lens[i] = 0);
        }
        let mut offsets = Vec::with_capacity(self.len() + 1);
        let mut total = 0usize;
        offsets.push(O::usize_as(0));
        for &l in &lens {
            total += l;
            offsets.push(O::from_usize(total)?);
        }
        drop(lens);
        let mut data = vec![0u8; total];
        for (b, ks, first) in &self.runs {
            let (src_offsets, src) = view(*b);
            for k in ks.clone() {
                let p = self.dest[k] as usize;
                let (s, e) = (offsets[p].as_usize(), offsets[p + 1].as_usize());
                let from = src_offsets[self.members[k] as usize - first].as_usize();
                data[s..e].copy_from_slice(&src[from..from + (e - s)]);
            }
        }
        let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
        let array: ArrayRef = match dt {
            // SAFETY: every value is a whole value of a validated input array (valid UTF-8 for
            // strings), placed between offsets built from its length; null slots are empty.
            DataType::Utf8 | DataType::LargeUtf8 => Arc::new(unsafe {
                GenericByteArray::<arrow_array::types::GenericStringType<O>>::new_unchecked(
                    offsets,
                    Buffer::from_vec(data),
                    nulls,
                )
            }),
            _ => Arc::new(unsafe {
                GenericByteArray::<arrow_array::types::GenericBinaryType<O>>::new_unchecked(
                    offsets,
                    Buffer::from_vec(data),
                    nulls,
                )
            }),
        };
        Some(array)
    }

    /// Dictionaries whose batches share one dictionary: only the keys move.
    fn dictionary(&self, col: usize, dt: &DataType) -> Option<ArrayRef> {
        let DataType::Dictionary(key_type, _) = dt else {
            return None;
        };
        let values = self.batches[self.runs.first()?.0]
            .column(col)
            .as_any_dictionary()
            .values()
            .to_data();
        let shared = self.runs.iter().all(|(b, ..)| {
            let a = self.batches[*b].column(col);
            a.as_any_dictionary().values().to_data().ptr_eq(&values)
        });
        if !shared {
            return None;
        }
        let keys = self.fixed(col, key_type, |a| {
            a.as_any_dictionary().keys().slice(0, a.len())
        })?;
        let data = keys
            .to_data()
            .into_builder()
            .data_type(dt.clone())
            .child_data(vec![values]);
        // SAFETY: the keys are keys of arrays validated against this very dictionary.
        Some(make_array(unsafe { data.build_unchecked() }))
    }

    /// Any other type: arrow's interleave in input order, then `take` into sorted order.
    fn interleaved(&self, col: usize) -> Result<ArrayRef> {
        let mut refs = Vec::with_capacity(self.len());
        for (b, ks, first) in &self.runs {
            refs.extend(ks.clone().map(|k| (*b, self.members[k] as usize - first)));
        }
        let mut rank = vec![0u32; self.len()];
        for (k, &p) in self.dest.iter().enumerate() {
            rank[p as usize] = k as u32;
        }
        let parts: Vec<&dyn Array> = self
            .batches
            .iter()
            .map(|b| b.column(col).as_ref())
            .collect();
        let in_input_order = crate::canon::interleave_arrays(&parts, &refs)?;
        let rank = arrow_array::UInt32Array::from(rank);
        Ok(arrow_select::take::take(
            in_input_order.as_ref(),
            &rank,
            None,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::OrderedHasher;
    use crate::table::{RowOrder, Table};
    use arrow_array::builder::{ListBuilder, StringDictionaryBuilder};
    use arrow_array::types::Int32Type;
    use arrow_array::{
        BinaryArray, Date32Array, Decimal128Array, FixedSizeBinaryArray, Float64Array, Int64Array,
        Int8Array, LargeStringArray, StringArray,
    };

    /// A deterministic xorshift generator (no dependency needed for test data).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// Rows `ids` of a table with one column of every kind the placement kernels handle, plus
    /// types that take the fallback (list, fixed-size binary, per-batch dictionaries).
    fn batch(ids: &[u64], other_dictionary: bool) -> RecordBatch {
        let v = |i: u64, k: u64| i.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(k as u32);
        let null = |i: u64, k: u64| v(i, k) % 11 == 0;
        let mut dict = StringDictionaryBuilder::<Int32Type>::new();
        if other_dictionary {
            dict.append_value("zz"); // a different dictionary for this batch
        }
        let mut list = ListBuilder::new(arrow_array::builder::Int32Builder::new());
        for &i in ids {
            match null(i, 7) {
                true => dict.append_null(),
                false => {
                    dict.append_value(["a", "bb", "ccc"][(v(i, 8) % 3) as usize]);
                }
            }
            for e in 0..v(i, 9) % 3 {
                list.values().append_value(e as i32);
            }
            list.append(!null(i, 10));
        }
        let mut dict = dict.finish();
        if other_dictionary {
            dict = dict.slice(1, ids.len());
        }
        let cols: Vec<(&str, ArrayRef)> = vec![
            (
                "i64",
                Arc::new(Int64Array::from_iter(
                    ids.iter()
                        .map(|&i| (!null(i, 1)).then_some(v(i, 1) as i64 % 1000)),
                )),
            ),
            (
                "f64",
                Arc::new(Float64Array::from_iter(ids.iter().map(|&i| {
                    (!null(i, 2)).then_some(if v(i, 2) % 5 == 0 { f64::NAN } else { i as f64 })
                }))),
            ),
            (
                "s",
                Arc::new(StringArray::from_iter(ids.iter().map(|&i| {
                    (!null(i, 3)).then(|| "x".repeat((v(i, 3) % 20) as usize) + &i.to_string())
                }))),
            ),
            (
                "ls",
                Arc::new(LargeStringArray::from_iter(
                    ids.iter()
                        .map(|&i| (!null(i, 4)).then(|| format!("{}", v(i, 4) % 97))),
                )),
            ),
            (
                "bin",
                Arc::new(BinaryArray::from_iter(
                    ids.iter()
                        .map(|&i| (!null(i, 5)).then(|| i.to_le_bytes().to_vec())),
                )),
            ),
            (
                "b",
                Arc::new(BooleanArray::from_iter(
                    ids.iter()
                        .map(|&i| (!null(i, 6)).then_some(v(i, 6) % 2 == 0)),
                )),
            ),
            ("dict", Arc::new(dict)),
            ("list", Arc::new(list.finish())),
            (
                "dec",
                Arc::new(
                    Decimal128Array::from_iter(
                        ids.iter()
                            .map(|&i| (!null(i, 11)).then_some(v(i, 11) as i128 - (1 << 60))),
                    )
                    .with_precision_and_scale(38, 2)
                    .unwrap(),
                ),
            ),
            (
                "d32",
                Arc::new(Date32Array::from_iter(
                    ids.iter()
                        .map(|&i| (!null(i, 12)).then_some((v(i, 12) % 5000) as i32)),
                )),
            ),
            (
                "i8",
                Arc::new(Int8Array::from_iter(
                    ids.iter().map(|&i| Some((v(i, 13) % 100) as i8)),
                )),
            ),
            (
                "fsb",
                Arc::new(
                    FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                        ids.iter()
                            .map(|&i| (!null(i, 14)).then(|| (i as u32).to_le_bytes())),
                        4,
                    )
                    .unwrap(),
                ),
            ),
        ];
        RecordBatch::try_from_iter(cols).unwrap()
    }

    /// `ids` cut into batches of the given sizes (cycled), alternate batches with their own
    /// dictionary when `mixed_dictionaries`.
    fn table(ids: &[u64], sizes: &[usize], mixed_dictionaries: bool) -> Table {
        let mut batches = Vec::new();
        let (mut s, mut k) = (0, 0);
        while s < ids.len() {
            let e = (s + sizes[k % sizes.len()]).min(ids.len());
            batches.push(batch(&ids[s..e], mixed_dictionaries && k % 2 == 1));
            s = e;
            k += 1;
        }
        Table::new(batches[0].schema(), batches).unwrap()
    }

    /// The unordered hash by the definition of §10, without groups or placement kernels: every
    /// row sorted by `lo` then by row encoding, gathered with `take`, hashed in one stream.
    fn reference(t: &Table) -> crate::table::TableHash {
        let fp = t.fingerprints().unwrap();
        let mut rows: Vec<(u64, Vec<u8>, u64)> = (0..t.num_rows())
            .map(|r| {
                let mut enc = Vec::new();
                t.encode_row(r, &mut enc).unwrap();
                (fp[r][0], enc, r as u64)
            })
            .collect();
        rows.sort();
        let order: Vec<u64> = rows.iter().map(|r| r.2).collect();
        let lo: Vec<u64> = rows.iter().map(|r| r.0).collect();
        let mut h = OrderedHasher::unordered(t.schema().clone()).unwrap();
        h.push_sorted(t.take_batch(&order).unwrap(), &lo).unwrap();
        h.finish().unwrap()
    }

    #[test]
    fn groups_and_placement_equal_the_definition() {
        let mut rng = Rng(0x5EED);
        // 150,000 rows with duplicates (ties on `lo`): several groups of at most 65,536 rows.
        let mut ids: Vec<u64> = (0..150_000).map(|_| rng.below(120_000)).collect();
        let expected = reference(&table(&ids, &[150_000], false));
        for (sizes, mixed) in [
            (&[150_000][..], false),
            (&[7_000, 50_000, 1, 23_456][..], false),
            (&[40_000, 9_999][..], true),
        ] {
            // Any permutation and any batching give the definition's result.
            for i in (1..ids.len()).rev() {
                ids.swap(i, rng.below(i as u64 + 1) as usize);
            }
            let t = table(&ids, sizes, mixed);
            let lo: Vec<u64> = t.fingerprints().unwrap().iter().map(|f| f[0]).collect();
            assert!(GroupPlan::new(&lo, 64).len() > 1, "several groups");
            assert_eq!(
                t.hash(RowOrder::Unordered).unwrap(),
                expected,
                "sizes {sizes:?}"
            );
        }
    }

    #[test]
    fn groups_larger_than_planned_are_placed_in_pieces() {
        // 120,000 copies of one row (one `lo`: a group far above the 65,536-row target, placed
        // piece by piece) among 60,000 other rows; and a table of copies only (one key: the
        // sort has nothing to do).
        let mut rng = Rng(0x5EED_0002);
        let mut ids: Vec<u64> = (0..180_000)
            .map(|i| if i % 3 == 0 { rng.below(1 << 40) } else { 7 })
            .collect();
        let only: Vec<u64> = vec![7; 100_000];
        for (ids, sizes) in [
            (&mut ids, &[180_000][..]),
            (&mut only.clone(), &[33_333][..]),
        ] {
            let expected = reference(&table(ids, sizes, false));
            let lo: Vec<u64> = table(ids, sizes, false)
                .fingerprints()
                .unwrap()
                .iter()
                .map(|f| f[0])
                .collect();
            let plan = GroupPlan::new(&lo, 64);
            assert!((0..plan.len()).any(|g| plan.rows(g).len() > plan.piece_rows()));
            for i in (1..ids.len()).rev() {
                ids.swap(i, rng.below(i as u64 + 1) as usize);
            }
            let t = table(ids, &[50_000, 7, 20_001], true);
            assert_eq!(t.hash(RowOrder::Unordered).unwrap(), expected);
        }
    }

    #[test]
    fn every_kernel_equals_interleave_and_take() {
        let mut rng = Rng(42);
        let ids: Vec<u64> = (0..20_000).map(|_| rng.below(1 << 40)).collect();
        for mixed in [false, true] {
            let t = table(&ids, &[3_000, 7_001], mixed);
            let batches = t.batches();
            let mut starts = vec![0];
            for b in batches {
                starts.push(starts[starts.len() - 1] + b.num_rows());
            }
            let members: Vec<u32> = (0..ids.len() as u32).filter(|r| r % 3 != 1).collect();
            let mut rank: Vec<u32> = (0..members.len() as u32).collect();
            for i in (1..rank.len()).rev() {
                rank.swap(i, rng.below(i as u64 + 1) as usize);
            }
            let p = Placement::new(batches, &starts, &members, &rank);
            for c in 0..t.schema().fields().len() {
                let fast = p.column(c).unwrap();
                let slow = p.interleaved(c).unwrap();
                let name = t.schema().field(c).name().clone();
                assert_eq!(
                    crate::canon::segment_digest(fast.as_ref(), &name).unwrap(),
                    crate::canon::segment_digest(slow.as_ref(), &name).unwrap(),
                    "column {name} (mixed dictionaries: {mixed})"
                );
            }
        }
    }

    #[test]
    fn scatter_is_stable_and_radix_sort_sorts() {
        let mut rng = Rng(7);
        let keys: Vec<u64> = (0..100_000).map(|_| rng.next()).collect();
        let (out, sizes) = scatter(keys.len(), 5, |i| (keys[i] % 5) as usize, |i| i as u32);
        assert_eq!(sizes.iter().sum::<usize>(), keys.len());
        let mut s = 0;
        for (b, n) in sizes.iter().enumerate() {
            let part = &out[s..s + n];
            assert!(part.iter().all(|&i| keys[i as usize] % 5 == b as u64));
            assert!(
                part.windows(2).all(|w| w[0] < w[1]),
                "bucket {b} is not stable"
            );
            s += n;
        }
        for narrow in [false, true] {
            let mut v: Vec<(u64, u32)> = keys
                .iter()
                .enumerate()
                .map(|(i, &k)| (if narrow { (1 << 50) + k % 5_000 } else { k }, i as u32))
                .collect();
            let mut expected = v.clone();
            expected.sort_unstable();
            radix_sort(&mut v);
            assert!(v.windows(2).all(|w| w[0].0 <= w[1].0));
            v.sort_unstable(); // same multiset
            assert_eq!(v, expected);
        }
    }
}
