//! Core-level properties of the diff: keyed and multiset results on known edits, pruning equals
//! no pruning, duplicate keys (also when one occurrence sits in an identical or pruned row),
//! hunks of `diff_chunks`.

use std::sync::Arc;

use arrow_array::*;
use lineage_core::diff::{
    diff_chunks, diff_tables, ChunkSegments, ChunkSpan, DiffOptions, DuplicateKeys, KnownHash,
};
use lineage_core::{Error, RowOrder, Table};

/// `n` rows: id = 0..n (or the given ids), x = id * 3 % 1000, s = "v{id % 97}".
fn table(ids: &[i64]) -> Table {
    let x: Int64Array = ids.iter().map(|i| Some(i * 3 % 1000)).collect();
    let s: StringArray = ids.iter().map(|i| Some(format!("v{}", i % 97))).collect();
    let batch = RecordBatch::try_from_iter([
        ("id", Arc::new(Int64Array::from(ids.to_vec())) as ArrayRef),
        ("x", Arc::new(x) as ArrayRef),
        ("s", Arc::new(s) as ArrayRef),
    ])
    .unwrap();
    Table::new(batch.schema(), vec![batch]).unwrap()
}

fn with_x(t: &Table, row: usize, value: i64) -> Table {
    let b = &t.batches()[0];
    let mut x: Vec<i64> = b
        .column(1)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap()
        .values()
        .to_vec();
    x[row] = value;
    let cols = vec![
        b.column(0).clone(),
        Arc::new(Int64Array::from(x)),
        b.column(2).clone(),
    ];
    let batch = RecordBatch::try_new(b.schema(), cols).unwrap();
    Table::new(batch.schema(), vec![batch]).unwrap()
}

fn keyed(key: &[&str]) -> DiffOptions {
    DiffOptions {
        key: key.iter().map(|k| k.to_string()).collect(),
        columns: None,
        duplicate_keys: DuplicateKeys::Error,
        hashes: None,
        validate: (true, true),
    }
}

fn known(t: &Table) -> KnownHash {
    let h = t.hash(RowOrder::Ordered).unwrap();
    KnownHash {
        schema_digest: h.schema_digest,
        chunks: h
            .chunks
            .iter()
            .map(|c| ChunkSpan {
                digest: c.digest,
                start: c.start,
                num_rows: c.num_rows,
            })
            .collect(),
        increasing: h.increasing,
    }
}

#[test]
fn keyed_diff_finds_inserts_deletes_and_updates() {
    let ids: Vec<i64> = (0..50_000).collect();
    let old = table(&ids);
    // Delete ids 100 and 30_000, insert 70_000 at position 5_000 and 70_001 at the end, update
    // x of id 20_000.
    let mut new_ids: Vec<i64> = ids
        .iter()
        .copied()
        .filter(|&i| i != 100 && i != 30_000)
        .collect();
    new_ids.insert(5_000, 70_000);
    new_ids.push(70_001);
    let new = table(&new_ids);
    let pos = new_ids.iter().position(|&i| i == 20_000).unwrap();
    let new = with_x(&new, pos, -1);
    let d = diff_tables(&old, &new, &keyed(&["id"])).unwrap();
    assert_eq!(d.removed, vec![100, 30_000]);
    let added: Vec<i64> = d.added.iter().map(|&r| new_ids[r as usize]).collect();
    assert_eq!(added, vec![70_000, 70_001]);
    assert_eq!(d.changed, vec![(20_000, pos as u64)]);
    assert_eq!(d.compared, vec!["s".to_string(), "x".to_string()]);
    assert_eq!(d.changed_flags, vec![false, true]);
    assert_eq!(d.column_changes, vec![0, 1]);
    assert_eq!(d.unchanged, 50_000 - 2 - 1);

    // Pruning gives the same answer and skips most rows.
    let mut opts = keyed(&["id"]);
    opts.hashes = Some((known(&old), known(&new)));
    let p = diff_tables(&old, &new, &opts).unwrap();
    assert!(p.pruned_rows > 10_000, "pruned only {}", p.pruned_rows);
    assert_eq!(
        (p.added, p.removed, p.changed, p.unchanged),
        (d.added, d.removed, d.changed, d.unchanged)
    );
}

#[test]
fn multiset_diff_counts_duplicates() {
    let old = table(&[1, 1, 1, 2, 3]);
    let new = table(&[3, 1, 2, 2, 4]);
    let d = diff_tables(&old, &new, &keyed(&[])).unwrap();
    // old − new = {1, 1}; new − old = {2, 4}.
    assert_eq!(d.removed.len(), 2);
    assert_eq!(d.added, vec![3, 4]);
    assert_eq!(d.unchanged, 3);
    assert!(d.changed.is_empty());
}

#[test]
fn duplicate_keys_are_refused_or_matched_in_order() {
    let old = table(&[1, 2, 2, 3]);
    let new = table(&[1, 2, 3]);
    match diff_tables(&old, &new, &keyed(&["id"])) {
        Err(Error::DuplicateKey { side, rows, count }) => {
            assert_eq!(side, "old");
            assert_eq!(count, 1);
            assert!(rows == vec![1] || rows == vec![2], "rows {rows:?}");
        }
        other => panic!("expected DuplicateKey, got {other:?}"),
    }
    let mut opts = keyed(&["id"]);
    opts.duplicate_keys = DuplicateKeys::Match;
    let d = diff_tables(&old, &new, &opts).unwrap();
    assert_eq!(d.removed.len(), 1);
    assert_eq!(d.unchanged, 3);
}

#[test]
fn a_duplicate_of_an_identical_row_is_found() {
    // New repeats key 7 (with a different x): the first occurrence is identical in both versions.
    let ids: Vec<i64> = (0..20_000).collect();
    let old = table(&ids);
    let mut new_ids = ids.clone();
    new_ids.push(7);
    let new = with_x(&table(&new_ids), 20_000, -5);
    match diff_tables(&old, &new, &keyed(&["id"])) {
        Err(Error::DuplicateKey { side, rows, .. }) => {
            assert_eq!(side, "new");
            assert_eq!(rows, vec![20_000]);
        }
        other => panic!("expected DuplicateKey, got {other:?}"),
    }
    // Same with pruning, where the first occurrence lies in a pruned chunk.
    let mut opts = keyed(&["id"]);
    opts.hashes = Some((known(&old), known(&new)));
    assert!(matches!(
        diff_tables(&old, &new, &opts),
        Err(Error::DuplicateKey { .. })
    ));
}

#[test]
fn missing_and_mistyped_keys_are_refused() {
    let old = table(&[1, 2]);
    let new = table(&[1, 2]);
    assert!(matches!(
        diff_tables(&old, &new, &keyed(&["nope"])),
        Err(Error::ColumnNotFound { .. })
    ));
    let b =
        RecordBatch::try_from_iter([("id", Arc::new(Int32Array::from(vec![1, 2])) as ArrayRef)])
            .unwrap();
    let other = Table::new(b.schema(), vec![b]).unwrap();
    assert!(matches!(
        diff_tables(&old, &other, &keyed(&["id"])),
        Err(Error::SchemaMismatch(_))
    ));
}

#[test]
fn a_hash_of_other_data_is_refused() {
    let old = table(&(0..1000).collect::<Vec<_>>());
    let new = table(&(0..999).collect::<Vec<_>>());
    let mut opts = keyed(&["id"]);
    opts.hashes = Some((known(&new), known(&new)));
    assert!(matches!(
        diff_tables(&old, &new, &opts),
        Err(Error::InvalidArgument(_))
    ));
}

fn segments(t: &Table) -> Vec<ChunkSegments> {
    t.hash(RowOrder::Ordered)
        .unwrap()
        .chunks
        .into_iter()
        .map(|c| ChunkSegments {
            span: ChunkSpan {
                digest: c.digest,
                start: c.start,
                num_rows: c.num_rows,
            },
            segments: c.segments,
        })
        .collect()
}

#[test]
fn hunks_locate_an_update_and_an_insertion() {
    let ids: Vec<i64> = (0..200_000).collect();
    let old = table(&ids);
    // Canonical column order: id, s, x.
    let updated = with_x(&old, 120_000, -1);
    let hunks = diff_chunks(&segments(&old), &segments(&updated), 3);
    assert_eq!(hunks.len(), 1);
    assert!(hunks[0].old.contains(&120_000) && hunks[0].new.contains(&120_000));
    assert_eq!(hunks[0].columns, vec![2]);

    let mut ins = ids.clone();
    ins.insert(50_000, -7);
    let inserted = table(&ins);
    let hunks = diff_chunks(&segments(&old), &segments(&inserted), 3);
    assert_eq!(hunks.len(), 1);
    let h = &hunks[0];
    assert!(h.new.contains(&50_000));
    assert_eq!(h.new.end - h.new.start, h.old.end - h.old.start + 1);
    assert!(diff_chunks(&segments(&old), &segments(&old), 3).is_empty());
}
