//! Step 3 of the data flow: 128-bit per-row fingerprints, computed column by column
//! (docs/hash-spec.md §5). They are fast and non-cryptographic: they place chunk boundaries, order
//! rows for the unordered identity and drive diffs, but are never an identity themselves.
//!
//! A row's fingerprint is two 64-bit lanes `(lo, hi)`. Each column, in canonical order, folds one
//! value hash `(a, b)` into the lanes: `lo = fold(lo ^ a, K1)`, `hi = fold(hi ^ b, K2)` for a valid
//! value and `lo = fold(lo ^ N1, K3)`, `hi = fold(hi ^ N2, K4)` for a null.

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrowPrimitiveType};
use arrow_buffer::{BooleanBuffer, NullBuffer, ScalarBuffer};
use arrow_schema::DataType;
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::canon::{effective_nulls, encode_cell, CanonFloat};
use crate::error::{Error, Result};

pub const LO_INIT: u64 = 0x243f_6a88_85a3_08d3;
pub const HI_INIT: u64 = 0x1319_8a2e_0370_7344;
pub const K1: u64 = 0x9e37_79b9_7f4a_7c15;
pub const K2: u64 = 0xc2b2_ae3d_27d4_eb4f;
pub const K3: u64 = 0x1656_67b1_9e37_79f9;
pub const K4: u64 = 0x85eb_ca77_c2b2_ae63;
pub const N1: u64 = 0xa409_3822_299f_31d0;
pub const N2: u64 = 0x082e_fa98_ec4e_6c89;

/// `fold(a, k)`: the 128-bit product `a·k`, its halves xor-ed.
#[inline(always)]
pub fn fold(a: u64, k: u64) -> u64 {
    let p = (a as u128) * (k as u128);
    (p as u64) ^ ((p >> 64) as u64)
}

/// Receives the value hash of each row of one column.
pub trait ValueSink {
    /// Whether the sink reads the `b` half of value hashes (the `hi` lane).
    const NEEDS_B: bool = true;
    /// Row `i` holds a valid value whose hash is `(a, b)`.
    fn put(&mut self, i: usize, a: u64, b: u64);
    /// Row `i` is null.
    fn put_null(&mut self, i: usize);
    /// Row `i` holds `(a, b)` when `valid`, else is null (sinks may fold it without a branch:
    /// nulls scattered at random would mispredict).
    #[inline(always)]
    fn put_maybe(&mut self, i: usize, valid: bool, a: u64, b: u64) {
        if valid {
            self.put(i, a, b)
        } else {
            self.put_null(i)
        }
    }
    /// Rows `0..` hold the 64-bit values `xs` (hash `(x, x)`), null where `nulls` says, given as
    /// a slice: sinks that can fold a whole lane at once (vectorised) override this.
    #[inline(always)]
    fn put_all_words(&mut self, xs: &[u64], nulls: Option<&NullBuffer>) {
        each_u64(xs, nulls, self, |x| x)
    }
    /// Rows `0..` hold the valid booleans `bits` (hash `(b, b)` with `b` 0 or 1), no nulls.
    #[inline(always)]
    fn put_all_bits(&mut self, bits: &BooleanBuffer) {
        self.put_all_u64(bits.iter().map(u64::from))
    }
    /// Rows `0..` hold the dictionary values `keys` (no null keys) whose value hashes are
    /// `values`: sinks that can fold them at once (vectorised) do and return true; the caller
    /// folds them row by row otherwise.
    #[inline(always)]
    fn put_all_keys(&mut self, _keys: &[i32], _values: &[Option<(u64, u64)>]) -> bool {
        false
    }
    /// Rows `0..` hold the valid 64-bit values `xs` (hash `(x, x)`), no nulls: the hot path.
    #[inline(always)]
    fn put_all_u64(&mut self, xs: impl Iterator<Item = u64>) {
        for (i, x) in xs.enumerate() {
            self.put(i, x, x);
        }
    }
}

/// The `lo` lane alone (the first word of each row's entry): all that chunking needs.
pub struct LoLane<'a, const W: usize>(pub &'a mut [[u64; W]]);

impl<const W: usize> ValueSink for LoLane<'_, W> {
    const NEEDS_B: bool = false;
    #[inline(always)]
    fn put(&mut self, i: usize, a: u64, _b: u64) {
        self.0[i][0] = fold(self.0[i][0] ^ a, K1);
    }
    #[inline(always)]
    fn put_null(&mut self, i: usize) {
        self.0[i][0] = fold(self.0[i][0] ^ N1, K3);
    }
    #[inline(always)]
    fn put_maybe(&mut self, i: usize, valid: bool, a: u64, _b: u64) {
        let (x, k) = if valid { (a, K1) } else { (N1, K3) };
        self.0[i][0] = fold(self.0[i][0] ^ x, k);
    }
    #[inline(always)]
    fn put_all_u64(&mut self, xs: impl Iterator<Item = u64>) {
        for (lo, x) in self.0.iter_mut().zip(xs) {
            lo[0] = fold(lo[0] ^ x, K1);
        }
    }
    #[inline(always)]
    fn put_all_words(&mut self, xs: &[u64], nulls: Option<&NullBuffer>) {
        // One word per row: the lane is a plain `u64` slice.
        match (W, nulls) {
            (1, None) => fold_lane(self.0.as_flattened_mut(), xs, K1),
            (1, Some(nb)) => fold_lane_nullable(self.0.as_flattened_mut(), xs, nb),
            _ => each_u64(xs, nulls, self, |x| x),
        }
    }
    #[inline(always)]
    fn put_all_bits(&mut self, bits: &BooleanBuffer) {
        if W == 1 {
            fold_lane_bits(self.0.as_flattened_mut(), bits, K1);
        } else {
            self.put_all_u64(bits.iter().map(u64::from))
        }
    }
    fn put_all_keys(&mut self, keys: &[i32], values: &[Option<(u64, u64)>]) -> bool {
        // Only for a dictionary no larger than the rows (so the table below never dominates)
        // and without null values.
        if W != 1 || values.len() > keys.len() {
            return false;
        }
        let Some(table) = values
            .iter()
            .map(|v| v.map(|(a, _)| a))
            .collect::<Option<Vec<u64>>>()
        else {
            return false;
        };
        fold_lane_keys(self.0.as_flattened_mut(), keys, &table, K1)
    }
}

/// Both lanes of the fingerprint, stored as `[lo, hi, ...]` per row (extra words untouched: the
/// unordered hash keeps the row index in the third).
pub struct BothLanes<'a, const W: usize>(pub &'a mut [[u64; W]]);

impl<const W: usize> ValueSink for BothLanes<'_, W> {
    #[inline(always)]
    fn put(&mut self, i: usize, a: u64, b: u64) {
        let s = &mut self.0[i];
        s[0] = fold(s[0] ^ a, K1);
        s[1] = fold(s[1] ^ b, K2);
    }
    #[inline(always)]
    fn put_null(&mut self, i: usize) {
        let s = &mut self.0[i];
        s[0] = fold(s[0] ^ N1, K3);
        s[1] = fold(s[1] ^ N2, K4);
    }
    #[inline(always)]
    fn put_all_u64(&mut self, xs: impl Iterator<Item = u64>) {
        for (s, x) in self.0.iter_mut().zip(xs) {
            s[0] = fold(s[0] ^ x, K1);
            s[1] = fold(s[1] ^ x, K2);
        }
    }
}

/// Records the value hashes themselves (`None` for null): used to hash a dictionary once.
struct Recorder<'a>(&'a mut [Option<(u64, u64)>]);

impl ValueSink for Recorder<'_> {
    fn put(&mut self, i: usize, a: u64, b: u64) {
        self.0[i] = Some((a, b));
    }
    fn put_null(&mut self, i: usize) {
        self.0[i] = None;
    }
}

#[inline(always)]
fn each<S: ValueSink>(
    n: usize,
    nulls: Option<&NullBuffer>,
    sink: &mut S,
    x: impl Fn(usize) -> (u64, u64),
) {
    match nulls {
        None => {
            for i in 0..n {
                let (a, b) = x(i);
                sink.put(i, a, b);
            }
        }
        Some(nb) => {
            for i in 0..n {
                if nb.is_valid(i) {
                    let (a, b) = x(i);
                    sink.put(i, a, b);
                } else {
                    sink.put_null(i);
                }
            }
        }
    }
}

/// Like [`each`] for 64-bit values `xs[i]`, with a bounds-check-free path when nothing is null.
#[inline(always)]
fn each_u64<S: ValueSink + ?Sized, T: Copy>(
    xs: &[T],
    nulls: Option<&NullBuffer>,
    sink: &mut S,
    x: impl Fn(T) -> u64,
) {
    match nulls {
        None => sink.put_all_u64(xs.iter().map(|&v| x(v))),
        Some(nb) => {
            for (i, &v) in xs.iter().enumerate() {
                let h = x(v);
                sink.put_maybe(i, nb.is_valid(i), h, h);
            }
        }
    }
}

/// 64-bit value hash of integer-like values: two's complement, sign- or zero-extended.
trait AsU64: Copy {
    fn as_u64(self) -> u64;
}
macro_rules! as_u64_signed {
    ($($t:ty),*) => {$(impl AsU64 for $t { #[inline(always)] fn as_u64(self) -> u64 { self as i64 as u64 } })*};
}
macro_rules! as_u64_unsigned {
    ($($t:ty),*) => {$(impl AsU64 for $t { #[inline(always)] fn as_u64(self) -> u64 { self as u64 } })*};
}
as_u64_signed!(i8, i16, i32, i64);
as_u64_unsigned!(u8, u16, u32, u64);

fn ints<T, S>(array: &dyn Array, nulls: Option<&NullBuffer>, sink: &mut S)
where
    T: ArrowPrimitiveType,
    T::Native: AsU64,
    S: ValueSink,
{
    let v = array.as_primitive::<T>().values();
    match words(v) {
        Some(w) => sink.put_all_words(w, nulls),
        None => each_u64(v, nulls, sink, |x| x.as_u64()),
    }
}

/// i32/i64-backed logical types of any unit (dates, times, timestamps, durations, decimals).
fn raw<N: arrow_buffer::ArrowNativeType + AsU64, S: ValueSink>(
    array: &dyn Array,
    nulls: Option<&NullBuffer>,
    sink: &mut S,
) {
    let d = array.to_data();
    if std::mem::size_of::<N>() == 8 {
        sink.put_all_words(&d.buffer::<u64>(0)[..d.len()], nulls);
    } else {
        each_u64(&d.buffer::<N>(0)[..d.len()], nulls, sink, |x: N| x.as_u64());
    }
}

/// The values of a column of 64-bit values as words (the hash of a valid one is its bits), for
/// [`ValueSink::put_all_words`]; `None` for other widths.
fn words<N: arrow_buffer::ArrowNativeType>(values: &ScalarBuffer<N>) -> Option<&[u64]> {
    (std::mem::size_of::<N>() == 8).then(|| values.inner().typed_data::<u64>())
}

fn floats<T, S>(array: &dyn Array, nulls: Option<&NullBuffer>, sink: &mut S)
where
    T: ArrowPrimitiveType,
    T::Native: CanonFloat,
    S: ValueSink,
{
    let v = array.as_primitive::<T>().values();
    // Without NaNs the value hashes of 64-bit floats are their bits.
    match words(v) {
        Some(w) if !crate::canon::has_nan(v) => sink.put_all_words(w, nulls),
        _ => each_u64(v, nulls, sink, |x| x.bits_u64()),
    }
}

/// Seed of the second 64-bit hash of a byte string (docs/hash-spec.md §5.1).
pub const BYTES_SEED_B: u64 = 0x9e37_79b9_7f4a_7c15;

/// Value hash of a byte string (strings, binaries, fixed-size binaries, wide decimals and the cell
/// encoding of nested values): two seeded 64-bit XXH3 hashes. The second is skipped for sinks
/// that only need the `lo` lane.
#[inline]
fn x128<S: ValueSink>(bytes: &[u8]) -> (u64, u64) {
    let a = xxh3_64_with_seed(bytes, 0);
    let b = if S::NEEDS_B {
        xxh3_64_with_seed(bytes, BYTES_SEED_B)
    } else {
        0
    };
    (a, b)
}

/// Value hashes of byte strings given by offsets: one loop over the offsets (the values of
/// a null slot are not hashed).
fn offset_bytes<O: arrow_array::OffsetSizeTrait, S: ValueSink>(
    offsets: &[O],
    data: &[u8],
    nulls: Option<&NullBuffer>,
    sink: &mut S,
) {
    let value = |s: O, e: O| &data[s.as_usize()..e.as_usize()];
    match nulls {
        None => {
            for (i, (&s, &e)) in offsets.iter().zip(&offsets[1..]).enumerate() {
                let (a, b) = x128::<S>(value(s, e));
                sink.put(i, a, b);
            }
        }
        Some(_) => each(offsets.len() - 1, nulls, sink, |i| {
            x128::<S>(value(offsets[i], offsets[i + 1]))
        }),
    }
}

/// Feed the value hash of every row of `array` (one column, already sliced to the row range of
/// `sink`) to `sink` (docs/hash-spec.md §5.1).
/// `dictionary` holds the value hashes of the dictionary of `array` (from
/// [`dictionary_value_hashes`]) when the caller computed them once for many slices.
pub fn hash_values<S: ValueSink>(
    array: &dyn Array,
    sink: &mut S,
    column: &str,
    dictionary: Option<&[Option<(u64, u64)>]>,
) -> Result<()> {
    use DataType as D;
    let n = array.len();
    if let D::Dictionary(..) = array.data_type() {
        let dict = array.as_any_dictionary();
        let owned;
        let vhash = match dictionary {
            Some(v) => v,
            None => {
                owned = dictionary_value_hashes(array, column)?;
                &owned
            }
        };
        let key_nulls = dict.keys().logical_nulls();
        let Some(keys) = crate::canon::KeyView::new(dict.keys()) else {
            let decoded = crate::canon::decode_dictionary(array)?;
            return hash_values(decoded.as_ref(), sink, column, None);
        };
        debug_assert_eq!(keys.len(), n);
        if let (None, crate::canon::KeyView::I32(k)) = (&key_nulls, &keys) {
            if sink.put_all_keys(k, vhash) {
                return Ok(());
            }
        }
        match &key_nulls {
            None => keys.for_each_key(|i, k| match vhash.get(k).copied().flatten() {
                Some((a, b)) => sink.put(i, a, b),
                None => sink.put_null(i),
            }),
            Some(nb) => keys.for_each_key(|i, k| match vhash.get(k).copied().flatten() {
                Some((a, b)) if nb.is_valid(i) => sink.put(i, a, b),
                _ => sink.put_null(i),
            }),
        }
        return Ok(());
    }
    let nulls = effective_nulls(array, None);
    let nulls = nulls.as_ref();
    match array.data_type() {
        D::Null => (0..n).for_each(|i| sink.put_null(i)),
        D::Boolean => {
            let b = array.as_boolean().values();
            match nulls {
                None => sink.put_all_bits(b),
                Some(_) => each(n, nulls, sink, |i| (b.value(i) as u64, b.value(i) as u64)),
            }
        }
        D::Int8 => ints::<Int8Type, S>(array, nulls, sink),
        D::Int16 => ints::<Int16Type, S>(array, nulls, sink),
        D::Int32 => ints::<Int32Type, S>(array, nulls, sink),
        D::Int64 => ints::<Int64Type, S>(array, nulls, sink),
        D::UInt8 => ints::<UInt8Type, S>(array, nulls, sink),
        D::UInt16 => ints::<UInt16Type, S>(array, nulls, sink),
        D::UInt32 => ints::<UInt32Type, S>(array, nulls, sink),
        D::UInt64 => ints::<UInt64Type, S>(array, nulls, sink),
        D::Date32 | D::Time32(_) | D::Decimal32(..) => raw::<i32, S>(array, nulls, sink),
        D::Date64 | D::Time64(_) | D::Timestamp(..) | D::Duration(_) | D::Decimal64(..) => {
            raw::<i64, S>(array, nulls, sink)
        }
        D::Float16 => floats::<Float16Type, S>(array, nulls, sink),
        D::Float32 => floats::<Float32Type, S>(array, nulls, sink),
        D::Float64 => floats::<Float64Type, S>(array, nulls, sink),
        D::Decimal128(..) => {
            let v = array.as_primitive::<Decimal128Type>().values();
            each(n, nulls, sink, |i| (v[i] as u64, (v[i] >> 64) as u64))
        }
        D::Decimal256(..) => {
            let v = array.as_primitive::<Decimal256Type>().values();
            each(n, nulls, sink, |i| x128::<S>(&v[i].to_le_bytes()))
        }
        D::Utf8 => {
            let a = array.as_string::<i32>();
            offset_bytes(a.value_offsets(), a.value_data(), nulls, sink)
        }
        D::LargeUtf8 => {
            let a = array.as_string::<i64>();
            offset_bytes(a.value_offsets(), a.value_data(), nulls, sink)
        }
        D::Utf8View => {
            let a = array.as_string_view();
            each(n, nulls, sink, |i| x128::<S>(a.value(i).as_bytes()))
        }
        D::Binary => {
            let a = array.as_binary::<i32>();
            offset_bytes(a.value_offsets(), a.value_data(), nulls, sink)
        }
        D::LargeBinary => {
            let a = array.as_binary::<i64>();
            offset_bytes(a.value_offsets(), a.value_data(), nulls, sink)
        }
        D::BinaryView => {
            let a = array.as_binary_view();
            each(n, nulls, sink, |i| x128::<S>(a.value(i)))
        }
        D::FixedSizeBinary(_) => {
            let a = array.as_fixed_size_binary();
            each(n, nulls, sink, |i| x128::<S>(a.value(i)))
        }
        D::List(_) | D::LargeList(_) | D::FixedSizeList(..) | D::Struct(_) => {
            let mut buf = Vec::new();
            for i in 0..n {
                if nulls.is_some_and(|nb| nb.is_null(i)) {
                    sink.put_null(i);
                } else {
                    buf.clear();
                    encode_cell(array, i, &mut buf, column)?;
                    let (a, b) = x128::<S>(&buf);
                    sink.put(i, a, b);
                }
            }
        }
        other => {
            return Err(Error::UnsupportedType {
                column: column.to_string(),
                data_type: other.to_string(),
                reason: "no scheme 1 encoding".into(),
            })
        }
    }
    Ok(())
}

/// Value hashes of the dictionary (values) of a dictionary array; `None` marks a null value.
pub fn dictionary_value_hashes(array: &dyn Array, column: &str) -> Result<Vec<Option<(u64, u64)>>> {
    let values = array.as_any_dictionary().values();
    let mut vhash = vec![None; values.len()];
    hash_values(values.as_ref(), &mut Recorder(&mut vhash), column, None)?;
    Ok(vhash)
}

/// Candidate test of the content-defined chunking (docs/hash-spec.md §7): the top
/// [`crate::chunking::CANDIDATE_BITS`] bits of the `lo` lane are zero.
#[inline(always)]
pub fn is_candidate(lo: u64) -> bool {
    lo >> (64 - crate::chunking::CANDIDATE_BITS) == 0
}

/// Candidate test of the unordered identity (docs/hash-spec.md §10): rows are sorted by `lo`, so
/// the test reads the *low* bits of `lo`, which the sort leaves in random order.
#[inline(always)]
pub fn is_unordered_candidate(lo: u64) -> bool {
    lo & ((1u64 << crate::chunking::CANDIDATE_BITS) - 1) == 0
}

/// Value hashes of a dictionary's values (`None` for a null value).
pub type ValueHashes = std::sync::Arc<Vec<Option<(u64, u64)>>>;

/// Per-column dictionary value hashes for one batch (`None` for non-dictionary columns).
pub type BatchDictionaries = Vec<Option<ValueHashes>>;

/// Dictionary value hashes of each column, computed once per distinct dictionary: batches and
/// windows that share a dictionary (the common case) reuse them.
#[derive(Default)]
pub struct DictionaryCache {
    entries: Vec<Option<(arrow_data::ArrayData, ValueHashes)>>,
}

impl DictionaryCache {
    /// Dictionary value hashes of every column of `batch` (canonical order given by `columns`).
    pub fn prepare(
        &mut self,
        batch: &arrow_array::RecordBatch,
        columns: &[crate::schema::CanonicalColumn],
    ) -> Result<BatchDictionaries> {
        self.entries.resize(columns.len(), None);
        let mut out = Vec::with_capacity(columns.len());
        for (k, c) in columns.iter().enumerate() {
            let array = batch.column(c.input_index);
            if !matches!(array.data_type(), DataType::Dictionary(..)) {
                out.push(None);
                continue;
            }
            let values = array.as_any_dictionary().values().to_data();
            let hit = match &self.entries[k] {
                Some((data, hashes)) if data.ptr_eq(&values) => Some(hashes.clone()),
                _ => None,
            };
            let hashes = match hit {
                Some(h) => h,
                None => {
                    let h = std::sync::Arc::new(dictionary_value_hashes(array.as_ref(), &c.name)?);
                    self.entries[k] = Some((values, h.clone()));
                    h
                }
            };
            out.push(Some(hashes));
        }
        Ok(out)
    }
}

/// `lane[i] = fold(lane[i] ^ xs[i], k)` for every row: the fold of a column of words into the
/// `lo` lane, vectorised where the CPU allows (the 128-bit product is assembled from 32-bit
/// products; results are identical to [`fold`]).
pub fn fold_lane(lane: &mut [u64], xs: &[u64], k: u64) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked just above).
            return unsafe { simd::fold_lane_avx512(lane, xs, k) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above).
            return unsafe { simd::fold_lane_avx2(lane, xs, k) };
        }
    }
    fold_lane_scalar(lane, xs, k)
}

/// `lane[i] = fold(lane[i] ^ bits[i], k)` (a bit as the word 0 or 1) for every row: the fold of
/// a boolean column without nulls, vectorised with AVX-512 or AVX2 when the CPU has it.
pub fn fold_lane_bits(lane: &mut [u64], bits: &BooleanBuffer, k: u64) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked just above).
            return unsafe { simd::fold_lane_bits_avx512(lane, bits, k) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above).
            return unsafe { simd::fold_lane_bits_avx2(lane, bits, k) };
        }
    }
    fold_lane_bits_scalar(lane, bits, k)
}

/// `lane[i] = fold(lane[i] ^ table[keys[i]], k)` for every row: the fold of a dictionary
/// column's value hashes, vectorised with AVX-512 (a gather) or AVX2 when the CPU has it.
/// Returns false, having folded nothing, when a key does not index `table` (checked first,
/// branch-free).
pub fn fold_lane_keys(lane: &mut [u64], keys: &[i32], table: &[u64], k: u64) -> bool {
    if !crate::canon::keys_below(keys, table.len()) {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F, and every key indexes `table` (checked above).
            unsafe { simd::fold_lane_keys_avx512(lane, keys, table, k) };
            return true;
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, and every key indexes `table` (checked above).
            unsafe { simd::fold_lane_keys_avx2(lane, keys, table, k) };
            return true;
        }
    }
    fold_lane_keys_scalar(lane, keys, table, k);
    true
}

fn fold_lane_keys_scalar(lane: &mut [u64], keys: &[i32], table: &[u64], k: u64) {
    for (l, &key) in lane.iter_mut().zip(keys) {
        *l = fold(*l ^ table[key as u32 as usize], k);
    }
}

/// The fold of a column of words with nulls into the `lo` lane: `fold(lane[i] ^ xs[i], K1)`
/// for a valid row, `fold(lane[i] ^ N1, K3)` for a null one; vectorised with AVX-512 or AVX2
/// when the CPU has it.
pub fn fold_lane_nullable(lane: &mut [u64], xs: &[u64], nulls: &NullBuffer) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked just above).
            return unsafe { simd::fold_lane_nullable_avx512(lane, xs, nulls.inner()) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above).
            return unsafe { simd::fold_lane_nullable_avx2(lane, xs, nulls.inner()) };
        }
    }
    fold_lane_nullable_scalar(lane, xs, nulls.inner())
}

fn fold_lane_nullable_scalar(lane: &mut [u64], xs: &[u64], valid: &BooleanBuffer) {
    for ((l, &x), v) in lane.iter_mut().zip(xs).zip(valid.iter()) {
        let (x, k) = if v { (x, K1) } else { (N1, K3) };
        *l = fold(*l ^ x, k);
    }
}

fn fold_lane_bits_scalar(lane: &mut [u64], bits: &BooleanBuffer, k: u64) {
    for (l, b) in lane.iter_mut().zip(bits.iter()) {
        *l = fold(*l ^ u64::from(b), k);
    }
}

fn fold_lane_scalar(lane: &mut [u64], xs: &[u64], k: u64) {
    for (l, &x) in lane.iter_mut().zip(xs) {
        *l = fold(*l ^ x, k);
    }
}

/// [`fold`] on vectors of 64-bit lanes: with `a = ah·2³² + al` and `k = kh·2³² + kl`, the
/// 128-bit product is `ah·kh·2⁶⁴ + (ah·kl + al·kh)·2³² + al·kl`, from four 32×32→64 products.
#[cfg(target_arch = "x86_64")]
mod simd {
    use std::arch::x86_64::*;

    /// [`super::fold`] of the 8 lanes of `a ^ x` by `k` (given as `kl = k`, `kh = k >> 32`).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn fold8(a: __m512i, x: __m512i, kl: __m512i, kh: __m512i) -> __m512i {
        let m32 = _mm512_set1_epi64(0xffff_ffff);
        let a = _mm512_xor_si512(a, x);
        let ah = _mm512_srli_epi64::<32>(a);
        let ll = _mm512_mul_epu32(a, kl);
        let lh = _mm512_mul_epu32(a, kh);
        let hl = _mm512_mul_epu32(ah, kl);
        let hh = _mm512_mul_epu32(ah, kh);
        let mid = _mm512_add_epi64(
            _mm512_add_epi64(_mm512_srli_epi64::<32>(ll), _mm512_and_si512(lh, m32)),
            _mm512_and_si512(hl, m32),
        );
        let high = _mm512_add_epi64(
            _mm512_add_epi64(hh, _mm512_srli_epi64::<32>(lh)),
            _mm512_add_epi64(_mm512_srli_epi64::<32>(hl), _mm512_srli_epi64::<32>(mid)),
        );
        let low = _mm512_or_si512(_mm512_slli_epi64::<32>(mid), _mm512_and_si512(ll, m32));
        _mm512_xor_si512(low, high)
    }

    #[target_feature(enable = "avx512f")]
    pub(super) fn fold_lane_avx512(lane: &mut [u64], xs: &[u64], k: u64) {
        let n = lane.len().min(xs.len());
        let kl = _mm512_set1_epi64(k as i64);
        let kh = _mm512_set1_epi64((k >> 32) as i64);
        let mut i = 0;
        while i + 8 <= n {
            let (l, x) = (&mut lane[i..i + 8], &xs[i..i + 8]);
            // SAFETY: `l` and `x` hold 8 `u64`s each (unaligned loads and stores).
            unsafe {
                let a = _mm512_loadu_si512(l.as_ptr().cast());
                let x = _mm512_loadu_si512(x.as_ptr().cast());
                _mm512_storeu_si512(l.as_mut_ptr().cast(), fold8(a, x, kl, kh));
            }
            i += 8;
        }
        super::fold_lane_scalar(&mut lane[i..n], &xs[i..n], k);
    }

    /// # Safety
    /// Every key must index `table`.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn fold_lane_keys_avx512(
        lane: &mut [u64],
        keys: &[i32],
        table: &[u64],
        k: u64,
    ) {
        let n = lane.len().min(keys.len());
        let kl = _mm512_set1_epi64(k as i64);
        let kh = _mm512_set1_epi64((k >> 32) as i64);
        let mut i = 0;
        while i + 8 <= n {
            let (l, ks) = (&mut lane[i..i + 8], &keys[i..i + 8]);
            // SAFETY: `l` holds 8 `u64`s and `ks` 8 `i32`s (unaligned loads and stores); every
            // key indexes `table` (the caller's contract), so the gather reads inside it.
            unsafe {
                let idx = _mm256_loadu_si256(ks.as_ptr().cast());
                let x = _mm512_i32gather_epi64::<8>(idx, table.as_ptr().cast());
                let a = _mm512_loadu_si512(l.as_ptr().cast());
                _mm512_storeu_si512(l.as_mut_ptr().cast(), fold8(a, x, kl, kh));
            }
            i += 8;
        }
        super::fold_lane_keys_scalar(&mut lane[i..n], &keys[i..n], table, k);
    }

    #[target_feature(enable = "avx512f")]
    pub(super) fn fold_lane_nullable_avx512(
        lane: &mut [u64],
        xs: &[u64],
        valid: &arrow_buffer::BooleanBuffer,
    ) {
        use super::{K1, K3, N1};
        let n = lane.len().min(xs.len()).min(valid.len());
        let (k_valid, k_null) = (_mm512_set1_epi64(K1 as i64), _mm512_set1_epi64(K3 as i64));
        let (kh_valid, kh_null) = (
            _mm512_set1_epi64((K1 >> 32) as i64),
            _mm512_set1_epi64((K3 >> 32) as i64),
        );
        let x_null = _mm512_set1_epi64(N1 as i64);
        // 64 rows per word of validity bits (read at any bit offset), 8 rows per byte of it.
        let chunks = valid.inner().bit_chunks(valid.offset(), n);
        for (c, word) in chunks.iter().enumerate() {
            let rows = c * 64..c * 64 + 64;
            let (ls, xs) = (&mut lane[rows.clone()], &xs[rows]);
            for (j, (l, x)) in ls.chunks_exact_mut(8).zip(xs.chunks_exact(8)).enumerate() {
                let m = (word >> (8 * j)) as u8;
                let kl = _mm512_mask_blend_epi64(m, k_null, k_valid);
                let kh = _mm512_mask_blend_epi64(m, kh_null, kh_valid);
                // SAFETY: `l` and `x` hold 8 `u64`s each (unaligned loads and stores).
                unsafe {
                    let x =
                        _mm512_mask_blend_epi64(m, x_null, _mm512_loadu_si512(x.as_ptr().cast()));
                    let a = _mm512_loadu_si512(l.as_ptr().cast());
                    _mm512_storeu_si512(l.as_mut_ptr().cast(), fold8(a, x, kl, kh));
                }
            }
        }
        let done = chunks.chunk_len() * 64;
        let rest = valid.slice(done, n - done);
        super::fold_lane_nullable_scalar(&mut lane[done..n], &xs[done..n], &rest);
    }

    #[target_feature(enable = "avx512f")]
    pub(super) fn fold_lane_bits_avx512(
        lane: &mut [u64],
        bits: &arrow_buffer::BooleanBuffer,
        k: u64,
    ) {
        let n = lane.len().min(bits.len());
        let kl = _mm512_set1_epi64(k as i64);
        let kh = _mm512_set1_epi64((k >> 32) as i64);
        let ones = _mm512_set1_epi64(1);
        // 64 rows per word of bits (read at any bit offset), 8 rows per byte of it.
        let chunks = bits.inner().bit_chunks(bits.offset(), n);
        for (c, word) in chunks.iter().enumerate() {
            for (j, l) in lane[c * 64..c * 64 + 64].chunks_exact_mut(8).enumerate() {
                let x = _mm512_maskz_mov_epi64((word >> (8 * j)) as u8, ones);
                // SAFETY: `l` holds 8 `u64`s (unaligned load and store).
                unsafe {
                    let a = _mm512_loadu_si512(l.as_ptr().cast());
                    _mm512_storeu_si512(l.as_mut_ptr().cast(), fold8(a, x, kl, kh));
                }
            }
        }
        let done = chunks.chunk_len() * 64;
        super::fold_lane_bits_scalar(&mut lane[done..n], &bits.slice(done, n - done), k);
    }

    /// [`super::fold`] of the 4 lanes of `a ^ x` by `k` (given as `kl = k`, `kh = k >> 32`, per
    /// lane).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn fold4(a: __m256i, x: __m256i, kl: __m256i, kh: __m256i) -> __m256i {
        let m32 = _mm256_set1_epi64x(0xffff_ffff);
        let a = _mm256_xor_si256(a, x);
        let ah = _mm256_srli_epi64::<32>(a);
        let ll = _mm256_mul_epu32(a, kl);
        let lh = _mm256_mul_epu32(a, kh);
        let hl = _mm256_mul_epu32(ah, kl);
        let hh = _mm256_mul_epu32(ah, kh);
        let mid = _mm256_add_epi64(
            _mm256_add_epi64(_mm256_srli_epi64::<32>(ll), _mm256_and_si256(lh, m32)),
            _mm256_and_si256(hl, m32),
        );
        let high = _mm256_add_epi64(
            _mm256_add_epi64(hh, _mm256_srli_epi64::<32>(lh)),
            _mm256_add_epi64(_mm256_srli_epi64::<32>(hl), _mm256_srli_epi64::<32>(mid)),
        );
        let low = _mm256_or_si256(_mm256_slli_epi64::<32>(mid), _mm256_and_si256(ll, m32));
        _mm256_xor_si256(low, high)
    }

    /// Lane `j` all ones if bit `j` of `nibble` is set, else zero (AVX2 has no mask registers).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn nibble_lanes(nibble: u64) -> __m256i {
        let bits = _mm256_set_epi64x(8, 4, 2, 1);
        let v = _mm256_and_si256(_mm256_set1_epi64x(nibble as i64), bits);
        _mm256_cmpeq_epi64(v, bits)
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn fold_lane_avx2(lane: &mut [u64], xs: &[u64], k: u64) {
        let n = lane.len().min(xs.len());
        let kl = _mm256_set1_epi64x(k as i64);
        let kh = _mm256_set1_epi64x((k >> 32) as i64);
        let mut i = 0;
        while i + 4 <= n {
            let (l, x) = (&mut lane[i..i + 4], &xs[i..i + 4]);
            // SAFETY: `l` and `x` hold 4 `u64`s each (unaligned loads and stores).
            unsafe {
                let a = _mm256_loadu_si256(l.as_ptr().cast());
                let x = _mm256_loadu_si256(x.as_ptr().cast());
                _mm256_storeu_si256(l.as_mut_ptr().cast(), fold4(a, x, kl, kh));
            }
            i += 4;
        }
        super::fold_lane_scalar(&mut lane[i..n], &xs[i..n], k);
    }

    /// # Safety
    /// Every key must index `table`.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn fold_lane_keys_avx2(
        lane: &mut [u64],
        keys: &[i32],
        table: &[u64],
        k: u64,
    ) {
        let n = lane.len().min(keys.len());
        let kl = _mm256_set1_epi64x(k as i64);
        let kh = _mm256_set1_epi64x((k >> 32) as i64);
        let mut i = 0;
        while i + 4 <= n {
            let (l, ks) = (&mut lane[i..i + 4], &keys[i..i + 4]);
            // Four loads from the (small, cached) table: cheaper than AVX2's gather on Zen 3.
            // SAFETY: every key indexes `table` (the caller's contract); `l` holds 4 `u64`s.
            unsafe {
                let at = |j: usize| *table.get_unchecked(ks[j] as u32 as usize) as i64;
                let x = _mm256_set_epi64x(at(3), at(2), at(1), at(0));
                let a = _mm256_loadu_si256(l.as_ptr().cast());
                _mm256_storeu_si256(l.as_mut_ptr().cast(), fold4(a, x, kl, kh));
            }
            i += 4;
        }
        super::fold_lane_keys_scalar(&mut lane[i..n], &keys[i..n], table, k);
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn fold_lane_nullable_avx2(
        lane: &mut [u64],
        xs: &[u64],
        valid: &arrow_buffer::BooleanBuffer,
    ) {
        use super::{K1, K3, N1};
        let n = lane.len().min(xs.len()).min(valid.len());
        let (k_valid, k_null) = (_mm256_set1_epi64x(K1 as i64), _mm256_set1_epi64x(K3 as i64));
        let (kh_valid, kh_null) = (
            _mm256_set1_epi64x((K1 >> 32) as i64),
            _mm256_set1_epi64x((K3 >> 32) as i64),
        );
        let x_null = _mm256_set1_epi64x(N1 as i64);
        // 64 rows per word of validity bits (read at any bit offset), 4 rows per nibble of it.
        let chunks = valid.inner().bit_chunks(valid.offset(), n);
        for (c, word) in chunks.iter().enumerate() {
            let rows = c * 64..c * 64 + 64;
            let (ls, xs) = (&mut lane[rows.clone()], &xs[rows]);
            for (j, (l, x)) in ls.chunks_exact_mut(4).zip(xs.chunks_exact(4)).enumerate() {
                let m = nibble_lanes(word >> (4 * j));
                let kl = _mm256_blendv_epi8(k_null, k_valid, m);
                let kh = _mm256_blendv_epi8(kh_null, kh_valid, m);
                // SAFETY: `l` and `x` hold 4 `u64`s each (unaligned loads and stores).
                unsafe {
                    let x = _mm256_blendv_epi8(x_null, _mm256_loadu_si256(x.as_ptr().cast()), m);
                    let a = _mm256_loadu_si256(l.as_ptr().cast());
                    _mm256_storeu_si256(l.as_mut_ptr().cast(), fold4(a, x, kl, kh));
                }
            }
        }
        let done = chunks.chunk_len() * 64;
        let rest = valid.slice(done, n - done);
        super::fold_lane_nullable_scalar(&mut lane[done..n], &xs[done..n], &rest);
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn fold_lane_bits_avx2(
        lane: &mut [u64],
        bits: &arrow_buffer::BooleanBuffer,
        k: u64,
    ) {
        let n = lane.len().min(bits.len());
        let kl = _mm256_set1_epi64x(k as i64);
        let kh = _mm256_set1_epi64x((k >> 32) as i64);
        let ones = _mm256_set1_epi64x(1);
        // 64 rows per word of bits (read at any bit offset), 4 rows per nibble of it.
        let chunks = bits.inner().bit_chunks(bits.offset(), n);
        for (c, word) in chunks.iter().enumerate() {
            for (j, l) in lane[c * 64..c * 64 + 64].chunks_exact_mut(4).enumerate() {
                let x = _mm256_and_si256(nibble_lanes(word >> (4 * j)), ones);
                // SAFETY: `l` holds 4 `u64`s (unaligned load and store).
                unsafe {
                    let a = _mm256_loadu_si256(l.as_ptr().cast());
                    _mm256_storeu_si256(l.as_mut_ptr().cast(), fold4(a, x, kl, kh));
                }
            }
        }
        let done = chunks.chunk_len() * 64;
        super::fold_lane_bits_scalar(&mut lane[done..n], &bits.slice(done, n - done), k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Words that exercise every carry of the 32-bit decomposition: zero, all ones, halves of
    /// all ones, and pseudo-random values.
    fn words(n: usize, seed: u64) -> Vec<u64> {
        let special = [0, u64::MAX, 0xffff_ffff, 0xffff_ffff_0000_0000, 1 << 63, 1];
        let mut x = seed;
        (0..n)
            .map(|i| {
                x = x.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29) ^ i as u64;
                if i % 7 == 3 {
                    special[i % special.len()]
                } else {
                    x
                }
            })
            .collect()
    }

    /// The vectorised fold of booleans gives the scalar fold's words, for lengths around the
    /// word size and bits at every offset within a byte and beyond.
    #[test]
    fn vectorised_bit_folds_match_the_scalar_fold() {
        let all = BooleanBuffer::from_iter(words(400, 7).iter().map(|w| w & 1 == 1));
        for offset in [0, 1, 5, 8, 63, 64, 65] {
            for n in (0..20).chain([63, 64, 65, 127, 128, 200, 300]) {
                let bits = all.slice(offset, n);
                let start = words(n, offset as u64);
                let mut expected = start.clone();
                fold_lane_bits_scalar(&mut expected, &bits, K1);
                let mut lane = start.clone();
                fold_lane_bits(&mut lane, &bits, K1);
                assert_eq!(lane, expected, "offset {offset}, {n} rows");
                #[cfg(target_arch = "x86_64")]
                if std::arch::is_x86_feature_detected!("avx512f") {
                    let mut lane = start.clone();
                    // SAFETY: the CPU has AVX-512F.
                    unsafe { simd::fold_lane_bits_avx512(&mut lane, &bits, K1) };
                    assert_eq!(lane, expected, "avx512, offset {offset}, {n} rows");
                }
                #[cfg(target_arch = "x86_64")]
                if std::arch::is_x86_feature_detected!("avx2") {
                    let mut lane = start.clone();
                    // SAFETY: the CPU has AVX2.
                    unsafe { simd::fold_lane_bits_avx2(&mut lane, &bits, K1) };
                    assert_eq!(lane, expected, "avx2, offset {offset}, {n} rows");
                }
            }
        }
    }

    /// The vectorised fold of a column with nulls gives the scalar fold's words (a null row
    /// folds `N1` by `K3` whatever its slot holds), for validity at every bit offset.
    #[test]
    fn vectorised_nullable_folds_match_the_scalar_fold() {
        let all = BooleanBuffer::from_iter(words(400, 5).iter().map(|w| w % 3 != 0));
        for offset in [0, 1, 7, 64, 65] {
            for n in (0..20).chain([63, 64, 65, 129, 300]) {
                let valid = all.slice(offset, n);
                let xs = words(n, 17);
                let start = words(n, offset as u64 + 1);
                let mut expected = start.clone();
                for (i, l) in expected.iter_mut().enumerate() {
                    let (x, k) = if valid.value(i) {
                        (xs[i], K1)
                    } else {
                        (N1, K3)
                    };
                    *l = fold(*l ^ x, k);
                }
                let mut lane = start.clone();
                fold_lane_nullable(&mut lane, &xs, &NullBuffer::new(valid.clone()));
                assert_eq!(lane, expected, "offset {offset}, {n} rows");
                #[cfg(target_arch = "x86_64")]
                if std::arch::is_x86_feature_detected!("avx512f") {
                    let mut lane = start.clone();
                    // SAFETY: the CPU has AVX-512F.
                    unsafe { simd::fold_lane_nullable_avx512(&mut lane, &xs, &valid) };
                    assert_eq!(lane, expected, "avx512, offset {offset}, {n} rows");
                }
                #[cfg(target_arch = "x86_64")]
                if std::arch::is_x86_feature_detected!("avx2") {
                    let mut lane = start.clone();
                    // SAFETY: the CPU has AVX2.
                    unsafe { simd::fold_lane_nullable_avx2(&mut lane, &xs, &valid) };
                    assert_eq!(lane, expected, "avx2, offset {offset}, {n} rows");
                }
            }
        }
    }

    /// The vectorised fold of dictionary keys gives the scalar fold's words, and keys out of
    /// range (negative or too large) fold nothing.
    #[test]
    fn vectorised_key_folds_match_the_scalar_fold() {
        let table = words(13, 3);
        for n in (0..20).chain([64, 65, 300]) {
            let keys: Vec<i32> = words(n, 9).iter().map(|w| (w % 13) as i32).collect();
            let start = words(n, 11);
            let mut expected = start.clone();
            fold_lane_keys_scalar(&mut expected, &keys, &table, K1);
            let mut lane = start.clone();
            assert!(fold_lane_keys(&mut lane, &keys, &table, K1));
            assert_eq!(lane, expected, "{n} rows");
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx512f") {
                let mut lane = start.clone();
                // SAFETY: the CPU has AVX-512F; every key indexes `table`.
                unsafe { simd::fold_lane_keys_avx512(&mut lane, &keys, &table, K1) };
                assert_eq!(lane, expected, "avx512, {n} rows");
            }
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                let mut lane = start.clone();
                // SAFETY: the CPU has AVX2; every key indexes `table`.
                unsafe { simd::fold_lane_keys_avx2(&mut lane, &keys, &table, K1) };
                assert_eq!(lane, expected, "avx2, {n} rows");
            }
            for bad in [-1, 13, i32::MIN, i32::MAX] {
                let mut keys = keys.clone();
                keys.push(bad);
                let mut lane = words(n + 1, 11);
                let before = lane.clone();
                assert!(!fold_lane_keys(&mut lane, &keys, &table, K1));
                assert_eq!(lane, before);
            }
        }
    }

    /// Every vectorised fold the CPU can run gives the scalar fold's words, for lengths around
    /// the vector widths and every constant the scheme folds with.
    #[test]
    fn vectorised_folds_match_the_scalar_fold() {
        type Fold = fn(&mut [u64], &[u64], u64);
        #[allow(unused_mut)]
        let mut kernels: Vec<(&str, Fold)> = vec![("dispatch", fold_lane)];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has AVX-512F.
                kernels.push(("avx512", |l, x, k| unsafe {
                    simd::fold_lane_avx512(l, x, k)
                }));
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2.
                kernels.push(("avx2", |l, x, k| unsafe { simd::fold_lane_avx2(l, x, k) }));
            }
        }
        for n in (0..40).chain([255, 1000, 1027]) {
            for k in [K1, K2, K3, K4, u64::MAX, 0xffff_ffff] {
                let xs = words(n, k ^ n as u64);
                let start = words(n, !k);
                let mut expected = start.clone();
                fold_lane_scalar(&mut expected, &xs, k);
                for (name, kernel) in &kernels {
                    let mut lane = start.clone();
                    kernel(&mut lane, &xs, k);
                    assert_eq!(lane, expected, "{name}, {n} rows, k={k:#x}");
                }
            }
        }
    }
}
