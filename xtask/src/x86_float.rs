//! The 32-bit x86 kernel does not save x87, MMX or SSE state for drivers (code that needs it
//! must bracket itself with `KeSaveFloatingPointState`), so an x86 driver must not contain a
//! single instruction that touches those registers. This scans `llvm-objdump -d` output (AT&T
//! syntax) of the linked image for them.
//!
//! Flagged: every x87 instruction (all mnemonics start with `f`, plus `wait`), any instruction
//! with an x87, MMX or XMM/YMM/ZMM register operand, and the MMX/SSE state instructions
//! (`emms`, `ldmxcsr`, `stmxcsr`). Not flagged: SSE-era instructions that touch no FP/vector
//! state (`mfence`, `lfence`, `prefetch*`, `movnti`).
//!
//! objdump decodes `.text` linearly, and on x86 COFF LLVM places `switch` jump tables inside
//! `.text`, right after their function: decoded as instructions, their bytes produce noise such
//! as `wait` (0x9b). Those tables are found from the instructions that index them
//! (`0xTABLE(,%reg,4)` with the table in code) and skipped up to the next symbol of the link map
//! (the next function). When the decoder comes out of a table misaligned, no instruction starts
//! exactly at that next function; the range from there to the next table is then decoded again
//! from the function's start, and a function still missed is reported as unverifiable instead
//! of trusted.

/// One instruction, as objdump printed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    pub(crate) address: u64,
    pub(crate) instruction: String,
}

/// Where code is: the executable sections and the start of every function in them (the link
/// map's symbols), as virtual addresses.
#[derive(Debug, Default)]
pub(crate) struct CodeLayout {
    pub(crate) sections: Vec<(u64, u64)>,
    /// Sorted.
    pub(crate) symbols: Vec<u64>,
}

impl CodeLayout {
    fn in_code(&self, address: u64) -> bool {
        self.sections.iter().any(|&(start, end)| (start..end).contains(&address))
    }

    fn section_end(&self, address: u64) -> Option<u64> {
        self.sections.iter().find(|&&(s, e)| (s..e).contains(&address)).map(|&(_, e)| e)
    }

    /// The end of the data that starts at `table`: the next symbol, or the end of its section.
    fn data_end(&self, table: u64) -> u64 {
        let section_end = self.section_end(table).unwrap_or(table);
        self.symbols
            .iter()
            .copied()
            .find(|&s| s > table)
            .map_or(section_end, |s| s.min(section_end))
    }
}

/// What a disassembly contains.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    pub(crate) instructions: usize,
    pub(crate) findings: Vec<Finding>,
    /// Jump tables skipped: (start, end).
    pub(crate) tables: Vec<(u64, u64)>,
    /// Bytes the disassembler could not decode, and function starts it did not land on: what
    /// follows either proves nothing.
    pub(crate) unverifiable: Vec<Finding>,
}

/// A disassembler: the whole image (`None`) or the range `[start, stop)` of virtual addresses,
/// as `llvm-objdump -d --no-show-raw-insn` prints it.
pub(crate) type Disassemble<'a> = dyn FnMut(Option<(u64, u64)>) -> anyhow::Result<String> + 'a;

/// How many times to re-decode from function starts that a linear pass missed.
const RESYNC_ROUNDS: usize = 8;

/// Disassembles the image and scans it; decodes again from each function start that the
/// linear pass came out of a jump table misaligned with.
pub(crate) fn scan(disassemble: &mut Disassemble<'_>, layout: &CodeLayout) -> anyhow::Result<Scan> {
    let mut decoded = parse(&disassemble(None)?);
    let mut tables = find_tables(&decoded, layout);
    for _ in 0..RESYNC_ROUNDS {
        let missed = out_of_step(&decoded, &tables, layout);
        if missed.is_empty() {
            break;
        }
        for start in missed {
            // Up to the next table (the next place the decoder can lose step) or the section end.
            let stop = tables
                .iter()
                .map(|&(s, _)| s)
                .filter(|&s| s > start)
                .chain(layout.section_end(start))
                .min()
                .unwrap_or(start);
            let again = parse(&disassemble(Some((start, stop)))?);
            decoded.retain(|(a, _)| !(start..stop).contains(a));
            decoded.extend(again.into_iter().filter(|(a, _)| (start..stop).contains(a)));
            decoded.sort_by_key(|(a, _)| *a);
        }
        tables = find_tables(&decoded, layout);
    }

    let in_table = |address: u64| tables.iter().any(|&(s, e)| (s..e).contains(&address));
    let mut scan = Scan::default();
    for (address, text) in &decoded {
        if in_table(*address) {
            continue;
        }
        scan.instructions += 1;
        let finding = || Finding { address: *address, instruction: squeeze(text) };
        if text.contains("<unknown>") || text.contains("(bad)") {
            scan.unverifiable.push(finding());
        } else if touches_fpu_or_vector_state(text) {
            scan.findings.push(finding());
        }
    }
    for start in out_of_step(&decoded, &tables, layout) {
        scan.unverifiable.push(Finding {
            address: start,
            instruction: "no instruction decodes at this function's start".into(),
        });
    }
    scan.tables = tables;
    Ok(scan)
}

/// Jump tables in code: (start, end), sorted.
fn find_tables(decoded: &[(u64, String)], layout: &CodeLayout) -> Vec<(u64, u64)> {
    let mut tables: Vec<(u64, u64)> = decoded
        .iter()
        .filter_map(|(_, text)| table_base(text))
        .filter(|&base| layout.in_code(base))
        .map(|base| (base, layout.data_end(base)))
        .collect();
    tables.sort_unstable();
    tables.dedup();
    tables
}

/// Function starts right after a table at which no instruction was decoded.
fn out_of_step(decoded: &[(u64, String)], tables: &[(u64, u64)], layout: &CodeLayout) -> Vec<u64> {
    let in_table = |address: u64| tables.iter().any(|&(s, e)| (s..e).contains(&address));
    let mut missed: Vec<u64> = tables
        .iter()
        .map(|&(_, end)| end)
        .filter(|&end| layout.in_code(end) && !in_table(end))
        .filter(|&end| decoded.binary_search_by_key(&end, |(a, _)| *a).is_err())
        .collect();
    missed.sort_unstable();
    missed.dedup();
    missed
}

/// (address, instruction text without the comment), in address order.
fn parse(disassembly: &str) -> Vec<(u64, String)> {
    let mut decoded = Vec::new();
    for line in disassembly.lines() {
        let Some((address, rest)) = line.split_once(':') else { continue };
        let Ok(address) = u64::from_str_radix(address.trim(), 16) else { continue };
        let text = rest.split('#').next().unwrap_or_default().trim();
        if !text.is_empty() {
            decoded.push((address, text.to_owned()));
        }
    }
    decoded.sort_by_key(|(a, _)| *a);
    decoded
}

/// `0x406978` in `movl 0x406978(,%ecx,4), %ecx` or `jmpl *0x406978(,%eax,4)`: an absolute table
/// base indexed by a register scaled by 4.
fn table_base(instruction: &str) -> Option<u64> {
    let index = instruction.find("(,%")?;
    let rest = &instruction[index..];
    if !rest.starts_with("(,%") || !rest.contains(",4)") {
        return None;
    }
    let before = &instruction[..index];
    let start = before.rfind("0x")?;
    u64::from_str_radix(&before[start + 2..], 16).ok()
}

/// Prefixes objdump prints as words of their own before the mnemonic.
const PREFIXES: [&str; 14] = [
    "lock", "rep", "repe", "repz", "repne", "repnz", "data16", "data32", "addr16", "addr32",
    "notrack", "rex64", "xacquire", "xrelease",
];

fn touches_fpu_or_vector_state(instruction: &str) -> bool {
    let mut words = instruction.split_whitespace().skip_while(|w| PREFIXES.contains(w));
    let Some(mnemonic) = words.next() else { return false };
    let operands: String = words.collect();
    mnemonic.starts_with('f')
        || matches!(mnemonic, "wait" | "emms" | "ldmxcsr" | "stmxcsr")
        || ["%st", "%mm", "%xmm", "%ymm", "%zmm"].iter().any(|r| operands.contains(r))
}

fn squeeze(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "
driver.sys:\tfile format coff-i386

Disassembly of section .text:

00401000 <.text>:
  401000:     \tpushl\t%ebp
  401001:     \tmovl\t%esp, %ebp
  401003:     \tfldl\t0x8(%ebp)
  401006:     \tmovsd\t%xmm0, (%esp)
  40100a:     \tlock\t\tcmpxchg8b\t(%esi)
  40100e:     \trep\t\tmovsl\t(%esi), %es:(%edi)
  401010:     \tmovq\t%mm0, %mm1
  401013:     \tcalll\t*0x402000              # 0x402000 <__imp__NmrRegisterClient@12>
  401019:     \tmfence
  40101c:     \t<unknown>
  40101d:     \tretl\t$0x8
";

    fn layout(symbols: &[u64]) -> CodeLayout {
        CodeLayout { sections: vec![(0x401000, 0x402000)], symbols: symbols.to_vec() }
    }

    /// A disassembler that prints `text` for the whole image and `ranges[i]` for range i.
    fn run(whole: &str, ranges: &[(u64, u64, &str)], layout: &CodeLayout) -> (Scan, usize) {
        let mut calls = 0;
        let mut disassemble = |range: Option<(u64, u64)>| -> anyhow::Result<String> {
            calls += 1;
            Ok(match range {
                None => whole.to_owned(),
                Some((start, stop)) => ranges
                    .iter()
                    .find(|(s, e, _)| (*s, *e) == (start, stop))
                    .map_or_else(String::new, |(_, _, t)| (*t).to_owned()),
            })
        };
        let scan = scan(&mut disassemble, layout).unwrap();
        (scan, calls)
    }

    #[test]
    fn flags_x87_sse_and_mmx_only() {
        let (scan, _) = run(SAMPLE, &[], &layout(&[0x401000]));
        assert_eq!(scan.instructions, 11);
        let flagged: Vec<u64> = scan.findings.iter().map(|f| f.address).collect();
        assert_eq!(flagged, [0x401003, 0x401006, 0x401010]);
        assert_eq!(scan.findings[1].instruction, "movsd %xmm0, (%esp)");
        assert_eq!(scan.unverifiable.len(), 1);
    }

    #[test]
    fn prefixes_do_not_hide_the_mnemonic() {
        assert!(touches_fpu_or_vector_state("lock fadd %st(1)"));
        assert!(!touches_fpu_or_vector_state("lock addl $0x1, (%eax)"));
        assert!(!touches_fpu_or_vector_state("rep stosl %eax, %es:(%edi)"));
    }

    // A function with a jump table after its `ret` (as LLVM lays it out on x86 COFF), then the
    // next function. The table's bytes decode as noise, `wait` among them.
    const WITH_TABLE: &str = "
  401000:     \tmovl\t0x401010(,%ecx,4), %ecx
  401007:     \taddl\t%ecx, %eax
  401009:     \tjmpl\t*%eax
  40100b:     \tretl
  40100c:     \tnopl\t(%eax)
  401010:     \tsubl\t$0x39000000, %eax
  401015:     \taddb\t%al, (%eax)
  401018:     \twait
  401019:     \tint3
  401020:     \tpushl\t%ebp
  401021:     \tretl
";

    #[test]
    fn jump_tables_are_skipped_up_to_the_next_function() {
        let (scan, calls) = run(WITH_TABLE, &[], &layout(&[0x401000, 0x401020]));
        assert_eq!(scan.tables, [(0x401010, 0x401020)]);
        assert!(scan.findings.is_empty(), "{:?}", scan.findings);
        assert!(scan.unverifiable.is_empty(), "{:?}", scan.unverifiable);
        assert_eq!(scan.instructions, 7);
        assert_eq!(calls, 1, "in step: no second pass");
    }

    #[test]
    fn out_of_step_functions_are_decoded_again_from_their_start() {
        // The next function starts at 0x40101a, inside what the linear pass decoded as one
        // instruction; decoded from its start it holds an x87 load.
        let again = "  40101a:     \tfldl\t(%eax)\n  40101c:     \tretl\n";
        let (scan, calls) =
            run(WITH_TABLE, &[(0x40101a, 0x402000, again)], &layout(&[0x401000, 0x40101a]));
        assert_eq!(calls, 2);
        assert!(scan.unverifiable.is_empty(), "{:?}", scan.unverifiable);
        let flagged: Vec<u64> = scan.findings.iter().map(|f| f.address).collect();
        assert_eq!(flagged, [0x40101a]);
    }

    #[test]
    fn a_start_that_never_decodes_is_reported() {
        let (scan, _) = run(WITH_TABLE, &[], &layout(&[0x401000, 0x40101a]));
        assert_eq!(scan.unverifiable.len(), 1);
        assert_eq!(scan.unverifiable[0].address, 0x40101a);
    }

    #[test]
    fn table_bases_are_read_from_scaled_index_operands() {
        assert_eq!(table_base("movl 0x406978(,%ecx,4), %ecx"), Some(0x406978));
        assert_eq!(table_base("jmpl *0x40a000(,%eax,4)"), Some(0x40a000));
        assert_eq!(table_base("movl 0x8(%esp,%ecx,4), %eax"), None);
        assert_eq!(table_base("movl (,%ecx,8), %eax"), None);
    }
}
