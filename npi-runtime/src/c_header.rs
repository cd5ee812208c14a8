//! The C side of a Rust NPI: the header a C peer compiles against, written from the same
//! declarations the Rust side uses.
//!
//! Every type a C header must spell implements [`CType`]: how to declare a member of it, what
//! it must define first, and its layout on 32- and 64-bit Windows ([`CLayout`]). The integer,
//! float and pointer types, arrays, `GUID`, `LUID` and `NPI_MODULEID` have it here;
//! `#[dispatch_table]` and `#[npi_data]` implement it for tables and characteristics structs,
//! and every NPI's characteristics and tables have it ([`NpiData`](crate::generic::NpiData)
//! requires it). [`header`] writes the file.
//!
//! How a member is spelled, as a rule:
//! - A member whose Rust type is written as one of the WDK's own names (`NTSTATUS`, `ULONG`,
//!   `PVOID`, `HANDLE`, … — the list is [`wdk_typedef`]) is spelled with that name, after a
//!   compile-time check that the Rust type has that typedef's layout on both widths.
//! - Any other member is spelled by its type's [`CType`]: `u32` is `ULONG`, `*const T` is
//!   `const T *`, `[T; N]` an array, a table or characteristics struct its `C` name.
//! - A type without a `CType` cannot be spelled: the compile error names the member.
//!
//! The header expects the WDK's base types (`NTSTATUS`, `ULONG`, `GUID`, `NTAPI`, …) and the
//! NMR's (`NPI_MODULEID`, from `netioddk.h`) from its includer, as WDK headers do, and uses
//! only C11 besides (`_Static_assert`, `offsetof`).

use core::fmt::{self, Display, Write};

use crate::npi::Npi;

/// A C type's size and alignment on 32-bit (`[0]`) and 64-bit (`[1]`) Windows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CLayout {
    /// `sizeof` on x86 and on x64/arm64.
    pub size: [usize; 2],
    /// The alignment on x86 and on x64/arm64.
    pub align: [usize; 2],
}

impl CLayout {
    /// A type of the same size and alignment on both widths.
    #[must_use]
    pub const fn scalar(size: usize) -> Self {
        CLayout { size: [size, size], align: [size, size] }
    }

    /// A pointer (or `SIZE_T`, `ULONG_PTR`): 4 bytes on x86, 8 on 64-bit.
    pub const POINTER: CLayout = CLayout { size: [4, 8], align: [4, 8] };

    /// `[Self; n]`.
    #[must_use]
    pub const fn array(self, n: usize) -> Self {
        CLayout { size: [self.size[0] * n, self.size[1] * n], align: self.align }
    }

    /// A C struct of these members in order (MSVC's layout: each member at the next multiple
    /// of its alignment, the size rounded up to the largest alignment).
    #[must_use]
    pub const fn of_struct(members: &[CLayout]) -> Self {
        let mut out = CLayout { size: [0, 0], align: [1, 1] };
        let mut w = 0;
        while w < 2 {
            let mut i = 0;
            while i < members.len() {
                let m = members[i];
                out.size[w] = round_up(out.size[w], m.align[w]) + m.size[w];
                if m.align[w] > out.align[w] {
                    out.align[w] = m.align[w];
                }
                i += 1;
            }
            out.size[w] = round_up(out.size[w], out.align[w]);
            w += 1;
        }
        out
    }

    /// The offset of member `index` of a struct of `members` on width `w` (0: x86, 1: 64-bit).
    #[must_use]
    pub const fn offset_in(members: &[CLayout], index: usize, w: usize) -> usize {
        let mut offset = 0;
        let mut i = 0;
        while i <= index {
            offset = round_up(offset, members[i].align[w]);
            if i < index {
                offset += members[i].size[w];
            }
            i += 1;
        }
        offset
    }

    /// Which width this crate is compiled for: 0 on 32-bit targets, 1 on 64-bit ones.
    pub const WIDTH: usize = if cfg!(target_pointer_width = "64") { 1 } else { 0 };

    /// Whether `T` has this layout on the target being compiled: how the Rust side proves, on
    /// every target it is built for, that the layout the header states is its own.
    #[must_use]
    pub const fn is_layout_of<T>(self) -> bool {
        self.size[Self::WIDTH] == size_of::<T>() && self.align[Self::WIDTH] == align_of::<T>()
    }
}

const fn round_up(n: usize, align: usize) -> usize {
    n.div_ceil(align) * align
}

/// A Rust type a C header can spell: plain C data.
///
/// # Safety
/// [`LAYOUT`](Self::LAYOUT) is the type's layout on each width it is built for, `declare`
/// spells a C type of that layout, and the type is plain data (no interior mutability, no
/// drop glue): `#[npi_data]` makes a struct of such members NPI data on that promise.
/// `#[dispatch_table]` and `#[npi_data]` implement it, and prove the layout with compile-time
/// asserts on every target they are built for.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no C spelling: the NPI's C header cannot declare this member",
    label = "not a C type",
    note = "integers, floats, pointers, arrays, `GUID`, `LUID`, `NPI_MODULEID`, dispatch tables \
            and `#[npi_data]` structs can be spelled in C; use one of them, or a WDK typedef name \
            such as `ULONG` or `PVOID`"
)]
pub unsafe trait CType {
    /// Its size and alignment on 32- and 64-bit Windows.
    const LAYOUT: CLayout;

    /// Writes a declaration of `declarator` with this type: `ULONG Version`,
    /// `const GUID *NpiId`, `UCHAR Data4[8]`. `qualifier` (`""` or `"const "`) qualifies the
    /// type itself.
    ///
    /// # Errors
    /// Those of `out`.
    fn declare(out: &mut dyn Write, qualifier: &str, declarator: &dyn Display) -> fmt::Result;

    /// Writes, through `header`, what the spelling needs defined first (a struct, a typedef);
    /// [`Header::once`] keeps each definition to one copy.
    ///
    /// # Errors
    /// Those of the output.
    fn define(header: &mut Header<'_>) -> fmt::Result {
        let _ = header;
        Ok(())
    }
}

/// A type spelled by one name the includer defines (a WDK or netioddk.h type).
macro_rules! named {
    ($($ty:ty => $name:literal, $layout:expr;)*) => {$(
        // SAFETY: the C type of that name has this layout (`WDK_TYPEDEFS`, the unit tests and
        // `cargo xtask abi-check` check it); plain data.
        unsafe impl CType for $ty {
            const LAYOUT: CLayout = $layout;
            fn declare(out: &mut dyn Write, qualifier: &str, d: &dyn Display) -> fmt::Result {
                write!(out, "{qualifier}{} {d}", $name)
            }
        }
    )*};
}

named! {
    u8 => "UCHAR", CLayout::scalar(1);
    i8 => "CHAR", CLayout::scalar(1);
    u16 => "USHORT", CLayout::scalar(2);
    i16 => "SHORT", CLayout::scalar(2);
    u32 => "ULONG", CLayout::scalar(4);
    i32 => "LONG", CLayout::scalar(4);
    u64 => "ULONG64", CLayout::scalar(8);
    i64 => "LONG64", CLayout::scalar(8);
    usize => "SIZE_T", CLayout::POINTER;
    isize => "SSIZE_T", CLayout::POINTER;
    f32 => "float", CLayout::scalar(4);
    f64 => "double", CLayout::scalar(8);
    core::ffi::c_void => "VOID", CLayout { size: [0, 0], align: [1, 1] };
    crate::sys::GUID => "GUID", CLayout { size: [16, 16], align: [4, 4] };
    crate::sys::LUID => "LUID", CLayout { size: [8, 8], align: [4, 4] };
    crate::sys::NPI_MODULEID => "NPI_MODULEID", CLayout { size: [24, 24], align: [4, 4] };
}

// SAFETY: a pointer is 4 or 8 bytes; plain data.
unsafe impl<T: CType> CType for *mut T {
    const LAYOUT: CLayout = CLayout::POINTER;
    fn declare(out: &mut dyn Write, qualifier: &str, d: &dyn Display) -> fmt::Result {
        T::declare(out, "", &format_args!("*{qualifier}{d}"))
    }
    fn define(header: &mut Header<'_>) -> fmt::Result {
        T::define(header)
    }
}

// SAFETY: as above.
unsafe impl<T: CType> CType for *const T {
    const LAYOUT: CLayout = CLayout::POINTER;
    fn declare(out: &mut dyn Write, qualifier: &str, d: &dyn Display) -> fmt::Result {
        T::declare(out, "const ", &format_args!("*{qualifier}{d}"))
    }
    fn define(header: &mut Header<'_>) -> fmt::Result {
        T::define(header)
    }
}

// SAFETY: `N` elements of `T`, without padding between them (a C array).
unsafe impl<T: CType, const N: usize> CType for [T; N] {
    const LAYOUT: CLayout = T::LAYOUT.array(N);
    fn declare(out: &mut dyn Write, qualifier: &str, d: &dyn Display) -> fmt::Result {
        T::declare(out, qualifier, &format_args!("{d}[{N}]"))
    }
    fn define(header: &mut Header<'_>) -> fmt::Result {
        T::define(header)
    }
}

// SAFETY: a reference is a non-NULL pointer: `const T *`.
unsafe impl<T: CType> CType for &T {
    const LAYOUT: CLayout = CLayout::POINTER;
    fn declare(out: &mut dyn Write, qualifier: &str, d: &dyn Display) -> fmt::Result {
        <*const T>::declare(out, qualifier, d)
    }
    fn define(header: &mut Header<'_>) -> fmt::Result {
        T::define(header)
    }
}

// SAFETY: as above: `T *`.
unsafe impl<T: CType> CType for &mut T {
    const LAYOUT: CLayout = CLayout::POINTER;
    fn declare(out: &mut dyn Write, qualifier: &str, d: &dyn Display) -> fmt::Result {
        <*mut T>::declare(out, qualifier, d)
    }
    fn define(header: &mut Header<'_>) -> fmt::Result {
        T::define(header)
    }
}

// SAFETY: `None` is NULL: a pointer that may be NULL.
unsafe impl<T: CType> CType for Option<&T> {
    const LAYOUT: CLayout = CLayout::POINTER;
    fn declare(out: &mut dyn Write, qualifier: &str, d: &dyn Display) -> fmt::Result {
        <*const T>::declare(out, qualifier, d)
    }
    fn define(header: &mut Header<'_>) -> fmt::Result {
        T::define(header)
    }
}

// SAFETY: as above.
unsafe impl<T: CType> CType for Option<&mut T> {
    const LAYOUT: CLayout = CLayout::POINTER;
    fn declare(out: &mut dyn Write, qualifier: &str, d: &dyn Display) -> fmt::Result {
        <*mut T>::declare(out, qualifier, d)
    }
    fn define(header: &mut Header<'_>) -> fmt::Result {
        T::define(header)
    }
}

/// For a type the header knows only by name (an opaque C struct, used behind pointers):
/// declares it as `name`, for [`CType::declare`].
///
/// # Errors
/// Those of `out`.
pub fn declare_opaque(
    out: &mut dyn Write,
    qualifier: &str,
    name: &str,
    declarator: &dyn Display,
) -> fmt::Result {
    write!(out, "{qualifier}{name} {declarator}")
}

/// For an opaque C struct: its forward declaration (`typedef struct _NAME NAME;`), once, for
/// [`CType::define`].
///
/// # Errors
/// Those of the output.
pub fn define_opaque(header: &mut Header<'_>, name: &'static str) -> fmt::Result {
    header.once(name, |h| writeln!(h.out(), "typedef struct _{name} {name};\n"))
}

/// The layout an opaque C struct is given: it is only ever behind a pointer.
pub const OPAQUE: CLayout = CLayout { size: [0, 0], align: [1, 1] };

/// Gives a Rust type that stands for an opaque C struct (only ever behind a pointer) its C
/// spelling: `c_opaque!(ProgramEntry => "PROGRAM_ENTRY");` declares members of it as
/// `PROGRAM_ENTRY` and forward-declares `typedef struct _PROGRAM_ENTRY PROGRAM_ENTRY;`.
///
/// The type must be zero-sized (the C struct's contents are not this side's business); the
/// macro checks it.
#[macro_export]
macro_rules! c_opaque {
    ($ty:ty => $name:literal) => {
        const _: () = ::core::assert!(
            ::core::mem::size_of::<$ty>() == 0,
            "an opaque C struct stands for a zero-sized Rust type"
        );
        // SAFETY: a zero-sized type standing for an opaque C struct, only ever behind a
        // pointer: there is no layout of its own to state, and nothing to read.
        unsafe impl $crate::c_header::CType for $ty {
            const LAYOUT: $crate::c_header::CLayout = $crate::c_header::OPAQUE;
            fn declare(
                out: &mut dyn ::core::fmt::Write,
                qualifier: &str,
                declarator: &dyn ::core::fmt::Display,
            ) -> ::core::fmt::Result {
                $crate::c_header::declare_opaque(out, qualifier, $name, declarator)
            }
            fn define(header: &mut $crate::c_header::Header<'_>) -> ::core::fmt::Result {
                $crate::c_header::define_opaque(header, $name)
            }
        }
    };
}

// SAFETY: `()` stands for "none" (NULL) in an NPI: nothing is laid out or defined, and a
// member of it cannot be declared (`#[npi_data]` and `#[dispatch_table]` members must be C
// types, and `()` is only ever an NPI's "no characteristics" or "no table").
unsafe impl CType for () {
    const LAYOUT: CLayout = OPAQUE;
    fn declare(out: &mut dyn Write, qualifier: &str, d: &dyn Display) -> fmt::Result {
        write!(out, "{qualifier}VOID {d}")
    }
}

/// The WDK typedefs a member may be written as, with their layouts: a member whose Rust type
/// is written as one of these names is spelled with it in the header.
pub const WDK_TYPEDEFS: &[(&str, CLayout)] = &[
    ("NTSTATUS", CLayout::scalar(4)),
    ("BOOLEAN", CLayout::scalar(1)),
    ("UCHAR", CLayout::scalar(1)),
    ("CHAR", CLayout::scalar(1)),
    ("USHORT", CLayout::scalar(2)),
    ("SHORT", CLayout::scalar(2)),
    ("ULONG", CLayout::scalar(4)),
    ("LONG", CLayout::scalar(4)),
    ("UINT8", CLayout::scalar(1)),
    ("UINT16", CLayout::scalar(2)),
    ("UINT32", CLayout::scalar(4)),
    ("UINT64", CLayout::scalar(8)),
    ("INT8", CLayout::scalar(1)),
    ("INT16", CLayout::scalar(2)),
    ("INT32", CLayout::scalar(4)),
    ("INT64", CLayout::scalar(8)),
    ("ULONG64", CLayout::scalar(8)),
    ("LONG64", CLayout::scalar(8)),
    ("ULONGLONG", CLayout::scalar(8)),
    ("LONGLONG", CLayout::scalar(8)),
    ("SIZE_T", CLayout::POINTER),
    ("SSIZE_T", CLayout::POINTER),
    ("ULONG_PTR", CLayout::POINTER),
    ("LONG_PTR", CLayout::POINTER),
    ("PVOID", CLayout::POINTER),
    ("HANDLE", CLayout::POINTER),
    ("GUID", CLayout { size: [16, 16], align: [4, 4] }),
    ("LUID", CLayout { size: [8, 8], align: [4, 4] }),
    ("NPI_MODULEID", CLayout { size: [24, 24], align: [4, 4] }),
];

/// The layout of the WDK typedef `name`, if [`WDK_TYPEDEFS`] lists it.
#[must_use]
pub const fn wdk_typedef(name: &str) -> Option<CLayout> {
    if name.is_empty() {
        return None;
    }
    let mut i = 0;
    while i < WDK_TYPEDEFS.len() {
        if str_eq(WDK_TYPEDEFS[i].0, name) {
            return Some(WDK_TYPEDEFS[i].1);
        }
        i += 1;
    }
    None
}

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// How the header spells a member written as `written` (its Rust type's last path segment, or
/// `""`): the WDK typedef of that name if there is one and it has `T`'s layout, else `None`
/// (spell it by `T`'s [`CType`]). A name in [`WDK_TYPEDEFS`] whose layout is not `T`'s is a
/// compile error where the macros call this in a `const`.
#[must_use]
pub const fn wdk_spelling<T: CType>(written: &'static str) -> Option<&'static str> {
    match wdk_typedef(written) {
        Some(layout) => {
            let own = T::LAYOUT;
            assert!(
                layout.size[0] == own.size[0]
                    && layout.size[1] == own.size[1]
                    && layout.align[0] == own.align[0]
                    && layout.align[1] == own.align[1],
                "a member written as a WDK typedef has a Rust type of another layout"
            );
            Some(written)
        }
        None => None,
    }
}

/// Declares a member of type `T` written as `written` (see [`wdk_spelling`]).
///
/// # Errors
/// Those of `out`.
pub fn declare_member<T: CType>(
    out: &mut dyn Write,
    written: Option<&'static str>,
    declarator: &dyn Display,
) -> fmt::Result {
    match written {
        Some(name) => write!(out, "{name} {declarator}"),
        None => T::declare(out, "", declarator),
    }
}

/// A type as a struct member or a parameter names it: its layout, its WDK spelling if it was
/// written as one ([`wdk_spelling`]), and its [`CType`] functions.
#[derive(Clone, Copy)]
pub struct CTypeRef {
    /// The type's layout.
    pub layout: CLayout,
    /// The WDK typedef it was written as, if any.
    pub written: Option<&'static str>,
    /// [`CType::declare`].
    pub declare: fn(&mut dyn Write, &str, &dyn Display) -> fmt::Result,
    /// [`CType::define`].
    pub define: fn(&mut Header<'_>) -> fmt::Result,
}

impl fmt::Debug for CTypeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CTypeRef")
            .field("layout", &self.layout)
            .field("written", &self.written)
            .finish()
    }
}

impl CTypeRef {
    /// A function pointer member: spelled by its typedef, laid out as a pointer.
    pub const FUNCTION: CTypeRef = CTypeRef::of::<*const core::ffi::c_void>("");

    /// `T`, written as `written` (its last path segment, or `""`).
    #[must_use]
    pub const fn of<T: CType>(written: &'static str) -> Self {
        CTypeRef {
            layout: T::LAYOUT,
            written: wdk_spelling::<T>(written),
            declare: T::declare,
            define: T::define,
        }
    }

    fn declare(&self, out: &mut dyn Write, declarator: &dyn Display) -> fmt::Result {
        match self.written {
            Some(name) => write!(out, "{name} {declarator}"),
            None => (self.declare)(out, "", declarator),
        }
    }
}

/// A function member of a dispatch table: its typedef's name, calling convention, return type
/// (`None`: `VOID`) and parameters.
#[derive(Clone, Copy, Debug)]
pub struct CFunction {
    /// The name of its function type (`EXNPI_PROVIDER_FUNCTION`), WDK style: the member is a
    /// pointer to it, and a C module declares its function with it.
    pub typedef: &'static str,
    /// `extern "system"` (`NTAPI`) rather than `extern "C"`.
    pub system: bool,
    /// The return type; `None` for `VOID`.
    pub ret: Option<CTypeRef>,
    /// The parameters, by name and type.
    pub params: &'static [(&'static str, CTypeRef)],
}

/// One member of a struct the header defines.
#[derive(Clone, Copy, Debug)]
pub struct CMember {
    /// The member's C name.
    pub name: &'static str,
    /// Its type (for a function member, the pointer's layout; the spelling is the typedef's).
    pub ty: CTypeRef,
    /// For a function member, what its typedef declares.
    pub function: Option<CFunction>,
    /// For a dispatch table, the name of its `END_OF_` size macro.
    pub end_of: Option<&'static str>,
}

/// A struct the header defines: a dispatch table or an `#[npi_data]` struct. Members compiled
/// out by `#[cfg]` are `None`.
#[derive(Clone, Copy, Debug)]
pub struct CStruct {
    /// The C name (`EX_PROVIDER_DISPATCH`).
    pub name: &'static str,
    /// The members in declaration order.
    pub members: &'static [Option<CMember>],
}

impl CStruct {
    /// The struct's layout on both widths.
    #[must_use]
    pub const fn layout(&self) -> CLayout {
        let mut out = CLayout { size: [0, 0], align: [1, 1] };
        let mut w = 0;
        while w < 2 {
            let mut i = 0;
            while i < self.members.len() {
                if let Some(m) = self.members[i] {
                    let l = m.ty.layout;
                    out.size[w] = round_up(out.size[w], l.align[w]) + l.size[w];
                    if l.align[w] > out.align[w] {
                        out.align[w] = l.align[w];
                    }
                }
                i += 1;
            }
            out.size[w] = round_up(out.size[w], out.align[w]);
            w += 1;
        }
        out
    }

    /// The offsets of member `index` on both widths.
    ///
    /// # Panics
    /// If that member is compiled out.
    #[must_use]
    pub const fn offset(&self, index: usize) -> [usize; 2] {
        let mut out = [0, 0];
        let mut w = 0;
        while w < 2 {
            let mut i = 0;
            while i < index {
                if let Some(m) = self.members[i] {
                    out[w] = round_up(out[w], m.ty.layout.align[w]) + m.ty.layout.size[w];
                }
                i += 1;
            }
            let Some(m) = self.members[index] else { panic!("a compiled-out member") };
            out[w] = round_up(out[w], m.ty.layout.align[w]);
            w += 1;
        }
        out
    }

    /// Whether member `index`, present, is at `offset` in `T` on this target.
    #[must_use]
    pub const fn member_at(&self, index: usize, offset: usize) -> bool {
        self.offset(index)[CLayout::WIDTH] == offset
    }

    /// Declares a member of this struct's type (`EX_PROVIDER_DISPATCH Dispatch`).
    ///
    /// # Errors
    /// Those of `out`.
    pub fn declare(&self, out: &mut dyn Write, qualifier: &str, d: &dyn Display) -> fmt::Result {
        write!(out, "{qualifier}{} {d}", self.name)
    }

    /// Defines the struct, once: what its members need first, a typedef per function member,
    /// the struct, its `END_OF_` macros, and a `_Static_assert` of its size and every offset
    /// and `END_OF_` on each width.
    ///
    /// # Errors
    /// Those of the output.
    pub fn define(&self, header: &mut Header<'_>) -> fmt::Result {
        header.once(self.name, |h| self.write(h))
    }

    fn present(&self) -> impl Iterator<Item = (usize, &'static CMember)> {
        let members: &'static [Option<CMember>] = self.members;
        members.iter().enumerate().filter_map(|(i, m)| m.as_ref().map(|m| (i, m)))
    }

    fn write(&self, h: &mut Header<'_>) -> fmt::Result {
        for (_, m) in self.present() {
            match &m.function {
                Some(f) => {
                    if let Some(ret) = &f.ret {
                        (ret.define)(h)?;
                    }
                    for (_, p) in f.params {
                        (p.define)(h)?;
                    }
                    h.once(f.typedef, |h| write_typedef(h.out(), f))?;
                }
                None => (m.ty.define)(h)?,
            }
        }
        let name = self.name;
        writeln!(h.out(), "typedef struct _{name} {{")?;
        for (_, m) in self.present() {
            h.out().write_str("    ")?;
            match &m.function {
                Some(f) => write!(h.out(), "{} *{}", f.typedef, m.name)?,
                None => m.ty.declare(h.out(), &m.name)?,
            }
            writeln!(h.out(), ";")?;
        }
        writeln!(h.out(), "}} {name};")?;
        for (_, m) in self.present() {
            if let Some(end_of) = m.end_of {
                writeln!(
                    h.out(),
                    "#define {end_of} (offsetof({name}, {0}) + sizeof((({name} *)0)->{0}))",
                    m.name
                )?;
            }
        }
        let layout = self.layout();
        h.assert_both(&format_args!("sizeof({name})"), layout.size)?;
        for (i, m) in self.present() {
            let at = self.offset(i);
            h.assert_both(&format_args!("offsetof({name}, {})", m.name), at)?;
            if let Some(end_of) = m.end_of {
                let size = m.ty.layout.size;
                h.assert_both(&format_args!("{end_of}"), [at[0] + size[0], at[1] + size[1]])?;
            }
        }
        writeln!(h.out())
    }
}

fn write_typedef(out: &mut dyn Write, f: &CFunction) -> fmt::Result {
    let convention = if f.system { "NTAPI " } else { "" };
    out.write_str("typedef ")?;
    let declarator = format_args!("({convention}{})(", f.typedef);
    match &f.ret {
        Some(ret) => ret.declare(out, &declarator)?,
        None => write!(out, "VOID {declarator}")?,
    }
    if f.params.is_empty() {
        out.write_str("VOID")?;
    }
    for (i, (name, p)) in f.params.iter().enumerate() {
        if i > 0 {
            out.write_str(", ")?;
        }
        p.declare(out, name)?;
    }
    writeln!(out, ");")
}

/// The header being written: its text, and which names it has defined.
pub struct Header<'a> {
    out: &'a mut dyn Write,
    /// True the first time it is asked about a name.
    first: &'a mut dyn FnMut(&'static str) -> bool,
}

impl fmt::Debug for Header<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Header").finish_non_exhaustive()
    }
}

impl Header<'_> {
    /// Runs `define` unless `name` was defined already in this header: each struct and
    /// typedef is written once, before its first use.
    ///
    /// # Errors
    /// Those of the output.
    pub fn once(
        &mut self,
        name: &'static str,
        define: impl FnOnce(&mut Self) -> fmt::Result,
    ) -> fmt::Result {
        if (self.first)(name) { define(self) } else { Ok(()) }
    }

    /// The output.
    pub fn out(&mut self) -> &mut dyn Write {
        self.out
    }

    /// Writes a `_Static_assert` that `expr` is `value[0]` on x86 and `value[1]` on 64-bit.
    ///
    /// # Errors
    /// Those of the output.
    pub fn assert_both(&mut self, expr: &dyn Display, value: [usize; 2]) -> fmt::Result {
        if value[0] == value[1] {
            writeln!(self.out, "_Static_assert({expr} == {}, \"{expr}\");", value[0])
        } else {
            writeln!(
                self.out,
                "_Static_assert({expr} == (sizeof(void *) == 8 ? {} : {}), \"{expr}\");",
                value[1], value[0]
            )
        }
    }
}

/// The most structs and typedefs one header may define.
pub const MAX_DEFINITIONS: usize = 256;

/// Writes the C header of NPI `N`: its id, the definitions of its characteristics and
/// dispatch tables (with a function-pointer typedef per table function, and `END_OF_` sizes),
/// and a `_Static_assert` of every size and offset the Rust side knows, for 32- and 64-bit.
///
/// # Errors
/// Those of `out`; `fmt::Error` too if the NPI defines more than [`MAX_DEFINITIONS`] structs
/// and typedefs.
pub fn header<N: Npi>(out: &mut dyn Write) -> fmt::Result {
    header_with::<N>(out, &[])
}

/// [`header`], with `#define`s of the NPI crate's own constants after the id (a version
/// number the tables carry, say): `header_with::<Exnpi>(&mut s, &[("EXNPI_VERSION", 1)])`.
///
/// # Errors
/// As [`header`].
pub fn header_with<N: Npi>(out: &mut dyn Write, defines: &[(&str, i128)]) -> fmt::Result {
    let guard = Upper(N::C_NAME);
    writeln!(
        out,
        "/* The C side of NPI `{}`: generated from its Rust declaration by npi. */",
        N::C_NAME
    )?;
    writeln!(
        out,
        "/* Include after the WDK headers that define the base types and netioddk.h. */"
    )?;
    writeln!(out, "#ifndef NPI_{guard}_H")?;
    writeln!(out, "#define NPI_{guard}_H")?;
    writeln!(out)?;
    writeln!(out, "#include <stddef.h>")?;
    writeln!(out)?;
    let id = N::ID;
    writeln!(out, "/* {id} */")?;
    writeln!(
        out,
        "static const GUID {} = {{ 0x{:08X}, 0x{:04X}, 0x{:04X}, {{ {} }} }};",
        N::C_ID,
        id.data1,
        id.data2,
        id.data3,
        Bytes(&id.data4)
    )?;
    for (name, value) in defines {
        writeln!(out, "#define {name} {value}")?;
    }
    writeln!(out)?;
    // The names defined so far: a fixed list, so writing a header needs no allocator.
    let mut defined = [""; MAX_DEFINITIONS];
    let mut count = 0;
    let mut overflow = false;
    let mut first = |name: &'static str| {
        if defined[..count].contains(&name) {
            return false;
        }
        if count == MAX_DEFINITIONS {
            overflow = true;
            return false;
        }
        defined[count] = name;
        count += 1;
        true
    };
    let mut header = Header { out, first: &mut first };
    <N::ClientCharacteristics as CType>::define(&mut header)?;
    <N::ProviderCharacteristics as CType>::define(&mut header)?;
    <N::ClientDispatch as CType>::define(&mut header)?;
    <N::ProviderDispatch as CType>::define(&mut header)?;
    writeln!(header.out, "#endif /* NPI_{guard}_H */")?;
    // A definition left out would make a header that does not compile: fail instead.
    if overflow { Err(fmt::Error) } else { Ok(()) }
}

/// `0x01, 0x02, …`.
struct Bytes<'a>(&'a [u8]);

impl Display for Bytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "0x{b:02X}")?;
        }
        Ok(())
    }
}

/// An ASCII name in upper case, for the include guard.
struct Upper(&'static str);

impl Display for Upper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            f.write_char(if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::string::String;

    use super::*;
    use crate::sys::{GUID, LUID, NPI_MODULEID};

    fn decl<T: CType>(name: &str) -> String {
        let mut s = String::new();
        T::declare(&mut s, "", &name).unwrap();
        s
    }

    #[test]
    fn spellings_of_pointers_arrays_and_qualifiers() {
        assert_eq!(decl::<u32>("Version"), "ULONG Version");
        assert_eq!(decl::<*mut core::ffi::c_void>("Context"), "VOID *Context");
        assert_eq!(decl::<*const GUID>("NpiId"), "const GUID *NpiId");
        assert_eq!(decl::<[u8; 8]>("Data4"), "UCHAR Data4[8]");
        // A pointer to a const pointer to UCHAR, as C spells it.
        assert_eq!(decl::<*const *mut u8>("p"), "UCHAR *const *p");
        assert_eq!(decl::<[*const u16; 2]>("a"), "const USHORT *a[2]");
    }

    #[test]
    fn struct_layouts_follow_msvc_on_both_widths() {
        // `{ USHORT; USHORT; PVOID; }`: 8 bytes on x86, 16 on x64, the pointer at 4 or 8.
        let members = [CLayout::scalar(2), CLayout::scalar(2), CLayout::POINTER];
        let s = CLayout::of_struct(&members);
        assert_eq!((s.size, s.align), ([8, 16], [4, 8]));
        assert_eq!(
            [CLayout::offset_in(&members, 2, 0), CLayout::offset_in(&members, 2, 1)],
            [4, 8]
        );
        // A ULONG64 after a UCHAR is 8-aligned on MSVC x86 too (unlike the i386 SysV ABI).
        let members = [CLayout::scalar(1), CLayout::scalar(8)];
        assert_eq!(CLayout::of_struct(&members).size, [16, 16]);
        assert_eq!(CLayout::offset_in(&members, 1, 0), 8);
    }

    #[test]
    fn the_model_is_this_targets_layout() {
        assert!(<GUID as CType>::LAYOUT.is_layout_of::<GUID>());
        assert!(<LUID as CType>::LAYOUT.is_layout_of::<LUID>());
        assert!(<NPI_MODULEID as CType>::LAYOUT.is_layout_of::<NPI_MODULEID>());
        assert!(<*mut u8 as CType>::LAYOUT.is_layout_of::<*mut u8>());
        assert!(<usize as CType>::LAYOUT.is_layout_of::<usize>());
        assert!(<[u16; 3] as CType>::LAYOUT.is_layout_of::<[u16; 3]>());
        // And it can fail: a u32 is not laid out as a pointer on a 64-bit target.
        assert_eq!(CLayout::POINTER.is_layout_of::<u32>(), CLayout::WIDTH == 0);
    }

    #[test]
    fn wdk_names_are_spelled_as_written_only_when_listed() {
        assert_eq!(wdk_spelling::<i32>("NTSTATUS"), Some("NTSTATUS"));
        assert_eq!(wdk_spelling::<*mut core::ffi::c_void>("PVOID"), Some("PVOID"));
        assert_eq!(wdk_spelling::<u32>("MyCount"), None);
        let mut s = String::new();
        declare_member::<i32>(&mut s, wdk_spelling::<i32>("NTSTATUS"), &"Status").unwrap();
        assert_eq!(s, "NTSTATUS Status");
    }

    #[test]
    #[should_panic(expected = "another layout")]
    fn a_wdk_name_on_a_type_of_another_layout_is_refused() {
        let _ = wdk_spelling::<u16>("ULONG");
    }
}
