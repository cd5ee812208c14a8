//! What the checks need from a PE image, read with `object` into plain data, the same for
//! PE32 (x86) and PE32+ (x64, arm64). The checks work on this, not on the bytes, so the unit
//! tests can build an image by hand.

use anyhow::{Context, bail};
use object::LittleEndian as LE;
use object::pe;
use object::read::pe::{ImageNtHeaders, ImageOptionalHeader, Import, PeFile};

/// A PE image.
#[derive(Debug, Default, Clone)]
pub(crate) struct Image {
    pub(crate) is_64: bool,
    pub(crate) machine: u16,
    pub(crate) image_base: u64,
    pub(crate) entry_rva: u32,
    pub(crate) subsystem: u16,
    /// The checksum in the optional header, and the one computed from the file.
    pub(crate) checksum: u32,
    pub(crate) computed_checksum: u32,
    pub(crate) file_size: usize,
    pub(crate) sections: Vec<Section>,
    pub(crate) imports: Vec<ImportedModule>,
    pub(crate) base_relocations: Vec<BaseRelocation>,
    /// The TLS data directory (RVA, size); (0, 0) when there is none.
    pub(crate) tls_directory: (u32, u32),
}

/// A section of the image.
#[derive(Debug, Default, Clone)]
pub(crate) struct Section {
    pub(crate) name: String,
    pub(crate) rva: u32,
    pub(crate) virtual_size: u32,
    pub(crate) flags: u32,
    /// The raw data (may be shorter than `virtual_size`: the rest is zero-filled at load).
    pub(crate) data: Vec<u8>,
}

impl Section {
    pub(crate) fn is_writable(&self) -> bool {
        self.flags & pe::IMAGE_SCN_MEM_WRITE.0 != 0
    }

    pub(crate) fn is_executable(&self) -> bool {
        self.flags & pe::IMAGE_SCN_MEM_EXECUTE.0 != 0
    }

    pub(crate) fn contains(&self, rva: u32) -> bool {
        rva >= self.rva && rva - self.rva < self.virtual_size.max(1)
    }

    /// `r`, `rw`, `rx`, ... as a map or dumpbin would say.
    pub(crate) fn access(&self) -> String {
        let mut s = String::from("r");
        if self.is_writable() {
            s.push('w');
        }
        if self.is_executable() {
            s.push('x');
        }
        s
    }
}

/// The functions imported from one module.
#[derive(Debug, Clone)]
pub(crate) struct ImportedModule {
    pub(crate) module: String,
    pub(crate) functions: Vec<ImportedFunction>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ImportedFunction {
    Name(String),
    Ordinal(u16),
}

/// One base relocation: the loader adds the load delta to the pointer at `rva`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BaseRelocation {
    pub(crate) rva: u32,
    pub(crate) kind: u16,
}

impl Image {
    /// Reads a PE32 or PE32+ image.
    pub(crate) fn parse(data: &[u8]) -> anyhow::Result<Self> {
        let magic = object::read::pe::optional_header_magic(data).context("not a PE image")?;
        match magic {
            pe::IMAGE_NT_OPTIONAL_HDR32_MAGIC => parse_pe::<pe::ImageNtHeaders32>(data),
            pe::IMAGE_NT_OPTIONAL_HDR64_MAGIC => parse_pe::<pe::ImageNtHeaders64>(data),
            other => bail!("unknown PE optional header magic {other:#x}"),
        }
    }

    pub(crate) fn pointer_size(&self) -> usize {
        if self.is_64 { 8 } else { 4 }
    }

    pub(crate) fn section_at(&self, rva: u32) -> Option<&Section> {
        self.sections.iter().find(|s| s.contains(rva))
    }

    pub(crate) fn section_named(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }

    /// `len` bytes at `rva`, if they are all in one section's raw data.
    pub(crate) fn bytes(&self, rva: u32, len: usize) -> Option<&[u8]> {
        let section = self.section_at(rva)?;
        let start = usize::try_from(rva - section.rva).ok()?;
        section.data.get(start..start.checked_add(len)?)
    }

    pub(crate) fn read_u16(&self, rva: u32) -> Option<u16> {
        Some(u16::from_le_bytes(self.bytes(rva, 2)?.try_into().ok()?))
    }

    pub(crate) fn read_u32(&self, rva: u32) -> Option<u32> {
        Some(u32::from_le_bytes(self.bytes(rva, 4)?.try_into().ok()?))
    }

    /// A pointer-sized value at `rva` (a virtual address as linked, at the preferred base).
    pub(crate) fn read_pointer(&self, rva: u32) -> Option<u64> {
        if self.is_64 {
            Some(u64::from_le_bytes(self.bytes(rva, 8)?.try_into().ok()?))
        } else {
            self.read_u32(rva).map(u64::from)
        }
    }

    /// The RVA a linked pointer value points to, if it points into the image.
    pub(crate) fn rva_of(&self, address: u64) -> Option<u32> {
        u32::try_from(address.checked_sub(self.image_base)?).ok()
    }

    pub(crate) fn has_base_relocation(&self, rva: u32) -> bool {
        self.base_relocations.iter().any(|r| r.rva == rva)
    }
}

fn parse_pe<Pe: ImageNtHeaders>(data: &[u8]) -> anyhow::Result<Image> {
    let file = PeFile::<Pe>::parse(data).context("unreadable PE image")?;
    let nt = file.nt_headers();
    let optional = nt.optional_header();
    let table = file.section_table();

    let mut sections = Vec::new();
    for header in table.iter() {
        let name = String::from_utf8_lossy(header.raw_name()).into_owned();
        let data = header.pe_data(data).with_context(|| format!("section {name} data"))?;
        sections.push(Section {
            name,
            rva: header.virtual_address.get(LE),
            virtual_size: header.virtual_size.get(LE),
            flags: header.characteristics.get(LE).0,
            data: data.to_vec(),
        });
    }

    let mut imports = Vec::new();
    if let Some(import_table) = file.import_table().context("unreadable import table")? {
        let mut descriptors = import_table.descriptors()?;
        while let Some(descriptor) = descriptors.next()? {
            let module =
                String::from_utf8_lossy(import_table.name(descriptor.name.get(LE))?).into_owned();
            // The lookup table (original first thunk) keeps the names even after binding;
            // lld always writes it.
            let mut lookup = descriptor.original_first_thunk.get(LE);
            if lookup == 0 {
                lookup = descriptor.first_thunk.get(LE);
            }
            let mut thunks = import_table.thunks(lookup)?;
            let mut functions = Vec::new();
            while let Some(thunk) = thunks.next::<Pe>()? {
                functions.push(match import_table.import::<Pe>(thunk)? {
                    Import::Name(_hint, name) => {
                        ImportedFunction::Name(String::from_utf8_lossy(name).into_owned())
                    }
                    Import::Ordinal(ordinal) => ImportedFunction::Ordinal(ordinal),
                });
            }
            imports.push(ImportedModule { module, functions });
        }
    }

    let mut base_relocations = Vec::new();
    if let Some(mut blocks) = file.data_directories().relocation_blocks(data, &table)? {
        while let Some(block) = blocks.next()? {
            for relocation in block {
                base_relocations.push(BaseRelocation {
                    rva: relocation.virtual_address,
                    kind: relocation.typ.0,
                });
            }
        }
    }

    let tls_directory = file
        .data_directory(pe::IMAGE_DIRECTORY_ENTRY_TLS)
        .map_or((0, 0), |d| (d.virtual_address.get(LE), d.size.get(LE)));

    Ok(Image {
        is_64: nt.is_type_64(),
        machine: nt.file_header().machine.get(LE).0,
        image_base: optional.image_base(),
        entry_rva: optional.address_of_entry_point(),
        subsystem: optional.subsystem().0,
        checksum: optional.check_sum(),
        computed_checksum: pe_checksum(data, checksum_offset(&file)),
        file_size: data.len(),
        sections,
        imports,
        base_relocations,
        tls_directory,
    })
}

/// Where `CheckSum` sits in the file: 64 bytes into the optional header in both formats.
fn checksum_offset<Pe: ImageNtHeaders>(file: &PeFile<'_, Pe>) -> usize {
    let nt_offset = file.dos_header().nt_headers_offset() as usize;
    // Signature (4) + IMAGE_FILE_HEADER (20) + the optional header fields before CheckSum (64).
    nt_offset + 4 + 20 + 64
}

/// The PE checksum (`CheckSumMappedFile`): the file summed as 16-bit words with end-around
/// carry, the checksum field itself taken as zero, plus the file length.
pub(crate) fn pe_checksum(data: &[u8], checksum_offset: usize) -> u32 {
    let mut sum: u64 = 0;
    for (i, chunk) in data.chunks(2).enumerate() {
        let offset = i * 2;
        if (checksum_offset..checksum_offset + 4).contains(&offset) {
            continue;
        }
        let word = u16::from_le_bytes([chunk[0], chunk.get(1).copied().unwrap_or(0)]);
        sum += u64::from(word);
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum = (sum & 0xffff) + (sum >> 16);
    // Truncation is the algorithm: a 16-bit sum plus a 32-bit length, modulo 2^32.
    #[allow(clippy::cast_possible_truncation)]
    let sum = sum as u32;
    #[allow(clippy::cast_possible_truncation)]
    let len = data.len() as u32;
    sum.wrapping_add(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_folds_carries_skips_its_field_and_adds_the_length() {
        // Words 0xffff + 0x0002 = 0x10001 -> folded 0x0002; the "checksum" bytes are ignored.
        let data = [0xff, 0xff, 0x02, 0x00, 0xaa, 0xbb, 0xcc, 0xdd, 0x01];
        assert_eq!(pe_checksum(&data, 4), 0x0002 + 0x0001 + 9);
    }

    #[test]
    fn reading_stays_inside_sections() {
        let image = Image {
            is_64: true,
            image_base: 0x1_4000_0000,
            sections: vec![Section {
                name: ".rdata".into(),
                rva: 0x2000,
                virtual_size: 0x10,
                flags: pe::IMAGE_SCN_MEM_READ.0,
                data: (0u8..16).collect(),
            }],
            ..Image::default()
        };
        assert_eq!(image.read_u16(0x2002), Some(0x0302));
        assert_eq!(image.read_pointer(0x2008), Some(0x0f0e_0d0c_0b0a_0908));
        assert_eq!(image.read_pointer(0x200c), None, "runs past the raw data");
        assert_eq!(image.rva_of(0x1_4000_2008), Some(0x2008));
        assert_eq!(image.rva_of(0x1000), None);
        assert_eq!(image.section_at(0x2000).map(Section::access).as_deref(), Some("r"));
    }
}
