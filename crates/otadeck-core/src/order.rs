//! Stable sorting through one instantiation of the standard library's sort.
//!
//! Each `sort_by_key` on another element type or with another closure compiles the whole
//! standard sort again (about 4 KB of wasm each). The lists sorted here are short (partitions,
//! slots, attempts, keys), so they are sorted through [`order`]: the standard stable sort of
//! indices with a comparator behind `dyn`, compiled once for the whole app, then the list is
//! rearranged in that order.

use std::cmp::Ordering;

/// The stable order of `n` items under `compare` (by index): the standard `sort_by`, compiled
/// once.
pub fn order(n: usize, compare: &mut dyn FnMut(usize, usize) -> Ordering) -> Vec<usize> {
    let mut indices: Vec<usize> = (0..n).collect();
    indices.sort_by(|&a, &b| compare(a, b));
    indices
}

/// Sort `items` stably by `key` (as `slice::sort_by_key` does).
pub fn sort_by_key<T, K: Ord>(items: &mut Vec<T>, mut key: impl FnMut(&T) -> K) {
    sort_by(items, |a, b| key(a).cmp(&key(b)));
}

/// Sort `items` stably in their natural order (as `slice::sort` does).
pub fn sort<T: Ord>(items: &mut Vec<T>) {
    sort_by(items, T::cmp);
}

/// Sort `items` stably by `compare` (as `slice::sort_by` does).
pub fn sort_by<T>(items: &mut Vec<T>, mut compare: impl FnMut(&T, &T) -> Ordering) {
    let ranks = order(items.len(), &mut |a, b| compare(&items[a], &items[b]));
    let mut slots: Vec<Option<T>> = items.drain(..).map(Some).collect();
    items.extend(ranks.into_iter().filter_map(|i| slots[i].take()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_by_key_and_keeps_equal_items_in_their_order() {
        let mut v = vec![(3, 'a'), (1, 'b'), (3, 'c'), (2, 'd'), (1, 'e')];
        sort_by_key(&mut v, |x| x.0);
        assert_eq!(v, vec![(1, 'b'), (1, 'e'), (2, 'd'), (3, 'a'), (3, 'c')]);
    }

    #[test]
    fn sorts_like_the_standard_sort() {
        let mut seed = 0x2545_f491_u32;
        let mut v: Vec<u32> = (0..500)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                seed % 97
            })
            .collect();
        let mut expected = v.clone();
        expected.sort();
        sort(&mut v);
        assert_eq!(v, expected);
        let mut empty: Vec<u8> = Vec::new();
        sort(&mut empty);
        assert!(empty.is_empty());
    }

    #[test]
    fn sorts_by_a_comparator() {
        let mut v = vec!["ota_1", "factory", "ota_0"];
        sort_by(&mut v, |a, b| b.cmp(a));
        assert_eq!(v, vec!["ota_1", "ota_0", "factory"]);
    }
}
