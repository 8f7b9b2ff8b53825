//! Step 2 of the data flow: the canonical encoding of Arrow values (docs/hash-spec.md §4).
//!
//! Two forms are defined:
//! * the **segment encoding**: one column over a row range, column-major, streamed into BLAKE3.
//!   Fixed-width values without nulls are fed straight from the Arrow buffer (zero-copy).
//! * the **cell encoding**: one value, used for fingerprints of nested values and to order rows
//!   whose fingerprints tie.
//!
//! Both only ever read logical values: null slots, offsets, slice offsets and the presence of a
//! validity bitmap never reach the output.

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{
    Array, ArrayRef, ArrowPrimitiveType, BooleanArray, FixedSizeBinaryArray, FixedSizeListArray,
    GenericByteArray, GenericByteViewArray, GenericListArray, OffsetSizeTrait, StructArray,
};
use arrow_buffer::{BooleanBuffer, NullBuffer, ToByteSlice};
use arrow_schema::{DataType, TimeUnit};

use crate::error::{Error, Result};
use crate::hashing::{Ctx, Digest};

/// Bytes of the write buffer, hashed as one update when full.
const BLOCK_BYTES: usize = 1 << 16;
/// Every BLAKE3 update but a segment's last starts at a multiple of this many bytes of the
/// segment and is a multiple of it long, so BLAKE3 splits it into whole subtrees of at least 16
/// chunks: one 16-lane SIMD batch each. (An update at another offset is split into small
/// subtrees: 80 KiB segments hashed at 3.6 GB/s that way against 4.5 GB/s aligned, on one core
/// of the benchmark machine.) Long writes go to BLAKE3 in place from the first such offset on.
const ALIGN_BYTES: usize = 1 << 14;
/// Values converted per block on slow paths.
const BLOCK: usize = 4096;
/// Room past a full block for a write that overruns it: at most one block of `u32`s.
const SLACK_BYTES: usize = BLOCK * 4;

/// A BLAKE3 hasher with a write buffer, so many small writes become few large updates, each
/// one whole block (`BLOCK_BYTES`).
pub struct Sink {
    hasher: blake3::Hasher,
    /// Bytes not yet hashed: fewer than [`BLOCK_BYTES`] between calls (never reallocated).
    buf: Vec<u8>,
}

impl Sink {
    pub fn new(ctx: Ctx) -> Self {
        Sink {
            hasher: ctx.hasher(),
            buf: Vec::with_capacity(BLOCK_BYTES + SLACK_BYTES),
        }
    }

    /// Append `bytes`. A write that fills the buffer completes it to a multiple of
    /// `ALIGN_BYTES` (the bytes hashed so far always are one), and its whole multiples of
    /// `ALIGN_BYTES` after that go to BLAKE3 without a copy.
    #[inline]
    pub fn put(&mut self, mut bytes: &[u8]) {
        if self.buf.len() + bytes.len() < BLOCK_BYTES {
            self.buf.extend_from_slice(bytes);
            return;
        }
        // At most `BLOCK_BYTES - buf.len()`, so within `bytes`.
        let fill = self.buf.len().next_multiple_of(ALIGN_BYTES) - self.buf.len();
        self.buf.extend_from_slice(&bytes[..fill]);
        bytes = &bytes[fill..];
        self.hasher.update(&self.buf);
        self.buf.clear();
        let whole = bytes.len() - bytes.len() % ALIGN_BYTES;
        if whole > 0 {
            self.hasher.update(&bytes[..whole]);
        }
        self.buf.extend_from_slice(&bytes[whole..]);
    }

    /// Append up to 16 bytes given as the first `len` bytes of a 16-byte block: one unaligned
    /// store instead of a call to `memcpy`, for the many short values of gathered columns.
    #[inline(always)]
    pub fn put_short(&mut self, block: [u8; 16], len: usize) {
        self.put_with(16, |w| w.short(&block, len));
    }

    /// Append at most `max` bytes (at most `SLACK_BYTES`) written by `f` through a
    /// [`Writer`], whose cursor stays in a register: appending to the `Vec` value by value
    /// would reload its length from memory after every store.
    #[inline(always)]
    pub fn put_with(&mut self, max: usize, f: impl FnOnce(&mut Writer<'_>)) {
        let len = self.buf.len();
        let mut w = Writer {
            spare: &mut self.buf.spare_capacity_mut()[..max.min(SLACK_BYTES)],
            pos: 0,
        };
        f(&mut w);
        let written = w.pos;
        // SAFETY: every byte before the writer's cursor was initialised (see `Writer`).
        unsafe { self.buf.set_len(len + written) };
        self.spill();
    }

    /// Append `n` little-endian `u32`s produced by `f` (the lengths section), written in place.
    pub fn put_u32s(&mut self, n: usize, mut f: impl FnMut(usize) -> Result<u32>) -> Result<()> {
        for start in (0..n).step_by(BLOCK) {
            let end = (start + BLOCK).min(n);
            let mut res = Ok(());
            self.put_with((end - start) * 4, |w| {
                for i in start..end {
                    match f(i) {
                        Ok(v) => w.u32(v),
                        Err(e) => {
                            res = Err(e);
                            return;
                        }
                    }
                }
            });
            res?;
        }
        Ok(())
    }

    /// Hash the first block once the buffer holds one (a write overruns it by at most
    /// [`SLACK_BYTES`]).
    #[inline(always)]
    fn spill(&mut self) {
        if self.buf.len() >= BLOCK_BYTES {
            self.spill_block();
        }
    }

    #[inline(never)]
    fn spill_block(&mut self) {
        self.hasher.update(&self.buf[..BLOCK_BYTES]);
        self.buf.copy_within(BLOCK_BYTES.., 0);
        self.buf.truncate(self.buf.len() - BLOCK_BYTES);
    }

    pub fn finish(mut self) -> Digest {
        self.hasher.update(&self.buf);
        self.hasher.finalize().into()
    }
}

/// Appends to the spare room of a [`Sink`]'s buffer (see [`Sink::put_with`]). Invariant: every
/// byte before `pos` is initialised, as each write initialises at least the bytes it moves
/// `pos` over. A write past the room given panics (a slice bound), never corrupts memory.
pub struct Writer<'a> {
    spare: &'a mut [std::mem::MaybeUninit<u8>],
    pos: usize,
}

impl Writer<'_> {
    /// The first `len` (at most 16) bytes of `block`, written as one 16-byte store.
    #[inline(always)]
    pub fn short(&mut self, block: &[u8; 16], len: usize) {
        let src = block.map(std::mem::MaybeUninit::new);
        self.spare[self.pos..self.pos + 16].copy_from_slice(&src);
        self.pos += len.min(16);
    }

    /// The first `len` (at most 12) bytes of `block`, written as one 12-byte copy.
    #[inline(always)]
    pub fn inline(&mut self, block: &[u8; 12], len: usize) {
        let src = block.map(std::mem::MaybeUninit::new);
        self.spare[self.pos..self.pos + 12].copy_from_slice(&src);
        self.pos += len.min(12);
    }

    /// `bytes`, copied.
    #[inline(always)]
    pub fn bytes(&mut self, bytes: &[u8]) {
        // SAFETY: `MaybeUninit<u8>` has the layout of `u8`.
        let src = unsafe { &*(bytes as *const [u8] as *const [std::mem::MaybeUninit<u8>]) };
        self.spare[self.pos..self.pos + bytes.len()].copy_from_slice(src);
        self.pos += bytes.len();
    }

    /// One little-endian `u32`.
    #[inline(always)]
    pub fn u32(&mut self, v: u32) {
        let src = v.to_le_bytes().map(std::mem::MaybeUninit::new);
        self.spare[self.pos..self.pos + 4].copy_from_slice(&src);
        self.pos += 4;
    }
}

/// Validity of `array` as seen by the encoding: its logical nulls, and-ed with the parent's mask.
/// `None` means every slot is valid.
pub fn effective_nulls(array: &dyn Array, mask: Option<&NullBuffer>) -> Option<NullBuffer> {
    let own = array.logical_nulls();
    NullBuffer::union(own.as_ref(), mask).filter(|n| n.null_count() > 0)
}

/// Append a bitmap (LSB first, padding bits zero) of `bits` to the sink.
pub(crate) fn put_bitmap(bits: &BooleanBuffer, sink: &mut Sink) {
    let len = bits.len();
    let nbytes = len.div_ceil(8);
    let buf = bits.sliced();
    let bytes = &buf.as_slice()[..nbytes];
    if len.is_multiple_of(8) {
        sink.put(bytes);
    } else {
        sink.put(&bytes[..nbytes - 1]);
        sink.put(&[bytes[nbytes - 1] & ((1u8 << (len % 8)) - 1)]);
    }
}

/// Validity section: `u64 null_count`, then the validity bitmap if `null_count > 0`.
pub(crate) fn put_validity(nulls: Option<&NullBuffer>, sink: &mut Sink) {
    let count = nulls.map_or(0, |n| n.null_count());
    sink.put(&(count as u64).to_le_bytes());
    if let Some(n) = nulls {
        put_bitmap(n.inner(), sink);
    }
}

/// Canonical hash of one column segment (the whole of `array`, usually a slice of a batch).
pub fn segment_digest(array: &dyn Array, column: &str) -> Result<Digest> {
    let mut sink = Sink::new(Ctx::Segment);
    encode_segment(array, None, &mut sink, column)?;
    Ok(sink.finish())
}

/// A float type whose NaNs are canonicalised (docs/hash-spec.md §4.3).
pub trait CanonFloat: Copy + ToByteSlice {
    fn is_nan_value(self) -> bool;
    /// The canonical quiet NaN of this width.
    const CANONICAL_NAN: Self;
    const ZERO: Self;
    fn bits_u64(self) -> u64;
}

impl CanonFloat for f64 {
    fn is_nan_value(self) -> bool {
        self.is_nan()
    }
    const CANONICAL_NAN: f64 = f64::from_bits(0x7ff8_0000_0000_0000);
    const ZERO: f64 = 0.0;
    fn bits_u64(self) -> u64 {
        if self.is_nan() {
            0x7ff8_0000_0000_0000
        } else {
            self.to_bits()
        }
    }
}

impl CanonFloat for f32 {
    fn is_nan_value(self) -> bool {
        self.is_nan()
    }
    const CANONICAL_NAN: f32 = f32::from_bits(0x7fc0_0000);
    const ZERO: f32 = 0.0;
    fn bits_u64(self) -> u64 {
        if self.is_nan() {
            0x7fc0_0000
        } else {
            self.to_bits() as u64
        }
    }
}

impl CanonFloat for half::f16 {
    fn is_nan_value(self) -> bool {
        self.is_nan()
    }
    const CANONICAL_NAN: half::f16 = half::f16::from_bits(0x7e00);
    const ZERO: half::f16 = half::f16::from_bits(0);
    fn bits_u64(self) -> u64 {
        if self.is_nan() {
            0x7e00
        } else {
            self.to_bits() as u64
        }
    }
}

/// Convert native-endian values to little-endian in place (a no-op on little-endian hosts).
pub(crate) fn to_le_in_place(bytes: &mut [u8], width: usize) {
    if cfg!(target_endian = "big") && width > 1 {
        for v in bytes.chunks_exact_mut(width) {
            v.reverse();
        }
    }
}

/// Typed view of dictionary keys, read one at a time (no converted copy of the key array).
/// A negative key reads as `usize::MAX`, so a range check catches it.
#[derive(Clone, Copy)]
pub enum KeyView<'a> {
    I8(&'a [i8]),
    I16(&'a [i16]),
    I32(&'a [i32]),
    I64(&'a [i64]),
    U8(&'a [u8]),
    U16(&'a [u16]),
    U32(&'a [u32]),
    U64(&'a [u64]),
}

impl<'a> KeyView<'a> {
    /// `None` for a key type Arrow does not allow.
    pub fn new(keys: &'a dyn Array) -> Option<Self> {
        Some(match keys.data_type() {
            DataType::Int8 => KeyView::I8(keys.as_primitive::<Int8Type>().values()),
            DataType::Int16 => KeyView::I16(keys.as_primitive::<Int16Type>().values()),
            DataType::Int32 => KeyView::I32(keys.as_primitive::<Int32Type>().values()),
            DataType::Int64 => KeyView::I64(keys.as_primitive::<Int64Type>().values()),
            DataType::UInt8 => KeyView::U8(keys.as_primitive::<UInt8Type>().values()),
            DataType::UInt16 => KeyView::U16(keys.as_primitive::<UInt16Type>().values()),
            DataType::UInt32 => KeyView::U32(keys.as_primitive::<UInt32Type>().values()),
            DataType::UInt64 => KeyView::U64(keys.as_primitive::<UInt64Type>().values()),
            _ => return None,
        })
    }

    /// Key `i` as an index.
    #[inline(always)]
    pub fn get(&self, i: usize) -> usize {
        let k = match self {
            KeyView::I8(v) => usize::try_from(v[i]).ok(),
            KeyView::I16(v) => usize::try_from(v[i]).ok(),
            KeyView::I32(v) => usize::try_from(v[i]).ok(),
            KeyView::I64(v) => usize::try_from(v[i]).ok(),
            KeyView::U8(v) => Some(v[i] as usize),
            KeyView::U16(v) => Some(v[i] as usize),
            KeyView::U32(v) => usize::try_from(v[i]).ok(),
            KeyView::U64(v) => usize::try_from(v[i]).ok(),
        };
        k.unwrap_or(usize::MAX)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn len(&self) -> usize {
        match self {
            KeyView::I8(v) => v.len(),
            KeyView::I16(v) => v.len(),
            KeyView::I32(v) => v.len(),
            KeyView::I64(v) => v.len(),
            KeyView::U8(v) => v.len(),
            KeyView::U16(v) => v.len(),
            KeyView::U32(v) => v.len(),
            KeyView::U64(v) => v.len(),
        }
    }

    /// `f(i, key i as an index)` for every key in order. A key that is not an index (negative)
    /// is `usize::MAX`.
    #[inline(always)]
    pub fn for_each_key(&self, mut f: impl FnMut(usize, usize)) {
        self.for_each_block(|start, block| {
            for (j, &k) in block.iter().enumerate() {
                f(start + j, k);
            }
        })
    }

    /// `f(first row, keys of the block as indices)` for consecutive blocks of at most
    /// [`KEY_BLOCK`] keys. Keys are converted a block at a time (one match on the key type per
    /// block), and `f` has one call site, so it is inlined; it may overwrite the block. A key
    /// that is not an index (negative) is `usize::MAX`.
    #[inline(always)]
    pub fn for_each_block(&self, mut f: impl FnMut(usize, &mut [usize])) {
        let mut buf = [0usize; KEY_BLOCK];
        let n = self.len();
        let mut start = 0;
        while start < n {
            let end = (start + KEY_BLOCK).min(n);
            let out = &mut buf[..end - start];
            macro_rules! convert {
                ($v:expr) => {
                    for (o, &k) in out.iter_mut().zip(&$v[start..end]) {
                        *o = usize::try_from(k).unwrap_or(usize::MAX);
                    }
                };
            }
            match self {
                KeyView::I8(v) => convert!(v),
                KeyView::I16(v) => convert!(v),
                KeyView::I32(v) => convert!(v),
                KeyView::I64(v) => convert!(v),
                KeyView::U8(v) => convert!(v),
                KeyView::U16(v) => convert!(v),
                KeyView::U32(v) => convert!(v),
                KeyView::U64(v) => convert!(v),
            }
            f(start, out);
            start = end;
        }
    }
}

/// Whether every key indexes a dictionary of `n` values (a negative key does not), checked
/// branch-free in blocks (4 keys to a vector compare).
pub(crate) fn keys_below(keys: &[i32], n: usize) -> bool {
    let n = n.min(1 << 31) as u32;
    !(keys.chunks(4096)).any(|c| c.iter().fold(false, |acc, &k| acc | (k as u32 >= n)))
}

/// Keys converted at a time by [`KeyView::for_each_block`].
pub const KEY_BLOCK: usize = 256;

fn bad_keys(array: &dyn Array) -> Error {
    Error::InvalidArgument(format!(
        "dictionary keys must be integers, got {}",
        array.data_type()
    ))
}

/// The decoded values of a dictionary array (null where the key is null). Keys under nulls may be
/// garbage, so they are never used as indices.
pub fn decode_dictionary(array: &dyn Array) -> Result<ArrayRef> {
    let dict = array.as_any_dictionary();
    let keys = KeyView::new(dict.keys()).ok_or_else(|| bad_keys(array))?;
    let key_nulls = dict.keys().logical_nulls();
    let idx: arrow_array::UInt64Array = (0..array.len())
        .map(|i| (!key_nulls.as_ref().is_some_and(|n| n.is_null(i))).then(|| keys.get(i) as u64))
        .collect();
    Ok(arrow_select::take::take(
        dict.values().as_ref(),
        &idx,
        None,
    )?)
}

/// Whether a type holds a dictionary at any depth.
fn has_dictionary(dt: &DataType) -> bool {
    match dt {
        DataType::Dictionary(..) => true,
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            has_dictionary(f.data_type())
        }
        DataType::Struct(fields) => fields.iter().any(|f| has_dictionary(f.data_type())),
        _ => false,
    }
}

/// The same logical values with every dictionary (at any depth) decoded. The hash normalises
/// dictionaries away, so this never changes a digest; it lets arrays with incompatible
/// dictionaries be concatenated.
pub fn decode_dictionaries(array: &dyn Array) -> Result<ArrayRef> {
    use arrow_array::FixedSizeListArray;
    use arrow_schema::Field;
    use std::sync::Arc;
    let retype =
        |f: &Field, child: &ArrayRef| Arc::new(f.clone().with_data_type(child.data_type().clone()));
    Ok(match array.data_type() {
        DataType::Dictionary(..) => decode_dictionaries(decode_dictionary(array)?.as_ref())?,
        DataType::List(f) if has_dictionary(f.data_type()) => decode_list::<i32>(array, f)?,
        DataType::LargeList(f) if has_dictionary(f.data_type()) => decode_list::<i64>(array, f)?,
        DataType::FixedSizeList(f, n) if has_dictionary(f.data_type()) => {
            let a = array.as_fixed_size_list();
            let child = decode_dictionaries(a.values().as_ref())?;
            Arc::new(FixedSizeListArray::try_new(
                retype(f, &child),
                *n,
                child,
                a.nulls().cloned(),
            )?)
        }
        DataType::Struct(fields) if has_dictionary(array.data_type()) => {
            let a = array.as_struct();
            let children = a
                .columns()
                .iter()
                .map(|c| decode_dictionaries(c.as_ref()))
                .collect::<Result<Vec<_>>>()?;
            let fields: Vec<Field> = fields
                .iter()
                .zip(&children)
                .map(|(f, c)| f.as_ref().clone().with_data_type(c.data_type().clone()))
                .collect();
            Arc::new(StructArray::try_new(
                fields.into(),
                children,
                a.nulls().cloned(),
            )?)
        }
        _ => arrow_array::make_array(array.to_data()),
    })
}

/// [`decode_dictionaries`] for list and large_list arrays.
fn decode_list<O: OffsetSizeTrait>(
    array: &dyn Array,
    f: &arrow_schema::FieldRef,
) -> Result<ArrayRef> {
    let a = array.as_list::<O>();
    let child = decode_dictionaries(a.values().as_ref())?;
    let field = std::sync::Arc::new(f.as_ref().clone().with_data_type(child.data_type().clone()));
    let list =
        GenericListArray::<O>::try_new(field, a.offsets().clone(), child, a.nulls().cloned())?;
    Ok(std::sync::Arc::new(list))
}

/// `array` with every string, binary and list layout replaced by its large variant
/// (`large_utf8`, `large_binary`, `large_list`), at every depth: one physical layout per logical
/// type (docs/hash-spec.md §3), so that arrays of one logical type stored differently (seam rows
/// of partitions read by different engines) concatenate. Dictionaries must be decoded first
/// ([`decode_dictionaries`]). Zero-copy for values; offsets are widened.
pub fn widen_layout(array: &dyn Array) -> Result<ArrayRef> {
    use arrow_array::StructArray;
    use arrow_array::{FixedSizeListArray, LargeBinaryArray, LargeListArray, LargeStringArray};
    use arrow_buffer::{OffsetBuffer, ScalarBuffer};
    use std::sync::Arc;
    fn wide<O: OffsetSizeTrait>(o: &OffsetBuffer<O>) -> OffsetBuffer<i64> {
        let v: Vec<i64> = o.iter().map(|x| x.as_usize() as i64).collect();
        // Widened from valid offsets: still non-decreasing and non-negative.
        OffsetBuffer::new(ScalarBuffer::from(v))
    }
    fn list(
        f: &arrow_schema::FieldRef,
        offsets: OffsetBuffer<i64>,
        values: &ArrayRef,
        nulls: Option<&NullBuffer>,
    ) -> Result<ArrayRef> {
        let child = widen_layout(values.as_ref())?;
        let field = Arc::new(f.as_ref().clone().with_data_type(child.data_type().clone()));
        Ok(Arc::new(LargeListArray::try_new(
            field,
            offsets,
            child,
            nulls.cloned(),
        )?))
    }
    let nulls = array.nulls();
    Ok(match array.data_type() {
        DataType::Utf8 => {
            let a = array.as_string::<i32>();
            let wide = wide(a.offsets());
            Arc::new(LargeStringArray::try_new(
                wide,
                a.values().clone(),
                nulls.cloned(),
            )?)
        }
        DataType::Binary => {
            let a = array.as_binary::<i32>();
            let wide = wide(a.offsets());
            Arc::new(LargeBinaryArray::try_new(
                wide,
                a.values().clone(),
                nulls.cloned(),
            )?)
        }
        DataType::Utf8View => Arc::new(array.as_string_view().iter().collect::<LargeStringArray>()),
        DataType::BinaryView => {
            Arc::new(array.as_binary_view().iter().collect::<LargeBinaryArray>())
        }
        DataType::List(f) => {
            let a = array.as_list::<i32>();
            list(f, wide(a.offsets()), a.values(), nulls)?
        }
        DataType::LargeList(f) => {
            let a = array.as_list::<i64>();
            list(f, a.offsets().clone(), a.values(), nulls)?
        }
        DataType::FixedSizeList(f, n) => {
            let a = array.as_fixed_size_list();
            let child = widen_layout(a.values().as_ref())?;
            let field = Arc::new(f.as_ref().clone().with_data_type(child.data_type().clone()));
            Arc::new(FixedSizeListArray::try_new(
                field,
                *n,
                child,
                nulls.cloned(),
            )?)
        }
        DataType::Struct(fields) => {
            let a = array.as_struct();
            let children = (a.columns().iter())
                .map(|c| widen_layout(c.as_ref()))
                .collect::<Result<Vec<_>>>()?;
            let fields: Vec<arrow_schema::Field> = (fields.iter().zip(&children))
                .map(|(f, c)| f.as_ref().clone().with_data_type(c.data_type().clone()))
                .collect();
            Arc::new(StructArray::try_new_with_length(
                fields.into(),
                children,
                nulls.cloned(),
                a.len(),
            )?)
        }
        _ => array.slice(0, array.len()),
    })
}

fn decoded_all(parts: &[&dyn Array]) -> Result<Vec<ArrayRef>> {
    parts.iter().map(|p| decode_dictionaries(*p)).collect()
}

fn any_dictionary(parts: &[&dyn Array]) -> bool {
    parts.first().is_some_and(|p| has_dictionary(p.data_type()))
}

/// Concatenate arrays of one type. Dictionaries whose merged dictionary would overflow their key
/// type (arrow refuses those), at any depth, are decoded first: the encoding decodes them anyway.
pub fn concat_arrays(parts: &[&dyn Array]) -> Result<ArrayRef> {
    match arrow_select::concat::concat(parts) {
        Err(_) if any_dictionary(parts) => {
            let decoded = decoded_all(parts)?;
            let refs: Vec<&dyn Array> = decoded.iter().map(|a| a.as_ref()).collect();
            Ok(arrow_select::concat::concat(&refs)?)
        }
        other => Ok(other?),
    }
}

/// `interleave` with the same fallback as [`concat_arrays`] for dictionaries.
pub fn interleave_arrays(parts: &[&dyn Array], rows: &[(usize, usize)]) -> Result<ArrayRef> {
    match arrow_select::interleave::interleave(parts, rows) {
        Err(_) if any_dictionary(parts) => {
            let decoded = decoded_all(parts)?;
            let refs: Vec<&dyn Array> = decoded.iter().map(|a| a.as_ref()).collect();
            Ok(arrow_select::interleave::interleave(&refs, rows)?)
        }
        other => Ok(other?),
    }
}

/// Call `f` with the index of every null slot of `nb`, visiting 64 slots per step.
pub fn for_each_null(nb: &NullBuffer, mut f: impl FnMut(usize)) {
    let n = nb.len();
    for (w, word) in nb.inner().bit_chunks().iter_padded().enumerate() {
        let mut zeros = !word;
        while zeros != 0 {
            let i = w * 64 + zeros.trailing_zeros() as usize;
            if i >= n {
                return;
            }
            f(i);
            zeros &= zeros - 1;
        }
    }
}

/// Fixed-width values: `n × width` little-endian bytes, null slots written as zeros.
fn put_fixed_bytes(values: &[u8], width: usize, nulls: Option<&NullBuffer>, sink: &mut Sink) {
    if nulls.is_none() && cfg!(target_endian = "little") {
        sink.put(values);
        return;
    }
    let mut buf = values.to_vec();
    if let Some(nb) = nulls {
        for_each_null(nb, |i| buf[i * width..(i + 1) * width].fill(0));
    }
    to_le_in_place(&mut buf, width);
    sink.put(&buf);
}

fn put_primitive<T: ArrowPrimitiveType>(
    array: &dyn Array,
    nulls: Option<&NullBuffer>,
    sink: &mut Sink,
) {
    let values = array.as_primitive::<T>().values();
    put_fixed_bytes(
        values.inner().as_slice(),
        std::mem::size_of::<T::Native>(),
        nulls,
        sink,
    );
}

/// Whether any slot holds a NaN (null slots included), by a branch-free scan in blocks, so it
/// vectorises.
pub(crate) fn has_nan<F: CanonFloat>(values: &[F]) -> bool {
    (values.chunks(1024)).any(|c| c.iter().fold(false, |acc, v| acc | v.is_nan_value()))
}

fn put_float<T>(array: &dyn Array, nulls: Option<&NullBuffer>, sink: &mut Sink)
where
    T: ArrowPrimitiveType,
    T::Native: CanonFloat,
{
    let values: &[T::Native] = array.as_primitive::<T>().values();
    let width = std::mem::size_of::<T::Native>();
    if nulls.is_none() && !has_nan(values) {
        put_fixed_bytes(values.to_byte_slice(), width, None, sink);
        return;
    }
    let mut buf: Vec<T::Native> = values
        .iter()
        .map(|v| {
            if v.is_nan_value() {
                T::Native::CANONICAL_NAN
            } else {
                *v
            }
        })
        .collect();
    if let Some(nb) = nulls {
        for_each_null(nb, |i| buf[i] = T::Native::ZERO);
    }
    let mut bytes = buf.to_byte_slice().to_vec();
    to_le_in_place(&mut bytes, width);
    sink.put(&bytes);
}

pub(crate) fn value_len(len: usize, column: &str) -> Result<u32> {
    u32::try_from(len).map_err(|_| Error::ValueOutOfRange {
        column: column.to_string(),
        message: format!("value of {len} bytes or elements: scheme 1 encodes lengths below 2^32"),
    })
}

/// Byte strings with offsets (utf8, large_utf8, binary, large_binary): lengths section
/// (`u32` per row, 0 for null) then the concatenated bytes of the valid values.
fn put_offset_bytes<O: OffsetSizeTrait>(
    offsets: &[O],
    data: &[u8],
    nulls: Option<&NullBuffer>,
    sink: &mut Sink,
    column: &str,
) -> Result<()> {
    let n = offsets.len() - 1;
    match nulls {
        // 32-bit offsets of validated (non-decreasing) data: every length fits the section.
        None if !O::IS_LARGE => {
            for (lo, hi) in offsets.chunks(BLOCK).zip(offsets[1..].chunks(BLOCK)) {
                sink.put_with(hi.len() * 4, |w| {
                    for (&a, &b) in lo.iter().zip(hi) {
                        w.u32((b - a).as_usize() as u32);
                    }
                });
            }
        }
        None => sink.put_u32s(n, |i| {
            value_len((offsets[i + 1] - offsets[i]).as_usize(), column)
        })?,
        Some(nb) => sink.put_u32s(n, |i| {
            if nb.is_null(i) {
                Ok(0)
            } else {
                value_len((offsets[i + 1] - offsets[i]).as_usize(), column)
            }
        })?,
    }
    match nulls {
        None => sink.put(&data[offsets[0].as_usize()..offsets[n].as_usize()]),
        Some(nb) => {
            for (s, e) in nb.valid_slices() {
                sink.put(&data[offsets[s].as_usize()..offsets[e].as_usize()]);
            }
        }
    }
    Ok(())
}

fn put_byte_array<T: arrow_array::types::ByteArrayType>(
    array: &dyn Array,
    nulls: Option<&NullBuffer>,
    sink: &mut Sink,
    column: &str,
) -> Result<()> {
    let a: &GenericByteArray<T> = array.as_bytes::<T>();
    put_offset_bytes(a.value_offsets(), a.value_data(), nulls, sink, column)
}

/// View arrays (utf8_view, binary_view): same encoding as their offset-based relatives.
fn put_view_array<T: ByteViewType>(
    array: &dyn Array,
    nulls: Option<&NullBuffer>,
    sink: &mut Sink,
    column: &str,
) -> Result<()> {
    let a: &GenericByteViewArray<T> = array.as_byte_view::<T>();
    let n = a.len();
    let views = a.views();
    // The views as bytes: an inline value is bytes 4..16 of its view.
    // SAFETY: a `u128` is 16 initialised bytes.
    let view_bytes: &[u8] =
        unsafe { std::slice::from_raw_parts(views.as_ptr().cast(), views.len() * 16) };
    let buffers = a.data_buffers();
    let len = |i: usize| match nulls.is_some_and(|nb| nb.is_null(i)) {
        true => 0,
        false => views[i] as u32 as usize,
    };
    sink.put_u32s(n, |i| Ok(len(i) as u32))?;
    // The bytes, a run of values at a time through one writer: as many values as the writer's
    // room holds (a value longer than that goes alone).
    let mut i = 0;
    while i < n {
        let (mut end, mut total) = (i, 0);
        while end < n && total + len(end) + 16 <= SLACK_BYTES {
            total += len(end);
            end += 1;
        }
        if end == i {
            sink.put(a.value(i).as_ref());
            i += 1;
            continue;
        }
        sink.put_with(total + 16, |w| {
            for k in i..end {
                let len = len(k);
                if len == 0 {
                    continue;
                }
                if len <= 12 {
                    // Short values live inline in the view, right after the length.
                    w.inline(view_bytes[k * 16 + 4..k * 16 + 16].try_into().unwrap(), len);
                } else {
                    w.bytes(view_value(&views[k], buffers));
                }
            }
        });
        i = end;
    }
    let _ = column;
    Ok(())
}

/// The bytes of a view (validated: an out-of-line value's buffer index and range lie inside
/// `buffers`, the array's data buffers).
#[inline(always)]
pub(crate) fn view_value<'a>(view: &'a u128, buffers: &'a [arrow_buffer::Buffer]) -> &'a [u8] {
    let len = *view as u32 as usize;
    if len <= 12 {
        // SAFETY: bytes 4..4 + len of the view (a `u128` is 16 initialised bytes).
        unsafe { std::slice::from_raw_parts((view as *const u128).cast::<u8>().add(4), len) }
    } else {
        let at = (view >> 96) as u32 as usize;
        &buffers[(view >> 64) as u32 as usize][at..at + len]
    }
}

/// Dictionary of byte strings: the encoding of the decoded strings, gathered straight from the
/// dictionary (no decoded copy of the column is built).
fn put_dictionary_bytes<O: OffsetSizeTrait>(
    array: &dyn Array,
    mask: Option<&NullBuffer>,
    sink: &mut Sink,
    column: &str,
) -> Result<()> {
    let dict = array.as_any_dictionary();
    let values = dict.values().to_data();
    let offsets: &[O] = &values.buffer::<O>(0)[..values.len() + 1];
    let data = values.buffers()[1].as_slice();
    let Some(keys) = KeyView::new(dict.keys()) else {
        return encode_segment(decode_dictionary(array)?.as_ref(), mask, sink, column);
    };
    let n = array.len();
    let nulls = effective_nulls(array, mask);
    let nulls = nulls.as_ref();
    put_validity(nulls, sink);
    let valid = |i: usize| !nulls.is_some_and(|nb| nb.is_null(i));
    let value = |k: usize| &data[offsets[k].as_usize()..offsets[k + 1].as_usize()];
    // Dictionary values prepared once (only when the dictionary is not larger than the segment,
    // so the preparation never dominates, and every length fits the length section): the
    // segment loops then look up one entry per row, with no branch on nulls or lengths.
    let table = (values.len() <= n)
        .then(|| PreparedDictionary::new(values.len(), value))
        .flatten();
    if let Some(table) = table {
        let count = values.len();
        // 32-bit keys without nulls, all in range (the common case): the keys as they are.
        if let (None, KeyView::I32(k), false) = (nulls, &keys, table.any_long) {
            if keys_below(k, count) {
                for c in k.chunks(SLACK_BYTES / 16) {
                    table.put_lens(sink, c.iter().map(|&key| key as usize));
                }
                for c in k.chunks(SLACK_BYTES / 16) {
                    table.put_short_values(sink, c.iter().map(|&key| key as usize));
                }
                return Ok(());
            }
        }
        let mut bad = None;
        for_each_entries(&keys, nulls, count, &mut bad, |entries| {
            table.put_lens(sink, entries.iter().copied())
        });
        if let Some(k) = bad {
            // Validated data never gets here; unvalidated data must not panic.
            return Err(Error::InvalidData {
                column: column.to_string(),
                message: format!("dictionary key {k} out of range ({count} values)"),
            });
        }
        for_each_entries(&keys, nulls, count, &mut bad, |entries| {
            if table.any_long {
                for &e in entries.iter() {
                    match table.lens[e] {
                        len @ 0..=16 => sink.put_short(table.blocks[e], len as usize),
                        _ => sink.put(value(e)),
                    }
                }
            } else {
                table.put_short_values(sink, entries.iter().copied())
            }
        });
        return Ok(());
    }
    sink.put_u32s(n, |i| {
        if valid(i) {
            value_len(value(keys.get(i)).len(), column)
        } else {
            Ok(0)
        }
    })?;
    for i in 0..n {
        if valid(i) {
            sink.put(value(keys.get(i)));
        }
    }
    Ok(())
}

/// Dictionary values as the segment loops of [`put_dictionary_bytes`] use them: entries
/// `0..count` are the values, entry `count` is a null row (length 0, no bytes) and entry
/// `count + 1` a key out of range (an error, never written).
struct PreparedDictionary {
    /// Length section entry of each value.
    lens: Vec<u32>,
    /// The bytes of each value of at most 16 bytes, zero-padded (unused for longer values).
    blocks: Vec<[u8; 16]>,
    /// Whether a value is longer than 16 bytes.
    any_long: bool,
}

impl PreparedDictionary {
    /// `None` when a value is too long for the length section (the caller's general path then
    /// reports it, if a valid row uses it).
    fn new<'a>(count: usize, value: impl Fn(usize) -> &'a [u8]) -> Option<Self> {
        let mut lens = Vec::with_capacity(count + 2);
        let mut blocks = Vec::with_capacity(count + 2);
        let mut any_long = false;
        for k in 0..count {
            let v = value(k);
            lens.push(u32::try_from(v.len()).ok()?);
            let mut block = [0u8; 16];
            if v.len() <= 16 {
                block[..v.len()].copy_from_slice(v);
            } else {
                any_long = true;
            }
            blocks.push(block);
        }
        lens.extend([0, 0]);
        blocks.extend([[0u8; 16]; 2]);
        Some(PreparedDictionary {
            lens,
            blocks,
            any_long,
        })
    }

    /// The length section entries of the rows whose entries are `entries` (at most
    /// [`SLACK_BYTES`]` / 4` of them).
    #[inline(always)]
    fn put_lens(&self, sink: &mut Sink, entries: impl ExactSizeIterator<Item = usize>) {
        sink.put_with(entries.len() * 4, |w| {
            for e in entries {
                w.u32(self.lens[e]);
            }
        })
    }

    /// The bytes of the rows whose entries are `entries` (at most [`SLACK_BYTES`]` / 16` of
    /// them), all of at most 16 bytes.
    #[inline(always)]
    fn put_short_values(&self, sink: &mut Sink, entries: impl ExactSizeIterator<Item = usize>) {
        sink.put_with(entries.len() * 16, |w| {
            for e in entries {
                w.short(&self.blocks[e], self.lens[e] as usize);
            }
        })
    }
}

/// `f(entries)` for consecutive blocks of rows of a dictionary segment, where a row's entry is
/// its key, `count` for a null row, and `count + 1` for a valid row whose key is out of range
/// (the first such key also goes to `bad`).
#[inline(always)]
fn for_each_entries(
    keys: &KeyView,
    nulls: Option<&NullBuffer>,
    count: usize,
    bad: &mut Option<usize>,
    mut f: impl FnMut(&[usize]),
) {
    keys.for_each_block(|start, block| {
        let mut out_of_range = false;
        match nulls {
            None => {
                for e in block.iter_mut() {
                    out_of_range |= *e >= count;
                }
            }
            Some(nb) => {
                for (j, e) in block.iter_mut().enumerate() {
                    if nb.is_null(start + j) {
                        *e = count;
                    } else {
                        out_of_range |= *e >= count;
                    }
                }
            }
        }
        if out_of_range {
            for (j, e) in block.iter_mut().enumerate() {
                if *e >= count && !nulls.is_some_and(|nb| nb.is_null(start + j)) {
                    bad.get_or_insert(*e);
                    *e = count + 1;
                }
            }
        }
        f(block)
    })
}

fn put_list<O: OffsetSizeTrait>(
    array: &dyn Array,
    nulls: Option<&NullBuffer>,
    sink: &mut Sink,
    column: &str,
) -> Result<()> {
    let a: &GenericListArray<O> = array.as_list::<O>();
    let offsets = a.value_offsets();
    let n = a.len();
    let mut lens = Vec::with_capacity(n.min(BLOCK) * 4);
    let mut null_with_elements = false;
    for start in (0..n).step_by(BLOCK) {
        let end = (start + BLOCK).min(n);
        lens.clear();
        for i in start..end {
            let raw = (offsets[i + 1] - offsets[i]).as_usize();
            let len = if nulls.is_some_and(|nb| nb.is_null(i)) {
                null_with_elements |= raw > 0;
                0
            } else {
                value_len(raw, column)?
            };
            lens.extend_from_slice(&len.to_le_bytes());
        }
        sink.put(&lens);
    }
    let first = offsets[0].as_usize();
    let child: ArrayRef = match (nulls, null_with_elements) {
        (Some(nb), true) => {
            // Null list slots that still point at elements: keep only the valid ranges.
            let parts: Vec<ArrayRef> = nb
                .valid_slices()
                .map(|(s, e)| {
                    let (s, e) = (offsets[s].as_usize(), offsets[e].as_usize());
                    a.values().slice(s, e - s)
                })
                .collect();
            let refs: Vec<&dyn Array> = parts.iter().map(|p| p.as_ref()).collect();
            if refs.is_empty() {
                a.values().slice(0, 0)
            } else {
                concat_arrays(&refs)?
            }
        }
        _ => a.values().slice(first, offsets[n].as_usize() - first),
    };
    encode_segment(child.as_ref(), None, sink, column)
}

fn put_fixed_size_list(
    array: &dyn Array,
    nulls: Option<&NullBuffer>,
    sink: &mut Sink,
    column: &str,
) -> Result<()> {
    let a: &FixedSizeListArray = array.as_fixed_size_list();
    let size = a.value_length() as usize;
    let n = a.len();
    let start = if n == 0 { 0 } else { a.value_offset_at(0) };
    let child = a.values().slice(start, n * size);
    let mask = nulls.map(|nb| {
        NullBuffer::new(BooleanBuffer::collect_bool(n * size, |j| {
            nb.is_valid(j / size)
        }))
    });
    encode_segment(child.as_ref(), mask.as_ref(), sink, column)
}

/// Encode `array` as one segment (docs/hash-spec.md §4.2). `mask` marks slots that a null parent
/// hides (struct and fixed-size-list children); they are encoded exactly like nulls.
pub fn encode_segment(
    array: &dyn Array,
    mask: Option<&NullBuffer>,
    sink: &mut Sink,
    column: &str,
) -> Result<()> {
    use DataType as D;
    if let D::Dictionary(_, value_type) = array.data_type() {
        return match value_type.as_ref() {
            D::Utf8 | D::Binary => put_dictionary_bytes::<i32>(array, mask, sink, column),
            D::LargeUtf8 | D::LargeBinary => put_dictionary_bytes::<i64>(array, mask, sink, column),
            _ => encode_segment(decode_dictionary(array)?.as_ref(), mask, sink, column),
        };
    }
    let nulls = effective_nulls(array, mask);
    let nulls = nulls.as_ref();
    put_validity(nulls, sink);
    match array.data_type() {
        D::Null => {}
        D::Boolean => {
            let a: &BooleanArray = array.as_boolean();
            match nulls {
                None => put_bitmap(a.values(), sink),
                Some(nb) => put_bitmap(&(a.values() & nb.inner()), sink),
            }
        }
        D::Int8 => put_primitive::<Int8Type>(array, nulls, sink),
        D::Int16 => put_primitive::<Int16Type>(array, nulls, sink),
        D::Int32 => put_primitive::<Int32Type>(array, nulls, sink),
        D::Int64 => put_primitive::<Int64Type>(array, nulls, sink),
        D::UInt8 => put_primitive::<UInt8Type>(array, nulls, sink),
        D::UInt16 => put_primitive::<UInt16Type>(array, nulls, sink),
        D::UInt32 => put_primitive::<UInt32Type>(array, nulls, sink),
        D::UInt64 => put_primitive::<UInt64Type>(array, nulls, sink),
        D::Float16 => put_float::<Float16Type>(array, nulls, sink),
        D::Float32 => put_float::<Float32Type>(array, nulls, sink),
        D::Float64 => put_float::<Float64Type>(array, nulls, sink),
        D::Date32 => put_primitive::<Date32Type>(array, nulls, sink),
        D::Date64 => put_primitive::<Date64Type>(array, nulls, sink),
        D::Time32(TimeUnit::Second) => put_primitive::<Time32SecondType>(array, nulls, sink),
        D::Time32(_) => put_primitive::<Time32MillisecondType>(array, nulls, sink),
        D::Time64(TimeUnit::Microsecond) => {
            put_primitive::<Time64MicrosecondType>(array, nulls, sink)
        }
        D::Time64(_) => put_primitive::<Time64NanosecondType>(array, nulls, sink),
        D::Timestamp(..) | D::Duration(_) => {
            // All units store i64; the unit lives in the schema descriptor.
            let data = array.to_data();
            let bytes =
                &data.buffers()[0].as_slice()[data.offset() * 8..(data.offset() + data.len()) * 8];
            put_fixed_bytes(bytes, 8, nulls, sink);
        }
        D::Decimal32(..) => put_primitive::<Decimal32Type>(array, nulls, sink),
        D::Decimal64(..) => put_primitive::<Decimal64Type>(array, nulls, sink),
        D::Decimal128(..) => put_primitive::<Decimal128Type>(array, nulls, sink),
        D::Decimal256(..) => put_primitive::<Decimal256Type>(array, nulls, sink),
        D::Utf8 => put_byte_array::<Utf8Type>(array, nulls, sink, column)?,
        D::LargeUtf8 => put_byte_array::<LargeUtf8Type>(array, nulls, sink, column)?,
        D::Binary => put_byte_array::<BinaryType>(array, nulls, sink, column)?,
        D::LargeBinary => put_byte_array::<LargeBinaryType>(array, nulls, sink, column)?,
        D::Utf8View => put_view_array::<StringViewType>(array, nulls, sink, column)?,
        D::BinaryView => put_view_array::<BinaryViewType>(array, nulls, sink, column)?,
        D::FixedSizeBinary(w) => {
            let a: &FixedSizeBinaryArray = array.as_fixed_size_binary();
            let w = *w as usize;
            let mut buf = Vec::with_capacity(a.len().min(BLOCK) * w);
            for start in (0..a.len()).step_by(BLOCK) {
                buf.clear();
                for i in start..(start + BLOCK).min(a.len()) {
                    if nulls.is_some_and(|nb| nb.is_null(i)) {
                        buf.resize(buf.len() + w, 0);
                    } else {
                        buf.extend_from_slice(a.value(i));
                    }
                }
                sink.put(&buf);
            }
        }
        D::List(_) => put_list::<i32>(array, nulls, sink, column)?,
        D::LargeList(_) => put_list::<i64>(array, nulls, sink, column)?,
        D::FixedSizeList(..) => put_fixed_size_list(array, nulls, sink, column)?,
        D::Struct(_) => {
            let a: &StructArray = array.as_struct();
            for child in a.columns() {
                encode_segment(child.as_ref(), nulls, sink, column)?;
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

/// Append the cell encoding of `array[i]` (docs/hash-spec.md §4.4) to `out`:
/// `0x00` for null, else `0x01` followed by the value.
pub fn encode_cell(array: &dyn Array, i: usize, out: &mut Vec<u8>, column: &str) -> Result<()> {
    use DataType as D;
    if let D::Dictionary(..) = array.data_type() {
        let dict = array.as_any_dictionary();
        if dict.keys().is_null(i) {
            out.push(0x00);
            return Ok(());
        }
        let k = KeyView::new(dict.keys())
            .ok_or_else(|| bad_keys(array))?
            .get(i);
        return encode_cell(dict.values().as_ref(), k, out, column);
    }
    if array.logical_nulls().is_some_and(|n| n.is_null(i)) || matches!(array.data_type(), D::Null) {
        out.push(0x00);
        return Ok(());
    }
    out.push(0x01);
    macro_rules! prim {
        ($t:ty) => {
            out.extend_from_slice(array.as_primitive::<$t>().value(i).to_byte_slice())
        };
    }
    let start = out.len();
    match array.data_type() {
        D::Boolean => out.push(array.as_boolean().value(i) as u8),
        D::Int8 => prim!(Int8Type),
        D::Int16 => prim!(Int16Type),
        D::Int32 => prim!(Int32Type),
        D::Int64 => prim!(Int64Type),
        D::UInt8 => prim!(UInt8Type),
        D::UInt16 => prim!(UInt16Type),
        D::UInt32 => prim!(UInt32Type),
        D::UInt64 => prim!(UInt64Type),
        D::Float16 => {
            let v = array.as_primitive::<Float16Type>().value(i);
            out.extend_from_slice(&(v.bits_u64() as u16).to_ne_bytes())
        }
        D::Float32 => {
            let v = array.as_primitive::<Float32Type>().value(i);
            out.extend_from_slice(&(v.bits_u64() as u32).to_ne_bytes())
        }
        D::Float64 => {
            let v = array.as_primitive::<Float64Type>().value(i);
            out.extend_from_slice(&v.bits_u64().to_ne_bytes())
        }
        D::Date32 | D::Time32(_) | D::Decimal32(..) => {
            let d = array.to_data();
            out.extend_from_slice(&d.buffers()[0].as_slice()[(d.offset() + i) * 4..][..4])
        }
        D::Date64 | D::Time64(_) | D::Timestamp(..) | D::Duration(_) | D::Decimal64(..) => {
            let d = array.to_data();
            out.extend_from_slice(&d.buffers()[0].as_slice()[(d.offset() + i) * 8..][..8])
        }
        D::Decimal128(..) => prim!(Decimal128Type),
        D::Decimal256(..) => prim!(Decimal256Type),
        D::Utf8 => put_cell_bytes(array.as_string::<i32>().value(i).as_bytes(), out, column)?,
        D::LargeUtf8 => put_cell_bytes(array.as_string::<i64>().value(i).as_bytes(), out, column)?,
        D::Utf8View => put_cell_bytes(array.as_string_view().value(i).as_bytes(), out, column)?,
        D::Binary => put_cell_bytes(array.as_binary::<i32>().value(i), out, column)?,
        D::LargeBinary => put_cell_bytes(array.as_binary::<i64>().value(i), out, column)?,
        D::BinaryView => put_cell_bytes(array.as_binary_view().value(i), out, column)?,
        D::FixedSizeBinary(_) => out.extend_from_slice(array.as_fixed_size_binary().value(i)),
        D::List(_) => {
            let a = array.as_list::<i32>();
            let (s, e) = (a.value_offsets()[i], a.value_offsets()[i + 1]);
            put_cell_list(a.values().as_ref(), s as usize..e as usize, out, column)?
        }
        D::LargeList(_) => {
            let a = array.as_list::<i64>();
            let (s, e) = (a.value_offsets()[i], a.value_offsets()[i + 1]);
            put_cell_list(a.values().as_ref(), s as usize..e as usize, out, column)?
        }
        D::FixedSizeList(..) => {
            let a = array.as_fixed_size_list();
            let s = a.value_offset_at(i);
            put_cells(
                a.values().as_ref(),
                s..s + a.value_length() as usize,
                out,
                column,
            )?
        }
        D::Struct(_) => {
            for child in array.as_struct().columns() {
                encode_cell(child.as_ref(), i, out, column)?;
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
    // Fixed-width values were appended in native order; make them little-endian.
    if cfg!(target_endian = "big") {
        let w = out.len() - start;
        if array.data_type().is_primitive() && w > 1 {
            out[start..].reverse();
        }
    }
    Ok(())
}

/// The positions `i` of `at` (each at least 1, ascending) at which value `i` of `array` is not
/// equal to value `i - 1` in the sense of the cell encoding (§4.4): one is null and the other
/// is not, or their canonical values differ (every NaN is equal, −0.0 differs from +0.0, a
/// dictionary is its values). Flat types compare in place; dictionaries compare keys first;
/// other values compare their cell encodings.
pub fn differs_from_previous(
    array: &dyn Array,
    at: impl Iterator<Item = usize>,
    column: &str,
) -> Result<Vec<usize>> {
    use DataType as D;
    let mut out = Vec::new();
    let nulls = array.nulls();
    // Physical nulls are the logical ones for every type compared in place below.
    let mut flat = |same: &dyn Fn(usize) -> bool, at: &mut dyn Iterator<Item = usize>| {
        for i in at {
            let equal = match nulls {
                None => same(i),
                Some(n) => match (n.is_valid(i - 1), n.is_valid(i)) {
                    (true, true) => same(i),
                    (a, b) => a == b,
                },
            };
            if !equal {
                out.push(i);
            }
        }
    };
    let mut at = at;
    macro_rules! floats {
        ($t:ty) => {{
            let v = array.as_primitive::<$t>().values();
            flat(&|i| v[i].bits_u64() == v[i - 1].bits_u64(), &mut at)
        }};
    }
    macro_rules! words {
        ($t:ty) => {{
            let d = array.to_data();
            let v = d.buffer::<$t>(0);
            flat(&|i| v[i] == v[i - 1], &mut at)
        }};
    }
    macro_rules! bytes {
        ($t:ty) => {{
            let a = array.as_bytes::<$t>();
            flat(&|i| a.value(i) == a.value(i - 1), &mut at)
        }};
    }
    match array.data_type() {
        D::Null => {}
        D::Boolean => {
            let v = array.as_boolean().values();
            flat(&|i| v.value(i) == v.value(i - 1), &mut at)
        }
        D::Float16 => floats!(Float16Type),
        D::Float32 => floats!(Float32Type),
        D::Float64 => floats!(Float64Type),
        // Every other fixed-width type encodes as its bytes.
        dt if dt.is_primitive() => match dt.primitive_width() {
            Some(1) => words!(u8),
            Some(2) => words!(u16),
            Some(4) => words!(u32),
            Some(8) => words!(u64),
            Some(16) => words!(u128),
            Some(32) => words!(arrow_buffer::i256),
            _ => return differs_by_cells(array, at, column),
        },
        D::Utf8 => bytes!(Utf8Type),
        D::LargeUtf8 => bytes!(LargeUtf8Type),
        D::Binary => bytes!(BinaryType),
        D::LargeBinary => bytes!(LargeBinaryType),
        D::Dictionary(..) => {
            // Equal valid keys are equal values; anything else compares the values' cells.
            let dict = array.as_any_dictionary();
            let keys = KeyView::new(dict.keys()).ok_or_else(|| bad_keys(array))?;
            let key_nulls = dict.keys().nulls();
            let same_key = |i: usize| key_nulls.is_none_or(|n| n.is_valid(i) && n.is_valid(i - 1));
            let rest: Vec<usize> = at
                .filter(|&i| !(same_key(i) && keys.get(i) == keys.get(i - 1)))
                .collect();
            return differs_by_cells(array, rest.into_iter(), column);
        }
        _ => return differs_by_cells(array, at, column),
    }
    Ok(out)
}

/// [`differs_from_previous`] by cell encodings.
fn differs_by_cells(
    array: &dyn Array,
    at: impl Iterator<Item = usize>,
    column: &str,
) -> Result<Vec<usize>> {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let mut out = Vec::new();
    for i in at {
        a.clear();
        b.clear();
        encode_cell(array, i - 1, &mut a, column)?;
        encode_cell(array, i, &mut b, column)?;
        if a != b {
            out.push(i);
        }
    }
    Ok(out)
}

fn put_cell_bytes(v: &[u8], out: &mut Vec<u8>, column: &str) -> Result<()> {
    out.extend_from_slice(&value_len(v.len(), column)?.to_le_bytes());
    out.extend_from_slice(v);
    Ok(())
}

/// The body of a list cell: its element count, then elements `range` of `values` (the list's
/// child array).
fn put_cell_list(
    values: &dyn Array,
    range: std::ops::Range<usize>,
    out: &mut Vec<u8>,
    column: &str,
) -> Result<()> {
    out.extend_from_slice(&value_len(range.len(), column)?.to_le_bytes());
    put_cells(values, range, out, column)
}

/// The cell encodings of elements `range` of `values` (a list's child array), one after the
/// other: in one loop for integers and floats (embeddings, tags), by [`encode_cell`] otherwise.
fn put_cells(
    values: &dyn Array,
    range: std::ops::Range<usize>,
    out: &mut Vec<u8>,
    column: &str,
) -> Result<()> {
    use DataType as D;
    macro_rules! ints {
        ($t:ty) => {{
            let a = values.as_primitive::<$t>();
            put_primitive_cells(a.values(), a.nulls(), range, out, |v, out| {
                out.extend_from_slice(&v.to_le_bytes())
            })
        }};
    }
    macro_rules! bytes {
        ($t:ty) => {{
            let a = values.as_bytes::<$t>();
            put_byte_cells(
                a.value_offsets(),
                a.value_data(),
                a.nulls(),
                range,
                out,
                column,
            )?
        }};
    }
    macro_rules! floats {
        ($t:ty, $bits:ty) => {{
            let a = values.as_primitive::<$t>();
            put_primitive_cells(a.values(), a.nulls(), range, out, |v, out| {
                out.extend_from_slice(&(v.bits_u64() as $bits).to_le_bytes())
            })
        }};
    }
    match values.data_type() {
        D::Int8 => ints!(Int8Type),
        D::Int16 => ints!(Int16Type),
        D::Int32 => ints!(Int32Type),
        D::Int64 => ints!(Int64Type),
        D::UInt8 => ints!(UInt8Type),
        D::UInt16 => ints!(UInt16Type),
        D::UInt32 => ints!(UInt32Type),
        D::UInt64 => ints!(UInt64Type),
        D::Float16 => floats!(Float16Type, u16),
        D::Float32 => floats!(Float32Type, u32),
        D::Float64 => floats!(Float64Type, u64),
        D::Utf8 => bytes!(Utf8Type),
        D::LargeUtf8 => bytes!(LargeUtf8Type),
        D::Binary => bytes!(BinaryType),
        D::LargeBinary => bytes!(LargeBinaryType),
        _ => {
            for j in range {
                encode_cell(values, j, out, column)?;
            }
        }
    }
    Ok(())
}

/// Cells of string or binary values `range` (given by `offsets` into `bytes`): `00` for a null,
/// else `01`, the length and the bytes.
fn put_byte_cells<O: OffsetSizeTrait>(
    offsets: &[O],
    bytes: &[u8],
    nulls: Option<&NullBuffer>,
    range: std::ops::Range<usize>,
    out: &mut Vec<u8>,
    column: &str,
) -> Result<()> {
    for j in range {
        if nulls.is_some_and(|n| n.is_null(j)) {
            out.push(0x00);
            continue;
        }
        let v = &bytes[offsets[j].as_usize()..offsets[j + 1].as_usize()];
        out.push(0x01);
        put_cell_bytes(v, out, column)?;
    }
    Ok(())
}

/// Cells of primitive values `range`: `00` for a null, else `01` and the value's bytes (`put`).
#[inline(always)]
fn put_primitive_cells<T: Copy>(
    values: &[T],
    nulls: Option<&NullBuffer>,
    range: std::ops::Range<usize>,
    out: &mut Vec<u8>,
    put: impl Fn(T, &mut Vec<u8>),
) {
    out.reserve(range.len() * (1 + std::mem::size_of::<T>()));
    for j in range {
        match nulls.is_some_and(|n| n.is_null(j)) {
            true => out.push(0x00),
            false => {
                out.push(0x01);
                put(values[j], out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::builder::{Int32Builder, ListBuilder};
    use arrow_array::{
        DictionaryArray, Float32Array, Float64Array, Int64Array, Int8Array, LargeBinaryArray,
        NullArray, StringArray,
    };
    use arrow_buffer::Buffer;
    use arrow_data::ArrayData;
    use std::sync::Arc;

    /// Values drawn from a few, so that equal neighbours are common; a null every so often,
    /// over a slot that holds a value of its own (garbage).
    fn picks(n: usize, k: u64) -> Vec<(bool, u64)> {
        let mut s = 0x9E37_79B9_7F4A_7C15u64 ^ k;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (!s.is_multiple_of(7), (s >> 8) % 3)
            })
            .collect()
    }

    fn with_nulls(data: ArrayData, valid: &[bool]) -> ArrayRef {
        let nulls = NullBuffer::from(valid.to_vec());
        let data = data.into_builder().nulls(Some(nulls)).build().unwrap();
        arrow_array::make_array(data)
    }

    /// The cell of a list row, element by element through `encode_cell` of the row's own slice:
    /// the definition `put_cells` must equal.
    fn list_cell(values: &dyn Array, range: std::ops::Range<usize>, out: &mut Vec<u8>) {
        let v = values.slice(range.start, range.len());
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
        for j in 0..v.len() {
            encode_cell(v.as_ref(), j, out, "c").unwrap();
        }
    }

    #[test]
    fn list_cells_of_numbers_equal_the_element_by_element_encoding() {
        let n = 300;
        let valid: Vec<bool> = picks(n, 11).iter().map(|x| x.0).collect();
        let nan = f64::from_bits(0x7ff8_0000_0000_0001);
        let children: Vec<ArrayRef> = vec![
            with_nulls(
                Int8Array::from_iter_values((0..n).map(|i| i as i8)).to_data(),
                &valid,
            ),
            Arc::new(arrow_array::Int16Array::from_iter_values(
                (0..n).map(|i| -(i as i16)),
            )),
            Arc::new(arrow_array::Int32Array::from_iter_values(0..n as i32)),
            with_nulls(
                Int64Array::from_iter_values((0..n).map(|i| i as i64 - 7)).to_data(),
                &valid,
            ),
            Arc::new(arrow_array::UInt8Array::from_iter_values(
                (0..n).map(|i| i as u8),
            )),
            Arc::new(arrow_array::UInt16Array::from_iter_values(
                (0..n).map(|i| i as u16),
            )),
            Arc::new(arrow_array::UInt32Array::from_iter_values(
                (0..n).map(|i| i as u32 * 3),
            )),
            Arc::new(arrow_array::UInt64Array::from_iter_values(
                (0..n).map(|i| u64::MAX - i as u64),
            )),
            Arc::new(arrow_array::Float16Array::from_iter_values((0..n).map(
                |i| half::f16::from_f32(if i % 5 == 0 { f32::NAN } else { -(i as f32) }),
            ))),
            with_nulls(
                Float32Array::from_iter_values((0..n).map(|i| {
                    if i % 4 == 0 {
                        -0.0
                    } else {
                        i as f32
                    }
                }))
                .to_data(),
                &valid,
            ),
            Arc::new(Float64Array::from_iter_values((0..n).map(|i| {
                if i % 3 == 0 {
                    nan
                } else {
                    i as f64 / 3.0
                }
            }))),
            with_nulls(
                StringArray::from_iter_values((0..n).map(|i| format!("s{i}"))).to_data(),
                &valid,
            ),
            Arc::new(LargeBinaryArray::from_iter_values(
                (0..n).map(|i| vec![i as u8; i % 4]),
            )),
            Arc::new(arrow_array::LargeStringArray::from_iter_values(
                (0..n).map(|i| "é".repeat(i % 3)),
            )),
            Arc::new(arrow_array::BinaryArray::from_iter_values(
                (0..n).map(|i| [i as u8]),
            )),
        ];
        for child in children {
            for values in [child.clone(), child.slice(3, n - 3)] {
                let len = values.len();
                let mut start = 0;
                while start < len {
                    let end = (start + start % 7).min(len);
                    let (mut got, mut want) = (Vec::new(), Vec::new());
                    put_cell_list(values.as_ref(), start..end, &mut got, "c").unwrap();
                    list_cell(values.as_ref(), start..end, &mut want);
                    assert_eq!(got, want, "{} {start}..{end}", values.data_type());
                    start = end + 1;
                }
            }
        }
    }

    #[test]
    fn differs_from_previous_agrees_with_the_cell_encoding() {
        let n = 600;
        let p = picks(n, 1);
        let valid: Vec<bool> = p.iter().map(|x| x.0).collect();
        let ints = Int64Array::from_iter_values(p.iter().map(|x| x.1 as i64 - 1));
        // Two NaN payloads, -0.0 and +0.0 (equal NaNs, different zeros).
        let f64s = [f64::from_bits(0x7ff8_0000_0000_0001), f64::NAN, -0.0, 0.0];
        let f64s = Float64Array::from_iter_values(
            picks(n, 2)
                .iter()
                .map(|x| f64s[(x.1 + x.0 as u64) as usize]),
        );
        let f32s = [f32::from_bits(0x7fc0_0001), f32::NAN, -0.0, 0.0];
        let f32s = Float32Array::from_iter_values(
            picks(n, 3)
                .iter()
                .map(|x| f32s[(x.1 + x.0 as u64) as usize]),
        );
        let strs = StringArray::from_iter_values(p.iter().map(|x| ["", "a", "ab"][x.1 as usize]));
        let bins = LargeBinaryArray::from_iter_values(
            picks(n, 4)
                .iter()
                .map(|x| [&b"x"[..], b"", b"xy"][x.1 as usize]),
        );
        let bools = BooleanArray::from_iter(picks(n, 5).iter().map(|x| Some(x.1 == 0)));
        // A dictionary with a repeated value (keys 0 and 2) and a null value (key 3), and null
        // keys: equal values under different keys, and nulls two ways.
        let values = StringArray::from(vec![Some("a"), Some("b"), Some("a"), None]);
        let keys = Int8Array::from_iter(picks(n, 6).iter().map(|x| x.0.then_some(x.1 as i8 + 1)));
        let keys = Int8Array::from_iter(
            (keys.iter().zip(picks(n, 7))).map(|(k, x)| k.map(|k| if x.1 == 0 { 0 } else { k })),
        );
        let dict = DictionaryArray::new(keys, Arc::new(values));
        let mut list = ListBuilder::new(Int32Builder::new());
        for x in picks(n, 8) {
            for e in 0..x.1 {
                list.values().append_value(e as i32);
            }
            list.append(x.0);
        }
        let fixed = Int64Array::from_iter_values(picks(n, 9).iter().map(|x| x.1 as i64));
        let bytes = Buffer::from_vec(picks(n, 9).iter().map(|x| x.1 as i32).collect::<Vec<_>>());
        let date = ArrayData::builder(DataType::Date32)
            .len(n)
            .add_buffer(bytes)
            .build()
            .unwrap();
        let arrays: Vec<ArrayRef> = vec![
            with_nulls(ints.to_data(), &valid),
            Arc::new(ints.clone()),
            with_nulls(f64s.to_data(), &valid),
            Arc::new(f64s),
            Arc::new(f32s),
            with_nulls(strs.to_data(), &valid),
            Arc::new(bins),
            with_nulls(bools.to_data(), &valid),
            Arc::new(dict),
            Arc::new(list.finish()),
            with_nulls(fixed.to_data(), &valid),
            arrow_array::make_array(date),
            Arc::new(NullArray::new(n)),
        ];
        for a in arrays {
            for array in [a.clone(), a.slice(5, n - 9)] {
                let len = array.len();
                let got = differs_from_previous(array.as_ref(), 1..len, "c").unwrap();
                let want = differs_by_cells(array.as_ref(), 1..len, "c").unwrap();
                assert_eq!(got, want, "{}", array.data_type());
                if array.data_type() != &DataType::Null {
                    // Both equal and unequal neighbours occur.
                    assert!(
                        !want.is_empty() && want.len() < len - 1,
                        "{}",
                        array.data_type()
                    );
                }
                // A subset of positions gives the subset of answers.
                let some: Vec<usize> = (1..len).step_by(3).collect();
                let got = differs_from_previous(array.as_ref(), some.iter().copied(), "c").unwrap();
                let want: Vec<usize> = want.into_iter().filter(|p| p % 3 == 1).collect();
                assert_eq!(got, want, "{}", array.data_type());
            }
        }
    }
}
