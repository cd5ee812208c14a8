//! Binding table: a slab whose handles carry a generation, so slots are reused but handle
//! values never are (OQ-17).
//!
//! A hash map keyed by handle scatters bindings created one after another across memory; with
//! 10⁵ bindings every transition was a cache miss. Here consecutive bindings sit in consecutive
//! slots and a freed slot is reused first, so the working set stays small and a lookup is an
//! index plus a generation compare.

use std::vec::Vec;

/// Bits of a binding handle (above the two tag bits) that select the slot; the next ones count
/// generations, and the bits above [`PAYLOAD_BITS`] name the registrar (see `super`). 32-bit
/// targets get fewer of all; a slot whose generations run out is retired rather than reused.
const INDEX_BITS: u32 = if usize::BITS == 64 { 26 } else { 12 };
const GENERATION_BITS: u32 = if usize::BITS == 64 { 16 } else { 11 };
/// The bits of a handle, above its tag, that one registrar's handles use.
pub(super) const PAYLOAD_BITS: u32 = INDEX_BITS + GENERATION_BITS;
const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;
const MAX_GENERATION: usize = (1 << GENERATION_BITS) - 1;

struct Slot<T> {
    generation: usize,
    value: Option<T>,
}

pub(super) struct Slab<T> {
    slots: Vec<Slot<T>>,
    free: Vec<usize>,
    /// Added to every handle; a multiple of 4 so the low two bits stay free for the tag.
    base: usize,
    tag: usize,
}

impl<T> Slab<T> {
    pub(super) const fn new(base: usize, tag: usize) -> Self {
        Self { slots: Vec::new(), free: Vec::new(), base, tag }
    }

    fn encode(&self, index: usize, generation: usize) -> usize {
        // Cannot overflow: index and generation are bounded so that the sum stays below
        // `usize::MAX` for the base the registrar uses (checked in the tests below).
        self.base + ((((generation << INDEX_BITS) | index) << 2) | self.tag)
    }

    fn decode(&self, handle: usize) -> Option<(usize, usize)> {
        let v = handle.checked_sub(self.base)?;
        if v & 3 != self.tag || v >> (2 + PAYLOAD_BITS) != 0 {
            return None;
        }
        let v = v >> 2;
        Some((v & INDEX_MASK, v >> INDEX_BITS))
    }

    /// Stores `make(handle)` under a fresh handle; `None` when no slot or generation is left.
    pub(super) fn insert_with(&mut self, make: impl FnOnce(usize) -> T) -> Option<usize> {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                let i = self.slots.len();
                if i > INDEX_MASK {
                    return None;
                }
                self.slots.push(Slot { generation: 0, value: None });
                i
            }
        };
        let slot = &mut self.slots[index];
        slot.generation += 1;
        let handle = self.base + ((((slot.generation << INDEX_BITS) | index) << 2) | self.tag);
        slot.value = Some(make(handle));
        Some(handle)
    }

    pub(super) fn get(&self, handle: &usize) -> Option<&T> {
        let (index, generation) = self.decode(*handle)?;
        let slot = self.slots.get(index)?;
        if slot.generation == generation { slot.value.as_ref() } else { None }
    }

    pub(super) fn get_mut(&mut self, handle: &usize) -> Option<&mut T> {
        let (index, generation) = self.decode(*handle)?;
        let slot = self.slots.get_mut(index)?;
        if slot.generation == generation { slot.value.as_mut() } else { None }
    }

    pub(super) fn contains_key(&self, handle: &usize) -> bool {
        self.get(handle).is_some()
    }

    pub(super) fn remove(&mut self, handle: &usize) -> Option<T> {
        let (index, generation) = self.decode(*handle)?;
        let slot = self.slots.get_mut(index)?;
        if slot.generation != generation {
            return None;
        }
        let value = slot.value.take()?;
        if slot.generation < MAX_GENERATION {
            self.free.push(index);
        }
        Some(value)
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (usize, &T)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.value.as_ref().map(|v| (self.encode(i, s.generation), v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_never_reused_even_when_slots_are() {
        let mut slab = Slab::new(0x4E50_0000, 3);
        let a = slab.insert_with(|_| 'a').unwrap();
        assert_eq!(slab.remove(&a), Some('a'));
        let b = slab.insert_with(|_| 'b').unwrap();
        assert_ne!(a, b, "the slot is reused, the handle value is not");
        assert_eq!(slab.get(&a), None, "a stale handle finds nothing");
        assert_eq!(slab.get(&b), Some(&'b'));
        assert_eq!(b & 3, 3, "tag bits preserved");
    }

    #[test]
    fn foreign_values_decode_to_nothing() {
        let mut slab = Slab::new(0x4E50_0000, 3);
        let h = slab.insert_with(|h| h).unwrap();
        assert_eq!(slab.get(&h), Some(&h), "the value sees its own handle");
        let other_registrar = h + (1 << (2 + PAYLOAD_BITS));
        for bogus in [0, 1, 0x1234_5678, h - 1, h + 4, usize::MAX, h ^ (1 << 40), other_registrar] {
            assert_eq!(slab.get(&bogus), None, "{bogus:#x}");
            assert_eq!(slab.remove(&bogus), None, "{bogus:#x}");
        }
        assert_eq!(slab.iter().map(|(k, _)| k).collect::<Vec<_>>(), [h]);
    }

    #[test]
    fn largest_handle_fits() {
        let slab: Slab<()> = Slab::new(0x4E50_0000, 3);
        let max = (usize::MAX - 0x4E50_0000) >> 2;
        assert!((MAX_GENERATION << INDEX_BITS) | INDEX_MASK <= max);
        let largest = slab.encode(INDEX_MASK, MAX_GENERATION) - 0x4E50_0000;
        assert_eq!(largest >> (2 + PAYLOAD_BITS), 0, "the registrar id bits stay clear");
        assert_eq!(
            slab.decode(slab.encode(INDEX_MASK, MAX_GENERATION)),
            Some((INDEX_MASK, MAX_GENERATION))
        );
    }
}
