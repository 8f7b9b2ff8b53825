//! Mergeability (docs/hash-spec.md §11): summaries of consecutive partitions, merged in order,
//! give exactly the hash of the whole table — for random splits, empty and tiny partitions,
//! partitions without any content boundary, long runs cut at MAX across partitions, and
//! candidates placed right at partition starts. Also: the compact form, the serialized form and
//! the unordered identity over fingerprint ranges.

use std::sync::{Arc, OnceLock};

use arrow_array::builder::StringDictionaryBuilder;
use arrow_array::types::Int32Type;
use arrow_array::*;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use lineage_core::chunking::{MAX_ROWS, MIN_ROWS};
use lineage_core::fingerprint::is_candidate;
use lineage_core::merge::Interior;
use lineage_core::{
    chunk_offsets, merge, merge_compact, Error, PartitionSummary, RowOrder, Table, TableRoot,
};

/// xorshift64*: reproducible randomness without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn schema() -> SchemaRef {
    let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    Arc::new(Schema::new(vec![
        Field::new("x", DataType::Int64, true),
        Field::new("s", DataType::Utf8, true),
        Field::new("d", dict, true),
    ]))
}

/// One batch whose rows are determined by `xs` alone (so a row's fingerprint is a function of
/// its `x`); every batch gets its own dictionary.
fn batch(xs: &[i64]) -> RecordBatch {
    let x = Int64Array::from(xs.to_vec());
    let s = StringArray::from_iter(xs.iter().map(|v| (v % 11 != 0).then(|| format!("v{v}"))));
    let mut d = StringDictionaryBuilder::<Int32Type>::new();
    for v in xs {
        d.append_value(format!("k{}", v.rem_euclid(7)));
    }
    RecordBatch::try_new(
        schema(),
        vec![Arc::new(x), Arc::new(s), Arc::new(d.finish())],
    )
    .unwrap()
}

/// Rows `xs` as a table of batches cut at random points.
fn table(xs: &[i64], rng: &mut Rng) -> Table {
    let mut batches = Vec::new();
    let mut at = 0;
    while at < xs.len() {
        let n = 1 + rng.below(40_000) as usize;
        let e = (at + n).min(xs.len());
        batches.push(batch(&xs[at..e]));
        at = e;
    }
    Table::new(schema(), batches).unwrap()
}

/// Values of `x` whose row is a candidate, and values whose row is not.
fn values() -> &'static (Vec<i64>, Vec<i64>) {
    static V: OnceLock<(Vec<i64>, Vec<i64>)> = OnceLock::new();
    V.get_or_init(|| {
        let xs: Vec<i64> = (0..1_000_000).collect();
        let t = Table::new(schema(), vec![batch(&xs)]).unwrap();
        let fp = t.fingerprints().unwrap();
        let (yes, no): (Vec<_>, Vec<_>) =
            xs.iter().partition(|&&x| is_candidate(fp[x as usize][0]));
        assert!(yes.len() > 50, "{} candidate values", yes.len());
        (yes, no[..5000].to_vec())
    })
}

fn candidate(rng: &mut Rng) -> i64 {
    let v = &values().0;
    v[rng.below(v.len() as u64) as usize]
}

fn plain(rng: &mut Rng) -> i64 {
    let v = &values().1;
    v[rng.below(v.len() as u64) as usize]
}

/// Random rows: candidates with probability 2^-13.
fn random(n: usize, rng: &mut Rng) -> Vec<i64> {
    (0..n).map(|_| rng.next() as i64).collect()
}

fn summaries(xs: &[i64], cuts: &[usize], order: RowOrder, rng: &mut Rng) -> Vec<PartitionSummary> {
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(xs.len());
    bounds
        .windows(2)
        .map(|w| PartitionSummary::new(&table(&xs[w[0]..w[1]], rng), order).unwrap())
        .collect()
}

/// Every way of merging the partitions of `xs` cut at `cuts` equals the whole table's hash.
fn check(xs: &[i64], cuts: &[usize], rng: &mut Rng) {
    let whole = table(xs, rng).hash(RowOrder::Ordered).unwrap();
    let parts = summaries(xs, cuts, RowOrder::Ordered, rng);
    let refs: Vec<&PartitionSummary> = parts.iter().collect();
    let merged = merge(&refs).unwrap();
    assert_eq!(merged, whole, "cuts {cuts:?} of {} rows", xs.len());
    // The serialized form round-trips.
    let loaded: Vec<PartitionSummary> = parts
        .iter()
        .map(|s| PartitionSummary::from_bytes(&s.to_bytes().unwrap()).unwrap())
        .collect();
    let loaded_refs: Vec<&PartitionSummary> = loaded.iter().collect();
    assert_eq!(merge(&loaded_refs).unwrap(), whole);
    // The compact protocol: offsets from bounded summaries, then compact ranges.
    let unplaced: Vec<PartitionSummary> = parts.iter().map(|s| s.compact(None).unwrap()).collect();
    let offsets = chunk_offsets(&unplaced.iter().collect::<Vec<_>>()).unwrap();
    assert_eq!(offsets, chunk_offsets(&refs).unwrap());
    let compact: Vec<PartitionSummary> = parts
        .iter()
        .zip(&offsets)
        .map(|(s, &o)| {
            let c = s.compact(Some(o)).unwrap();
            PartitionSummary::from_bytes(&c.to_bytes().unwrap()).unwrap()
        })
        .collect();
    let root = merge_compact(&compact.iter().collect::<Vec<_>>()).unwrap();
    assert_eq!(root, TableRoot::of(&whole), "compact, cuts {cuts:?}");
    // Interior chunk starts are where the whole table has them.
    for (p, s) in parts.iter().enumerate() {
        if let Interior::Chunks(cs) = s.interior() {
            if let Some(c) = cs.first() {
                let start = [0].iter().chain(cuts).nth(p).copied().unwrap() as u64 + c.start;
                let k = whole.chunks.iter().position(|w| w.start == start).unwrap();
                assert_eq!(k as u64, offsets[p]);
            }
        }
    }
}

fn random_cuts(n: usize, k: usize, rng: &mut Rng) -> Vec<usize> {
    let mut cuts: Vec<usize> = (0..k).map(|_| rng.below(n as u64 + 1) as usize).collect();
    cuts.sort_unstable();
    cuts
}

#[test]
fn random_tables_and_random_splits() {
    let mut rng = Rng(0x5EED_0001);
    for round in 0..6 {
        let n = [0, 1, 5_000, 60_000, 200_000, 350_000][round];
        let xs = random(n, &mut rng);
        for k in [0, 1, 3, 9] {
            let cuts = random_cuts(n, k, &mut rng);
            check(&xs, &cuts, &mut rng);
        }
    }
}

#[test]
fn many_tiny_and_empty_partitions() {
    let mut rng = Rng(0x5EED_0002);
    let xs = random(120_000, &mut rng);
    let mut cuts = Vec::new();
    let mut at = 0usize;
    while at < xs.len() {
        // Shorter than the look-back window, often empty: decisions reach back several
        // partitions.
        at += match rng.below(4) {
            0 => 0,
            1 => rng.below(10) as usize,
            2 => rng.below(2 * MIN_ROWS as u64) as usize,
            _ => rng.below(20_000) as usize,
        };
        cuts.push(at.min(xs.len()));
    }
    check(&xs, &cuts, &mut rng);
}

#[test]
fn long_runs_cut_at_max_across_partitions() {
    let mut rng = Rng(0x5EED_0003);
    let mut xs = random(10_000, &mut rng);
    // No candidate for 2.5 MAX rows, then every row a candidate for 2.2 MAX rows.
    let p = plain(&mut rng);
    xs.extend(std::iter::repeat_n(p, MAX_ROWS * 5 / 2));
    xs.extend(random(7_000, &mut rng));
    let c = candidate(&mut rng);
    xs.extend(std::iter::repeat_n(c, MAX_ROWS * 22 / 10));
    xs.extend(random(9_000, &mut rng));
    let n = xs.len();
    for k in [1, 2, 5, 12] {
        let cuts = random_cuts(n, k, &mut rng);
        check(&xs, &cuts, &mut rng);
    }
    // Cuts at MAX multiples from the run's start, and just around them.
    let run = 10_000;
    for d in [-1i64, 0, 1] {
        let cuts: Vec<usize> = (1..=2)
            .map(|i| (run as i64 + (i * MAX_ROWS) as i64 + d) as usize)
            .collect();
        check(&xs, &cuts, &mut rng);
    }
    // A whole partition without any candidate, or of candidates only.
    check(&xs, &[15_000, 100_000, 190_000], &mut rng);
    check(&xs, &[190_000, 200_000, 250_000, 300_000], &mut rng);
}

#[test]
fn candidates_right_at_partition_starts() {
    let mut rng = Rng(0x5EED_0004);
    let min = MIN_ROWS as i64;
    // A partition starts at row `s`; candidates are placed at `s + d` for each offset pattern.
    let patterns: &[&[i64]] = &[
        &[0],
        &[1],
        &[min - 2],
        &[min - 1],
        &[min],
        &[-1, min - 1],
        &[-1, min],
        &[-2, min - 2],
        &[-min, 0],
        &[-min - 1, 0],
        &[-min + 1, 0],
        &[0, min - 1],
        &[0, min],
        &[0, 1, min + 1],
        &[-1, 0, min - 1, 2 * min],
        &[5, 10, min + 9, min + 10, 3 * min],
    ];
    let s = 3 * MIN_ROWS;
    let n = 8 * MIN_ROWS;
    for pattern in patterns {
        let mut xs: Vec<i64> = (0..n).map(|_| plain(&mut rng)).collect();
        for &d in pattern.iter() {
            xs[(s as i64 + d) as usize] = candidate(&mut rng);
        }
        // The partition at s alone, then also tiny partitions right before it.
        check(&xs, &[s], &mut rng);
        check(&xs, &[s - 3, s - 1, s], &mut rng);
        check(&xs, &[s - MIN_ROWS, s, s + 1], &mut rng);
        check(&xs, &[s - 1000, s - 10, s, s + MIN_ROWS - 1], &mut rng);
    }
}

#[test]
fn summaries_stay_small_for_random_data() {
    let mut rng = Rng(0x5EED_0005);
    let xs = random(400_000, &mut rng);
    let parts = summaries(&xs, &[200_000], RowOrder::Ordered, &mut rng);
    for s in &parts {
        assert!(s.seam_rows() < 150_000, "{} seam rows", s.seam_rows());
        assert!(s.interior().count() > 5);
        let compact = s.compact(Some(7)).unwrap().to_bytes().unwrap();
        let full = s.to_bytes().unwrap();
        assert!(compact.len() < full.len());
    }
}

#[test]
fn unordered_over_fingerprint_ranges() {
    let mut rng = Rng(0x5EED_0006);
    let mut xs = random(150_000, &mut rng);
    // Duplicates: equal rows share a fingerprint and so a partition.
    let dup: Vec<i64> = xs[..30_000].to_vec();
    xs.extend(dup);
    let whole = table(&xs, &mut rng);
    let expected = whole.hash(RowOrder::Unordered).unwrap();
    let lo: Vec<u64> = whole.lo_lanes().unwrap();
    for k in [0usize, 1, 4, 9] {
        let mut thresholds: Vec<u64> = (0..k).map(|_| rng.next()).collect();
        thresholds.sort_unstable();
        let mut parts: Vec<Vec<i64>> = vec![Vec::new(); k + 1];
        for (x, l) in xs.iter().zip(&lo) {
            parts[thresholds.partition_point(|t| t <= l)].push(*x);
        }
        let sums: Vec<PartitionSummary> = parts
            .iter()
            .map(|p| PartitionSummary::new(&table(p, &mut rng), RowOrder::Unordered).unwrap())
            .collect();
        let refs: Vec<&PartitionSummary> = sums.iter().collect();
        assert_eq!(merge(&refs).unwrap(), expected, "{k} ranges");
        if k > 1 {
            // Out of range order: refused.
            let mut swapped = refs.clone();
            let (a, b) = (0, k);
            if sums[a].num_rows() > 0 && sums[b].num_rows() > 0 {
                swapped.swap(a, b);
                assert!(matches!(merge(&swapped), Err(Error::Merge(_))));
            }
        }
    }
}

#[test]
fn refusals() {
    let mut rng = Rng(0x5EED_0007);
    assert!(matches!(merge(&[]), Err(Error::Merge(_))));
    let a =
        PartitionSummary::new(&table(&random(100, &mut rng), &mut rng), RowOrder::Ordered).unwrap();
    let other =
        RecordBatch::try_from_iter([("y", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef)])
            .unwrap();
    let b = PartitionSummary::new(
        &Table::new(other.schema(), vec![other]).unwrap(),
        RowOrder::Ordered,
    )
    .unwrap();
    match merge(&[&a, &a, &b]) {
        Err(Error::SchemaMismatch(m)) => assert!(m.contains("partitions 0 and 2"), "{m}"),
        other => panic!("{other:?}"),
    }
    let u = PartitionSummary::new(&table(&random(10, &mut rng), &mut rng), RowOrder::Unordered)
        .unwrap();
    assert!(matches!(merge(&[&a, &u]), Err(Error::Merge(_))));
    // Compacted at the wrong place, or compacted into a full merge.
    let xs = random(200_000, &mut rng);
    let parts = summaries(&xs, &[100_000], RowOrder::Ordered, &mut rng);
    let refs: Vec<&PartitionSummary> = parts.iter().collect();
    let offsets = chunk_offsets(&refs).unwrap();
    let wrong = [
        parts[0].compact(Some(offsets[0])).unwrap(),
        parts[1].compact(Some(offsets[1] + 1)).unwrap(),
    ];
    assert!(matches!(
        merge_compact(&wrong.iter().collect::<Vec<_>>()),
        Err(Error::Merge(_))
    ));
    assert!(matches!(
        merge(&[&parts[0], &wrong[1]]),
        Err(Error::Merge(_))
    ));
    let unplaced = parts[1].compact(None).unwrap();
    assert!(matches!(
        merge_compact(&[&parts[0], &unplaced]),
        Err(Error::Merge(_))
    ));
}

#[test]
fn corrupted_bytes_are_refused_never_a_panic() {
    let mut rng = Rng(0x5EED_0008);
    let xs = random(30_000, &mut rng);
    let s = &summaries(&xs, &[], RowOrder::Ordered, &mut rng)[0];
    let bytes = s.to_bytes().unwrap();
    for cut in [0, 1, 8, 9, 10, 40, bytes.len() / 2, bytes.len() - 1] {
        assert!(matches!(
            PartitionSummary::from_bytes(&bytes[..cut]),
            Err(Error::InvalidSummary(_))
        ));
    }
    for _ in 0..200 {
        let mut b = bytes.clone();
        let i = rng.below(b.len() as u64) as usize;
        b[i] ^= 1 << rng.below(8);
        assert!(matches!(
            PartitionSummary::from_bytes(&b),
            Err(Error::InvalidSummary(_))
        ));
    }
    // Another format version is named.
    let mut b = bytes.clone();
    b[8] = 2;
    match PartitionSummary::from_bytes(&b) {
        Err(Error::InvalidSummary(m)) => assert!(m.contains("version 2"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn partitions_storing_other_layouts_merge() {
    // The same logical columns (string; list<int32>) stored as utf8 / large_utf8 / utf8_view and
    // list / large_list by different partitions: the merge equals the whole table's hash.
    let mut rng = Rng(0x5EED_0011);
    let xs = random(40_000, &mut rng);
    let strings = |v: &[i64]| -> Vec<Option<String>> {
        v.iter()
            .map(|x| (x % 5 != 0).then(|| format!("s{}", x % 1000)))
            .collect()
    };
    let lists = |v: &[i64]| {
        v.iter()
            .map(|x| (x % 7 != 0).then(|| (0..(x.rem_euclid(4))).map(|k| Some(k as i32))))
            .collect::<Vec<_>>()
    };
    let layout = |v: &[i64], k: usize| -> Table {
        let s: ArrayRef = match k % 3 {
            0 => Arc::new(StringArray::from_iter(strings(v))),
            1 => Arc::new(LargeStringArray::from_iter(strings(v))),
            _ => Arc::new(StringViewArray::from_iter(strings(v))),
        };
        let l: ArrayRef = match k % 2 {
            0 => Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(lists(v))),
            _ => Arc::new(LargeListArray::from_iter_primitive::<Int32Type, _, _>(
                lists(v),
            )),
        };
        let x: ArrayRef = Arc::new(Int64Array::from(v.to_vec()));
        let b = RecordBatch::try_from_iter([("x", x), ("s", s), ("l", l)]).unwrap();
        Table::new(b.schema(), vec![b]).unwrap()
    };
    let whole = layout(&xs, 0).hash(RowOrder::Ordered).unwrap();
    let cuts = [0, 9_000, 9_100, 25_000, 40_000];
    let parts: Vec<PartitionSummary> = cuts
        .windows(2)
        .enumerate()
        .map(|(k, w)| PartitionSummary::new(&layout(&xs[w[0]..w[1]], k), RowOrder::Ordered))
        .collect::<Result<_, _>>()
        .unwrap();
    let refs: Vec<&PartitionSummary> = parts.iter().collect();
    assert!(whole.chunks.len() > 2);
    assert_eq!(merge(&refs).unwrap(), whole);
}
