//! The Windows base types and status values the NMR's functions are written in: `NTSTATUS`,
//! `HANDLE`, `GUID`, `LUID`, the `STATUS_…` values the contract uses and `NT_SUCCESS`.
//!
//! Every binding of the Windows headers defines these too (windows-drivers-rs' `wdk_sys`,
//! `windows-sys`), so they live apart from the NMR's own names in [`super::nmr`]: a driver that
//! glob-imports `wdk_sys::*` glob-imports `npi_runtime::sys::nmr::*` beside it without a single
//! name in common. `NTSTATUS` and `HANDLE` are the same types as theirs (aliases of `i32` and
//! `*mut c_void`); `GUID` and `LUID` are layout-identical structs of their own, converted
//! field by field (`data1`..`data4` are `Data1`..`Data4`).
#![allow(non_camel_case_types, non_snake_case)]

use core::ffi::c_void;
use core::fmt;

/// `NTSTATUS`: negative values are errors (`NT_SUCCESS(s)` is `s >= 0`).
pub type NTSTATUS = i32;
/// `HANDLE`: an opaque, pointer-sized value.
pub type HANDLE = *mut c_void;

/// `GUID` as laid out by `guiddef.h`: 16 bytes, alignment 4.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct GUID {
    /// First 32 bits, stored in native (little-endian on Windows) order.
    pub data1: u32,
    /// Next 16 bits.
    pub data2: u16,
    /// Next 16 bits.
    pub data3: u16,
    /// Last 64 bits, stored as bytes in string order.
    pub data4: [u8; 8],
}

impl GUID {
    /// The GUID whose registry form is the 128-bit number `value`, most significant digit first:
    /// `GUID::from_u128(0x2227E803_8D8B_11D4_ABAD_009027719E09)` is
    /// `{2227E803-8D8B-11D4-ABAD-009027719E09}`.
    #[must_use]
    #[allow(clippy::cast_possible_truncation)] // each field takes exactly its own bits
    pub const fn from_u128(value: u128) -> Self {
        let d4 = (value as u64).to_be_bytes();
        Self {
            data1: (value >> 96) as u32,
            data2: (value >> 80) as u16,
            data3: (value >> 64) as u16,
            data4: d4,
        }
    }

    /// The inverse of [`GUID::from_u128`].
    #[must_use]
    pub const fn to_u128(&self) -> u128 {
        ((self.data1 as u128) << 96)
            | ((self.data2 as u128) << 80)
            | ((self.data3 as u128) << 64)
            | u64::from_be_bytes(self.data4) as u128
    }

    /// The GUID whose 16 bytes in memory are `bytes`: the Windows layout, `data1`..`data3`
    /// little-endian, then `data4` (what a registry `REG_BINARY` value, a file format or a
    /// packet carries; `uuid::Uuid::from_bytes_le` reads the same order).
    #[must_use]
    pub const fn from_bytes_le(bytes: [u8; 16]) -> Self {
        let b = bytes;
        Self {
            data1: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            data2: u16::from_le_bytes([b[4], b[5]]),
            data3: u16::from_le_bytes([b[6], b[7]]),
            data4: [b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]],
        }
    }

    /// The inverse of [`GUID::from_bytes_le`]: the GUID's bytes as Windows lays them out.
    #[must_use]
    pub const fn to_bytes_le(&self) -> [u8; 16] {
        let [a0, a1, a2, a3] = self.data1.to_le_bytes();
        let [b0, b1] = self.data2.to_le_bytes();
        let [c0, c1] = self.data3.to_le_bytes();
        let d = self.data4;
        [a0, a1, a2, a3, b0, b1, c0, c1, d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]
    }

    /// Parses the registry form, `{2227E803-8D8B-11D4-ABAD-009027719E09}`, with or without the
    /// braces, in either case (the inverse of `Display`). Usable in `const` items.
    ///
    /// # Errors
    /// [`ParseGuidError`] if `text` is not 32 hexadecimal digits grouped 8-4-4-4-12.
    pub const fn parse(text: &str) -> Result<Self, ParseGuidError> {
        let mut b = text.as_bytes();
        if let [b'{', inner @ .., b'}'] = b {
            b = inner;
        }
        if b.len() != 36 {
            return Err(ParseGuidError(()));
        }
        let mut value: u128 = 0;
        let mut i = 0;
        while i < 36 {
            let c = b[i];
            if matches!(i, 8 | 13 | 18 | 23) {
                if c != b'-' {
                    return Err(ParseGuidError(()));
                }
            } else {
                let digit = match c {
                    b'0'..=b'9' => c - b'0',
                    b'a'..=b'f' => c - b'a' + 10,
                    b'A'..=b'F' => c - b'A' + 10,
                    _ => return Err(ParseGuidError(())),
                };
                value = (value << 4) | digit as u128;
            }
            i += 1;
        }
        Ok(Self::from_u128(value))
    }
}

/// A string that is not a GUID in registry form (see [`GUID::parse`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseGuidError(());

impl fmt::Display for ParseGuidError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a GUID: expected 32 hexadecimal digits as 8-4-4-4-12, braces optional")
    }
}

impl core::error::Error for ParseGuidError {}

impl core::str::FromStr for GUID {
    type Err = ParseGuidError;
    fn from_str(text: &str) -> Result<Self, ParseGuidError> {
        Self::parse(text)
    }
}

impl From<u128> for GUID {
    fn from(value: u128) -> Self {
        Self::from_u128(value)
    }
}

impl From<GUID> for u128 {
    fn from(guid: GUID) -> Self {
        guid.to_u128()
    }
}

impl fmt::Debug for GUID {
    /// `GUID({2227E803-8D8B-11D4-ABAD-009027719E09})`: the registry form, as tools print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GUID({self})")
    }
}

impl fmt::Display for GUID {
    /// Registry form, upper case, with braces: `{2227E803-8D8B-11D4-ABAD-009027719E09}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.data4;
        write!(
            f,
            "{{{:08X}-{:04X}-{:04X}-{:02X}{:02X}-{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}}}",
            self.data1, self.data2, self.data3, d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]
        )
    }
}

/// `LUID`: a locally unique 64-bit id split in two 32-bit halves (alignment 4).
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct LUID {
    /// Low 32 bits.
    pub LowPart: u32,
    /// High 32 bits.
    pub HighPart: i32,
}

// `ntstatus.h` values the NMR contract uses, each written once: the raw constant here, the
// same value as a [`Status`](crate::Status) constant, and its name for `Display`. The `as` casts
// reinterpret the documented hex bit patterns as the signed NTSTATUS, as the C macros do.
crate::status::statuses! {
    /// The operation completed successfully.
    (STATUS_SUCCESS, SUCCESS) = 0;
    /// The operation continues asynchronously.
    (STATUS_PENDING, PENDING) = 0x0000_0103;
    /// A wait timed out.
    (STATUS_TIMEOUT, TIMEOUT) = 0x0000_0102;
    /// Generic failure.
    (STATUS_UNSUCCESSFUL, UNSUCCESSFUL) = 0xC000_0001_u32 as i32;
    /// An invalid handle was specified.
    (STATUS_INVALID_HANDLE, INVALID_HANDLE) = 0xC000_0008_u32 as i32;
    /// An invalid parameter was passed.
    (STATUS_INVALID_PARAMETER, INVALID_PARAMETER) = 0xC000_000D_u32 as i32;
    /// Not enough virtual memory.
    (STATUS_NO_MEMORY, NO_MEMORY) = 0xC000_0017_u32 as i32;
    /// Insufficient system resources.
    (STATUS_INSUFFICIENT_RESOURCES, INSUFFICIENT_RESOURCES) = 0xC000_009A_u32 as i32;
    /// The device is not ready.
    (STATUS_DEVICE_NOT_READY, DEVICE_NOT_READY) = 0xC000_00A3_u32 as i32;
    /// The request is not supported.
    (STATUS_NOT_SUPPORTED, NOT_SUPPORTED) = 0xC000_00BB_u32 as i32;
    /// The device is in a state that does not allow the request.
    (STATUS_INVALID_DEVICE_STATE, INVALID_DEVICE_STATE) = 0xC000_0184_u32 as i32;
    /// The requested interface is not supported (an attach was declined).
    (STATUS_NOINTERFACE, NOINTERFACE) = 0xC000_02B9_u32 as i32;
}

/// `NT_SUCCESS(status)`.
#[must_use]
pub const fn NT_SUCCESS(status: NTSTATUS) -> bool {
    status >= 0
}

// Layouts as `guiddef.h` and `winnt.h` give them, on every target this crate is built for.
const _: () = {
    use core::mem::{align_of, size_of};
    assert!(size_of::<GUID>() == 16 && align_of::<GUID>() == 4);
    assert!(size_of::<LUID>() == 8 && align_of::<LUID>() == 4);
};

#[cfg(test)]
mod guid_tests {
    use super::GUID;

    /// `NPI_TRANSPORT_LAYER_ID` (netiodef.h): its registry form and its bytes in memory.
    const TLNPI: GUID = GUID::from_u128(0x2227_E803_8D8B_11D4_ABAD_0090_2771_9E09);
    const TLNPI_BYTES: [u8; 16] = [
        0x03, 0xE8, 0x27, 0x22, 0x8B, 0x8D, 0xD4, 0x11, 0xAB, 0xAD, 0x00, 0x90, 0x27, 0x71, 0x9E,
        0x09,
    ];

    #[test]
    fn bytes_are_the_windows_memory_layout() {
        assert_eq!(TLNPI.to_bytes_le(), TLNPI_BYTES);
        assert_eq!(GUID::from_bytes_le(TLNPI_BYTES), TLNPI);
        // SAFETY: `GUID` is 16 plain bytes (`repr(C)`, no padding: asserted in this file).
        let raw: [u8; 16] = unsafe { core::mem::transmute(TLNPI) };
        if cfg!(target_endian = "little") {
            assert_eq!(raw, TLNPI_BYTES);
        }
    }

    #[test]
    fn registry_form_round_trips_both_ways() {
        extern crate std;
        use std::string::ToString;
        let text = "{2227E803-8D8B-11D4-ABAD-009027719E09}";
        assert_eq!(TLNPI.to_string(), text);
        assert_eq!(text.parse::<GUID>(), Ok(TLNPI));
        assert_eq!(GUID::parse("2227e803-8d8b-11d4-abad-009027719e09"), Ok(TLNPI));
        assert_eq!(std::format!("{TLNPI:?}"), std::format!("GUID({text})"));
        assert_eq!(u128::from(TLNPI), 0x2227_E803_8D8B_11D4_ABAD_0090_2771_9E09);
        assert_eq!(GUID::from(u128::from(TLNPI)), TLNPI);
    }

    #[test]
    fn malformed_text_is_refused() {
        for bad in [
            "",
            "{}",
            "2227E803-8D8B-11D4-ABAD-009027719E0",
            "2227E803-8D8B-11D4-ABAD-009027719E091",
            "2227E803-8D8B-11D4-ABAD-009027719E0G",
            "2227E803+8D8B-11D4-ABAD-009027719E09",
            "{2227E803-8D8B-11D4-ABAD-009027719E09",
            "2227E8038D8B11D4ABAD009027719E09",
        ] {
            assert!(GUID::parse(bad).is_err(), "{bad:?}");
        }
        extern crate std;
        use std::string::ToString;
        assert!(GUID::parse("x").unwrap_err().to_string().contains("8-4-4-4-12"));
    }
}
