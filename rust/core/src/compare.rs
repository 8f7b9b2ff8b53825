//! Step 7a of the data flow: cell equality of aligned row runs, the keyed diff's fast path.
//!
//! A keyed diff of two versions that mostly keep their row order walks both sides' keys in
//! step (see [`crate::diff`]) and finds long runs of rows `old[i..i + n]`, `new[j..j + n]` whose
//! keys are equal. For those rows, comparing the cells column by column, straight from the Arrow
//! buffers, is cheaper than hashing every row of both sides, and it gives the changed columns of
//! each pair at once.
//!
//! Equality is the hash spec's (docs/hash-spec.md): both null is equal, one null differs; NaN
//! equals NaN (every payload), −0.0 differs from +0.0; string equals large_string and
//! string_view. It is exact for every type handled here except when both sides are
//! dictionary-encoded: their values are compared by their 128-bit value hashes (§5.1; each
//! dictionary is hashed once). A dictionary of strings or binaries against a plain column
//! compares the bytes. Other types
//! (nested, and a dictionary of other values against a plain column) are not handled:
//! [`Columns::new`] returns `None` and the diff takes its general path.

use std::ops::Range;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, BinaryViewArray, StringViewArray};
use arrow_buffer::{i256, BooleanBuffer, NullBuffer};
use arrow_data::ArrayData;
use arrow_schema::DataType;
use rayon::prelude::*;

use crate::canon::{effective_nulls, KeyView};
use crate::error::Result;
use crate::fingerprint::{dictionary_value_hashes, ValueHashes};
use crate::table::{locate_in, Table};

/// Typed access to one column of one batch.
enum View<'a> {
    /// Every value is null (the null type).
    Null,
    W1(&'a [u8]),
    W2(&'a [u16]),
    W4(&'a [u32]),
    W8(&'a [u64]),
    W16(&'a [u128]),
    W32(&'a [i256]),
    /// Float bits, compared with every NaN equal.
    F16(&'a [u16]),
    F32(&'a [u32]),
    F64(&'a [u64]),
    Bool(BooleanBuffer),
    B32(&'a [i32], &'a [u8]),
    B64(&'a [i64], &'a [u8]),
    Sv(&'a StringViewArray),
    Bv(&'a BinaryViewArray),
    Fsb(&'a [u8], usize),
    /// Keys, the value hashes of the dictionary, and a view of its values when they are strings
    /// or binaries (so that a dictionary compares with a plain column, byte by byte).
    Dict(KeyView<'a>, &'a [Option<(u64, u64)>], Option<Box<View<'a>>>),
}

impl View<'_> {
    fn is_bytes(&self) -> bool {
        matches!(
            self,
            View::B32(..) | View::B64(..) | View::Sv(_) | View::Bv(_)
        )
    }

    /// Number of values of a byte view.
    fn byte_len(&self) -> usize {
        match self {
            View::B32(o, _) => o.len() - 1,
            View::B64(o, _) => o.len() - 1,
            View::Sv(a) => a.len(),
            View::Bv(a) => a.len(),
            _ => 0,
        }
    }

    /// Value `k` of the dictionary values `self` (a byte view), `None` when out of range (never
    /// for validated data).
    #[inline(always)]
    fn entry(&self, k: usize) -> Option<&[u8]> {
        (k < self.byte_len()).then(|| self.bytes(k))
    }

    #[inline(always)]
    fn bytes(&self, i: usize) -> &[u8] {
        match self {
            View::B32(o, v) => &v[o[i] as usize..o[i + 1] as usize],
            View::B64(o, v) => &v[o[i] as usize..o[i + 1] as usize],
            View::Sv(a) => a.value(i).as_bytes(),
            View::Bv(a) => a.value(i),
            _ => &[],
        }
    }

    /// Whether cells of `self` and `other` (same logical type) can be compared here.
    fn comparable(&self, other: &View) -> bool {
        use View as V;
        match (self, other) {
            (V::Null, V::Null) => true,
            (V::W1(_), V::W1(_)) | (V::W2(_), V::W2(_)) | (V::W4(_), V::W4(_)) => true,
            (V::W8(_), V::W8(_)) | (V::W16(_), V::W16(_)) | (V::W32(_), V::W32(_)) => true,
            (V::F16(_), V::F16(_)) | (V::F32(_), V::F32(_)) | (V::F64(_), V::F64(_)) => true,
            (V::Bool(_), V::Bool(_)) | (V::Dict(..), V::Dict(..)) => true,
            (V::Dict(_, _, Some(_)), b) | (b, V::Dict(_, _, Some(_))) => b.is_bytes(),
            (V::Fsb(_, a), V::Fsb(_, b)) => a == b,
            (a, b) => a.is_bytes() && b.is_bytes(),
        }
    }
}

/// One column of one batch: the array's data (owning the buffers the view reads), its nulls as
/// the canonical encoding sees them, and dictionary value hashes.
struct Prepared {
    data: ArrayData,
    array: arrow_array::ArrayRef,
    nulls: Option<NullBuffer>,
    dict: ValueHashes,
}

impl Prepared {
    /// `cache`: the last dictionary of this column and its value hashes (batches usually share
    /// one dictionary, which is then hashed once).
    fn new(
        array: &arrow_array::ArrayRef,
        column: &str,
        cache: &mut Option<(ArrayData, ValueHashes)>,
    ) -> Result<Self> {
        let dict = match array.data_type() {
            DataType::Dictionary(..) => {
                let values = array.as_any_dictionary().values().to_data();
                match cache {
                    Some((v, h)) if v.ptr_eq(&values) => h.clone(),
                    _ => {
                        let h = Arc::new(dictionary_value_hashes(array.as_ref(), column)?);
                        *cache = Some((values, h.clone()));
                        h
                    }
                }
            }
            _ => Arc::default(),
        };
        Ok(Prepared {
            data: array.to_data(),
            array: array.clone(),
            nulls: effective_nulls(array.as_ref(), None),
            dict,
        })
    }

    fn view(&self) -> Option<View<'_>> {
        use DataType as D;
        let d = &self.data;
        let len = d.len();
        if len == 0 {
            // Tables hold no empty batch; should one come, its placeholder is comparable with
            // nothing but itself, so the diff takes the general path.
            return Some(View::Null);
        }
        Some(match d.data_type() {
            D::Null => View::Null,
            D::Int8 | D::UInt8 => View::W1(&d.buffer::<u8>(0)[..len]),
            D::Int16 | D::UInt16 => View::W2(&d.buffer::<u16>(0)[..len]),
            D::Int32 | D::UInt32 | D::Date32 | D::Time32(_) | D::Decimal32(..) => {
                View::W4(&d.buffer::<u32>(0)[..len])
            }
            D::Int64
            | D::UInt64
            | D::Date64
            | D::Time64(_)
            | D::Timestamp(..)
            | D::Duration(_)
            | D::Decimal64(..) => View::W8(&d.buffer::<u64>(0)[..len]),
            D::Decimal128(..) => View::W16(&d.buffer::<u128>(0)[..len]),
            D::Decimal256(..) => View::W32(&d.buffer::<i256>(0)[..len]),
            D::Float16 => View::F16(&d.buffer::<u16>(0)[..len]),
            D::Float32 => View::F32(&d.buffer::<u32>(0)[..len]),
            D::Float64 => View::F64(&d.buffer::<u64>(0)[..len]),
            D::Boolean => View::Bool(BooleanBuffer::new(d.buffers()[0].clone(), d.offset(), len)),
            D::Utf8 | D::Binary | D::LargeUtf8 | D::LargeBinary | D::Utf8View | D::BinaryView => {
                bytes_view(self.array.as_ref())?
            }
            D::FixedSizeBinary(w) => {
                let w = usize::try_from(*w).ok()?;
                View::Fsb(
                    &d.buffers()[0].as_slice()[d.offset() * w..(d.offset() + len) * w],
                    w,
                )
            }
            D::Dictionary(..) => {
                let dict = self.array.as_any_dictionary();
                let values = bytes_view(dict.values().as_ref()).map(Box::new);
                View::Dict(KeyView::new(dict.keys())?, &self.dict, values)
            }
            _ => return None,
        })
    }
}

/// A byte view of a string or binary array of any layout (a column, or dictionary values).
fn bytes_view(a: &dyn Array) -> Option<View<'_>> {
    use DataType as D;
    Some(match a.data_type() {
        D::Utf8 => {
            let a = a.as_string::<i32>();
            View::B32(a.value_offsets(), a.values().as_slice())
        }
        D::Binary => {
            let a = a.as_binary::<i32>();
            View::B32(a.value_offsets(), a.values().as_slice())
        }
        D::LargeUtf8 => {
            let a = a.as_string::<i64>();
            View::B64(a.value_offsets(), a.values().as_slice())
        }
        D::LargeBinary => {
            let a = a.as_binary::<i64>();
            View::B64(a.value_offsets(), a.values().as_slice())
        }
        D::Utf8View => View::Sv(a.as_string_view()),
        D::BinaryView => View::Bv(a.as_binary_view()),
        _ => return None,
    })
}

/// The compared columns of both sides, batch by batch, ready for [`Columns::compare`].
pub struct Columns {
    /// `[side][batch][column]`.
    prepared: [Vec<Vec<Prepared>>; 2],
    /// First global row of each batch, and the row count at the end, per side.
    starts: [Vec<usize>; 2],
    ncols: usize,
}

/// The outcome of comparing aligned runs.
#[derive(Debug, Default)]
pub struct Compared {
    /// Aligned pairs whose compared cells are all equal.
    pub equal: u64,
    /// Aligned pairs with a differing cell, `(old row, new row)`, in old row order.
    pub changed: Vec<(u64, u64)>,
    /// For each changed pair, one flag per compared column (true: the cells differ).
    pub flags: Vec<bool>,
}

impl Columns {
    /// Prepare `columns` (names present on both sides with the same logical type) of `old` and
    /// `new`. `None` when a column has a type (or a pair of physical types) not handled here.
    pub fn new(old: &Table, new: &Table, columns: &[String]) -> Result<Option<Self>> {
        let prepare = |t: &Table| -> Result<Vec<Vec<Prepared>>> {
            let idx = columns
                .iter()
                .map(|c| t.schema().index_of(c).map_err(crate::Error::from))
                .collect::<Result<Vec<_>>>()?;
            let mut cache = vec![None; columns.len()];
            t.batches()
                .iter()
                .map(|b| {
                    idx.iter()
                        .zip(columns)
                        .zip(&mut cache)
                        .map(|((&i, c), cache)| Prepared::new(b.column(i), c, cache))
                        .collect()
                })
                .collect()
        };
        let c = Columns {
            prepared: [prepare(old)?, prepare(new)?],
            starts: [old.batch_starts().to_vec(), new.batch_starts().to_vec()],
            ncols: columns.len(),
        };
        // Each column must have a view in every batch, comparable across the sides.
        for k in 0..c.ncols {
            let first: [Option<View>; 2] =
                [0, 1].map(|s| c.prepared[s].first().and_then(|b| b[k].view()));
            for s in 0..2 {
                for b in &c.prepared[s] {
                    let Some(v) = b[k].view() else {
                        return Ok(None);
                    };
                    if let Some(f) = &first[1 - s] {
                        if !v.comparable(f) {
                            return Ok(None);
                        }
                    }
                }
            }
        }
        Ok(Some(c))
    }

    /// Compare the compared cells of the aligned runs `(old start, new start, length)` (local
    /// rows of the two tables given to [`Columns::new`]), in parallel.
    pub fn compare(&self, runs: &[(u64, u64, u64)]) -> Compared {
        // Tasks of about TASK rows each; a longer run is cut into pieces first, so that two
        // (nearly) identical versions, one long run, still use every thread.
        const TASK: u64 = 1 << 16;
        let pieces: Vec<(u64, u64, u64)> = runs
            .iter()
            .flat_map(|&(i, j, n)| {
                (0..n.div_ceil(TASK))
                    .map(move |p| (i + p * TASK, j + p * TASK, TASK.min(n - p * TASK)))
            })
            .collect();
        let runs = &pieces;
        let mut tasks: Vec<Range<usize>> = Vec::new();
        let (mut s, mut rows) = (0, 0);
        for (i, r) in runs.iter().enumerate() {
            rows += r.2;
            if rows >= TASK {
                tasks.push(s..i + 1);
                (s, rows) = (i + 1, 0);
            }
        }
        if s < runs.len() {
            tasks.push(s..runs.len());
        }
        // Views of every column of every batch (none is None: checked by `new`).
        let views: Vec<Vec<Vec<Option<View>>>> = self
            .prepared
            .iter()
            .map(|side| {
                side.iter()
                    .map(|b| b.iter().map(Prepared::view).collect())
                    .collect()
            })
            .collect();
        let parts: Vec<Compared> = tasks
            .into_par_iter()
            .map(|t| self.compare_runs(&views, &runs[t]))
            .collect();
        let mut out = Compared::default();
        for p in parts {
            out.equal += p.equal;
            out.changed.extend(p.changed);
            out.flags.extend(p.flags);
        }
        out
    }

    fn compare_runs(&self, views: &[Vec<Vec<Option<View>>>], runs: &[(u64, u64, u64)]) -> Compared {
        let mut out = Compared::default();
        let (mut diff, mut any): (Vec<bool>, Vec<bool>) = (Vec::new(), Vec::new());
        for &(i, j, n) in runs {
            let (mut i, mut j, end) = (i as usize, j as usize, (i + n) as usize);
            while i < end {
                // A piece of the run inside one batch on each side.
                let (bo, oo) = locate_in(&self.starts[0], i);
                let (bn, on) = locate_in(&self.starts[1], j);
                let len = (end - i)
                    .min(self.starts[0][bo + 1] - i)
                    .min(self.starts[1][bn + 1] - j);
                diff.clear();
                diff.resize(len * self.ncols, true);
                any.clear();
                any.resize(len, false);
                for k in 0..self.ncols {
                    let (po, pn) = (&self.prepared[0][bo][k], &self.prepared[1][bn][k]);
                    let d = &mut diff[k * len..(k + 1) * len];
                    if let (Some(vo), Some(vn)) = (&views[0][bo][k], &views[1][bn][k]) {
                        differing(vo, vn, po.nulls.as_ref(), pn.nulls.as_ref(), (oo, on), d);
                    }
                    for (a, x) in any.iter_mut().zip(d.iter()) {
                        *a |= *x;
                    }
                }
                let changed = any.iter().filter(|x| **x).count();
                out.equal += (len - changed) as u64;
                if changed > 0 {
                    for t in (0..len).filter(|&t| any[t]) {
                        out.changed.push(((i + t) as u64, (j + t) as u64));
                        out.flags.extend((0..self.ncols).map(|k| diff[k * len + t]));
                    }
                }
                i += len;
                j += len;
            }
        }
        out
    }
}

/// `out[t]` = whether cell `o0 + t` of `o` differs from cell `n0 + t` of `n`.
fn differing(
    o: &View,
    n: &View,
    on: Option<&NullBuffer>,
    nn: Option<&NullBuffer>,
    (o0, n0): (usize, usize),
    out: &mut [bool],
) {
    use View as V;
    let f = |out: &mut [bool], eq: &dyn Fn(usize, usize) -> bool| fill(on, nn, o0, n0, out, eq);
    macro_rules! same {
        ($a:expr, $b:expr) => {
            fill(on, nn, o0, n0, out, |i, j| $a[i] == $b[j])
        };
    }
    match (o, n) {
        (V::Null, V::Null) => fill(on, nn, o0, n0, out, |_, _| true),
        (V::W1(a), V::W1(b)) => same!(a, b),
        (V::W2(a), V::W2(b)) => same!(a, b),
        (V::W4(a), V::W4(b)) => same!(a, b),
        (V::W8(a), V::W8(b)) => same!(a, b),
        (V::W16(a), V::W16(b)) => same!(a, b),
        (V::W32(a), V::W32(b)) => same!(a, b),
        (V::F16(a), V::F16(b)) => {
            let nan = |x: u16| x & 0x7c00 == 0x7c00 && x & 0x03ff != 0;
            fill(on, nn, o0, n0, out, |i, j| {
                a[i] == b[j] || nan(a[i]) && nan(b[j])
            })
        }
        (V::F32(a), V::F32(b)) => {
            let nan = |x: u32| f32::from_bits(x).is_nan();
            fill(on, nn, o0, n0, out, |i, j| {
                a[i] == b[j] || nan(a[i]) && nan(b[j])
            })
        }
        (V::F64(a), V::F64(b)) => {
            let nan = |x: u64| f64::from_bits(x).is_nan();
            fill(on, nn, o0, n0, out, |i, j| {
                a[i] == b[j] || nan(a[i]) && nan(b[j])
            })
        }
        (V::Bool(a), V::Bool(b)) => fill(on, nn, o0, n0, out, |i, j| a.value(i) == b.value(j)),
        (V::B32(ao, av), V::B32(bo, bv)) => fill(on, nn, o0, n0, out, |i, j| {
            av[ao[i] as usize..ao[i + 1] as usize] == bv[bo[j] as usize..bo[j + 1] as usize]
        }),
        (V::Fsb(a, w), V::Fsb(b, _)) => fill(on, nn, o0, n0, out, |i, j| {
            a[i * w..(i + 1) * w] == b[j * w..(j + 1) * w]
        }),
        (V::Dict(ka, ha, _), V::Dict(kb, hb, _)) => fill(on, nn, o0, n0, out, |i, j| {
            ha.get(ka.get(i)).copied().flatten() == hb.get(kb.get(j)).copied().flatten()
        }),
        // A dictionary of strings or binaries against a plain column: the bytes.
        (V::Dict(ka, _, Some(va)), b) if b.is_bytes() => fill(on, nn, o0, n0, out, |i, j| {
            va.entry(ka.get(i)) == Some(b.bytes(j))
        }),
        (a, V::Dict(kb, _, Some(vb))) if a.is_bytes() => fill(on, nn, o0, n0, out, |i, j| {
            Some(a.bytes(i)) == vb.entry(kb.get(j))
        }),
        (a, b) if a.is_bytes() && b.is_bytes() => f(out, &|i, j| a.bytes(i) == b.bytes(j)),
        // Not reached: Columns::new checked every pair.
        _ => out.fill(true),
    }
}

/// `out[t]` = whether row `o0 + t` (nulls `on`) and row `n0 + t` (nulls `nn`) differ, where
/// `eq` compares two valid cells.
#[inline(always)]
fn fill(
    on: Option<&NullBuffer>,
    nn: Option<&NullBuffer>,
    o0: usize,
    n0: usize,
    out: &mut [bool],
    eq: impl Fn(usize, usize) -> bool,
) {
    match (on, nn) {
        (None, None) => {
            for (t, d) in out.iter_mut().enumerate() {
                *d = !eq(o0 + t, n0 + t);
            }
        }
        _ => {
            for (t, d) in out.iter_mut().enumerate() {
                let (i, j) = (o0 + t, n0 + t);
                let vo = on.is_none_or(|b| b.is_valid(i));
                let vn = nn.is_none_or(|b| b.is_valid(j));
                *d = match (vo, vn) {
                    (true, true) => !eq(i, j),
                    (false, false) => false,
                    _ => true,
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::builder::StringDictionaryBuilder;
    use arrow_array::types::Int8Type;
    use arrow_array::*;
    use arrow_schema::{Field, Schema};

    use super::*;
    use crate::canon::encode_cell;

    fn table(columns: Vec<(&str, ArrayRef)>) -> Table {
        let fields: Vec<Field> = columns
            .iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let arrays = columns.into_iter().map(|(_, a)| a).collect();
        let batch = RecordBatch::try_new(schema.clone(), arrays).unwrap();
        // Two batches, split at different rows on the two sides by the callers' offsets.
        let n = batch.num_rows();
        Table::new(
            schema,
            vec![batch.slice(0, n / 3), batch.slice(n / 3, n - n / 3)],
        )
        .unwrap()
    }

    /// Every pair of cells `(i, i + shift)` is compared as the canonical encoding compares them.
    fn check(old: ArrayRef, new: ArrayRef, shift: usize) {
        let name = "c".to_string();
        let (o, n) = (
            table(vec![("c", old.clone())]),
            table(vec![("c", new.clone())]),
        );
        let cols = Columns::new(&o, &n, std::slice::from_ref(&name))
            .unwrap()
            .expect("handled type");
        let len = (old.len()).min(new.len() - shift) as u64;
        let got = cols.compare(&[(0, shift as u64, len)]);
        let mut want = Vec::new();
        for i in 0..len as usize {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            encode_cell(old.as_ref(), i, &mut a, "c").unwrap();
            encode_cell(new.as_ref(), i + shift, &mut b, "c").unwrap();
            if a != b {
                want.push((i as u64, (i + shift) as u64));
            }
        }
        assert_eq!(
            got.changed,
            want,
            "{:?} vs {:?}",
            old.data_type(),
            new.data_type()
        );
        assert_eq!(got.equal + want.len() as u64, len);
        assert!(got.flags.iter().all(|f| *f));
    }

    #[test]
    fn cells_compare_as_their_canonical_encodings() {
        let ints = |v: &[Option<i32>]| Arc::new(Int32Array::from(v.to_vec())) as ArrayRef;
        let a = [Some(1), None, Some(3), Some(4), None, Some(6), Some(7)];
        let b = [Some(1), None, Some(0), None, Some(5), Some(6), Some(8)];
        check(ints(&a), ints(&b), 0);
        check(ints(&a), ints(&[&[Some(9)], &b[..]].concat()), 1);

        let nan2 = f64::from_bits(0x7ff8_0000_0000_0001);
        let f = |v: &[Option<f64>]| Arc::new(Float64Array::from(v.to_vec())) as ArrayRef;
        check(
            f(&[Some(f64::NAN), Some(0.0), Some(-0.0), None, Some(1.5)]),
            f(&[
                Some(nan2),
                Some(-0.0),
                Some(-0.0),
                Some(f64::NAN),
                Some(1.5),
            ]),
            0,
        );

        let s = ["a", "", "bc", "long string value", "x"];
        let t = ["a", "b", "bc", "long string valuE", "x"];
        let utf8 = Arc::new(StringArray::from(s.to_vec())) as ArrayRef;
        let large = Arc::new(LargeStringArray::from(t.to_vec())) as ArrayRef;
        let view = Arc::new(StringViewArray::from(t.to_vec())) as ArrayRef;
        check(utf8.clone(), large, 0);
        check(utf8, view, 0);

        let bools = |v: &[Option<bool>]| Arc::new(BooleanArray::from(v.to_vec())) as ArrayRef;
        let x = bools(&[Some(true), Some(false), None, Some(true), Some(false), None]);
        check(
            x.slice(1, 5),
            bools(&[Some(false), Some(true), Some(true), None, None]),
            0,
        );

        let dict = |v: &[Option<&str>], extra: &str| {
            let mut b = StringDictionaryBuilder::<Int8Type>::new();
            b.append(extra).unwrap(); // a different dictionary on each side
            for x in v {
                b.append_option(*x);
            }
            Arc::new(b.finish()) as ArrayRef
        };
        check(
            dict(&[Some("p"), None, Some("q"), Some("r")], "zzz"),
            dict(&[Some("p"), Some("q"), Some("q"), None], "yyy").slice(0, 5),
            1,
        );
        // A dictionary of strings against plain strings of every layout, both ways round.
        let d = dict(&[Some("p"), None, Some("q"), Some("r"), Some("")], "zzz").slice(1, 5);
        let p = [Some("p"), Some("x"), None, Some("r"), None];
        let plain: [ArrayRef; 3] = [
            Arc::new(StringArray::from(p.to_vec())),
            Arc::new(LargeStringArray::from(p.to_vec())),
            Arc::new(StringViewArray::from(p.to_vec())),
        ];
        for a in plain {
            check(d.clone(), a.clone(), 0);
            check(a.slice(1, 4), d.clone(), 1);
        }

        let dec = |v: &[Option<i128>]| {
            Arc::new(
                Decimal128Array::from(v.to_vec())
                    .with_precision_and_scale(20, 2)
                    .unwrap(),
            ) as ArrayRef
        };
        check(
            dec(&[Some(1), Some(-5), None]),
            dec(&[Some(1), Some(5), None]),
            0,
        );
    }

    #[test]
    fn nested_columns_and_dictionaries_of_other_values_against_plain_are_not_handled() {
        let list = Arc::new(ListArray::from_iter_primitive::<
            arrow_array::types::Int32Type,
            _,
            _,
        >(vec![Some(vec![Some(1)])])) as ArrayRef;
        let (o, n) = (table(vec![("c", list.clone())]), table(vec![("c", list)]));
        assert!(Columns::new(&o, &n, &["c".into()]).unwrap().is_none());
        let plain = Arc::new(Int32Array::from(vec![7, 8])) as ArrayRef;
        let keys = Int8Array::from(vec![0, 1]);
        let dict = Arc::new(DictionaryArray::new(keys, plain.clone())) as ArrayRef;
        let (o, n) = (table(vec![("c", plain)]), table(vec![("c", dict)]));
        assert!(Columns::new(&o, &n, &["c".into()]).unwrap().is_none());
    }
}
