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

use crate::fingerprint::is_candidate;

/// A candidate occurs with probability 2^-13 per row.
pub const CANDIDATE_BITS: u32 = 13;
/// Candidates closer than this to the previous candidate are not boundaries.
pub const MIN_ROWS: usize = 2048;
/// No chunk is longer than this.
pub const MAX_ROWS: usize = 65536;

/// Indices of the candidate rows, ascending.
pub fn candidates(lo: &[u64]) -> Vec<usize> {
    lo.iter()
        .enumerate()
        .filter(|(_, &x)| is_candidate(x))
        .map(|(i, _)| i)
        .collect()
}

/// The rule of §7: candidate `c` is a content boundary iff the previous candidate (if any) lies at
/// least [`MIN_ROWS`] rows before it.
#[inline]
pub fn is_boundary(c: u64, previous: Option<u64>) -> bool {
    previous.is_none_or(|p| c - p >= MIN_ROWS as u64)
}

/// The decision a worker can take alone on candidate `c` of its partition (rows numbered from the
/// partition's start), given the previous candidate *inside* the partition (docs/hash-spec.md
/// §11): known when that candidate exists or when the whole look-back window lies inside the
/// partition, `None` (decided at the seam) otherwise — only ever for the partition's first
/// candidate, when it lies in the first `MIN_ROWS - 1` rows.
pub fn local_decision(c: u64, previous_in_partition: Option<u64>) -> Option<bool> {
    match previous_in_partition {
        Some(_) => Some(is_boundary(c, previous_in_partition)),
        None if c + 1 >= MIN_ROWS as u64 => Some(true),
        None => None,
    }
}

/// Incremental chunk boundaries: feed the candidates of consecutive row ranges, receive every chunk
/// end as soon as it is final. The state is three integers, so chunking can run over a stream.
#[derive(Debug, Clone, Default)]
pub struct Chunker {
    /// Last candidate seen (global row index).
    last_candidate: Option<u64>,
    /// Start of the open chunk.
    chunk_start: u64,
    /// Rows pushed so far.
    rows: u64,
}

impl Chunker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Rows pushed so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Start of the chunk that is still open.
    pub fn open_chunk_start(&self) -> u64 {
        self.chunk_start
    }

    fn end_at(&mut self, e: u64, ends: &mut Vec<u64>) {
        while e - self.chunk_start > MAX_ROWS as u64 {
            self.chunk_start += MAX_ROWS as u64;
            ends.push(self.chunk_start);
        }
        ends.push(e);
        self.chunk_start = e;
    }

    /// Push the next `n` rows, whose candidates (global row indices, ascending) are given; append
    /// the chunk ends that became final to `ends`.
    pub fn push(&mut self, candidates: impl IntoIterator<Item = u64>, n: u64, ends: &mut Vec<u64>) {
        for c in candidates {
            debug_assert!(c >= self.rows && c < self.rows + n);
            if is_boundary(c, self.last_candidate) {
                self.end_at(c + 1, ends);
            }
            self.last_candidate = Some(c);
        }
        self.rows += n;
        // A run that already holds MAX_ROWS rows is cut whatever comes next.
        while self.rows - self.chunk_start >= MAX_ROWS as u64 && self.rows > self.chunk_start {
            self.chunk_start += MAX_ROWS as u64;
            ends.push(self.chunk_start);
        }
    }

    /// Continue after rows that were chunked elsewhere (a worker's interior chunks when merging
    /// partitions, docs/hash-spec.md §11): rows up to `end` are done and row `end - 1` is a
    /// content boundary. The open chunk must be empty. `end` may be the rows pushed so far (a
    /// partition with one decided boundary has no interior chunk to skip).
    pub fn skip_to_boundary(&mut self, end: u64) {
        debug_assert!(self.chunk_start == self.rows && end >= self.rows && end > 0);
        self.rows = end;
        self.chunk_start = end;
        self.last_candidate = Some(end - 1);
    }

    /// Record a candidate already pushed as a row (`c < rows`) that the caller knows is not a
    /// content boundary (a worker decided it with its whole look-back window in view): it only
    /// counts as the previous candidate of the rows to come.
    pub fn note_candidate(&mut self, c: u64) {
        debug_assert!(c < self.rows);
        if self.last_candidate.is_none_or(|p| c > p) {
            self.last_candidate = Some(c);
        }
    }

    /// No more rows: close the open chunk.
    pub fn finish(&mut self, ends: &mut Vec<u64>) {
        if self.rows > self.chunk_start {
            ends.push(self.rows);
            self.chunk_start = self.rows;
        }
    }
}

/// All chunk ends (exclusive, ascending, last = `lo.len()`) of a table whose rows have the
/// fingerprint `lo` lanes given.
pub fn chunk_ends(lo: &[u64]) -> Vec<usize> {
    let mut c = Chunker::new();
    let mut ends = Vec::new();
    c.push(
        candidates(lo).into_iter().map(|i| i as u64),
        lo.len() as u64,
        &mut ends,
    );
    c.finish(&mut ends);
    ends.into_iter().map(|e| e as usize).collect()
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
        assert_eq!(
            chunk_ends(&lo),
            vec![101, 100 + 2 * MIN_ROWS - 1 + 1, 10_000]
        );
    }

    #[test]
    fn long_runs_are_cut_at_max() {
        let lo = vec![NOPE; 2 * MAX_ROWS + 5];
        assert_eq!(
            chunk_ends(&lo),
            vec![MAX_ROWS, 2 * MAX_ROWS, 2 * MAX_ROWS + 5]
        );
        let lo = vec![CAND; 3 * MAX_ROWS];
        // Every row is a candidate: only row 0 is a content boundary, the rest is cut at max.
        assert_eq!(
            chunk_ends(&lo),
            vec![1, 1 + MAX_ROWS, 1 + 2 * MAX_ROWS, 3 * MAX_ROWS]
        );
    }

    #[test]
    fn streaming_matches_whole_table_for_any_split() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let lo: Vec<u64> = (0..400_000)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // A long candidate-free stretch and a dense stretch exercise both rules.
                if (100_000..250_000).contains(&i) {
                    x | (1 << 63)
                } else if (300_000..301_000).contains(&i) {
                    0
                } else {
                    x
                }
            })
            .collect();
        let whole = chunk_ends(&lo);
        for step in [1usize, 7, 1000, 65_536, 65_537, 400_000] {
            let mut c = Chunker::new();
            let mut ends = Vec::new();
            for start in (0..lo.len()).step_by(step) {
                let end = (start + step).min(lo.len());
                let cands = (start..end)
                    .filter(|&i| is_candidate(lo[i]))
                    .map(|i| i as u64);
                c.push(cands, (end - start) as u64, &mut ends);
            }
            c.finish(&mut ends);
            let ends: Vec<usize> = ends.into_iter().map(|e| e as usize).collect();
            assert_eq!(ends, whole, "step {step}");
        }
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
