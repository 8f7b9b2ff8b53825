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
    fn shape_matches_rfc6962_recursion() {
        let d: Vec<Digest> = (0u8..7).map(|i| [i; 32]).collect();
        let l: Vec<Digest> = d.iter().map(|x| leaf_hash(x)).collect();
        let left = node_hash(&node_hash(&l[0], &l[1]), &node_hash(&l[2], &l[3]));
        let right = node_hash(&node_hash(&l[4], &l[5]), &l[6]);
        assert_eq!(tree_hash(&d), node_hash(&left, &right));
        assert_eq!(tree_hash::<Digest>(&[]), empty_tree());
    }
}
