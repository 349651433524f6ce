//! A set of u64 as disjoint inclusive ranges (the receiver's SEQUENCE_SET).
//! Memory is proportional to the number of gaps, never to the values, so a
//! sequence number near 2^64 costs one range.

use std::collections::BTreeMap;
use std::ops::Bound;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeSet {
    /// start -> end (inclusive), disjoint and non-adjacent.
    ranges: BTreeMap<u64, u64>,
}

impl RangeSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Number of disjoint ranges.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    pub fn contains(&self, v: u64) -> bool {
        self.ranges
            .range(..=v)
            .next_back()
            .is_some_and(|(_, &e)| v <= e)
    }

    /// How many new ranges inserting `from..=to` would create (0 or 1).
    pub fn would_add_range(&self, from: u64, to: u64) -> bool {
        let before = self.ranges.range(..=from).next_back();
        let touches_before = before.is_some_and(|(_, &e)| e >= from.saturating_sub(1));
        let after = self
            .ranges
            .range((Bound::Excluded(from), Bound::Unbounded))
            .next()
            .is_some_and(|(&s, _)| s <= to.saturating_add(1));
        !(touches_before || after)
    }

    /// Inserts `from..=to`, merging with neighbours.
    pub fn insert(&mut self, from: u64, to: u64) {
        debug_assert!(from <= to);
        let mut start = from;
        let mut end = to;
        if let Some((&s, &e)) = self.ranges.range(..=from).next_back()
            && e >= from.saturating_sub(1)
        {
            start = s;
            end = end.max(e);
            self.ranges.remove(&s);
        }
        loop {
            let next = self
                .ranges
                .range((Bound::Included(start), Bound::Unbounded))
                .next()
                .map(|(&s, &e)| (s, e));
            match next {
                Some((s, e)) if s <= end.saturating_add(1) => {
                    end = end.max(e);
                    self.ranges.remove(&s);
                }
                _ => break,
            }
        }
        self.ranges.insert(start, end);
    }

    /// The end of the range that starts at 0, if any (the CSN of §3.6.3.3).
    pub fn contiguous_from_zero(&self) -> Option<u64> {
        self.ranges.get(&0).copied()
    }

    /// The highest value in the set.
    pub fn max(&self) -> Option<u64> {
        self.ranges.values().next_back().copied()
    }

    /// True if the set is not exactly `0..=max`.
    pub fn has_gaps(&self) -> bool {
        match self.ranges.len() {
            0 => false,
            1 => !self.ranges.contains_key(&0),
            _ => true,
        }
    }

    /// The ranges in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.ranges.iter().map(|(&s, &e)| (s, e))
    }

    /// Whether every value of `from..=to` is present.
    pub fn covers(&self, from: u64, to: u64) -> bool {
        self.ranges
            .range(..=from)
            .next_back()
            .is_some_and(|(_, &e)| e >= to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_and_query() {
        let mut s = RangeSet::new();
        s.insert(0, 3);
        s.insert(5, 6);
        assert_eq!(s.contiguous_from_zero(), Some(3));
        assert!(s.has_gaps());
        assert!(s.would_add_range(8, 9));
        assert!(!s.would_add_range(7, 7));
        s.insert(4, 4);
        assert_eq!(s.iter().collect::<Vec<_>>(), [(0, 6)]);
        assert!(!s.has_gaps());
        s.insert(u64::MAX - 1, u64::MAX);
        assert_eq!(s.len(), 2);
        assert!(s.contains(u64::MAX));
        assert!(!s.contains(7));
        s.insert(2, 100);
        assert_eq!(s.iter().next(), Some((0, 100)));
        assert!(s.covers(10, 20));
        assert!(!s.covers(90, 101));
    }
}
