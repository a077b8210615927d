//! Keys as bytes whose order is the key order, for backends that sort plain bytes
//! (PostgreSQL's `bytea`). redb's own key encoding does not sort bytewise (integers are
//! little endian, tuples carry length prefixes), so the PostgreSQL tables use this one.
//!
//! Integers are big endian; a tuple is its parts one after the other, which keeps the order
//! because every part but the last has a fixed width.

use redb::Key;

/// A key type with an order-preserving byte encoding.
pub trait OrderedKey: Key + 'static {
    /// Appends the encoding of `value` to `out`.
    fn put(value: &Self::SelfType<'_>, out: &mut Vec<u8>);

    /// Reads a value back from exactly `bytes`; `None` when they are not one.
    fn take(bytes: &[u8]) -> Option<Self::SelfType<'_>>;

    fn encode(value: &Self::SelfType<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        Self::put(value, &mut out);
        out
    }
}

/// A key part of one width, which may stand before another part in a tuple.
pub trait FixedKey: OrderedKey {
    const WIDTH: usize;
}

impl OrderedKey for &'static str {
    fn put(value: &&str, out: &mut Vec<u8>) {
        out.extend_from_slice(value.as_bytes());
    }

    fn take(bytes: &[u8]) -> Option<&str> {
        std::str::from_utf8(bytes).ok()
    }
}

impl OrderedKey for &'static [u8] {
    fn put(value: &&[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(value);
    }

    fn take(bytes: &[u8]) -> Option<&[u8]> {
        Some(bytes)
    }
}

impl<const N: usize> OrderedKey for [u8; N] {
    fn put(value: &[u8; N], out: &mut Vec<u8>) {
        out.extend_from_slice(value);
    }

    fn take(bytes: &[u8]) -> Option<[u8; N]> {
        bytes.try_into().ok()
    }
}

impl<const N: usize> FixedKey for [u8; N] {
    const WIDTH: usize = N;
}

impl OrderedKey for u64 {
    fn put(value: &u64, out: &mut Vec<u8>) {
        out.extend_from_slice(&value.to_be_bytes());
    }

    fn take(bytes: &[u8]) -> Option<u64> {
        Some(u64::from_be_bytes(bytes.try_into().ok()?))
    }
}

impl FixedKey for u64 {
    const WIDTH: usize = 8;
}

impl OrderedKey for u8 {
    fn put(value: &u8, out: &mut Vec<u8>) {
        out.push(*value);
    }

    fn take(bytes: &[u8]) -> Option<u8> {
        match bytes {
            [byte] => Some(*byte),
            _ => None,
        }
    }
}

impl FixedKey for u8 {
    const WIDTH: usize = 1;
}

impl<A: FixedKey, B: OrderedKey> OrderedKey for (A, B) {
    fn put(value: &(A::SelfType<'_>, B::SelfType<'_>), out: &mut Vec<u8>) {
        A::put(&value.0, out);
        B::put(&value.1, out);
    }

    fn take(bytes: &[u8]) -> Option<(A::SelfType<'_>, B::SelfType<'_>)> {
        let (first, second) = bytes.split_at_checked(A::WIDTH)?;
        Some((A::take(first)?, B::take(second)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted_by_encoding<K: OrderedKey>(values: &[K::SelfType<'_>]) -> Vec<Vec<u8>> {
        let mut encoded: Vec<Vec<u8>> = values.iter().map(|v| K::encode(v)).collect();
        encoded.sort();
        encoded
    }

    #[test]
    fn integers_sort_as_numbers() {
        let values = [0u64, 1, 255, 256, 1 << 40, u64::MAX];
        let encoded = sorted_by_encoding::<u64>(&values);
        let decoded: Vec<u64> = encoded.iter().map(|b| u64::take(b).unwrap()).collect();
        assert_eq!(decoded, values);
    }

    #[test]
    fn tuples_sort_by_their_first_part_then_their_second() {
        type K = ([u8; 2], &'static str);
        let values = [
            ([0, 1], ""),
            ([0, 1], "a"),
            ([0, 1], "ab"),
            ([0, 1], "b"),
            ([0, 2], ""),
            ([1, 0], "a"),
        ];
        let encoded = sorted_by_encoding::<K>(&values);
        let decoded: Vec<([u8; 2], &str)> = encoded.iter().map(|b| K::take(b).unwrap()).collect();
        assert_eq!(decoded, values);
    }

    #[test]
    fn bytes_that_are_not_a_key_are_refused() {
        assert!(u64::take(&[1, 2, 3]).is_none());
        assert!(<&str>::take(&[0xff, 0xfe]).is_none());
        assert!(<([u8; 16], u64)>::take(&[0; 10]).is_none());
    }
}
