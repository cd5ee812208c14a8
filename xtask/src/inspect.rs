//! The checks a linked NMR driver must pass, over the parsed image and link map.
//!
//! Each check returns what it saw, so a passing run documents the image as much as a failing
//! one explains it.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use anyhow::Context;
use object::pe;
use object::read::archive::ArchiveFile;
use object::{FileKind, Object, ObjectSection};

use crate::image::{Image, ImportedFunction};
use crate::map::{LinkMap, MapSymbol};
use crate::target::Target;
use crate::{fmt_free, x86_float};

/// The NMR functions the EXNPI driver must import from NETIO.SYS: it registers both roles, so
/// npi-runtime's registrations and binding records call all nine. With the stdcall argument
/// bytes, which x86 link names carry (`_NmrRegisterClient@12`).
pub(crate) const NMR_IMPORTS: [(&str, u32); 9] = [
    ("NmrRegisterClient", 12),
    ("NmrDeregisterClient", 4),
    ("NmrWaitForClientDeregisterComplete", 4),
    ("NmrClientAttachProvider", 20),
    ("NmrClientDetachProviderComplete", 4),
    ("NmrRegisterProvider", 12),
    ("NmrDeregisterProvider", 4),
    ("NmrWaitForProviderDeregisterComplete", 4),
    ("NmrProviderDetachClientComplete", 4),
];

/// The only modules a driver built on npi-runtime may import from.
const ALLOWED_MODULES: [&str; 2] = ["NETIO.SYS", "ntoskrnl.exe"];

/// What the driver was written in: decides how the checks find its characteristics and whether
/// the `core::fmt` check applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Language {
    /// `examples/kernel-driver`: characteristics are the macro's `static CHARACTERISTICS`.
    Rust,
    /// `examples/kernel-driver-c`: characteristics are the statics named in [`C_CHARACTERISTICS`].
    C,
}

/// The C driver's characteristics, by the names its source gives them (x86 adds a `_`):
/// (symbol, is the client's).
pub(crate) const C_CHARACTERISTICS: [(&str, bool); 2] =
    [("ClientCharacteristics", true), ("ProviderCharacteristics", false)];

/// Which NMR roles a driver registers: decides which characteristics and `Nmr*` imports the
/// checks require.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Roles {
    /// Client and provider (`examples/kernel-driver` and its C counterpart).
    Both,
    /// A client only (`examples/drivers/exnpi-client`, `exnpi_client.c`).
    Client,
    /// A provider only (`examples/drivers/exnpi-provider`, `exnpi_provider.c`).
    Provider,
}

impl Roles {
    fn client(self) -> bool {
        matches!(self, Roles::Both | Roles::Client)
    }

    fn provider(self) -> bool {
        matches!(self, Roles::Both | Roles::Provider)
    }

    /// The `Nmr*` functions a driver of these roles imports: `NMR_IMPORTS`' first five are the
    /// client's, the last four the provider's.
    fn nmr_imports(self) -> impl Iterator<Item = &'static (&'static str, u32)> {
        NMR_IMPORTS
            .iter()
            .enumerate()
            .filter(move |(i, _)| if *i < 5 { self.client() } else { self.provider() })
            .map(|(_, entry)| entry)
    }
}

/// Everything the checks look at.
pub(crate) struct Inputs<'a> {
    pub(crate) target: Target,
    pub(crate) language: Language,
    pub(crate) roles: Roles,
    pub(crate) image: &'a Image,
    pub(crate) map: &'a LinkMap,
    /// `member: section` for every `.CRT$*` section in the objects linked (the staticlib's members,
    /// or the C driver's object).
    pub(crate) archive_crt_sections: &'a [String],
    /// What the staticlib's objects reference, to name who pulled formatting code in (Rust).
    pub(crate) references: Option<&'a fmt_free::References>,
    /// Runs `llvm-objdump -d` over the image (x86 only).
    pub(crate) disassemble: Option<&'a mut x86_float::Disassemble<'a>>,
}

/// The outcome of one check.
#[derive(Debug)]
pub(crate) struct CheckResult {
    pub(crate) name: &'static str,
    /// What was seen (pass) or what is wrong (fail); for a skipped check, why it does not apply.
    pub(crate) outcome: Result<String, String>,
    /// The check does not apply to this driver (it passes, and the report says "skip").
    pub(crate) skipped: bool,
}

impl CheckResult {
    pub(crate) fn passed(&self) -> bool {
        self.outcome.is_ok()
    }
}

type Outcome = Result<String, String>;

/// Runs every check that applies to the target.
pub(crate) fn run_checks(inputs: &mut Inputs<'_>) -> Vec<CheckResult> {
    let mut checks = vec![
        check("machine matches the target", machine(inputs.target, inputs.image)),
        check("subsystem is NATIVE", subsystem(inputs.image)),
        check("entry point is DriverEntry", entry_point(inputs)),
        check(
            "imports only from NETIO.SYS and ntoskrnl.exe",
            import_modules(inputs.image, inputs.target),
        ),
        check("NMR functions imported from NETIO.SYS", nmr_imports(inputs)),
        check("characteristics and module ids are read-only", characteristics(inputs)),
        check("no section both writable and executable", writable_code(inputs.image)),
        check("no code pointers in writable sections", writable_code_pointers(inputs)),
        check("no TLS directory", tls(inputs.image)),
        check("no CRT initializer sections", crt_sections(inputs)),
        check("checksum is set and correct", checksum(inputs.image)),
        match inputs.language {
            Language::Rust => check("no core::fmt formatting code", no_formatting(inputs)),
            Language::C => skip(
                "no core::fmt formatting code",
                "not applicable to C: it looks for Rust's core::fmt symbols and the staticlib's \
                 references to them",
            ),
        },
    ];
    if inputs.target == Target::X86 {
        checks.push(check("no x87/MMX/SSE instructions", x86_fpu(inputs)));
    }
    checks
}

fn check(name: &'static str, outcome: Outcome) -> CheckResult {
    CheckResult { name, outcome, skipped: false }
}

fn skip(name: &'static str, reason: &str) -> CheckResult {
    CheckResult { name, outcome: Ok(reason.to_owned()), skipped: true }
}

fn machine(target: Target, image: &Image) -> Outcome {
    let expected = match target {
        Target::X64 => pe::IMAGE_FILE_MACHINE_AMD64,
        Target::Arm64 => pe::IMAGE_FILE_MACHINE_ARM64,
        Target::X86 => pe::IMAGE_FILE_MACHINE_I386,
    };
    let format = if image.is_64 { "PE32+" } else { "PE32" };
    if image.machine != expected.0 || image.is_64 != (target.pointer_size() == 8) {
        return Err(format!(
            "{format} image for machine {:#x}, expected {:#x} ({target})",
            image.machine, expected.0
        ));
    }
    Ok(format!("{format}, machine {:#x}", image.machine))
}

fn subsystem(image: &Image) -> Outcome {
    if image.subsystem == pe::IMAGE_SUBSYSTEM_NATIVE.0 {
        Ok("IMAGE_SUBSYSTEM_NATIVE".into())
    } else {
        Err(format!("subsystem is {}, a driver needs IMAGE_SUBSYSTEM_NATIVE (1)", image.subsystem))
    }
}

/// `AddressOfEntryPoint` is `DriverEntry`, stdcall with two arguments on x86 (`_DriverEntry@8`).
fn entry_point(inputs: &Inputs<'_>) -> Outcome {
    let (image, map) = (inputs.image, inputs.map);
    let name = match inputs.target {
        Target::X86 => "_DriverEntry@8",
        Target::X64 | Target::Arm64 => "DriverEntry",
    };
    let Some(symbol) = map.symbol(name) else {
        if inputs.target == Target::X86 && map.symbol("_DriverEntry").is_some() {
            return Err("DriverEntry is cdecl (`_DriverEntry`): it must be extern \"system\" \
                        (stdcall, `_DriverEntry@8`)"
                .into());
        }
        return Err(format!("no `{name}` in the link map: is DriverEntry #[unsafe(no_mangle)]?"));
    };
    if symbol.rva != image.entry_rva {
        return Err(format!(
            "AddressOfEntryPoint is {} ({:#x}), not {name} ({:#x})",
            map.describe(image.entry_rva),
            image.entry_rva,
            symbol.rva
        ));
    }
    match image.section_at(symbol.rva) {
        Some(section) if section.is_executable() => {
            Ok(format!("{name} at RVA {:#x} in {}", symbol.rva, section.name))
        }
        _ => Err(format!("{name} (RVA {:#x}) is not in an executable section", symbol.rva)),
    }
}

fn import_modules(image: &Image, target: Target) -> Outcome {
    let mut problems = Vec::new();
    let mut seen = Vec::new();
    let mut helpers = Vec::new();
    for module in &image.imports {
        if !ALLOWED_MODULES.iter().any(|m| m.eq_ignore_ascii_case(&module.module)) {
            problems.push(format!("imports from `{}`", module.module));
        }
        for function in &module.functions {
            match function {
                ImportedFunction::Ordinal(n) => {
                    problems.push(format!("{}!#{n} is imported by ordinal", module.module));
                }
                // The kernel exports undecorated names; a decorated one cannot resolve at load.
                ImportedFunction::Name(name) if name.contains('@') => {
                    problems.push(format!("{}!{name} is a decorated name", module.module));
                }
                // Still referenced after /OPT:REF: worth seeing, as their export is taken from
                // mingw-w64's lists rather than a kernel (see `kbuild::helper_exports`).
                ImportedFunction::Name(name)
                    if crate::kbuild::helper_exports(target).contains(&name.as_str()) =>
                {
                    helpers.push(name.clone());
                }
                ImportedFunction::Name(_) => {}
            }
        }
        seen.push(format!("{} ({})", module.module, module.functions.len()));
    }
    if image.imports.is_empty() {
        problems.push("no imports at all: the NETIO.SYS backend was not linked".into());
    }
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    let mut detail = seen.join(", ");
    if !helpers.is_empty() {
        let _ = write!(detail, "; compiler helpers from ntoskrnl.exe: {}", helpers.join(", "));
    }
    Ok(detail)
}

fn nmr_imports(inputs: &Inputs<'_>) -> Outcome {
    let image = inputs.image;
    let names_from = |wanted: &str| -> BTreeSet<&str> {
        image
            .imports
            .iter()
            .filter(|m| m.module.eq_ignore_ascii_case(wanted))
            .flat_map(|m| &m.functions)
            .filter_map(|f| match f {
                ImportedFunction::Name(n) => Some(n.as_str()),
                ImportedFunction::Ordinal(_) => None,
            })
            .collect()
    };
    let netio = names_from("NETIO.SYS");
    let mut problems = Vec::new();
    let missing: Vec<&str> =
        inputs.roles.nmr_imports().map(|(n, _)| *n).filter(|n| !netio.contains(n)).collect();
    if !missing.is_empty() {
        problems.push(format!("not imported from NETIO.SYS: {}", missing.join(", ")));
    }
    let elsewhere: Vec<String> = image
        .imports
        .iter()
        .filter(|m| !m.module.eq_ignore_ascii_case("NETIO.SYS"))
        .flat_map(|m| m.functions.iter().map(move |f| (m, f)))
        .filter_map(|(m, f)| match f {
            ImportedFunction::Name(n) if n.starts_with("Nmr") => Some(format!("{}!{n}", m.module)),
            _ => None,
        })
        .collect();
    if !elsewhere.is_empty() {
        problems.push(format!(
            "NMR functions imported from the wrong module: {}",
            elsewhere.join(", ")
        ));
    }
    // On x86 the callers' link names say which convention they used: stdcall decorates the
    // import symbol with the argument bytes (`__imp__NmrRegisterClient@12`), cdecl does not
    // (`__imp__NmrRegisterClient`), and a cdecl call into a stdcall function corrupts the stack.
    let wanted = inputs.roles.nmr_imports().count();
    let mut detail = format!("{} of {} present", wanted - missing.len(), wanted);
    if inputs.target == Target::X86 {
        let mut stdcall = 0;
        for (name, bytes) in NMR_IMPORTS.iter().filter(|(n, _)| netio.contains(n)) {
            let decorated = format!("__imp__{name}@{bytes}");
            if inputs.map.symbol(&decorated).is_some() {
                stdcall += 1;
            } else if let Some(other) = inputs.map.symbols.iter().find(|s| {
                s.name == format!("__imp__{name}") || s.name.starts_with(&format!("__imp__{name}@"))
            }) {
                problems.push(format!(
                    "{name} is called through `{}`, expected `{decorated}` (stdcall)",
                    other.name
                ));
            } else {
                problems.push(format!("no `{decorated}` in the link map"));
            }
        }
        let _ =
            write!(detail, ", {stdcall} called as stdcall (__imp__Name@bytes), names undecorated");
    }
    if problems.is_empty() { Ok(detail) } else { Err(problems.join("; ")) }
}

/// The NMR keeps a pointer to a module's characteristics (and through them to its module id and
/// NPI id) for as long as it is registered, from any thread: they must be immutable, and the
/// place to prove it is the image, where a writable section would let them change. The macro
/// puts them in `static CHARACTERISTICS` inside the generated `characteristics()`, the C driver
/// in the statics of [`C_CHARACTERISTICS`]; the map names those, and the module id and NPI id
/// are found by following the pointers inside.
fn characteristics(inputs: &Inputs<'_>) -> Outcome {
    let (found, clients, providers) = match inputs.language {
        Language::Rust => {
            let found: Vec<&MapSymbol> = inputs
                .map
                .symbols
                .iter()
                .filter(|s| s.readable().ends_with("::characteristics::CHARACTERISTICS"))
                .collect();
            let role = |s: &MapSymbol, module: &str| s.readable().contains(&format!("{module}>::"));
            let clients = found.iter().filter(|s| role(s, "ClientModule")).count();
            let providers = found.iter().filter(|s| role(s, "ProviderModule")).count();
            (found, clients, providers)
        }
        Language::C => {
            let prefix = inputs.target.c_symbol_prefix();
            let (mut found, mut clients, mut providers) = (Vec::new(), 0, 0);
            for (name, client) in C_CHARACTERISTICS {
                if let Some(symbol) = inputs.map.symbol(&format!("{prefix}{name}")) {
                    found.push(symbol);
                    *(if client { &mut clients } else { &mut providers }) += 1;
                }
            }
            (found, clients, providers)
        }
    };
    let mut problems = Vec::new();
    if (inputs.roles.client() && clients == 0) || (inputs.roles.provider() && providers == 0) {
        let names = match inputs.language {
            Language::Rust => "did npi-macros rename `static CHARACTERISTICS`",
            Language::C => "did the C driver rename ClientCharacteristics/ProviderCharacteristics",
        };
        problems.push(format!(
            "expected the characteristics statics of a client and of a provider in the link map, \
             found {clients} client and {providers} provider ({names}, or did the driver stop \
             registering a role?)"
        ));
    }
    let mut details = Vec::new();
    for symbol in found {
        match one_characteristics(inputs, symbol) {
            Ok(detail) => details.push(detail),
            Err(problem) => problems.push(problem),
        }
    }
    if problems.is_empty() { Ok(details.join("\n")) } else { Err(problems.join("\n")) }
}

/// Checks one `NPI_CLIENT_CHARACTERISTICS` / `NPI_PROVIDER_CHARACTERISTICS` in the image.
/// Layout (`netioddk.h`, as `npi_runtime::sys` declares it; p = pointer size): `Version` u16 @0, `Length` u16 @2,
/// the attach/detach/cleanup callbacks @p, 2p, 3p, the registration instance @4p (`Version` @0,
/// `Size` @2, `NpiId` @p, `ModuleId` @2p, `Number` @3p, `NpiSpecificCharacteristics` @4p; 5p
/// bytes).
fn one_characteristics(inputs: &Inputs<'_>, symbol: &MapSymbol) -> Outcome {
    let (image, map) = (inputs.image, inputs.map);
    let name = symbol.readable();
    let short = name.split(" as ").next().unwrap_or(&name).trim_start_matches('<').to_owned();
    let p = u32::try_from(image.pointer_size()).map_err(|e| e.to_string())?;
    let at = symbol.rva;
    let fail = |what: String| Err(format!("{name}: {what}"));

    let Some(section) = image.section_at(at) else {
        return fail(format!("RVA {at:#x} is outside every section"));
    };
    if section.is_writable() {
        return fail(format!(
            "in writable section {} ({}): the NMR reads it for the whole registration",
            section.name,
            section.access()
        ));
    }
    let (Some(length), Some(size)) = (image.read_u16(at + 2), image.read_u16(at + 4 * p + 2))
    else {
        return fail("cannot read its Length/Size fields from the image".into());
    };
    if u32::from(length) != 9 * p || u32::from(size) != 5 * p {
        return fail(format!(
            "Length {length} / Size {size}, expected {} / {}: not the characteristics layout",
            9 * p,
            5 * p
        ));
    }

    // Every pointer in it: present where required, pointing at the right kind of section, and
    // base-relocated (or the loader would leave it pointing at the preferred base).
    let mut notes = Vec::new();
    for (slot, field, required) in
        [(p, "attach", true), (2 * p, "detach", true), (3 * p, "cleanup", false)]
    {
        match code_pointer(image, at + slot, required) {
            Ok(Some(target)) => notes.push(format!("{field} -> {}", map.describe(target))),
            Ok(None) => notes.push(format!("{field} NULL")),
            Err(problem) => return fail(format!("{field} callback: {problem}")),
        }
    }
    let instance = at + 4 * p;
    let npi_id = match data_pointer(image, instance + p, true) {
        Ok(Some(rva)) => rva,
        Ok(None) => return fail("NpiId is NULL".into()),
        Err(problem) => return fail(format!("NpiId: {problem}")),
    };
    let module_id = match data_pointer(image, instance + 2 * p, true) {
        Ok(Some(rva)) => rva,
        Ok(None) => return fail("ModuleId is NULL".into()),
        Err(problem) => return fail(format!("ModuleId: {problem}")),
    };
    if let Err(problem) = data_pointer(image, instance + 4 * p, false) {
        return fail(format!("NpiSpecificCharacteristics: {problem}"));
    }
    let (Some(id_length), Some(id_type)) =
        (image.read_u16(module_id), image.read_u32(module_id + 4))
    else {
        return fail("cannot read the module id".into());
    };
    if id_length != 24 || id_type != 1 {
        return fail(format!(
            "module id has Length {id_length}, Type {id_type}; expected 24, MIT_GUID (1)"
        ));
    }
    let module_guid = guid_at(image, module_id + 8).unwrap_or_else(|| "?".into());
    let npi_guid = guid_at(image, npi_id).unwrap_or_else(|| "?".into());
    let section_of = |rva: u32| image.section_at(rva).map_or("?".to_owned(), |s| s.name.clone());
    Ok(format!(
        "{short}: {} ({}) at {at:#x}; module id {module_guid} in {}, NPI {npi_guid} in {}; {}",
        section.name,
        section.access(),
        section_of(module_id),
        section_of(npi_id),
        notes.join(", ")
    ))
}

/// The pointer at `slot`: NULL (allowed unless `required`), or a base-relocated pointer into an
/// executable section; returns the target RVA.
fn code_pointer(image: &Image, slot: u32, required: bool) -> Result<Option<u32>, String> {
    pointer(image, slot, required, |s| {
        if s.is_executable() {
            Ok(())
        } else {
            Err(format!("points into non-executable {}", s.name))
        }
    })
}

/// The pointer at `slot`: NULL (allowed unless `required`), or a base-relocated pointer into a
/// read-only section; returns the target RVA.
fn data_pointer(image: &Image, slot: u32, required: bool) -> Result<Option<u32>, String> {
    pointer(image, slot, required, |s| {
        if s.is_writable() {
            Err(format!("points into writable section {} ({})", s.name, s.access()))
        } else {
            Ok(())
        }
    })
}

fn pointer(
    image: &Image,
    slot: u32,
    required: bool,
    section_ok: impl Fn(&crate::image::Section) -> Result<(), String>,
) -> Result<Option<u32>, String> {
    let value = image.read_pointer(slot).ok_or_else(|| format!("cannot read RVA {slot:#x}"))?;
    if value == 0 {
        return if required { Err("NULL".into()) } else { Ok(None) };
    }
    let target = image.rva_of(value).ok_or_else(|| format!("{value:#x} is outside the image"))?;
    let section = image.section_at(target).ok_or_else(|| format!("{value:#x} is in no section"))?;
    section_ok(section)?;
    if !image.has_base_relocation(slot) {
        return Err(format!("the pointer at RVA {slot:#x} has no base relocation"));
    }
    Ok(Some(target))
}

/// The GUID at `rva` in registry form.
fn guid_at(image: &Image, rva: u32) -> Option<String> {
    let b = image.bytes(rva, 16)?;
    let d1 = u32::from_le_bytes(b[0..4].try_into().ok()?);
    let d2 = u16::from_le_bytes(b[4..6].try_into().ok()?);
    let d3 = u16::from_le_bytes(b[6..8].try_into().ok()?);
    Some(format!(
        "{{{d1:08X}-{d2:04X}-{d3:04X}-{:02X}{:02X}-{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}}}",
        b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]
    ))
}

/// A writable section must not hold a table of function pointers: one stray write (or an
/// attacker's) would redirect a call. The base relocations list every pointer slot in the
/// image; none in a writable section may point into code.
fn writable_code_pointers(inputs: &Inputs<'_>) -> Outcome {
    let (image, map) = (inputs.image, inputs.map);
    let expected_kind =
        if image.is_64 { pe::IMAGE_REL_BASED_DIR64.0 } else { pe::IMAGE_REL_BASED_HIGHLOW.0 };
    let mut problems = Vec::new();
    let (mut total, mut in_writable) = (0, 0);
    for relocation in &image.base_relocations {
        if relocation.kind == pe::IMAGE_REL_BASED_ABSOLUTE.0 {
            continue; // padding that keeps a block 4-byte aligned
        }
        total += 1;
        if relocation.kind != expected_kind {
            problems.push(format!(
                "unexpected base relocation type {} at {}",
                relocation.kind,
                map.describe(relocation.rva)
            ));
            continue;
        }
        let Some(section) = image.section_at(relocation.rva) else {
            problems.push(format!(
                "base relocation at RVA {:#x} outside every section",
                relocation.rva
            ));
            continue;
        };
        if !section.is_writable() {
            continue;
        }
        in_writable += 1;
        let Some(target) = image.read_pointer(relocation.rva).and_then(|v| image.rva_of(v)) else {
            continue;
        };
        if image.section_at(target).is_some_and(crate::image::Section::is_executable) {
            problems.push(format!(
                "{} in {} ({}) holds a pointer to {} (code)",
                map.describe(relocation.rva),
                section.name,
                section.access(),
                map.describe(target)
            ));
        }
    }
    if problems.is_empty() {
        Ok(format!("{total} base relocations, {in_writable} in writable sections, none into code"))
    } else {
        Err(problems.join("\n"))
    }
}

/// Memory integrity (HVCI) refuses to load a driver with a section that is writable and
/// executable at once.
fn writable_code(image: &Image) -> Outcome {
    let bad: Vec<String> = image
        .sections
        .iter()
        .filter(|s| s.is_writable() && s.is_executable())
        .map(|s| format!("{} ({})", s.name, s.access()))
        .collect();
    if bad.is_empty() {
        let all: Vec<String> =
            image.sections.iter().map(|s| format!("{} {}", s.name, s.access())).collect();
        Ok(all.join(", "))
    } else {
        Err(format!("writable and executable: {}", bad.join(", ")))
    }
}

fn tls(image: &Image) -> Outcome {
    if image.tls_directory != (0, 0) {
        return Err(format!(
            "TLS directory at RVA {:#x} ({} bytes): kernel images have no implicit TLS",
            image.tls_directory.0, image.tls_directory.1
        ));
    }
    if let Some(section) = image.section_named(".tls") {
        return Err(format!("a .tls section ({} bytes)", section.virtual_size));
    }
    Ok("none".into())
}

/// Nothing runs a driver's static initializers: `.CRT$XC*`/`.CRT$XI*` tables (C++ constructors,
/// `ctor`-style Rust) would silently never run, `.CRT$XL*` are TLS callbacks. lld merges `.CRT`
/// into `.rdata`, so the image alone cannot tell; look at the map's section list and at every
/// object in the staticlib too.
fn crt_sections(inputs: &Inputs<'_>) -> Outcome {
    let mut found: Vec<String> = inputs
        .image
        .sections
        .iter()
        .filter(|s| s.name.starts_with(".CRT"))
        .map(|s| format!("image section {}", s.name))
        .collect();
    found.extend(
        inputs
            .map
            .section_groups
            .iter()
            .filter(|g| g.starts_with(".CRT"))
            .map(|g| format!("linked {g}")),
    );
    found.extend(inputs.archive_crt_sections.iter().cloned());
    if found.is_empty() {
        Ok(match inputs.language {
            Language::Rust => "none in the image, the map or the staticlib",
            Language::C => "none in the image, the map or the object",
        }
        .into())
    } else {
        Err(found.join("; "))
    }
}

/// A driver has no use for `core::fmt` (its panic handler bugchecks with the location; nothing
/// prints), and formatting code is most of a small driver's `.text`: see `fmt_free`.
fn no_formatting(inputs: &Inputs<'_>) -> Outcome {
    fmt_free::find(inputs.map, inputs.references).outcome(inputs.references.is_some())
}

fn checksum(image: &Image) -> Outcome {
    match image.checksum {
        0 => Err("CheckSum is 0 (link with /RELEASE)".into()),
        c if c != image.computed_checksum => {
            Err(format!("CheckSum {c:#x}, but the file sums to {:#x}", image.computed_checksum))
        }
        c => Ok(format!("{c:#x}")),
    }
}

fn x86_fpu(inputs: &mut Inputs<'_>) -> Outcome {
    let Some(disassemble) = inputs.disassemble.as_deref_mut() else {
        return Err("no disassembler to scan with".into());
    };
    let (image, map) = (inputs.image, inputs.map);
    let code: Vec<&crate::image::Section> =
        image.sections.iter().filter(|s| s.is_executable()).collect();
    let mut symbols: Vec<u64> = map
        .symbols
        .iter()
        .filter(|s| code.iter().any(|c| c.contains(s.rva)))
        .map(|s| image.image_base + u64::from(s.rva))
        .collect();
    symbols.sort_unstable();
    symbols.dedup();
    let layout = x86_float::CodeLayout {
        sections: code
            .iter()
            .map(|s| {
                let start = image.image_base + u64::from(s.rva);
                (start, start + u64::from(s.virtual_size))
            })
            .collect(),
        symbols,
    };
    let scan = x86_float::scan(disassemble, &layout).map_err(|e| format!("{e:#}"))?;
    if scan.instructions == 0 {
        return Err("the disassembly has no instructions: wrong input?".into());
    }
    let describe = |f: &x86_float::Finding| {
        let place = image
            .rva_of(f.address)
            .map_or_else(|| format!("{:#x}", f.address), |r| map.describe(r));
        format!("{place}: {}", f.instruction)
    };
    let mut problems: Vec<String> = scan.findings.iter().take(20).map(describe).collect();
    if scan.findings.len() > 20 {
        problems.push(format!("... {} in all", scan.findings.len()));
    }
    problems
        .extend(scan.unverifiable.iter().take(5).map(|f| format!("cannot verify {}", describe(f))));
    if problems.is_empty() {
        Ok(format!(
            "{} instructions scanned ({} jump tables in .text skipped)",
            scan.instructions,
            scan.tables.len()
        ))
    } else {
        Err(problems.join("\n"))
    }
}

/// `member: section` for each `.CRT$*` section in the COFF objects of a staticlib. Members that
/// are not COFF objects (rustc's metadata, raw-dylib short import members) have none.
pub(crate) fn archive_crt_sections(bytes: &[u8]) -> anyhow::Result<(usize, Vec<String>)> {
    let archive = ArchiveFile::parse(bytes).context("unreadable staticlib archive")?;
    let (mut objects, mut found) = (0, Vec::new());
    for member in archive.members() {
        let member = member.context("unreadable staticlib member")?;
        let data = member.data(bytes)?;
        if !matches!(FileKind::parse(data), Ok(FileKind::Coff | FileKind::CoffBig)) {
            continue;
        }
        objects += 1;
        let name = String::from_utf8_lossy(member.name()).into_owned();
        found.extend(object_crt_sections(&name, data)?);
    }
    Ok((objects, found))
}

/// `name: section` for each `.CRT$*` section of one COFF object.
pub(crate) fn object_crt_sections(name: &str, data: &[u8]) -> anyhow::Result<Vec<String>> {
    let file = object::File::parse(data).with_context(|| format!("unreadable object {name}"))?;
    Ok(file
        .sections()
        .filter_map(|section| {
            section.name().ok().filter(|n| n.starts_with(".CRT")).map(str::to_owned)
        })
        .map(|section_name| format!("{name}: {section_name}"))
        .collect())
}

/// The functions the map places in executable sections, largest first: (readable name, bytes).
/// A function's bytes run to the next symbol (or the end of its section), less the padding
/// lld-link put after it (`int3` on x86/x64, zero words on arm64).
pub(crate) fn function_sizes(image: &Image, map: &LinkMap) -> Vec<(String, u32)> {
    let mut starts: Vec<(u32, &MapSymbol)> = map
        .symbols
        .iter()
        .filter(|s| image.section_at(s.rva).is_some_and(crate::image::Section::is_executable))
        .map(|s| (s.rva, s))
        .collect();
    starts.sort_by_key(|(rva, _)| *rva);
    starts.dedup_by_key(|(rva, _)| *rva);
    let arm64 = image.machine == pe::IMAGE_FILE_MACHINE_ARM64.0;
    let mut sizes = Vec::new();
    for (i, (rva, symbol)) in starts.iter().enumerate() {
        let Some(section) = image.section_at(*rva) else { continue };
        let section_end = section.rva + section.virtual_size;
        let end = starts.get(i + 1).map_or(section_end, |(next, _)| (*next).min(section_end));
        let mut size = end - rva;
        if let Some(bytes) = image.bytes(*rva, size as usize) {
            let kept = if arm64 {
                let mut n = bytes.len() & !3;
                while n >= 4 && bytes[n - 4..n] == [0; 4] {
                    n -= 4;
                }
                n
            } else {
                bytes.iter().rposition(|&b| b != 0xCC).map_or(0, |p| p + 1)
            };
            size = u32::try_from(kept).unwrap_or(size);
        }
        sizes.push((symbol.readable(), size));
    }
    sizes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    sizes
}

/// The per-section size report.
pub(crate) fn section_sizes(image: &Image) -> String {
    let mut out = String::new();
    for section in &image.sections {
        let _ = writeln!(
            out,
            "    {:<8} {:>7} bytes  {:<3} at RVA {:#07x}",
            section.name,
            section.virtual_size,
            section.access(),
            section.rva
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::{BaseRelocation, ImportedModule, Section};

    const BASE: u64 = 0x1_4000_0000;
    const PROVIDER_CHARS: &str = "_RNvNvXso_Csjbrrs6Oq9AR_12exnpi_driverNtB7_10ExProviderNtNtCs6jAjD6Va4b3_11npi_runtime6module14ProviderModule15characteristics15CHARACTERISTICS";
    const CLIENT_CHARS: &str = "_RNvNvXsp_Csjbrrs6Oq9AR_12exnpi_driverNtB7_8ExClientNtNtCs6jAjD6Va4b3_11npi_runtime6module12ClientModule15characteristics15CHARACTERISTICS";

    /// An x64 image: .text (rx) at 0x1000, .rdata (r) at 0x2000, .data (rw) at 0x3000, each a
    /// page of zeros, with the nine NMR imports.
    fn image() -> Image {
        let section = |name: &str, rva: u32, flags: u32| Section {
            name: name.into(),
            rva,
            virtual_size: 0x1000,
            flags: flags | pe::IMAGE_SCN_MEM_READ.0,
            data: vec![0; 0x1000],
        };
        Image {
            is_64: true,
            machine: pe::IMAGE_FILE_MACHINE_AMD64.0,
            image_base: BASE,
            entry_rva: 0x1000,
            subsystem: pe::IMAGE_SUBSYSTEM_NATIVE.0,
            checksum: 0x1234,
            computed_checksum: 0x1234,
            file_size: 0x4000,
            sections: vec![
                section(".text", 0x1000, pe::IMAGE_SCN_MEM_EXECUTE.0),
                section(".rdata", 0x2000, 0),
                section(".data", 0x3000, pe::IMAGE_SCN_MEM_WRITE.0),
            ],
            imports: vec![ImportedModule {
                module: "NETIO.SYS".into(),
                functions: NMR_IMPORTS
                    .iter()
                    .map(|(n, _)| ImportedFunction::Name((*n).into()))
                    .collect(),
            }],
            base_relocations: Vec::new(),
            tls_directory: (0, 0),
        }
    }

    fn write(image: &mut Image, rva: u32, bytes: &[u8]) {
        let section = image.sections.iter_mut().find(|s| s.contains(rva)).unwrap();
        let at = (rva - section.rva) as usize;
        section.data[at..at + bytes.len()].copy_from_slice(bytes);
    }

    /// A pointer to `target` at `slot`, with its base relocation.
    fn pointer_to(image: &mut Image, slot: u32, target: u32) {
        write(image, slot, &(BASE + u64::from(target)).to_le_bytes());
        image
            .base_relocations
            .push(BaseRelocation { rva: slot, kind: pe::IMAGE_REL_BASED_DIR64.0 });
    }

    /// Characteristics at `at` as the macro lays them out: callbacks in .text, the NPI id and
    /// module id in .rdata.
    fn characteristics_at(image: &mut Image, at: u32) {
        write(image, at + 2, &72u16.to_le_bytes());
        pointer_to(image, at + 8, 0x1100);
        pointer_to(image, at + 16, 0x1200);
        pointer_to(image, at + 24, 0x1300);
        write(image, at + 32 + 2, &40u16.to_le_bytes());
        pointer_to(image, at + 32 + 8, 0x2800);
        pointer_to(image, at + 32 + 16, 0x2900);
        write(image, 0x2900, &24u16.to_le_bytes());
        write(image, 0x2904, &1u32.to_le_bytes());
    }

    fn map(symbols: &[(&str, u32)]) -> LinkMap {
        LinkMap {
            load_address: BASE,
            section_groups: vec![".text".into(), ".rdata".into(), ".data".into()],
            symbols: symbols
                .iter()
                .map(|(name, rva)| MapSymbol {
                    name: (*name).into(),
                    rva: *rva,
                    object: "drv.o".into(),
                })
                .collect(),
        }
    }

    fn outcome(image: &Image, map: &LinkMap, target: Target, name: &str) -> Outcome {
        outcome_of(Language::Rust, image, map, target, name)
    }

    fn outcome_of(
        language: Language,
        image: &Image,
        map: &LinkMap,
        target: Target,
        name: &str,
    ) -> Outcome {
        let mut inputs = Inputs {
            target,
            language,
            roles: Roles::Both,
            image,
            map,
            archive_crt_sections: &[],
            references: None,
            disassemble: None,
        };
        run_checks(&mut inputs).into_iter().find(|c| c.name == name).unwrap().outcome
    }

    #[test]
    fn characteristics_in_rdata_pass() {
        let mut image = image();
        characteristics_at(&mut image, 0x2100);
        characteristics_at(&mut image, 0x2200);
        let map = map(&[(PROVIDER_CHARS, 0x2100), (CLIENT_CHARS, 0x2200)]);
        let checks =
            outcome(&image, &map, Target::X64, "characteristics and module ids are read-only");
        let detail = checks.unwrap();
        assert!(detail.contains("exnpi_driver::ExClient: .rdata (r)"), "{detail}");
        let pointers = outcome(&image, &map, Target::X64, "no code pointers in writable sections");
        assert_eq!(
            pointers.unwrap(),
            "10 base relocations, 0 in writable sections, none into code"
        );
    }

    #[test]
    fn characteristics_in_data_fail_both_checks() {
        let mut image = image();
        characteristics_at(&mut image, 0x2100);
        characteristics_at(&mut image, 0x3100);
        let map = map(&[(PROVIDER_CHARS, 0x2100), (CLIENT_CHARS, 0x3100)]);
        let problem =
            outcome(&image, &map, Target::X64, "characteristics and module ids are read-only")
                .unwrap_err();
        assert!(problem.contains("ExClient as npi_runtime::module::ClientModule>::characteristics::CHARACTERISTICS: in writable section .data"), "{problem}");
        let problem = outcome(&image, &map, Target::X64, "no code pointers in writable sections")
            .unwrap_err();
        assert_eq!(problem.lines().count(), 3, "attach, detach and cleanup: {problem}");
    }

    #[test]
    fn c_characteristics_are_found_by_name_and_fmt_is_skipped() {
        let mut image = image();
        characteristics_at(&mut image, 0x2100);
        characteristics_at(&mut image, 0x2200);
        let both = map(&[("ProviderCharacteristics", 0x2100), ("ClientCharacteristics", 0x2200)]);
        let name = "characteristics and module ids are read-only";
        let detail = outcome_of(Language::C, &image, &both, Target::X64, name).unwrap();
        assert!(detail.contains("ClientCharacteristics: .rdata (r)"), "{detail}");
        // The Rust lookup finds neither.
        assert!(outcome(&image, &both, Target::X64, name).is_err());
        let mut inputs = Inputs {
            target: Target::X64,
            language: Language::C,
            roles: Roles::Both,
            image: &image,
            map: &both,
            archive_crt_sections: &[],
            references: None,
            disassemble: None,
        };
        let checks = run_checks(&mut inputs);
        let fmt = checks.iter().find(|c| c.name == "no core::fmt formatting code").unwrap();
        assert!(fmt.skipped && fmt.passed(), "{fmt:?}");
        assert_eq!(checks.iter().filter(|c| c.skipped).count(), 1);
        // Only one role: the check names the C statics.
        let one = map(&[("ClientCharacteristics", 0x2200)]);
        let problem = outcome_of(Language::C, &image, &one, Target::X64, name).unwrap_err();
        assert!(problem.contains("found 1 client and 0 provider"), "{problem}");
        assert!(problem.contains("ProviderCharacteristics"), "{problem}");
    }

    #[test]
    fn function_sizes_drop_the_padding() {
        let mut image = image();
        // Two functions: 5 bytes + 11 bytes of int3, then 3 bytes to the next symbol at 0x1013,
        // which has nothing but int3 up to the end of .text.
        write(&mut image, 0x1000, &[0xCC; 0x1000]);
        write(&mut image, 0x1000, &[0x55, 0x48, 0x89, 0xe5, 0xc3]);
        write(&mut image, 0x1010, &[0x31, 0xc0, 0xc3]);
        let map = map(&[("DriverEntry", 0x1000), ("helper", 0x1010), ("end", 0x1013)]);
        let sizes = function_sizes(&image, &map);
        assert_eq!(&sizes[..2], [("DriverEntry".to_owned(), 5), ("helper".to_owned(), 3)]);
        assert_eq!(sizes[2], ("end".to_owned(), 0), "zero bytes to the end of .text");
    }

    #[test]
    fn a_module_id_in_writable_memory_fails() {
        let mut image = image();
        characteristics_at(&mut image, 0x2100);
        characteristics_at(&mut image, 0x2200);
        // The client's ModuleId pointer now points into .data.
        image.base_relocations.retain(|r| r.rva != 0x2200 + 48);
        pointer_to(&mut image, 0x2200 + 48, 0x3900);
        let map = map(&[(PROVIDER_CHARS, 0x2100), (CLIENT_CHARS, 0x2200)]);
        let problem =
            outcome(&image, &map, Target::X64, "characteristics and module ids are read-only")
                .unwrap_err();
        assert!(problem.contains("ModuleId: points into writable section .data"), "{problem}");
    }

    #[test]
    fn a_missing_role_or_import_fails() {
        let mut image = image();
        characteristics_at(&mut image, 0x2100);
        image.imports[0]
            .functions
            .retain(|f| *f != ImportedFunction::Name("NmrRegisterProvider".into()));
        let map = map(&[(CLIENT_CHARS, 0x2100)]);
        let problem = outcome(&image, &map, Target::X64, "NMR functions imported from NETIO.SYS")
            .unwrap_err();
        assert_eq!(problem, "not imported from NETIO.SYS: NmrRegisterProvider");
        let problem =
            outcome(&image, &map, Target::X64, "characteristics and module ids are read-only")
                .unwrap_err();
        assert!(problem.contains("found 1 client and 0 provider"), "{problem}");
    }

    #[test]
    fn foreign_modules_ordinals_and_decorated_names_fail() {
        let mut image = image();
        image.imports.push(ImportedModule {
            module: "HAL.dll".into(),
            functions: vec![
                ImportedFunction::Ordinal(7),
                ImportedFunction::Name("_KeStall@4".into()),
            ],
        });
        let problem =
            outcome(&image, &map(&[]), Target::X64, "imports only from NETIO.SYS and ntoskrnl.exe")
                .unwrap_err();
        assert_eq!(
            problem,
            "imports from `HAL.dll`; HAL.dll!#7 is imported by ordinal; HAL.dll!_KeStall@4 is a decorated name"
        );
    }

    #[test]
    fn x86_callers_must_use_stdcall() {
        let mut image = image();
        image.is_64 = false;
        let mut symbols: Vec<(String, u32)> = NMR_IMPORTS
            .iter()
            .map(|(name, bytes)| (format!("__imp__{name}@{bytes}"), 0x2000))
            .collect();
        symbols[0].0 = "__imp__NmrRegisterClient".into();
        let symbols: Vec<(&str, u32)> = symbols.iter().map(|(n, r)| (n.as_str(), *r)).collect();
        let problem =
            outcome(&image, &map(&symbols), Target::X86, "NMR functions imported from NETIO.SYS")
                .unwrap_err();
        assert_eq!(
            problem,
            "NmrRegisterClient is called through `__imp__NmrRegisterClient`, expected \
             `__imp__NmrRegisterClient@12` (stdcall)"
        );
    }

    #[test]
    fn entry_subsystem_rwx_tls_crt_and_checksum() {
        let mut image = image();
        let good = map(&[("DriverEntry", 0x1000)]);
        assert!(outcome(&image, &good, Target::X64, "entry point is DriverEntry").is_ok());
        assert!(
            outcome(
                &image,
                &map(&[("DriverEntry", 0x1040)]),
                Target::X64,
                "entry point is DriverEntry"
            )
            .is_err()
        );
        image.subsystem = 3;
        image.tls_directory = (0x2000, 0x28);
        image.computed_checksum = 0x1235;
        image.sections.push(Section { name: ".CRT".into(), ..Section::default() });
        image.sections[0].flags |= pe::IMAGE_SCN_MEM_WRITE.0;
        for name in [
            "subsystem is NATIVE",
            "no TLS directory",
            "checksum is set and correct",
            "no CRT initializer sections",
            "no section both writable and executable",
        ] {
            assert!(outcome(&image, &good, Target::X64, name).is_err(), "{name}");
        }
        assert!(outcome(&image, &good, Target::X86, "machine matches the target").is_err());
    }
}
