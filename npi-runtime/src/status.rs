//! [`Status`]: the `NTSTATUS` the safe layer reports, as a type `?` and error crates work with.

use core::fmt;

use crate::sys::NTSTATUS;

/// An `NTSTATUS` the safe layer returns: why a registration, a deregistration or an attach
/// failed, as the NMR (or the peer, or the allocator) answered it.
///
/// It is the raw value in a type of its own (`#[repr(transparent)]`, no cost) so that it has
/// `Display` and [`core::error::Error`] — `?` converts it into `Box<dyn Error>`, `anyhow` or a
/// driver's own error type — while [`Status::raw`] and `From<Status> for NTSTATUS` give back
/// exactly what a `DriverEntry` returns to the kernel. The named constants are the statuses the
/// NMR contract uses; any other value displays as its hex pattern.
///
/// In a kernel driver, format it only where `core::fmt` is acceptable: the runtime itself never
/// does, so a driver that does not either links no formatting code.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Status(NTSTATUS);

impl Status {
    /// The status with this raw value.
    #[must_use]
    pub const fn from_raw(status: NTSTATUS) -> Self {
        Status(status)
    }

    /// The raw `NTSTATUS`.
    #[must_use]
    pub const fn raw(self) -> NTSTATUS {
        self.0
    }

    /// `NT_SUCCESS`: a success or informational status (not negative).
    #[must_use]
    pub const fn is_success(self) -> bool {
        self.0 >= 0
    }

    /// The `STATUS_…` name of a status the NMR contract uses, `None` for any other value.
    #[must_use]
    pub const fn name(self) -> Option<&'static str> {
        name_of(self.0)
    }
}

impl From<NTSTATUS> for Status {
    fn from(status: NTSTATUS) -> Self {
        Status(status)
    }
}

impl From<Status> for NTSTATUS {
    fn from(status: Status) -> Self {
        status.0
    }
}

impl PartialEq<NTSTATUS> for Status {
    fn eq(&self, other: &NTSTATUS) -> bool {
        self.0 == *other
    }
}

impl PartialEq<Status> for NTSTATUS {
    fn eq(&self, other: &Status) -> bool {
        *self == other.0
    }
}

/// `STATUS_NOINTERFACE (0xC00002B9)`, or `NTSTATUS 0xC0000022` for a value without a name here.
impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `{:#010X}` of the bit pattern, as the status appears in ntstatus.h and in a debugger.
        let bits = self.0.cast_unsigned();
        match self.name() {
            Some(name) => write!(f, "{name} ({bits:#010X})"),
            None => write!(f, "NTSTATUS {bits:#010X}"),
        }
    }
}

impl fmt::Debug for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Status({self})")
    }
}

/// The bit pattern, as `{:#x}` of a raw `NTSTATUS` prints it.
impl fmt::LowerHex for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.0, f)
    }
}

/// The bit pattern, as `{:#X}` of a raw `NTSTATUS` prints it.
impl fmt::UpperHex for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::UpperHex::fmt(&self.0, f)
    }
}

impl core::error::Error for Status {}

/// Defines each `ntstatus.h` value once: the raw `sys::STATUS_…` constant, the
/// [`Status`] constant of the same value and its name for `Display`.
macro_rules! statuses {
    ($($(#[$doc:meta])* ($raw:ident, $name:ident) = $value:expr;)*) => {
        $(
            $(#[$doc])*
            pub const $raw: NTSTATUS = $value;
        )*

        impl crate::Status {
            $(
                $(#[$doc])*
                #[doc = concat!("(`", stringify!($raw), "`)")]
                pub const $name: crate::Status = crate::Status::from_raw($raw);
            )*
        }

        /// The name of a status above.
        pub(crate) const fn status_name(status: NTSTATUS) -> Option<&'static str> {
            match status {
                $($raw => Some(stringify!($raw)),)*
                _ => None,
            }
        }
    };
}
pub(crate) use statuses;

const fn name_of(status: NTSTATUS) -> Option<&'static str> {
    crate::sys::status_name(status)
}
