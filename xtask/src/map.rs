//! lld-link's `/MAP` file (link.exe's format): where each symbol landed.
//!
//! The image itself keeps no symbol names, and the statics the checks look for are local
//! symbols, which only the map's "Static symbols" part lists.
//!
//! ```text
//!  Preferred load address is 0000000140000000
//!
//!  Start         Length     Name                   Class
//!  0001:00000000 0000147cH .text                   CODE
//!
//!   Address         Publics by Value              Rva+Base               Lib:Object
//!
//!  0001:00000000       DriverEntry                0000000140001000     drv:drv.o
//!
//!  Static symbols
//!
//!  0002:00000148       _RNvNv...15CHARACTERISTICS 0000000140003148     drv:drv.o
//! ```

use anyhow::{Context, bail};

/// A parsed link map.
#[derive(Debug, Default)]
pub(crate) struct LinkMap {
    pub(crate) load_address: u64,
    /// Input section groups (`.text`, `.text$unlikely`, `.CRT$XCU`, ...) as listed up front.
    pub(crate) section_groups: Vec<String>,
    pub(crate) symbols: Vec<MapSymbol>,
}

/// One symbol line.
#[derive(Debug, Clone)]
pub(crate) struct MapSymbol {
    /// As in the object file: mangled, and on x86 with its `_` prefix and `@bytes` suffix.
    pub(crate) name: String,
    pub(crate) rva: u32,
    /// The object it came from, without the library: for `drv:drv.cgu.0.rcgu.o`, the archive
    /// member `drv.cgu.0.rcgu.o`.
    pub(crate) object: String,
}

impl MapSymbol {
    /// The name demangled without hashes when it is a Rust symbol, else as written.
    pub(crate) fn readable(&self) -> String {
        readable_name(&self.name)
    }
}

/// A Rust symbol demangled without its hash; other names unchanged. On x86 the mangled name
/// carries the C underscore (`__RNv...`, which the demangler accepts) and, for stdcall
/// functions, the argument bytes (`@12`), which are kept after the demangled name.
pub(crate) fn readable_name(name: &str) -> String {
    let (base, stdcall) = match name.rsplit_once('@') {
        Some((base, bytes)) if !bytes.is_empty() && bytes.bytes().all(|b| b.is_ascii_digit()) => {
            (base, Some(bytes))
        }
        _ => (name, None),
    };
    match (rustc_demangle::try_demangle(base), stdcall) {
        (Ok(demangled), None) => format!("{demangled:#}"),
        (Ok(demangled), Some(bytes)) => format!("{demangled:#}@{bytes}"),
        (Err(_), _) => name.to_owned(),
    }
}

impl LinkMap {
    pub(crate) fn parse(text: &str) -> anyhow::Result<Self> {
        let mut map = LinkMap::default();
        let mut part = Part::Header;
        for line in text.lines() {
            let trimmed = line.trim();
            if let Some(rest) = trimmed.strip_prefix("Preferred load address is ") {
                map.load_address = u64::from_str_radix(rest.trim(), 16)
                    .with_context(|| format!("unreadable load address in `{trimmed}`"))?;
                continue;
            }
            if trimmed.starts_with("Start ") && trimmed.contains("Class") {
                part = Part::Sections;
                continue;
            }
            if trimmed.starts_with("Address ") && trimmed.contains("Publics by Value") {
                part = Part::Publics;
                continue;
            }
            if trimmed == "Static symbols" {
                part = Part::Statics;
                continue;
            }
            if trimmed.is_empty() || trimmed.starts_with("entry point at") {
                continue;
            }
            match part {
                Part::Header => {}
                Part::Sections => {
                    // "0001:00000000 0000147cH .text CODE"
                    if let Some(name) = trimmed.split_whitespace().nth(2) {
                        map.section_groups.push(name.to_owned());
                    }
                }
                Part::Publics | Part::Statics => {
                    let symbol = parse_symbol(trimmed, map.load_address)
                        .with_context(|| format!("unreadable map line `{trimmed}`"))?;
                    if let Some(symbol) = symbol {
                        map.symbols.push(symbol);
                    }
                }
            }
        }
        if map.load_address == 0 {
            bail!("no \"Preferred load address\" line: not an lld-link /MAP file?");
        }
        Ok(map)
    }

    /// The symbol named exactly `name`.
    pub(crate) fn symbol(&self, name: &str) -> Option<&MapSymbol> {
        self.symbols.iter().find(|s| s.name == name)
    }

    /// The symbol whose address is the closest one at or below `rva`, for messages.
    pub(crate) fn symbol_at_or_before(&self, rva: u32) -> Option<&MapSymbol> {
        self.symbols.iter().filter(|s| s.rva <= rva && s.rva != 0).max_by_key(|s| s.rva)
    }

    /// `rva` as `name+0xoff`, or the bare RVA when no symbol precedes it.
    pub(crate) fn describe(&self, rva: u32) -> String {
        match self.symbol_at_or_before(rva) {
            Some(s) if s.rva == rva => s.readable(),
            Some(s) => format!("{}+{:#x}", s.readable(), rva - s.rva),
            None => format!("RVA {rva:#x}"),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Header,
    Sections,
    Publics,
    Statics,
}

/// `0001:00000000  NAME  0000000140001000  lib:object`. The name is everything between the
/// first and the last two fields (in case a name ever contains a space). Absolute symbols
/// (section 0000, e.g. the linker-defined `_fltused` alias) are skipped: they have no place in
/// the image.
fn parse_symbol(line: &str, load_address: u64) -> anyhow::Result<Option<MapSymbol>> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    if fields.len() < 4 {
        bail!("expected `section:offset name address object`");
    }
    if fields[0].starts_with("0000:") {
        return Ok(None);
    }
    let address_field = fields[fields.len() - 2];
    let address = u64::from_str_radix(address_field, 16)
        .with_context(|| format!("`{address_field}` is not a hex address"))?;
    let rva = address
        .checked_sub(load_address)
        .and_then(|rva| u32::try_from(rva).ok())
        .with_context(|| format!("address {address:#x} is not inside the image"))?;
    let name = fields[1..fields.len() - 2].join(" ");
    let source = fields[fields.len() - 1];
    let object = source.split_once(':').map_or(source, |(_, object)| object).to_owned();
    Ok(Some(MapSymbol { name, rva, object }))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const SAMPLE: &str = " exnpi

 Timestamp is 6b085340 (Thu Nov 26 15:41:52 2026)

 Preferred load address is 0000000140000000

 Start         Length     Name                   Class
 0001:00000000 0000147cH .text                   CODE
 0001:00001480 00000083H .text$unlikely          CODE
 0002:00000000 000004a8H .rdata                  DATA
 0003:00000000 00000050H .data                   DATA

  Address         Publics by Value              Rva+Base               Lib:Object

 0000:00000000       _fltused                   0000000140000000     <linker-defined>
 0001:00000000       DriverEntry                0000000140001000     drv:drv.cgu.0.rcgu.o
 0002:000005f0       __imp_NmrRegisterClient    00000001400035f0     drv:NETIO.SYS

 entry point at         0001:00000000

 Static symbols

 0002:000001a8       _RNvNvXsp_Cs1a2b3c_3drvNtB7_8ExClientNtNtCs4d5e6f_11npi_runtime6module12ClientModule15characteristics15CHARACTERISTICS 00000001400031a8     drv:drv.cgu.0.rcgu.o
 0003:00000000       _RNvCs1a2b3c_3drv5STATE 0000000140004000     drv:drv.cgu.0.rcgu.o
";

    #[test]
    fn parses_sections_publics_and_statics() {
        let map = LinkMap::parse(SAMPLE).unwrap();
        assert_eq!(map.load_address, 0x1_4000_0000);
        assert_eq!(map.section_groups, [".text", ".text$unlikely", ".rdata", ".data"]);
        let entry = map.symbol("DriverEntry").unwrap();
        assert_eq!(entry.rva, 0x1000);
        assert!(map.symbol("_fltused").is_none(), "absolute symbols are skipped");
        let state = map.symbols.iter().find(|s| s.name.ends_with("5STATE")).unwrap();
        assert_eq!(state.rva, 0x4000);
        assert_eq!(state.readable(), "drv::STATE");
        assert_eq!(state.object, "drv.cgu.0.rcgu.o");
        assert_eq!(map.symbol("__imp_NmrRegisterClient").unwrap().object, "NETIO.SYS");
    }

    #[test]
    fn describes_addresses_by_the_preceding_symbol() {
        let map = LinkMap::parse(SAMPLE).unwrap();
        assert_eq!(map.describe(0x1000), "DriverEntry");
        assert_eq!(map.describe(0x1010), "DriverEntry+0x10");
        assert_eq!(map.describe(0x4008), "drv::STATE+0x8");
        assert_eq!(map.describe(0x10), "RVA 0x10");
    }

    #[test]
    fn x86_names_keep_their_stdcall_bytes() {
        assert_eq!(readable_name("__RNvCs1a2b3c_3drv12DriverUnload@4"), "drv::DriverUnload@4");
        assert_eq!(readable_name("_DriverEntry@8"), "_DriverEntry@8");
        assert_eq!(readable_name("__imp__NmrRegisterClient@12"), "__imp__NmrRegisterClient@12");
    }

    #[test]
    fn rejects_what_is_not_a_map() {
        assert!(LinkMap::parse("hello").is_err());
    }
}
