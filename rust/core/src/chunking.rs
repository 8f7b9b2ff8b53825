//! Step 4 of the data flow: content-defined chunk boundaries from row fingerprints
//! (docs/hash-spec.md §7).
//!
//! * Row `i` is a **candidate** when the top [`CANDIDATE_BITS`] bits of its fingerprint's `lo`
//!   lane are zero.
//! * A candidate `i` is a **content boundary** (a chunk ends after row `i`) when no other candidate
//!   lies in the [`MIN_ROWS`]` - 1` rows before it. The rule looks back a bounded window only, so
//!   a worker that sees those rows decides every boundary of its partition alone.
//! * A run between consecutive content boundaries (or the table's ends) longer than [`MAX_ROWS`]
//!   is cut every [`MAX_ROWS`] rows, counted from the start of the run.

use rayon::prelude::*;

use crate::fingerprint::is_candidate;

/// A candidate occurs with probability 2^-13 per row.
pub const CANDIDATE_BITS: u32 = 13;
/// Candidates closer than this to the previous candidate are not boundaries.
pub const MIN_ROWS: usize = 2048;
/// No chunk is longer than this.
pub const MAX_ROWS: usize = 65536;

/// Indices of the candidate rows, ascending.
pub fn candidates(lo: &[u64]) -> Vec<usize> {
    const BLOCK: usize = 1 << 16;
    lo.par_chunks(BLOCK)
        .enumerate()
        .flat_map_iter(|(b, block)| {
            block
                .iter()
                .enumerate()
                .filter(|(_, &x)| is_candidate(x))
                .map(move |(j, _)| b * BLOCK + j)
        })
        .collect()
}

/// Content boundaries (as exclusive chunk ends) among `candidates` (ascending row indices).
/// `prior` is the last candidate before the first row, if any lies within the window.
pub fn content_ends(candidates: &[usize], prior: Option<i64>) -> Vec<usize> {
    let mut ends = Vec::with_capacity(candidates.len());
    let mut prev: Option<i64> = prior;
    for &c in candidates {
        let ci = c as i64;
        if prev.is_none_or(|p| ci - p >= MIN_ROWS as i64) {
            ends.push(c + 1);
        }
        prev = Some(ci);
    }
    ends
}

/// Cut runs longer than [`MAX_ROWS`]: returns all chunk ends of a table of `n` rows, given its
/// content boundaries (exclusive ends, ascending, each `<= n`).
pub fn with_forced_cuts(content: &[usize], n: usize) -> Vec<usize> {
    let mut ends = Vec::with_capacity(content.len() + 1);
    let mut start = 0usize;
    for &e in content.iter().chain(std::iter::once(&n)) {
        if e <= start {
            continue;
        }
        while e - start > MAX_ROWS {
            start += MAX_ROWS;
            ends.push(start);
        }
        ends.push(e);
        start = e;
    }
    ends
}

/// All chunk ends (exclusive, ascending, last = `lo.len()`) of a table whose rows have the
/// fingerprint `lo` lanes given.
pub fn chunk_ends(lo: &[u64]) -> Vec<usize> {
    with_forced_cuts(&content_ends(&candidates(lo), None), lo.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAND: u64 = 1; // top bits zero
    const NOPE: u64 = u64::MAX;

    #[test]
    fn empty_table_has_no_chunks() {
        assert!(chunk_ends(&[]).is_empty());
    }

    #[test]
    fn candidates_too_close_are_skipped() {
        let mut lo = vec![NOPE; 10_000];
        lo[100] = CAND;
        lo[100 + MIN_ROWS - 1] = CAND; // too close to 100
        lo[100 + MIN_ROWS - 1 + MIN_ROWS] = CAND; // far enough from the previous *candidate*
        assert_eq!(chunk_ends(&lo), vec![101, 100 + 2 * MIN_ROWS - 1 + 1, 10_000]);
    }

    #[test]
    fn long_runs_are_cut_at_max() {
        let lo = vec![NOPE; 2 * MAX_ROWS + 5];
        assert_eq!(chunk_ends(&lo), vec![MAX_ROWS, 2 * MAX_ROWS, 2 * MAX_ROWS + 5]);
        let lo = vec![CAND; 3 * MAX_ROWS];
        // Every row is a candidate: only row 0 is a content boundary, the rest is cut at max.
        assert_eq!(chunk_ends(&lo), vec![1, 1 + MAX_ROWS, 1 + 2 * MAX_ROWS, 3 * MAX_ROWS]);
    }

    #[test]
    fn chunk_sizes_are_bounded() {
        let mut x = 0x1234_5678_9abc_def0u64;
        let lo: Vec<u64> = (0..1_000_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x
            })
            .collect();
        let ends = chunk_ends(&lo);
        let mut start = 0;
        for (k, &e) in ends.iter().enumerate() {
            assert!(e - start <= MAX_ROWS);
            if k > 0 && k + 1 < ends.len() {
                assert!(e - start >= 1);
            }
            start = e;
        }
        assert_eq!(start, lo.len());
        // About one chunk per 10k rows.
        assert!(ends.len() > 50 && ends.len() < 200, "{}", ends.len());
    }
}
