//! Core-level properties of scheme 1: layout independence, sensitivity, streaming = in-memory,
//! refusals. (The golden vectors are checked from Python, where the inputs are built.)

use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringDictionaryBuilder};
use arrow_array::types::Int32Type;
use arrow_array::*;
use arrow_buffer::{Buffer, NullBuffer};
use arrow_data::ArrayData;
use arrow_schema::{DataType, Field, Schema};
use lineage_core::{Error, OrderedHasher, RowOrder, Table};

fn batch(cols: Vec<(&str, ArrayRef)>) -> RecordBatch {
    RecordBatch::try_from_iter(cols).unwrap()
}

fn root(batches: Vec<RecordBatch>) -> String {
    let schema = batches[0].schema();
    let t = Table::new(schema, batches).unwrap();
    t.validate().unwrap();
    lineage_core::to_hex(&t.hash(RowOrder::Ordered).unwrap().root)
}

fn ints(n: i64) -> ArrayRef {
    Arc::new(Int64Array::from_iter((0..n).map(|i| {
        if i % 17 == 3 {
            None
        } else {
            Some(i * 7919 % 1000)
        }
    })))
}

fn strs(n: i64) -> Vec<Option<String>> {
    (0..n)
        .map(|i| {
            if i % 13 == 5 {
                None
            } else {
                Some(format!("v{}", i % 101))
            }
        })
        .collect()
}

#[test]
fn rebatching_and_slicing_do_not_change_the_root() {
    let n = 200_000;
    let whole = batch(vec![
        ("a", ints(n)),
        ("s", Arc::new(StringArray::from(strs(n))) as ArrayRef),
    ]);
    let r = root(vec![whole.clone()]);
    for size in [1usize, 999, 65_536, 100_000] {
        let parts: Vec<RecordBatch> = (0..n as usize)
            .step_by(size)
            .map(|s| whole.slice(s, size.min(n as usize - s)))
            .collect();
        assert_eq!(root(parts), r, "batches of {size}");
    }
}

#[test]
fn string_encodings_and_dictionaries_hash_alike() {
    let n = 5_000;
    let plain = root(vec![batch(vec![(
        "s",
        Arc::new(StringArray::from(strs(n))) as ArrayRef,
    )])]);
    let large = root(vec![batch(vec![(
        "s",
        Arc::new(LargeStringArray::from(strs(n))) as ArrayRef,
    )])]);
    let view = root(vec![batch(vec![(
        "s",
        Arc::new(StringViewArray::from(strs(n))) as ArrayRef,
    )])]);
    let mut b = StringDictionaryBuilder::<Int32Type>::new();
    for v in strs(n) {
        b.append_option(v);
    }
    let dict = root(vec![batch(vec![("s", Arc::new(b.finish()) as ArrayRef)])]);
    assert_eq!(plain, large);
    assert_eq!(plain, view);
    assert_eq!(plain, dict);
    let binary = root(vec![batch(vec![(
        "s",
        Arc::new(BinaryArray::from_iter(
            strs(n).iter().map(|s| s.as_ref().map(|s| s.as_bytes())),
        )) as ArrayRef,
    )])]);
    assert_ne!(plain, binary, "binary must never equal string");
}

#[test]
fn garbage_under_nulls_is_ignored() {
    let values = Buffer::from_slice_ref([1i64, 0xdead_beef, 3, -1]);
    let nulls = NullBuffer::from(vec![true, false, true, false]);
    let data = ArrayData::builder(DataType::Int64)
        .len(4)
        .add_buffer(values)
        .nulls(Some(nulls))
        .build()
        .unwrap();
    let garbage: ArrayRef = Arc::new(Int64Array::from(data));
    let clean: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None, Some(3), None]));
    assert_eq!(
        root(vec![batch(vec![("x", garbage)])]),
        root(vec![batch(vec![("x", clean)])])
    );
}

#[test]
fn all_valid_bitmap_equals_no_bitmap() {
    let with = Int64Array::new(vec![1, 2, 3].into(), Some(NullBuffer::new_valid(3)));
    let without = Int64Array::from(vec![1, 2, 3]);
    assert_eq!(
        root(vec![batch(vec![("x", Arc::new(with) as ArrayRef)])]),
        root(vec![batch(vec![("x", Arc::new(without) as ArrayRef)])])
    );
}

#[test]
fn sensitivity() {
    let base = root(vec![batch(vec![(
        "x",
        Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef,
    )])]);
    let changed = root(vec![batch(vec![(
        "x",
        Arc::new(Int64Array::from(vec![1, 2, 4])) as ArrayRef,
    )])]);
    let swapped = root(vec![batch(vec![(
        "x",
        Arc::new(Int64Array::from(vec![2, 1, 3])) as ArrayRef,
    )])]);
    let renamed = root(vec![batch(vec![(
        "y",
        Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef,
    )])]);
    let nulled = root(vec![batch(vec![(
        "x",
        Arc::new(Int64Array::from(vec![Some(1), None, Some(3)])) as ArrayRef,
    )])]);
    let mut all = vec![base, changed, swapped, renamed, nulled];
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 5);
    let ab = root(vec![batch(vec![(
        "s",
        Arc::new(StringArray::from(vec!["ab", "c"])) as ArrayRef,
    )])]);
    let a_bc = root(vec![batch(vec![(
        "s",
        Arc::new(StringArray::from(vec!["a", "bc"])) as ArrayRef,
    )])]);
    assert_ne!(ab, a_bc);
}

#[test]
fn nested_lists_slice_correctly() {
    let mut b = ListBuilder::new(Int32Array::builder(0));
    for i in 0..1000 {
        if i % 7 == 0 {
            b.append_null();
        } else {
            for j in 0..(i % 4) {
                b.values().append_value(i * 10 + j);
            }
            b.append(true);
        }
    }
    let list: ArrayRef = Arc::new(b.finish());
    let whole = batch(vec![("l", list.clone())]);
    let r = root(vec![whole.clone()]);
    let parts = vec![
        whole.slice(0, 333),
        whole.slice(333, 1),
        whole.slice(334, 666),
    ];
    assert_eq!(root(parts), r);
}

#[test]
fn streaming_equals_in_memory() {
    let n = 300_000usize;
    let whole = batch(vec![
        ("a", ints(n as i64)),
        ("s", Arc::new(StringArray::from(strs(n as i64))) as ArrayRef),
    ]);
    let table = Table::new(whole.schema(), vec![whole.clone()]).unwrap();
    let expected = table.hash(RowOrder::Ordered).unwrap();
    let mut h = OrderedHasher::new(whole.schema()).unwrap();
    for s in (0..n).step_by(7_777) {
        h.push(&whole.slice(s, 7_777.min(n - s))).unwrap();
    }
    assert_eq!(h.finish().unwrap(), expected);
}

#[test]
fn unordered_ignores_row_order_and_counts_duplicates() {
    let t = |v: Vec<i64>| {
        let b = batch(vec![("x", Arc::new(Int64Array::from(v)) as ArrayRef)]);
        Table::new(b.schema(), vec![b])
            .unwrap()
            .hash(RowOrder::Unordered)
            .unwrap()
            .root
    };
    assert_eq!(t(vec![3, 1, 2, 1]), t(vec![1, 1, 2, 3]));
    assert_ne!(t(vec![1, 1, 2]), t(vec![1, 2, 2]));
}

#[test]
fn refusals_name_the_column() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("ok", DataType::Int64, true),
        Field::new(
            "bad",
            DataType::Struct(
                vec![Field::new(
                    "u",
                    DataType::Interval(arrow_schema::IntervalUnit::DayTime),
                    true,
                )]
                .into(),
            ),
            true,
        ),
    ]));
    match Table::new(schema, vec![]) {
        Err(Error::UnsupportedType { column, .. }) => assert_eq!(column, "bad.u"),
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("interval must be refused"),
    }
    let dup = Arc::new(Schema::new(vec![
        Field::new("x", DataType::Int64, true),
        Field::new("x", DataType::Utf8, true),
    ]));
    assert!(matches!(Table::new(dup, vec![]), Err(Error::DuplicateColumn(c)) if c == "x"));
}

#[test]
fn empty_tables_differ_by_schema() {
    let a = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
    let b = Arc::new(Schema::new(vec![Field::new("x", DataType::Utf8, true)]));
    let ha = Table::new(a, vec![])
        .unwrap()
        .hash(RowOrder::Ordered)
        .unwrap();
    let hb = Table::new(b, vec![])
        .unwrap()
        .hash(RowOrder::Ordered)
        .unwrap();
    assert_eq!(ha.num_rows, 0);
    assert!(ha.chunks.is_empty());
    assert_ne!(ha.root, hb.root);
}

#[test]
fn small_key_dictionaries_that_cannot_merge_still_hash() {
    use arrow_array::types::Int8Type;
    // Two batches with different int8-keyed dictionaries of 100 values each: merged, they would
    // overflow int8, which arrow refuses; the hash must decode instead.
    let make = |offset: usize| {
        let values = StringArray::from_iter_values((0..100).map(|i| format!("v{}", i + offset)));
        let keys = Int8Array::from_iter_values((0..100).map(|i| i as i8));
        let dict: ArrayRef =
            Arc::new(DictionaryArray::<Int8Type>::try_new(keys, Arc::new(values)).unwrap());
        batch(vec![("d", dict)])
    };
    let r = root(vec![make(0), make(100)]);
    let plain: ArrayRef = Arc::new(StringArray::from_iter_values(
        (0..200).map(|i| format!("v{i}")),
    ));
    assert_eq!(r, root(vec![batch(vec![("d", plain.clone())])]));
    let t = Table::new(make(0).schema(), vec![make(0), make(100)]).unwrap();
    let u = t.hash(RowOrder::Unordered).unwrap().root;
    let p = batch(vec![("d", plain)]);
    assert_eq!(
        u,
        Table::new(p.schema(), vec![p])
            .unwrap()
            .hash(RowOrder::Unordered)
            .unwrap()
            .root
    );
}

#[test]
fn nested_small_key_dictionaries_across_batches() {
    use arrow_array::types::Int8Type;
    use arrow_buffer::OffsetBuffer;
    let make = |offset: usize| {
        let values = StringArray::from_iter_values((0..100).map(|i| format!("v{}", i + offset)));
        let keys = Int8Array::from_iter_values((0..100).map(|i| i as i8));
        let dict: ArrayRef =
            Arc::new(DictionaryArray::<Int8Type>::try_new(keys, Arc::new(values)).unwrap());
        let field = Arc::new(Field::new("item", dict.data_type().clone(), true));
        let list = ListArray::new(field, OffsetBuffer::from_lengths(vec![2; 50]), dict, None);
        batch(vec![("l", Arc::new(list) as ArrayRef)])
    };
    let plain = |offset: usize| {
        let values: ArrayRef = Arc::new(StringArray::from_iter_values(
            (0..100).map(|i| format!("v{}", i + offset)),
        ));
        let field = Arc::new(Field::new("item", DataType::Utf8, true));
        batch(vec![(
            "l",
            Arc::new(ListArray::new(
                field,
                OffsetBuffer::from_lengths(vec![2; 50]),
                values,
                None,
            )) as ArrayRef,
        )])
    };
    assert_eq!(
        root(vec![make(0), make(100)]),
        root(vec![plain(0), plain(100)])
    );
}

/// The ordered hash notes which integer columns strictly increase, across batches and windows.
fn increasing(batches: Vec<RecordBatch>, order: RowOrder) -> Vec<String> {
    let t = Table::new(batches[0].schema(), batches).unwrap();
    t.hash(order).unwrap().increasing
}

#[test]
fn the_ordered_hash_notes_strictly_increasing_integer_columns() {
    // 600K rows: three windows of the stream hasher (256K rows each).
    let n = 600_000i64;
    let ids: Vec<i64> = (0..n).map(|i| 2 * i - 7).collect();
    let cols = |ids: &[i64]| -> Vec<(&'static str, ArrayRef)> {
        let len = ids.len();
        vec![
            ("id", Arc::new(Int64Array::from(ids.to_vec())) as ArrayRef),
            (
                "u",
                Arc::new(UInt16Array::from_iter_values((0..len).map(|i| i as u16))) as ArrayRef,
            ),
            (
                "k",
                Arc::new(Int32Array::from_iter(
                    ids.iter().map(|&i| (i != 5).then_some(i as i32)),
                )) as ArrayRef,
            ),
            (
                "f",
                Arc::new(Float64Array::from_iter_values(
                    ids.iter().map(|&i| i as f64),
                )) as ArrayRef,
            ),
        ]
    };
    let whole = batch(cols(&ids));
    let schema = whole.schema();
    // `u` wraps around at 65,536; `k` has a null; `f` is not an integer.
    assert_eq!(increasing(vec![whole.clone()], RowOrder::Ordered), ["id"]);
    let split = |at: &[usize]| -> Vec<RecordBatch> {
        let mut starts = vec![0];
        starts.extend_from_slice(at);
        starts.push(n as usize);
        starts
            .windows(2)
            .map(|w| whole.slice(w[0], w[1] - w[0]))
            .collect()
    };
    assert_eq!(
        increasing(split(&[1, 300_000, 300_001]), RowOrder::Ordered),
        ["id"]
    );
    assert!(increasing(vec![whole.clone()], RowOrder::Unordered).is_empty());
    // A repeat or a decrease anywhere, also across a window or a batch boundary, is seen.
    for at in [1usize, 4095, 4096, 262_143, 262_144, 599_999] {
        let mut v = ids.clone();
        v[at] = v[at - 1];
        assert!(
            increasing(vec![batch(cols(&v))], RowOrder::Ordered).is_empty(),
            "{at}"
        );
        v[at] = v[at - 1] - 1;
        let b = batch(cols(&v));
        let pieces = vec![b.slice(0, at), b.slice(at, n as usize - at)];
        assert!(increasing(pieces, RowOrder::Ordered).is_empty(), "{at}");
    }
    // Identity equality ignores it.
    let mut h = Table::new(schema, vec![])
        .unwrap()
        .hash(RowOrder::Ordered)
        .unwrap();
    let before = h.clone();
    assert_eq!(
        before.increasing,
        ["id", "k", "u"],
        "vacuously, with no rows"
    );
    h.increasing.clear();
    assert_eq!(h, before);
}
