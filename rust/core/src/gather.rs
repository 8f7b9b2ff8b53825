//! The segment encoding (docs/hash-spec.md §4.2) of rows gathered from many batches in an arbitrary
//! order: what the unordered identity hashes after sorting rows by fingerprint. The bytes are exactly
//! those of [`crate::canon::encode_segment`] over the gathered rows; common types are written
//! straight from the source buffers, others are gathered into a new array first.

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, OffsetSizeTrait};
use arrow_buffer::{BooleanBuffer, NullBuffer};
use arrow_schema::DataType;

use crate::canon::{effective_nulls, encode_segment, put_validity, value_len, Sink};
use crate::error::Result;

/// One row to gather: (batch index, row within the batch).
pub type RowRef = (usize, usize);

/// Validity of the gathered rows (`None` when all are valid).
fn gathered_nulls(nulls: &[Option<NullBuffer>], rows: &[RowRef]) -> Option<NullBuffer> {
    if nulls.iter().all(|n| n.is_none()) {
        return None;
    }
    let bits = BooleanBuffer::collect_bool(rows.len(), |k| {
        let (b, i) = rows[k];
        nulls[b].as_ref().is_none_or(|n| n.is_valid(i))
    });
    Some(NullBuffer::new(bits)).filter(|n| n.null_count() > 0)
}

/// Encode column `arrays` (one array per batch) over `rows` into `sink`.
pub fn encode_gathered(
    arrays: &[&dyn Array],
    rows: &[RowRef],
    sink: &mut Sink,
    column: &str,
) -> Result<()> {
    let Some(first) = arrays.first() else {
        return Ok(());
    };
    let dt = first.data_type().clone();
    let nulls: Vec<Option<NullBuffer>> = arrays.iter().map(|a| effective_nulls(*a, None)).collect();
    match &dt {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64
        | DataType::Date32
        | DataType::Date64
        | DataType::Time32(_)
        | DataType::Time64(_)
        | DataType::Timestamp(..)
        | DataType::Duration(_)
        | DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..)
        | DataType::Float16
        | DataType::Float32
        | DataType::Float64 => {
            let width = dt.primitive_width().expect("primitive");
            let datas: Vec<_> = arrays.iter().map(|a| a.to_data()).collect();
            let values: Vec<&[u8]> = datas
                .iter()
                .map(|d| {
                    &d.buffers()[0].as_slice()[d.offset() * width..(d.offset() + d.len()) * width]
                })
                .collect();
            let gn = gathered_nulls(&nulls, rows);
            put_validity(gn.as_ref(), sink);
            let mut buf = vec![0u8; rows.len() * width];
            for (k, &(b, i)) in rows.iter().enumerate() {
                if nulls[b].as_ref().is_none_or(|n| n.is_valid(i)) {
                    buf[k * width..(k + 1) * width]
                        .copy_from_slice(&values[b][i * width..(i + 1) * width]);
                }
            }
            canonicalize_floats(&dt, &mut buf);
            crate::canon::to_le_in_place(&mut buf, width);
            sink.put(&buf);
        }
        DataType::Boolean => {
            let vals: Vec<&BooleanBuffer> =
                arrays.iter().map(|a| a.as_boolean().values()).collect();
            let gn = gathered_nulls(&nulls, rows);
            put_validity(gn.as_ref(), sink);
            let bits = BooleanBuffer::collect_bool(rows.len(), |k| {
                let (b, i) = rows[k];
                nulls[b].as_ref().is_none_or(|n| n.is_valid(i)) && vals[b].value(i)
            });
            crate::canon::put_bitmap(&bits, sink);
        }
        DataType::Utf8 | DataType::Binary => {
            gather_offset_bytes::<i32>(arrays, &nulls, rows, sink, column)?
        }
        DataType::LargeUtf8 | DataType::LargeBinary => {
            gather_offset_bytes::<i64>(arrays, &nulls, rows, sink, column)?
        }
        DataType::Dictionary(_, v)
            if matches!(v.as_ref(), DataType::Utf8 | DataType::Binary)
                && gather_dictionary_bytes::<i32>(arrays, &nulls, rows, sink, column)? => {}
        DataType::Dictionary(_, v)
            if matches!(v.as_ref(), DataType::LargeUtf8 | DataType::LargeBinary)
                && gather_dictionary_bytes::<i64>(arrays, &nulls, rows, sink, column)? => {}
        _ => {
            // Everything else: gather into one array, then the ordinary segment encoding.
            let gathered: ArrayRef = arrow_select::interleave::interleave(arrays, rows)?;
            encode_segment(gathered.as_ref(), None, sink, column)?;
        }
    }
    Ok(())
}

/// Canonical NaN for gathered little-endian float bytes (the copy is already native-endian).
fn canonicalize_floats(dt: &DataType, buf: &mut [u8]) {
    match dt {
        DataType::Float64 => {
            for v in buf.chunks_exact_mut(8) {
                let x = f64::from_ne_bytes(v.try_into().expect("8 bytes"));
                if x.is_nan() {
                    v.copy_from_slice(&0x7ff8_0000_0000_0000u64.to_ne_bytes());
                }
            }
        }
        DataType::Float32 => {
            for v in buf.chunks_exact_mut(4) {
                let x = f32::from_ne_bytes(v.try_into().expect("4 bytes"));
                if x.is_nan() {
                    v.copy_from_slice(&0x7fc0_0000u32.to_ne_bytes());
                }
            }
        }
        DataType::Float16 => {
            for v in buf.chunks_exact_mut(2) {
                let x = half::f16::from_ne_bytes(v.try_into().expect("2 bytes"));
                if x.is_nan() {
                    v.copy_from_slice(&0x7e00u16.to_ne_bytes());
                }
            }
        }
        _ => {}
    }
}

fn gather_offset_bytes<O: OffsetSizeTrait>(
    arrays: &[&dyn Array],
    nulls: &[Option<NullBuffer>],
    rows: &[RowRef],
    sink: &mut Sink,
    column: &str,
) -> Result<()> {
    let datas: Vec<_> = arrays.iter().map(|a| a.to_data()).collect();
    let offsets: Vec<&[O]> = datas
        .iter()
        .map(|d| &d.buffer::<O>(0)[..d.len() + 1])
        .collect();
    let values: Vec<&[u8]> = datas.iter().map(|d| d.buffers()[1].as_slice()).collect();
    let valid = |b: usize, i: usize| nulls[b].as_ref().is_none_or(|n| n.is_valid(i));
    let gn = gathered_nulls(nulls, rows);
    put_validity(gn.as_ref(), sink);
    sink.put_u32s(rows.len(), |k| {
        let (b, i) = rows[k];
        if valid(b, i) {
            value_len((offsets[b][i + 1] - offsets[b][i]).as_usize(), column)
        } else {
            Ok(0)
        }
    })?;
    for &(b, i) in rows {
        if valid(b, i) {
            let (s, e) = (offsets[b][i].as_usize(), offsets[b][i + 1].as_usize());
            if e - s <= 16 && s + 16 <= values[b].len() {
                let block: [u8; 16] = values[b][s..s + 16].try_into().expect("16 bytes");
                sink.put_short(block, e - s);
            } else {
                sink.put(&values[b][s..e]);
            }
        }
    }
    Ok(())
}

/// Typed view of dictionary keys, read one at a time without converting the whole key array.
enum Keys<'a> {
    I8(&'a [i8]),
    I16(&'a [i16]),
    I32(&'a [i32]),
    I64(&'a [i64]),
    U8(&'a [u8]),
    U16(&'a [u16]),
    U32(&'a [u32]),
    U64(&'a [u64]),
}

impl<'a> Keys<'a> {
    fn of(keys: &'a dyn Array) -> Option<Self> {
        use arrow_array::types::*;
        Some(match keys.data_type() {
            DataType::Int8 => Keys::I8(keys.as_primitive::<Int8Type>().values()),
            DataType::Int16 => Keys::I16(keys.as_primitive::<Int16Type>().values()),
            DataType::Int32 => Keys::I32(keys.as_primitive::<Int32Type>().values()),
            DataType::Int64 => Keys::I64(keys.as_primitive::<Int64Type>().values()),
            DataType::UInt8 => Keys::U8(keys.as_primitive::<UInt8Type>().values()),
            DataType::UInt16 => Keys::U16(keys.as_primitive::<UInt16Type>().values()),
            DataType::UInt32 => Keys::U32(keys.as_primitive::<UInt32Type>().values()),
            DataType::UInt64 => Keys::U64(keys.as_primitive::<UInt64Type>().values()),
            _ => return None,
        })
    }

    #[inline]
    fn get(&self, i: usize) -> usize {
        let k: Option<usize> = match self {
            Keys::I8(v) => usize::try_from(v[i]).ok(),
            Keys::I16(v) => usize::try_from(v[i]).ok(),
            Keys::I32(v) => usize::try_from(v[i]).ok(),
            Keys::I64(v) => usize::try_from(v[i]).ok(),
            Keys::U8(v) => Some(v[i] as usize),
            Keys::U16(v) => Some(v[i] as usize),
            Keys::U32(v) => usize::try_from(v[i]).ok(),
            Keys::U64(v) => usize::try_from(v[i]).ok(),
        };
        k.unwrap_or(usize::MAX)
    }
}

/// Dictionary columns whose values are byte strings: gathered straight from the dictionaries.
fn gather_dictionary_bytes<O: OffsetSizeTrait>(
    arrays: &[&dyn Array],
    nulls: &[Option<NullBuffer>],
    rows: &[RowRef],
    sink: &mut Sink,
    column: &str,
) -> Result<bool> {
    let dicts: Vec<_> = arrays.iter().map(|a| a.as_any_dictionary()).collect();
    let Some(keys) = dicts
        .iter()
        .map(|d| Keys::of(d.keys()))
        .collect::<Option<Vec<_>>>()
    else {
        return Ok(false);
    };
    let datas: Vec<_> = dicts.iter().map(|d| d.values().to_data()).collect();
    let offsets: Vec<&[O]> = datas
        .iter()
        .map(|d| &d.buffer::<O>(0)[..d.len() + 1])
        .collect();
    let values: Vec<&[u8]> = datas.iter().map(|d| d.buffers()[1].as_slice()).collect();
    let valid = |b: usize, i: usize| nulls[b].as_ref().is_none_or(|n| n.is_valid(i));
    let value = |b: usize, i: usize| {
        let k = keys[b].get(i);
        &values[b][offsets[b][k].as_usize()..offsets[b][k + 1].as_usize()]
    };
    let gn = gathered_nulls(nulls, rows);
    put_validity(gn.as_ref(), sink);
    sink.put_u32s(rows.len(), |r| {
        let (b, i) = rows[r];
        if valid(b, i) {
            value_len(value(b, i).len(), column)
        } else {
            Ok(0)
        }
    })?;
    for &(b, i) in rows {
        if valid(b, i) {
            sink.put(value(b, i));
        }
    }
    Ok(true)
}
