//! Step 7 of the data flow: row-level diffs between two versions of a table, and the "where to
//! look" diff of two hashes (no data).
//!
//! 1. **Pruning.** Chunks whose digests are equal on both sides hold the same rows (BLAKE3 over
//!    the canonical bytes), so they are matched as a multiset and skip all per-row work.
//! 2. **Identical rows.** Rows equal on the key and compared columns are unchanged. The 128-bit
//!    fingerprints of both sides are walked in step (versions mostly keep their row order), and
//!    the rows the walk sets aside are matched as a multiset by a partitioned hash join
//!    (partitions by the top bits of the fingerprint, one cache-sized open-addressing table per
//!    partition, partitions in parallel). **Keyed fast path** (unique keys, compared columns of
//!    types [`crate::compare`] handles): the *keys* are walked in step instead (straight from
//!    the values of an integer key), each run of aligned keys is compared cell by cell from the
//!    Arrow buffers, and only the rows set aside and the changed pairs go to the multiset join.
//! 3. **Keyed diff.** The remaining rows are joined by the fingerprint of their key columns;
//!    matched pairs are changed rows, and the changed columns are found by comparing cell
//!    encodings exactly. A key of a remaining row must not repeat on its side, neither among the
//!    remaining rows nor among the identical (or pruned) ones. **Unkeyed diff:** the remaining
//!    rows are the removed and added rows.
//!
//! Value equality is that of the hash spec: NaN equals NaN, −0.0 differs from +0.0, dictionary
//! equals plain, string equals large_string. Equal fingerprints are taken as equal rows or keys;
//! two different ones collide with probability about 2^-128 for non-adversarial data (the
//! fingerprint is not cryptographic; see docs/hash-spec.md §5).

use std::collections::HashMap;
use std::ops::Range;

use rayon::prelude::*;

use crate::canon::encode_cell;
use crate::compare::{Columns, Compared};
use crate::error::{Error, Result};
use crate::hashing::Digest;
use crate::schema::Logical;
use crate::table::{locate_in, Table};

/// Which table of a diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Old,
    New,
}

impl Side {
    pub fn name(self) -> &'static str {
        match self {
            Side::Old => "old",
            Side::New => "new",
        }
    }
}

/// What to do with a key that occurs more than once on one side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuplicateKeys {
    /// Refuse: [`Error::DuplicateKey`].
    Error,
    /// Match the k-th occurrence in `old` with the k-th occurrence in `new` (row order); surplus
    /// occurrences are removed or added rows.
    Match,
}

/// A chunk of a hash, as pruning needs it: digest and row range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkSpan {
    pub digest: Digest,
    pub start: u64,
    pub num_rows: u64,
}

/// How the two schemas relate. Columns are compared by name; types by their logical type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchemaDiff {
    /// `(name, type)` of columns only in `new`.
    pub added: Vec<(String, String)>,
    /// `(name, type)` of columns only in `old`.
    pub removed: Vec<(String, String)>,
    /// `(name, old type, new type)` of columns present on both sides with different types.
    pub type_changed: Vec<(String, String, String)>,
    /// Columns present on both sides with the same type, in canonical (bytewise name) order.
    pub common: Vec<String>,
}

/// The result of [`diff_tables`]. Row numbers are global row indices of each input.
#[derive(Debug, Clone, Default)]
pub struct RowDiff {
    pub schema: SchemaDiff,
    /// Key columns (empty for a multiset diff).
    pub key: Vec<String>,
    /// Columns whose values were compared (keyed: common non-key columns or the chosen ones).
    pub compared: Vec<String>,
    /// Rows of `new` with no counterpart in `old`, ascending.
    pub added: Vec<u64>,
    /// Rows of `old` with no counterpart in `new`, ascending.
    pub removed: Vec<u64>,
    /// Matched rows whose compared values differ: `(old row, new row)`, by ascending new row.
    pub changed: Vec<(u64, u64)>,
    /// For each changed pair, one flag per compared column (`changed.len() × compared.len()`).
    pub changed_flags: Vec<bool>,
    /// Number of changed rows per compared column.
    pub column_changes: Vec<u64>,
    /// Matched rows with equal compared values (pruned rows included).
    pub unchanged: u64,
    /// Rows of each side skipped by chunk pruning (the same number on both sides).
    pub pruned_rows: u64,
}

/// Compare the schemas of two tables.
pub fn schema_diff(old: &Table, new: &Table) -> SchemaDiff {
    let o = &old.canonical_schema().columns;
    let n = &new.canonical_schema().columns;
    let by_name: HashMap<&str, &Logical> =
        n.iter().map(|c| (c.name.as_str(), &c.logical)).collect();
    let in_old: HashMap<&str, &Logical> = o.iter().map(|c| (c.name.as_str(), &c.logical)).collect();
    let mut d = SchemaDiff::default();
    for c in o {
        match by_name.get(c.name.as_str()) {
            None => d.removed.push((c.name.clone(), c.logical.display())),
            Some(t) if **t == c.logical => d.common.push(c.name.clone()),
            Some(t) => d
                .type_changed
                .push((c.name.clone(), c.logical.display(), t.display())),
        }
    }
    for c in n {
        if !in_old.contains_key(c.name.as_str()) {
            d.added.push((c.name.clone(), c.logical.display()));
        }
    }
    d
}

/// What [`prune`] leaves: the unpruned row ranges of each side, the pruned ranges of `new`, and
/// the number of pruned rows (per side).
pub type Pruned = (Vec<Range<usize>>, Vec<Range<usize>>, Vec<Range<usize>>, u64);

/// The row ranges of each side left after matching equal chunk digests as a multiset, and the
/// number of rows matched. Checks that each list tiles `0..rows` of its table.
pub fn prune(old: &[ChunkSpan], new: &[ChunkSpan], old_rows: u64, new_rows: u64) -> Result<Pruned> {
    check_tiling(old, old_rows, Side::Old)?;
    check_tiling(new, new_rows, Side::New)?;
    let mut pool: HashMap<Digest, Vec<usize>> = HashMap::new();
    for (i, c) in old.iter().enumerate().rev() {
        pool.entry(c.digest).or_default().push(i);
    }
    let mut old_kept = vec![true; old.len()];
    let mut new_kept = vec![true; new.len()];
    let mut pruned = 0;
    for (j, c) in new.iter().enumerate() {
        if let Some(i) = pool.get_mut(&c.digest).and_then(|v| v.pop()) {
            old_kept[i] = false;
            new_kept[j] = false;
            pruned += c.num_rows;
        }
    }
    let ranges = |chunks: &[ChunkSpan], keep: &[bool], want: bool| {
        let mut out: Vec<Range<usize>> = Vec::new();
        for (c, _) in chunks.iter().zip(keep).filter(|(_, k)| **k == want) {
            let r = c.start as usize..(c.start + c.num_rows) as usize;
            match out.last_mut() {
                Some(last) if last.end == r.start => last.end = r.end,
                _ => out.push(r),
            }
        }
        out
    };
    Ok((
        ranges(old, &old_kept, true),
        ranges(new, &new_kept, true),
        ranges(new, &new_kept, false),
        pruned,
    ))
}

fn check_tiling(chunks: &[ChunkSpan], rows: u64, side: Side) -> Result<()> {
    let mut at = 0;
    for c in chunks {
        if c.start != at {
            return Err(Error::InvalidArgument(format!(
                "the {} hash does not describe this table: its chunks do not tile the rows \
                 (a chunk starts at row {}, expected {at})",
                side.name(),
                c.start
            )));
        }
        at += c.num_rows;
    }
    if at != rows {
        return Err(Error::InvalidArgument(format!(
            "the {} hash does not describe this table: it covers {at} rows, the table has {rows}",
            side.name()
        )));
    }
    Ok(())
}

/// Arguments of [`diff_tables`].
#[derive(Debug, Clone)]
pub struct DiffOptions {
    /// Key columns; empty for a multiset (unkeyed) diff.
    pub key: Vec<String>,
    /// Columns to compare; `None` = every common column (minus the key).
    pub columns: Option<Vec<String>>,
    pub duplicate_keys: DuplicateKeys,
    /// Ordered hashes of both tables, for pruning.
    pub hashes: Option<(KnownHash, KnownHash)>,
    /// Validate (fully) the data of each side that the diff reads: the unpruned rows and the key
    /// columns. Rows of pruned chunks are never read, so foreign data there need not be checked.
    pub validate: (bool, bool),
}

/// What pruning needs of a table's ordered hash: its schema digest (checked against the table)
/// and its chunks; and the columns it saw strictly increase ([`crate::TableHash::increasing`]),
/// trusted like its chunk digests: a key among them is known not to repeat without a scan.
#[derive(Debug, Clone)]
pub struct KnownHash {
    pub schema_digest: Digest,
    pub chunks: Vec<ChunkSpan>,
    pub increasing: Vec<String>,
}

/// Diff two tables (see the module documentation).
pub fn diff_tables(old: &Table, new: &Table, opts: &DiffOptions) -> Result<RowDiff> {
    let schema = schema_diff(old, new);
    let key = opts.key.clone();
    check_columns(&key, old, new, &schema, "key")?;
    if let Some(w) = first_repeat(&key) {
        return Err(Error::InvalidArgument(format!(
            "key column {w:?} is given twice"
        )));
    }
    let compared: Vec<String> = match &opts.columns {
        Some(cols) => {
            check_columns(cols, old, new, &schema, "compared")?;
            if let Some(w) = first_repeat(cols) {
                return Err(Error::InvalidArgument(format!(
                    "column {w:?} is given twice"
                )));
            }
            let mut c: Vec<String> = cols.iter().filter(|c| !key.contains(c)).cloned().collect();
            c.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            c
        }
        None => schema
            .common
            .iter()
            .filter(|c| !key.contains(c))
            .cloned()
            .collect(),
    };

    // Pruning: rows of chunks present on both sides are identical and skip all row work.
    let (old_ranges, new_ranges, pruned_new, pruned_rows) = match &opts.hashes {
        Some((oh, nh)) => {
            for (h, t, side) in [(oh, old, Side::Old), (nh, new, Side::New)] {
                if h.schema_digest != t.canonical_schema().digest {
                    return Err(Error::InvalidArgument(format!(
                        "the {} hash does not describe this table: its schema digest differs",
                        side.name()
                    )));
                }
            }
            let (o, n) = (old.num_rows() as u64, new.num_rows() as u64);
            prune(&oh.chunks, &nh.chunks, o, n)?
        }
        None => (
            std::iter::once(0..old.num_rows()).collect(),
            std::iter::once(0..new.num_rows()).collect(),
            Vec::new(),
            0,
        ),
    };
    let old_u = old.select(&old_ranges)?;
    let new_u = new.select(&new_ranges)?;
    let key_names: Vec<&str> = key.iter().map(String::as_str).collect();
    for (check, full, unpruned) in [
        (opts.validate.0, old, &old_u),
        (opts.validate.1, new, &new_u),
    ] {
        if check {
            unpruned.validate()?;
            if !key_names.is_empty() && full.num_rows() != unpruned.num_rows() {
                full.project(&key_names)?.validate()?;
            }
        }
    }
    let old_map = RowMap::new(&old_ranges);
    let new_map = RowMap::new(&new_ranges);

    let mut d = RowDiff {
        schema,
        key: key.clone(),
        compared: compared.clone(),
        pruned_rows,
        column_changes: vec![0; compared.len()],
        ..Default::default()
    };

    // 1. Rows identical in both versions (over the key and compared columns) are unchanged.
    let mut row_cols: Vec<&str> = key.iter().chain(&compared).map(String::as_str).collect();
    row_cols.sort_unstable();
    row_cols.dedup();
    let key_cols: Vec<&str> = key.iter().map(String::as_str).collect();
    let (identical, rest_old, rest_new, all_keys, aligned) =
        match keyed_walk(&old_u, &new_u, &key, &compared, opts.duplicate_keys)? {
            Some((columns, walked, all_keys)) => {
                let (n, rest_old, rest_new, c) =
                    identical_aligned(&old_u, &new_u, &row_cols, &columns, walked)?;
                (n, rest_old, rest_new, all_keys, Some(c))
            }
            None => {
                let in_order = !key.is_empty() && opts.duplicate_keys == DuplicateKeys::Match;
                let (n, rest_old, rest_new) =
                    identical_walked(&old_u, &new_u, &row_cols, in_order)?;
                (n, rest_old, rest_new, None, None)
            }
        };
    let identical = identical + pruned_rows;

    if key.is_empty() {
        d.unchanged = identical;
        d.added = new_map.global(rest_new);
        d.removed = old_map.global(rest_old);
        return Ok(d);
    }

    // 2. The remaining rows are matched by key.
    // A differing row must not share its key with a row identical in both versions (or
    // pruned). Unless each side's keys are strictly increasing (then no key repeats at all),
    // that is probed: by search in a side whose keys strictly increase (every identical or
    // pruned row of the other side has its counterpart there), else by hashing every key.
    // With few differing rows, one side whose keys increase is enough (searching it costs
    // O(q log(n/q)) for q keys, less than checking the other side: it matters when pruning
    // left little else to do).
    let few = (rest_old.len() + rest_new.len()) * 64 < old.num_rows() + new.num_rows();
    // Sides whose hashes saw the key strictly increase (no scan needed). Trusted only when the
    // hashes pruned something, i.e. when their chunk digests matched: a hash of other data that
    // prunes nothing then does no more harm than before.
    let known = |side: usize| -> bool {
        let [k] = key.as_slice() else { return false };
        if pruned_rows == 0 {
            return false;
        }
        let hash = opts
            .hashes
            .as_ref()
            .map(|h| if side == 0 { &h.0 } else { &h.1 });
        hash.is_some_and(|h| h.increasing.contains(k))
    };
    let probe = match opts.duplicate_keys {
        DuplicateKeys::Match => Probe::None,
        DuplicateKeys::Error if known(0) && known(1) => Probe::None,
        DuplicateKeys::Error if few => match SortedKey::of(old, &key, known(0)) {
            Some(s) => Probe::Sorted(Side::Old, s),
            None => match SortedKey::of(new, &key, known(1)) {
                Some(s) => Probe::Sorted(Side::New, s),
                None => Probe::Hash,
            },
        },
        DuplicateKeys::Error => {
            let (so, sn) = rayon::join(
                || SortedKey::of(old, &key, known(0)),
                || SortedKey::of(new, &key, known(1)),
            );
            match (so, sn) {
                (Some(_), Some(_)) => Probe::None,
                (Some(s), None) => Probe::Sorted(Side::Old, s),
                (None, Some(s)) => Probe::Sorted(Side::New, s),
                (None, None) => Probe::Hash,
            }
        }
    };
    // Keys of the differing rows, and of every unpruned old row when probing by hash.
    let (ko_all, ko_rest, kn_rest) = match all_keys {
        Some((ko, kn)) => {
            let (o, n) = (gather(&ko, &rest_old), gather(&kn, &rest_new));
            (Some(ko), o, n)
        }
        None => {
            let (ko, kn) = rayon::join(
                || match probe {
                    Probe::Hash => old_u.project(&key_cols)?.fingerprints().map(Some),
                    _ => Ok(None),
                },
                || new_u.project(&key_cols)?.take(&rest_new)?.fingerprints(),
            );
            let (ko, kn) = (ko?, kn?);
            let ko_rest = match &ko {
                Some(ko) => gather(ko, &rest_old),
                None => old_u.project(&key_cols)?.take(&rest_old)?.fingerprints()?,
            };
            (ko, ko_rest, kn)
        }
    };
    let j = join(&ko_rest, &kn_rest, true, opts.duplicate_keys)?;
    // Rows repeating a key: later occurrences among the differing rows (from the join), and
    // differing rows whose key also belongs to an identical (or pruned) row (from the probe).
    let mut repeats: Vec<(Side, u64)> = Vec::new();
    if let Some((side, rows, _)) = &j.duplicate {
        let rest = if *side == Side::Old {
            &rest_old
        } else {
            &rest_new
        };
        repeats.extend(rows.iter().map(|&i| (*side, rest[i as usize])));
    }
    match probe {
        Probe::None => {}
        Probe::Hash => {
            let pruned = match pruned_new.is_empty() {
                true => Vec::new(),
                false => new
                    .select(&pruned_new)?
                    .project(&key_cols)?
                    .fingerprints()?,
            };
            let ko = ko_all.as_deref().unwrap_or_default();
            repeats.extend(probe_identical(ko, &rest_old, &kn_rest, &rest_new, &pruned));
        }
        Probe::Sorted(sorted, s) => {
            // Keys of the other side's differing rows that the join left unmatched, looked up
            // on the sorted side: a hit on a row that is not itself differing is a repeat on the
            // other side. A matched key needs no look-up: the sorted side holds it only in the
            // differing row it matched (its keys never repeat), and an identical row of the
            // other side with that key would have its twin, a second one, on the sorted side.
            // When the join found a repeat it stopped early and its unmatched lists are partial:
            // then every differing row is looked up, so the error counts every repeat.
            let (other, other_rest, own_rest, own_map, other_side, unmatched) = match sorted {
                Side::Old => (&new_u, &rest_new, &rest_old, &old_map, Side::New, &j.added),
                Side::New => (
                    &old_u,
                    &rest_old,
                    &rest_new,
                    &new_map,
                    Side::Old,
                    &j.removed,
                ),
            };
            let own: Vec<u64> = own_map.global(own_rest.clone());
            let asked: Vec<u64> = match j.duplicate {
                Some(_) => other_rest.clone(),
                None => unmatched.iter().map(|&q| other_rest[q as usize]).collect(),
            };
            let other_keys = other.project(&key_cols)?.take(&asked)?;
            for (q, row) in s.find(&other_keys)? {
                if own.binary_search(&row).is_err() {
                    repeats.push((other_side, asked[q]));
                }
            }
        }
    }
    if let Some(&(side, _)) = repeats.iter().min_by_key(|(s, _)| *s != Side::Old) {
        let mut rows: Vec<u64> = repeats
            .iter()
            .filter(|(s, _)| *s == side)
            .map(|(_, r)| *r)
            .collect();
        rows.sort_unstable();
        rows.dedup();
        let count = rows.len() as u64;
        rows.truncate(10);
        let map = if side == Side::Old {
            &old_map
        } else {
            &new_map
        };
        return Err(Error::DuplicateKey {
            side: side.name().into(),
            rows: map.global(rows),
            count,
        });
    }
    drop((ko_all, ko_rest, kn_rest));

    // 3. Which compared columns differ, exactly, for each pair matched by key. Pairs the walk
    //    aligned were compared already.
    let idx = |t: &Table, c: &str| t.schema().index_of(c).map_err(Error::from);
    let col_idx: Vec<(usize, usize)> = compared
        .iter()
        .map(|c| Ok((idx(&old_u, c)?, idx(&new_u, c)?)))
        .collect::<Result<_>>()?;
    let pairs: Vec<(u64, u64)> = j
        .pairs
        .iter()
        .map(|&(o, n)| (rest_old[o as usize], rest_new[n as usize]))
        .collect();
    let k = compared.len();
    // Pairs the fast path compared already: their index in `aligned.changed`.
    let compared_pairs: HashMap<(u64, u64), usize> = match &aligned {
        Some(c) => c.changed.iter().enumerate().map(|(i, p)| (*p, i)).collect(),
        None => HashMap::new(),
    };
    let flags: Vec<Vec<bool>> = pairs
        .par_chunks(1024)
        .map(|pairs| {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            let mut out = Vec::with_capacity(pairs.len() * col_idx.len());
            for &(o, n) in pairs {
                if let (Some(&i), Some(c)) = (compared_pairs.get(&(o, n)), &aligned) {
                    out.extend_from_slice(&c.flags[i * k..(i + 1) * k]);
                    continue;
                }
                for (k, &(oc, nc)) in col_idx.iter().enumerate() {
                    a.clear();
                    b.clear();
                    let (arr, i) = old_u.cell(oc, o as usize);
                    encode_cell(arr.as_ref(), i, &mut a, &compared[k])?;
                    let (arr, i) = new_u.cell(nc, n as usize);
                    encode_cell(arr.as_ref(), i, &mut b, &compared[k])?;
                    out.push(a != b);
                }
            }
            Ok(out)
        })
        .collect::<Result<_>>()?;
    let flags = flags.concat();
    let mut unchanged_pairs = 0;
    for (p, f) in pairs.iter().zip(flags.chunks(k.max(1))) {
        // With no compared column, or equal values (rows that differ only in how a key value
        // is spelled cannot happen: equal keys have equal encodings), the pair is unchanged.
        if k == 0 || !f.iter().any(|x| *x) {
            unchanged_pairs += 1;
            continue;
        }
        for (c, x) in f.iter().enumerate() {
            d.column_changes[c] += *x as u64;
        }
        d.changed_flags.extend_from_slice(f);
        d.changed
            .push((old_map.to_global(p.0), new_map.to_global(p.1)));
    }
    d.unchanged = identical + unchanged_pairs;
    d.added = new_map.global(j.added.iter().map(|&i| rest_new[i as usize]).collect());
    d.removed = old_map.global(j.removed.iter().map(|&i| rest_old[i as usize]).collect());
    Ok(d)
}

/// The fingerprints of rows `rows`.
fn gather(f: &[[u64; 2]], rows: &[u64]) -> Vec<[u64; 2]> {
    rows.iter().map(|&r| f[r as usize]).collect()
}

/// Key fingerprints of every unpruned row of each side, when the walk used them.
type AllKeys = Option<(Vec<[u64; 2]>, Vec<[u64; 2]>)>;

/// The keyed fast path's walk (docs/diff.md, step 2): with a key, unique keys, and every
/// compared column of a type [`Columns`] handles, the keys of both sides are walked in step,
/// straight from the values of an integer key, else on key fingerprints. `None` when the fast
/// path does not apply or the walk gave up (reordered versions: the general path suits them).
fn keyed_walk(
    old: &Table,
    new: &Table,
    key: &[String],
    compared: &[String],
    dups: DuplicateKeys,
) -> Result<Option<(Columns, Aligned, AllKeys)>> {
    if key.is_empty() || dups != DuplicateKeys::Error {
        return Ok(None);
    }
    let Some(columns) = Columns::new(old, new, compared)? else {
        return Ok(None);
    };
    if let Some(walked) = align_int_keys(old, new, key) {
        return Ok(walked.map(|a| (columns, a, None)));
    }
    let key_cols: Vec<&str> = key.iter().map(String::as_str).collect();
    let (ko, kn) = rayon::join(
        || old.project(&key_cols)?.fingerprints(),
        || new.project(&key_cols)?.fingerprints(),
    );
    let (ko, kn) = (ko?, kn?);
    let walked = align(ko.as_slice(), kn.as_slice(), true);
    Ok(walked.map(|a| (columns, a, Some((ko, kn)))))
}

/// Identical rows on the fast path: aligned pairs are compared cell by cell; the rows the walk
/// set aside and the changed pairs may still be identical to one another (moved rows, or
/// repeated keys in another order), which a multiset join of their fingerprints finds. Returns
/// the identical count, the remaining rows of each side (ascending) and the comparison.
fn identical_aligned(
    old: &Table,
    new: &Table,
    row_cols: &[&str],
    columns: &Columns,
    walked: Aligned,
) -> Result<(u64, Vec<u64>, Vec<u64>, Compared)> {
    let c = columns.compare(&walked.runs);
    let pending = |mut rows: Vec<u64>, changed: &mut dyn Iterator<Item = u64>| {
        rows.extend(changed);
        rows.sort_unstable();
        rows
    };
    let pend_old = pending(walked.old, &mut c.changed.iter().map(|p| p.0));
    let pend_new = pending(walked.new, &mut c.changed.iter().map(|p| p.1));
    let (fo, fnew) = rayon::join(
        || old.project(row_cols)?.take(&pend_old)?.fingerprints(),
        || new.project(row_cols)?.take(&pend_new)?.fingerprints(),
    );
    let m = join(&fo?, &fnew?, false, DuplicateKeys::Match)?;
    let rest_old = m.removed.iter().map(|&i| pend_old[i as usize]).collect();
    let rest_new = m.added.iter().map(|&i| pend_new[i as usize]).collect();
    Ok((c.equal + m.matched, rest_old, rest_new, c))
}

/// Identical rows on the general path: most are found by walking both sides' row
/// fingerprints in step, the rest by a multiset join. With `in_order` (repeated keys paired in
/// order), identical rows must be matched in order too (the k-th copy of a row in old with its
/// k-th copy in new), which the multiset join does and the walk does not, so there is no walk.
/// Returns the identical count and the remaining rows of each side (ascending).
fn identical_walked(
    old: &Table,
    new: &Table,
    row_cols: &[&str],
    in_order: bool,
) -> Result<(u64, Vec<u64>, Vec<u64>)> {
    let (fo, fnew) = rayon::join(
        || old.project(row_cols)?.fingerprints(),
        || new.project(row_cols)?.fingerprints(),
    );
    let (fo, fnew) = (fo?, fnew?);
    let (pend_old, pend_new): (Vec<u64>, Vec<u64>) = match in_order {
        true => (
            (0..fo.len() as u64).collect(),
            (0..fnew.len() as u64).collect(),
        ),
        false => {
            let a = align(fo.as_slice(), fnew.as_slice(), false).unwrap_or_default();
            (a.old, a.new)
        }
    };
    let m = join(
        &gather(&fo, &pend_old),
        &gather(&fnew, &pend_new),
        false,
        DuplicateKeys::Match,
    )?;
    let identical = (fo.len() - pend_old.len()) as u64 + m.matched;
    let rest_old = m.removed.iter().map(|&i| pend_old[i as usize]).collect();
    let rest_new = m.added.iter().map(|&i| pend_new[i as usize]).collect();
    Ok((identical, rest_old, rest_new))
}

/// A key of one integer column without nulls whose values strictly increase down its table, so
/// no key repeats on that side (a linear check, common for ids). Such a side answers "which row
/// holds this key?" by search, without hashing its keys.
struct SortedKey<'a> {
    table: &'a Table,
    col: usize,
}

/// `value(array, i) -> i128` for a primitive integer array of the type of a [`SortedKey`].
type ValueAt = fn(&dyn arrow_array::Array, usize) -> i128;

impl<'a> SortedKey<'a> {
    /// The key of `t` if it is one strictly increasing integer column without nulls: `known`
    /// (from `t`'s hash), else checked in parallel blocks. Any other key gives `None`.
    fn of(t: &'a Table, key: &[String], known: bool) -> Option<Self> {
        let [k] = key else { return None };
        let col = t.schema().index_of(k).ok()?;
        let columns = t.batches().iter().map(|b| b.column(col).as_ref());
        let dt = t.schema().field(col).data_type();
        let increasing = with_int_type!(dt, known_or_increasing(known, columns), false);
        if !increasing {
            return None;
        }
        Some(SortedKey { table: t, col })
    }

    fn value_fn(dt: &arrow_schema::DataType) -> Option<ValueAt> {
        fn value<T: arrow_array::ArrowPrimitiveType>() -> Option<ValueAt>
        where
            T::Native: Into<i128>,
        {
            use arrow_array::cast::AsArray;
            Some(|a, i| a.as_primitive::<T>().value(i).into())
        }
        with_int_type!(dt, value(), None)
    }

    /// For every row of `other`, whose column of this key's name has the same logical type (it
    /// may be dictionary-encoded), the global row of this side holding the same key, if any:
    /// `(row of other, row here)`. The keys are sorted and searched by galloping from the
    /// previous hit, so the cost is O(q log(n / q)) for q keys among n rows.
    fn find(&self, other: &Table) -> Result<Vec<(usize, u64)>> {
        let name = self.table.schema().field(self.col).name().clone();
        let ocol = other.schema().index_of(&name)?;
        let dt = self.table.schema().field(self.col).data_type();
        let Some(value) = Self::value_fn(dt) else {
            return Err(Error::InvalidArgument(format!(
                "key {name:?} is not an integer"
            )));
        };
        let signed = dt.is_signed_integer();
        let mut keys: Vec<(i128, usize)> = Vec::with_capacity(other.num_rows());
        let mut enc = Vec::new();
        for q in 0..other.num_rows() {
            enc.clear();
            let (arr, i) = other.cell(ocol, q);
            encode_cell(arr.as_ref(), i, &mut enc, &name)?;
            // A cell encodes as 0x00 (null: no key here has it) or 0x01 and the value's bytes.
            if let Some((1, v)) = enc.split_first() {
                let mut b = [0u8; 16];
                b[..v.len()].copy_from_slice(v);
                if signed && v.last().is_some_and(|x| x & 0x80 != 0) {
                    b[v.len()..].fill(0xff);
                }
                keys.push((i128::from_le_bytes(b), q));
            }
        }
        keys.par_sort_unstable();
        let block = keys
            .len()
            .div_ceil(rayon::current_num_threads() * 4)
            .max(1 << 12);
        let hits = keys
            .par_chunks(block)
            .flat_map_iter(|keys| self.gallop(keys, value))
            .collect();
        Ok(hits)
    }

    /// The hits of [`SortedKey::find`] for `keys` sorted by value.
    fn gallop(&self, keys: &[(i128, usize)], value: ValueAt) -> Vec<(usize, u64)> {
        let mut hits = Vec::new();
        let (mut b, mut p) = (0, 0);
        let batches = self.table.batches();
        for &(v, q) in keys {
            // Move to the batch that may hold v (batches hold increasing, disjoint ranges).
            while b < batches.len() {
                let a = batches[b].column(self.col).as_ref();
                if !a.is_empty() && value(a, a.len() - 1) >= v {
                    break;
                }
                b += 1;
                p = 0;
            }
            let Some(batch) = batches.get(b) else { break };
            let a = batch.column(self.col).as_ref();
            // Gallop from p to bracket the first index whose value is >= v, then bisect.
            let (mut lo, mut step) = (p, 1usize);
            let mut hi = loop {
                let i = lo + step - 1;
                if i >= a.len() {
                    break a.len();
                }
                if value(a, i) >= v {
                    break i;
                }
                lo = i + 1;
                step *= 2;
            };
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                match value(a, mid) < v {
                    true => lo = mid + 1,
                    false => hi = mid,
                }
            }
            p = lo;
            if lo < a.len() && value(a, lo) == v {
                hits.push((q, (self.table.batch_starts()[b] + lo) as u64));
            }
        }
        hits
    }
}

/// Rows of two sequences of fingerprints walked in step ([`align`]).
#[derive(Debug, Default)]
struct Aligned {
    /// Runs of equal fingerprints: `(old start, new start, length)`, in order.
    runs: Vec<(u64, u64, u64)>,
    /// Rows of each side the walk could not pair (ascending).
    old: Vec<u64>,
    new: Vec<u64>,
}

/// A sequence of row keys (or fingerprints) that [`align`] walks.
trait Keys {
    fn len(&self) -> usize;
    /// Whether row `i` of `self` and row `j` of `other` have equal keys.
    fn eq_at(&self, i: usize, other: &Self, j: usize) -> bool;
    /// How many rows from `i` of `self` and `j` of `other` on have equal keys, pairwise.
    fn run(&self, i: usize, other: &Self, j: usize) -> usize;
}

impl Keys for [[u64; 2]] {
    fn len(&self) -> usize {
        <[_]>::len(self)
    }
    #[inline]
    fn eq_at(&self, i: usize, other: &Self, j: usize) -> bool {
        self[i] == other[j]
    }
    fn run(&self, i: usize, other: &Self, j: usize) -> usize {
        self[i..]
            .iter()
            .zip(&other[j..])
            .take_while(|(x, y)| x == y)
            .count()
    }
}

/// The values of a key of one integer column without nulls, batch by batch (no copy).
struct IntKeys<'a, T: arrow_array::ArrowPrimitiveType> {
    parts: Vec<&'a [T::Native]>,
    /// First row of each part (batch), and the row count at the end.
    starts: &'a [usize],
    /// The part of the last access (the walk moves forward, so it is usually the same).
    hint: std::cell::Cell<usize>,
}

impl<'a, T: arrow_array::ArrowPrimitiveType> IntKeys<'a, T> {
    fn new(t: &'a Table, col: usize) -> Self {
        use arrow_array::cast::AsArray;
        let parts: Vec<&[T::Native]> = t
            .batches()
            .iter()
            .map(|b| b.column(col).as_primitive::<T>().values().as_ref())
            .collect();
        IntKeys {
            parts,
            starts: t.batch_starts(),
            hint: std::cell::Cell::new(0),
        }
    }

    /// (part, offset) of row `i < len`.
    #[inline]
    fn locate(&self, i: usize) -> (usize, usize) {
        let h = self.hint.get();
        let b = match i >= self.starts[h] && i < self.starts[h + 1] {
            true => h,
            false => locate_in(self.starts, i).0,
        };
        self.hint.set(b);
        (b, i - self.starts[b])
    }
}

impl<T: arrow_array::ArrowPrimitiveType> Keys for IntKeys<'_, T> {
    fn len(&self) -> usize {
        self.starts.last().copied().unwrap_or(0)
    }
    #[inline]
    fn eq_at(&self, i: usize, other: &Self, j: usize) -> bool {
        let (b, o) = self.locate(i);
        let (c, p) = other.locate(j);
        self.parts[b][o] == other.parts[c][p]
    }
    fn run(&self, mut i: usize, other: &Self, mut j: usize) -> usize {
        let start = i;
        while i < self.len() && j < other.len() {
            let (b, o) = self.locate(i);
            let (c, p) = other.locate(j);
            let (x, y) = (&self.parts[b][o..], &other.parts[c][p..]);
            let n = x.iter().zip(y).take_while(|(a, b)| a == b).count();
            i += n;
            j += n;
            if n < x.len().min(y.len()) {
                break;
            }
        }
        i - start
    }
}

/// Walk the keys of `old` and `new` in step ([`align`], giving up on reordered versions)
/// straight from their values when the key is one integer column, of one physical type on both
/// sides, without nulls; `None` otherwise.
fn align_int_keys(old: &Table, new: &Table, key: &[String]) -> Option<Option<Aligned>> {
    let [k] = key else { return None };
    let (co, cn) = (
        old.schema().index_of(k).ok()?,
        new.schema().index_of(k).ok()?,
    );
    let dt = old.schema().field(co).data_type();
    if dt != new.schema().field(cn).data_type() {
        return None;
    }
    for (t, c) in [(old, co), (new, cn)] {
        if t.batches().iter().any(|b| b.column(c).null_count() > 0) {
            return None;
        }
    }
    fn walk<T: arrow_array::ArrowPrimitiveType>(
        o: &Table,
        co: usize,
        n: &Table,
        cn: usize,
    ) -> Option<Option<Aligned>> {
        Some(align(
            &IntKeys::<T>::new(o, co),
            &IntKeys::<T>::new(n, cn),
            true,
        ))
    }
    with_int_type!(dt, walk(old, co, new, cn), None)
}

/// Walk two fingerprint sequences in step, pairing equal fingerprints. At a mismatch it looks up
/// to [`LOOKAHEAD`] rows ahead on each side for the row of the other side (an insertion or a
/// deletion); failing that, both rows are set aside (an update). What the walk sets aside is
/// matched afterwards, so the walk only decides how much work is left, never the result.
///
/// With `give_up`, the walk stops (`None`) as soon as it has set aside more than one row in
/// [`GIVE_UP`] of those it walked (checked from [`GIVE_UP_AFTER`] rows on): versions whose rows
/// were reordered are then better served by the general path.
fn align<K: Keys + ?Sized>(old: &K, new: &K, give_up: bool) -> Option<Aligned> {
    const LOOKAHEAD: usize = 32;
    let (mut i, mut j) = (0, 0);
    let mut a = Aligned::default();
    let mut next_check = GIVE_UP_AFTER;
    while i < old.len() && j < new.len() {
        if give_up && i + j >= next_check {
            if (a.old.len() + a.new.len()) * GIVE_UP > i + j {
                return None;
            }
            next_check = i + j + GIVE_UP_AFTER / 8;
        }
        if old.eq_at(i, new, j) {
            let n = old.run(i, new, j);
            a.runs.push((i as u64, j as u64, n as u64));
            i += n;
            j += n;
            continue;
        }
        let mut step = None;
        for d in 1..=LOOKAHEAD {
            if j + d < new.len() && old.eq_at(i, new, j + d) {
                step = Some((0, d));
                break;
            }
            if i + d < old.len() && old.eq_at(i + d, new, j) {
                step = Some((d, 0));
                break;
            }
        }
        let (di, dj) = step.unwrap_or((1, 1));
        a.old.extend((i..i + di).map(|r| r as u64));
        a.new.extend((j..j + dj).map(|r| r as u64));
        i += di;
        j += dj;
    }
    a.old.extend((i..old.len()).map(|r| r as u64));
    a.new.extend((j..new.len()).map(|r| r as u64));
    Some(a)
}

/// See [`align`]: at most one row in `GIVE_UP` set aside, checked once `GIVE_UP_AFTER` rows
/// (both sides together) have been walked.
const GIVE_UP: usize = 8;
const GIVE_UP_AFTER: usize = 1 << 15;

fn first_repeat(names: &[String]) -> Option<&String> {
    names
        .iter()
        .enumerate()
        .find(|(i, n)| names[..*i].contains(n))
        .map(|(_, n)| n)
}

/// Every column of `names` exists on both sides with the same logical type.
fn check_columns(
    names: &[String],
    old: &Table,
    new: &Table,
    schema: &SchemaDiff,
    role: &str,
) -> Result<()> {
    for n in names {
        for (t, side) in [(old, Side::Old), (new, Side::New)] {
            if t.schema().index_of(n).is_err() {
                let mut available: Vec<&str> = t
                    .canonical_schema()
                    .columns
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect();
                available.truncate(20);
                return Err(Error::ColumnNotFound {
                    column: n.clone(),
                    message: format!(
                        "{role} column {n:?} is not in the {} table (columns: {})",
                        side.name(),
                        available.join(", ")
                    ),
                });
            }
        }
        if let Some((_, a, b)) = schema.type_changed.iter().find(|(c, _, _)| c == n) {
            return Err(Error::SchemaMismatch(format!(
                "{role} column {n:?} has type {a} in the old table and {b} in the new table"
            )));
        }
    }
    Ok(())
}

/// Local row numbers of a selection of ranges ↔ global row numbers.
struct RowMap {
    /// `(local start, global start)` of each range.
    starts: Vec<(u64, u64)>,
}

impl RowMap {
    fn new(ranges: &[Range<usize>]) -> Self {
        let mut acc = 0;
        let starts = ranges
            .iter()
            .map(|r| {
                let s = (acc, r.start as u64);
                acc += r.len() as u64;
                s
            })
            .collect();
        RowMap { starts }
    }

    fn to_global(&self, local: u64) -> u64 {
        let k = self.starts.partition_point(|s| s.0 <= local) - 1;
        let (l, g) = self.starts[k];
        g + local - l
    }

    fn global(&self, mut rows: Vec<u64>) -> Vec<u64> {
        if self.starts.len() > 1 || self.starts.first().is_some_and(|s| s.1 != 0) {
            rows.par_iter_mut().for_each(|r| *r = self.to_global(*r));
        }
        rows
    }
}

/// A key fingerprint and the row it came from.
#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    key: [u64; 2],
    row: u64,
}

/// Entries of all rows grouped by the top `bits` bits of `key[0]`, each group in row order, and
/// the group boundaries.
fn partition(keys: &[[u64; 2]], bits: u32) -> (Vec<Entry>, Vec<usize>) {
    let parts = 1usize << bits;
    let part = |k: &[u64; 2]| match bits {
        0 => 0,
        b => (k[0] >> (64 - b)) as usize,
    };
    let n = keys.len();
    let block = n.div_ceil(rayon::current_num_threads() * 4).max(1 << 14);
    let hists: Vec<Vec<usize>> = keys
        .par_chunks(block)
        .map(|c| {
            let mut h = vec![0usize; parts];
            for k in c {
                h[part(k)] += 1;
            }
            h
        })
        .collect();
    let mut offsets = vec![vec![0usize; parts]; hists.len()];
    let mut bounds = Vec::with_capacity(parts + 1);
    let mut acc = 0;
    for p in 0..parts {
        bounds.push(acc);
        for (b, h) in hists.iter().enumerate() {
            offsets[b][p] = acc;
            acc += h[p];
        }
    }
    bounds.push(acc);
    let mut out = vec![Entry::default(); n];
    let base = SharedMut(out.as_mut_ptr());
    keys.par_chunks(block)
        .zip(offsets)
        .enumerate()
        .for_each(|(b, (c, mut next))| {
            let base = &base;
            for (i, k) in c.iter().enumerate() {
                let p = part(k);
                // SAFETY: `offsets` gives every (block, partition) pair its own disjoint range of
                // `out` of exactly the size counted in `hists`, so each index is written once,
                // by one thread, and is in bounds.
                unsafe {
                    *base.0.add(next[p]) = Entry {
                        key: *k,
                        row: (b * block + i) as u64,
                    };
                }
                next[p] += 1;
            }
        });
    (out, bounds)
}

/// `known`, or else whether the primitive arrays `columns` hold no null and their values, one
/// after the other, strictly increase ([`crate::table::continues_increasing`]). An integer type
/// `T` is required either way.
fn known_or_increasing<'a, T: arrow_array::ArrowPrimitiveType>(
    known: bool,
    mut columns: impl Iterator<Item = &'a dyn arrow_array::Array>,
) -> bool
where
    T::Native: Into<i128> + PartialOrd,
{
    known
        || columns
            .try_fold(None, |last, a| {
                crate::table::continues_increasing::<T>(a, last)
            })
            .is_some()
}

/// How repeated keys between differing and identical rows are found (see [`diff_tables`]).
enum Probe<'a> {
    /// No key repeats on either side (or repeats are matched in order).
    None,
    /// By search in the side whose keys strictly increase.
    Sorted(Side, SortedKey<'a>),
    /// By hashing the key of every unpruned old row (and pruned new row).
    Hash,
}

/// A raw pointer shared by the threads of [`partition`], which write disjoint indices.
struct SharedMut(*mut Entry);
unsafe impl Sync for SharedMut {}

/// Partition bits giving groups of about 16K rows (an L2-sized hash table each).
fn partition_bits(rows: usize) -> u32 {
    let mut bits = 0;
    while bits < 14 && (rows >> bits) > 1 << 14 {
        bits += 1;
    }
    bits
}

const NONE: u32 = u32::MAX;

/// An open-addressing table of indices into a slice of entries, keyed by the entries' keys.
struct Slots {
    slots: Vec<u32>,
    mask: usize,
}

impl Slots {
    /// A table sized for `n` entries holding `entries`, the first entry of each key.
    fn of(entries: &[Entry], n: usize) -> Self {
        let mut t = Slots::new(n);
        for (i, e) in entries.iter().enumerate() {
            let s = t.find(&e.key, entries);
            if t.slots[s] == NONE {
                t.slots[s] = i as u32;
            }
        }
        t
    }

    fn new(n: usize) -> Self {
        let cap = (n * 2).next_power_of_two().max(16);
        Slots {
            slots: vec![NONE; cap],
            mask: cap - 1,
        }
    }

    /// The slot holding `key` (among `entries`) or the empty slot where it belongs.
    #[inline]
    fn find(&self, key: &[u64; 2], entries: &[Entry]) -> usize {
        // The low bits: the partition used the top ones.
        let mut s = (key[0] ^ key[1].rotate_left(32)) as usize & self.mask;
        loop {
            let e = self.slots[s];
            if e == NONE || entries[e as usize].key == *key {
                return s;
            }
            s = (s + 1) & self.mask;
        }
    }
}

/// The outcome of [`join`], in local row numbers.
#[derive(Default)]
struct Joined {
    matched: u64,
    /// Matched pairs `(old, new)` (when asked for), by ascending new row.
    pairs: Vec<(u64, u64)>,
    added: Vec<u64>,
    removed: Vec<u64>,
    /// A refused duplicate: side, the rows repeating a key, their number.
    duplicate: Option<(Side, Vec<u64>, u64)>,
}

/// Match rows of `old` and `new` by key fingerprint, partition by partition in parallel. With
/// `pairs`, the matched pairs are returned.
fn join(old: &[[u64; 2]], new: &[[u64; 2]], pairs: bool, dups: DuplicateKeys) -> Result<Joined> {
    if old.len() >= NONE as usize || new.len() >= NONE as usize {
        return Err(Error::InvalidArgument(
            "a diff is limited to 4,294,967,294 unpruned rows per side".into(),
        ));
    }
    let bits = partition_bits(old.len().max(new.len()));
    let ((oe, ob), (ne, nb)) = rayon::join(|| partition(old, bits), || partition(new, bits));
    let parts: Vec<Joined> = (0..1usize << bits)
        .into_par_iter()
        .map(|p| join_part(&oe[ob[p]..ob[p + 1]], &ne[nb[p]..nb[p + 1]], pairs, dups))
        .collect();
    let mut out = Joined::default();
    for p in parts {
        out.matched += p.matched;
        out.pairs.extend(p.pairs);
        out.added.extend(p.added);
        out.removed.extend(p.removed);
        if let Some((side, rows, count)) = p.duplicate {
            let d = out.duplicate.get_or_insert((side, Vec::new(), 0));
            if d.0 == side {
                d.1.extend(rows);
                d.2 += count;
            }
        }
    }
    if let Some(d) = &mut out.duplicate {
        d.1.sort_unstable();
    }
    rayon::join(
        || out.pairs.par_sort_unstable_by_key(|p| p.1),
        || {
            rayon::join(
                || out.added.par_sort_unstable(),
                || out.removed.par_sort_unstable(),
            )
        },
    );
    Ok(out)
}

fn join_part(old: &[Entry], new: &[Entry], pairs: bool, dups: DuplicateKeys) -> Joined {
    let mut j = Joined::default();
    let mut dup_rows: Vec<(Side, u64)> = Vec::new();
    let table = {
        let mut t = Slots::new(old.len());
        // Occurrences of one key are chained in row order: `head` of the slot, then `next`.
        let mut next = vec![NONE; old.len()];
        let mut tail = vec![NONE; old.len()];
        for (i, e) in old.iter().enumerate() {
            let s = t.find(&e.key, old);
            match t.slots[s] {
                NONE => {
                    t.slots[s] = i as u32;
                    tail[i] = i as u32;
                }
                h => {
                    if dups == DuplicateKeys::Error {
                        dup_rows.push((Side::Old, e.row));
                        continue;
                    }
                    let last = tail[h as usize] as usize;
                    next[last] = i as u32;
                    tail[h as usize] = i as u32;
                }
            }
        }
        (t, next)
    };
    let (t, next) = table;
    // `cursor[i]` for a head `i`: the next unmatched occurrence of its key (NONE when used up).
    let mut cursor: Vec<u32> = (0..old.len() as u32).collect();
    let mut used = vec![false; old.len()];
    let mut added_keys = Slots::new(0);
    let mut added_entries: Vec<Entry> = Vec::new();
    for e in new {
        let s = t.find(&e.key, old);
        let head = t.slots[s];
        let hit = match head {
            NONE => NONE,
            h => cursor[h as usize],
        };
        if hit == NONE {
            if dups == DuplicateKeys::Error {
                if head != NONE {
                    dup_rows.push((Side::New, e.row));
                    continue;
                }
                // Duplicates among added rows (a small table, grown on demand).
                if added_entries.len() * 2 >= added_keys.slots.len() {
                    added_keys = Slots::of(&added_entries, added_entries.len() * 2 + 8);
                }
                let s = added_keys.find(&e.key, &added_entries);
                if added_keys.slots[s] != NONE {
                    dup_rows.push((Side::New, e.row));
                    continue;
                }
                added_keys.slots[s] = added_entries.len() as u32;
                added_entries.push(*e);
            }
            j.added.push(e.row);
            continue;
        }
        let h = head as usize;
        let i = hit as usize;
        used[i] = true;
        cursor[h] = if dups == DuplicateKeys::Error {
            NONE
        } else {
            next[i]
        };
        j.matched += 1;
        if pairs {
            j.pairs.push((old[i].row, e.row));
        }
    }
    if let Some(&(side, _)) = dup_rows.first() {
        let rows: Vec<u64> = dup_rows
            .iter()
            .filter(|d| d.0 == side)
            .map(|d| d.1)
            .collect();
        let count = rows.len() as u64;
        j.duplicate = Some((side, rows, count));
        return j;
    }
    j.removed = old
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(e, _)| e.row)
        .collect();
    j
}

/// A row that differs (in `rest_old` / `rest_new`) whose key also belongs to a row identical in
/// both versions: an unpruned row of `old` outside `rest_old`, or a pruned row (`pruned` keys).
/// `ko` holds the keys of every unpruned old row, `kn` those of the `rest_new` rows. Returns the
/// side and local row of every differing row whose key repeats so.
fn probe_identical(
    ko: &[[u64; 2]],
    rest_old: &[u64],
    kn: &[[u64; 2]],
    rest_new: &[u64],
    pruned: &[[u64; 2]],
) -> Vec<(Side, u64)> {
    // The keys of the differing rows, in one small table behind a bit filter.
    let entries: Vec<Entry> = rest_old
        .iter()
        .map(|&r| ko[r as usize])
        .chain(kn.iter().copied())
        .enumerate()
        .map(|(i, k)| Entry {
            key: k,
            row: i as u64,
        })
        .collect();
    if entries.is_empty() {
        return Vec::new();
    }
    let t = Slots::of(&entries, entries.len());
    let filter_bits = (entries.len() * 16).next_power_of_two().max(1 << 12);
    let mut filter = vec![0u64; filter_bits / 64];
    let bit = |k: &[u64; 2]| (k[1] as usize) & (filter_bits - 1);
    for e in &entries {
        let b = bit(&e.key);
        filter[b / 64] |= 1 << (b % 64);
    }
    let mut differing = vec![false; ko.len()];
    for &r in rest_old {
        differing[r as usize] = true;
    }
    let identical_old = ko
        .par_iter()
        .zip(&differing)
        .filter(|(_, d)| !**d)
        .map(|(k, _)| k);
    let mut hits: Vec<usize> = identical_old
        .chain(pruned.par_iter())
        .filter(|k| {
            let b = bit(k);
            filter[b / 64] & (1 << (b % 64)) != 0
        })
        .filter_map(|k| match t.slots[t.find(k, &entries)] {
            NONE => None,
            i => Some(i as usize),
        })
        .collect();
    hits.sort_unstable();
    hits.dedup();
    hits.into_iter()
        .map(|i| match i < rest_old.len() {
            true => (Side::Old, rest_old[i]),
            false => (Side::New, rest_new[i - rest_old.len()]),
        })
        .collect()
}

/// One region where two hashes differ: a run of unmatched chunks on each side between chunks
/// matched in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunk {
    pub old: Range<u64>,
    pub new: Range<u64>,
    /// Indices (into the common columns) of columns that may differ in this hunk. When both
    /// sides cut the hunk into chunks of the same sizes, a column whose segment digests are all
    /// equal is certainly unchanged there; otherwise every common column is listed.
    pub columns: Vec<usize>,
}

/// A chunk with its per-column segment digests, ordered like the common columns.
#[derive(Debug, Clone)]
pub struct ChunkSegments {
    pub span: ChunkSpan,
    pub segments: Vec<Digest>,
}

/// The hunks where two ordered hashes differ: chunks are matched greedily in order (a new chunk
/// matches the first unmatched old chunk with its digest after the previous match), and each
/// run of unmatched chunks between matches is a hunk.
pub fn diff_chunks(old: &[ChunkSegments], new: &[ChunkSegments], ncols: usize) -> Vec<Hunk> {
    let mut positions: HashMap<Digest, Vec<usize>> = HashMap::new();
    for (i, c) in old.iter().enumerate() {
        positions.entry(c.span.digest).or_default().push(i);
    }
    let mut anchors: Vec<(usize, usize)> = Vec::new();
    let mut after = 0; // old chunks before `after` are used or skipped
    for (j, c) in new.iter().enumerate() {
        if let Some(v) = positions.get(&c.span.digest) {
            let k = v.partition_point(|&i| i < after);
            if let Some(&i) = v.get(k) {
                anchors.push((i, j));
                after = i + 1;
            }
        }
    }
    anchors.push((old.len(), new.len()));
    let mut hunks = Vec::new();
    let (mut oi, mut nj) = (0, 0);
    for (i, j) in anchors {
        if i > oi || j > nj {
            // Where an empty side of a hunk sits: the end of the chunk matched before it.
            let at = |c: &[ChunkSegments], k: usize| match k {
                0 => 0,
                k => c[k - 1].span.start + c[k - 1].span.num_rows,
            };
            hunks.push(hunk(
                &old[oi..i],
                &new[nj..j],
                (at(old, oi), at(new, nj)),
                ncols,
            ));
        }
        oi = i + 1;
        nj = j + 1;
    }
    hunks
}

fn hunk(old: &[ChunkSegments], new: &[ChunkSegments], at: (u64, u64), ncols: usize) -> Hunk {
    let range = |c: &[ChunkSegments], fallback: u64| match (c.first(), c.last()) {
        (Some(a), Some(b)) => a.span.start..b.span.start + b.span.num_rows,
        _ => fallback..fallback,
    };
    let same_cuts = old.len() == new.len()
        && old
            .iter()
            .zip(new)
            .all(|(a, b)| a.span.num_rows == b.span.num_rows);
    let columns = if same_cuts {
        (0..ncols)
            .filter(|&k| {
                old.iter()
                    .zip(new)
                    .any(|(a, b)| a.segments[k] != b.segments[k])
            })
            .collect()
    } else {
        (0..ncols).collect()
    };
    Hunk {
        old: range(old, at.0),
        new: range(new, at.1),
        columns,
    }
}
