//! Step 5 of the data flow: the RFC 6962 Merkle tree over chunk digests, and the root.
//!
//! `MTH({})` is `H_merkle()` (empty input), a leaf is `H_merkle(0x00 ‖ d)`, a node is
//! `H_merkle(0x01 ‖ left ‖ right)`, and a tree of n > 1 leaves splits at the largest power of two
//! smaller than n. An odd node is never duplicated.

use rayon::prelude::*;

use crate::hashing::{Ctx, Digest};

/// Leaf hash of one leaf datum.
pub fn leaf_hash(data: &[u8]) -> Digest {
    let mut h = Ctx::Merkle.hasher();
    h.update(&[0x00]);
    h.update(data);
    h.finalize().into()
}

/// Interior node hash.
pub fn node_hash(left: &Digest, right: &Digest) -> Digest {
    let mut h = Ctx::Merkle.hasher();
    h.update(&[0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Hash of the empty tree.
pub fn empty_tree() -> Digest {
    Ctx::Merkle.hasher().finalize().into()
}

/// Largest power of two strictly smaller than `n` (n >= 2).
fn split_point(n: usize) -> usize {
    debug_assert!(n >= 2);
    1usize << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// `MTH` over already leaf-hashed values.
pub fn tree_hash_of_leaves(leaves: &[Digest]) -> Digest {
    match leaves.len() {
        0 => empty_tree(),
        1 => leaves[0],
        n => {
            let k = split_point(n);
            let (l, r) = if n > 4096 {
                rayon::join(
                    || tree_hash_of_leaves(&leaves[..k]),
                    || tree_hash_of_leaves(&leaves[k..]),
                )
            } else {
                (
                    tree_hash_of_leaves(&leaves[..k]),
                    tree_hash_of_leaves(&leaves[k..]),
                )
            };
            node_hash(&l, &r)
        }
    }
}

/// `MTH` over leaf data items (each is leaf-hashed first).
pub fn tree_hash<T: AsRef<[u8]> + Sync>(items: &[T]) -> Digest {
    let leaves: Vec<Digest> = items.par_iter().map(|d| leaf_hash(d.as_ref())).collect();
    tree_hash_of_leaves(&leaves)
}

/// The aligned blocks `(first leaf, level)` that cover leaves `[first, first + count)`: each block
/// is a perfect subtree of `2^level` leaves starting at a multiple of `2^level`, the largest such
/// block at each step (the "compact range" of docs/hash-spec.md §11; at most 2·64 blocks).
pub fn compact_blocks(first: u64, count: u64) -> Vec<(u64, u32)> {
    let mut out = Vec::new();
    let (mut a, end) = (first, first + count);
    while a < end {
        let fits = 63 - (end - a).leading_zeros();
        let level = if a == 0 {
            fits
        } else {
            fits.min(a.trailing_zeros())
        };
        out.push((a, level));
        a += 1 << level;
    }
    out
}

/// The compact range of already leaf-hashed `leaves` placed at global leaf index `first`: the
/// subtree hash of every block of [`compact_blocks`], left to right.
pub fn compact_range(first: u64, leaves: &[Digest]) -> Vec<Digest> {
    compact_blocks(first, leaves.len() as u64)
        .into_iter()
        .map(|(a, level)| {
            let s = (a - first) as usize;
            tree_hash_of_leaves(&leaves[s..s + (1usize << level)])
        })
        .collect()
}

/// `MTH` built left to right from leaves and aligned perfect subtrees (compact ranges): the
/// state is the perfect subtrees ("peaks") of the binary decomposition of the leaves pushed so
/// far, so it holds at most 64 digests whatever the tree's size.
#[derive(Debug, Clone, Default)]
pub struct Frontier {
    peaks: Vec<(u32, Digest)>,
    size: u64,
}

impl Frontier {
    pub fn new() -> Self {
        Self::default()
    }

    /// Leaves pushed so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Append one leaf hash ([`leaf_hash`] of the datum).
    pub fn push_leaf(&mut self, leaf: Digest) {
        self.push_subtree(0, leaf);
    }

    /// Append a perfect subtree of `2^level` leaves; it must start at a multiple of its size
    /// (`size() % 2^level == 0`), as every block of [`compact_blocks`] placed at `size()` does.
    pub fn push_subtree(&mut self, level: u32, hash: Digest) {
        debug_assert!(self.size.is_multiple_of(1u64 << level), "unaligned subtree");
        self.size += 1 << level;
        let mut node = (level, hash);
        while let Some(&(l, left)) = self.peaks.last() {
            if l != node.0 {
                break;
            }
            self.peaks.pop();
            node = (l + 1, node_hash(&left, &node.1));
        }
        self.peaks.push(node);
    }

    /// `MTH` of every leaf pushed: the peaks folded from the right.
    pub fn root(&self) -> Digest {
        let mut peaks = self.peaks.iter().rev();
        match peaks.next() {
            None => empty_tree(),
            Some(&(_, last)) => peaks.fold(last, |acc, (_, left)| node_hash(left, &acc)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_largest_power_of_two_below() {
        assert_eq!(split_point(2), 1);
        assert_eq!(split_point(3), 2);
        assert_eq!(split_point(4), 2);
        assert_eq!(split_point(5), 4);
        assert_eq!(split_point(8), 4);
        assert_eq!(split_point(9), 8);
    }

    #[test]
    fn odd_node_is_not_duplicated() {
        // CVE-2012-2459: [a,b,c] must differ from [a,b,c,c].
        let d: Vec<Digest> = (0u8..3).map(|i| [i; 32]).collect();
        let mut d4 = d.clone();
        d4.push(d[2]);
        assert_ne!(tree_hash(&d), tree_hash(&d4));
    }

    #[test]
    fn node_cannot_pose_as_leaf() {
        let a = [1u8; 32];
        let b = [2u8; 32];
        let two = tree_hash(&[a, b]);
        let la = leaf_hash(&a);
        let lb = leaf_hash(&b);
        let mut cat = Vec::new();
        cat.extend_from_slice(&la);
        cat.extend_from_slice(&lb);
        assert_ne!(two, tree_hash(&[cat]));
    }

    #[test]
    fn frontier_of_compact_ranges_is_the_tree_hash() {
        let leaves: Vec<Digest> = (0u32..70).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        for m in 0..leaves.len() {
            let whole = tree_hash_of_leaves(&leaves[..m]);
            // Leaf by leaf.
            let mut f = Frontier::new();
            leaves[..m].iter().for_each(|l| f.push_leaf(*l));
            assert_eq!(f.root(), whole, "{m} leaves");
            // Split at every point into two compact ranges.
            for cut in 0..=m {
                let mut f = Frontier::new();
                for (first, part) in [(0, &leaves[..cut]), (cut, &leaves[cut..m])] {
                    let blocks = compact_blocks(first as u64, part.len() as u64);
                    let hashes = compact_range(first as u64, part);
                    assert!(blocks.len() <= 2 * 7);
                    for ((_, level), h) in blocks.into_iter().zip(hashes) {
                        f.push_subtree(level, h);
                    }
                }
                assert_eq!(f.root(), whole, "{m} leaves cut at {cut}");
            }
        }
    }

    #[test]
    fn shape_matches_rfc6962_recursion() {
        let d: Vec<Digest> = (0u8..7).map(|i| [i; 32]).collect();
        let l: Vec<Digest> = d.iter().map(|x| leaf_hash(x)).collect();
        let left = node_hash(&node_hash(&l[0], &l[1]), &node_hash(&l[2], &l[3]));
        let right = node_hash(&node_hash(&l[4], &l[5]), &l[6]);
        assert_eq!(tree_hash(&d), node_hash(&left, &right));
        assert_eq!(tree_hash::<Digest>(&[]), empty_tree());
    }
}
