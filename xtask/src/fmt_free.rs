//! No `core::fmt` in the driver: formatting is kilobytes of code and tables that a kernel driver
//! has no use for (nothing prints a panic message; the panic handler bugchecks with the
//! location), and it only gets in through a panic or allocation-failure path that formats its
//! message with run-time values. This finds it and says who pulled it in.
//!
//! *What is linked* comes from the link map: every symbol lld kept after `/OPT:REF`, public
//! and static. A symbol is formatting code when its demangled path (v0 or legacy mangling, x86
//! decoration removed) is an item of `core::fmt`/`alloc::fmt` or a method of an impl of one of
//! their traits (`<u32 as core::fmt::Display>::fmt`), or when it is the default allocation
//! error handler (`__rdl_alloc_error_handler`, formerly `__rdl_oom`; std's
//! `default_alloc_error_hook`), whose only job is to format "memory allocation of N bytes
//! failed". `fmt::Arguments` and `fmt::rt` are not formatting code: a panic with a constant
//! message builds an `Arguments` (unoptimised, by calling `Arguments::from_str`) that a panic
//! handler like ours never formats, and an `rt::Argument` only points at a `Display`/`Debug`
//! impl, which is flagged itself. The panic entry points (`panic_bounds_check`, `unwrap_failed`,
//! `slice_end_index_len_fail`, ...) are not flagged by name: with `panic = "immediate-abort"`
//! they format nothing; when they do format, the `Display`/`Debug` impls they reference are in
//! the image and flagged, and the entry point shows up on the path below.
//!
//! *Who pulled it in* comes from the objects of the staticlib: every section (a function or a
//! datum, rustc emits one section each) and the symbols its relocations reference, restricted
//! to the sections whose symbols the map lists. Walking those references backwards from the
//! formatting symbols, through the sysroot's code and any data, stops at the first function of
//! the driver's own crates (driver, npi-runtime, ...): that function is what to fix, and the path
//! from it (`npi_runtime::...::new -> alloc::alloc::handle_alloc_error -> ...`) says why.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fmt::Write as _;

use anyhow::Context;
use object::read::archive::ArchiveFile;
use object::{FileKind, Object, ObjectSection, ObjectSymbol, RelocationTarget, SectionKind};

use crate::map::LinkMap;

/// Why a symbol counts as formatting code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FmtKind {
    /// An item of `core::fmt`/`alloc::fmt`, or a method of an impl of one of their traits.
    Formatting,
    /// The default allocation error handler, which formats "memory allocation of N bytes failed".
    DefaultAllocErrorHandler,
}

/// Crates of the sysroot: their functions are never what a driver author fixes; the walk goes
/// through them to the driver's code that called them.
const SYSROOT_CRATES: [&str; 7] = [
    "core",
    "alloc",
    "compiler_builtins",
    "std",
    "rustc_std_workspace_core",
    "rustc_std_workspace_alloc",
    "panic_abort",
];

/// `<module>::` prefixes whose items are formatting code.
const FMT_MODULES: [&str; 3] = ["core::fmt::", "alloc::fmt::", "std::fmt::"];

/// The demangled name without hashes (`{:#}`), x86's `@bytes` stdcall suffix dropped; a name
/// that is not a Rust symbol comes back as written.
pub(crate) fn demangled(name: &str) -> String {
    let base = match name.rsplit_once('@') {
        Some((base, bytes)) if !bytes.is_empty() && bytes.bytes().all(|b| b.is_ascii_digit()) => {
            base
        }
        _ => name,
    };
    match rustc_demangle::try_demangle(base) {
        Ok(d) => format!("{d:#}"),
        Err(_) => name.to_owned(),
    }
}

/// Whether the linked symbol `name` (as in the map or an object: mangled, maybe decorated) is
/// formatting code, and why.
pub(crate) fn classify(name: &str) -> Option<FmtKind> {
    let path = demangled(name);
    if is_default_alloc_error_handler(&path) {
        return Some(FmtKind::DefaultAllocErrorHandler);
    }
    is_formatting(&path).then_some(FmtKind::Formatting)
}

fn in_fmt_module(path: &str) -> bool {
    FMT_MODULES.iter().any(|m| path.starts_with(m))
}

/// The inherent methods of `fmt::Arguments` and of the `fmt::rt` types: they build and carry
/// the arguments, formatting nothing (see the module documentation).
fn is_arguments_plumbing(type_path: &str) -> bool {
    ["core::fmt::Arguments", "core::fmt::rt::"].iter().any(|p| {
        type_path.strip_prefix(p).is_some_and(|rest| {
            p.ends_with("::") || rest.is_empty() || rest.starts_with("::") || rest.starts_with('<')
        })
    })
}

fn is_formatting(path: &str) -> bool {
    if let Some((self_type, trait_path, _rest)) = qualified(path) {
        // `<T as core::fmt::Display>::fmt`, `<core::fmt::Formatter>::pad_integral`,
        // `<core::fmt::Arguments as core::fmt::Display>::fmt`; not `<core::fmt::Arguments>::new`.
        return match trait_path {
            Some(trait_path) => in_fmt_module(self_type) || in_fmt_module(trait_path),
            None => in_fmt_module(self_type) && !is_arguments_plumbing(self_type),
        };
    }
    if is_arguments_plumbing(path) {
        // Legacy `core::fmt::Arguments::new_const`, `core::fmt::rt::Argument::new_display`.
        return false;
    }
    // `core::fmt::write`, legacy `core::fmt::Formatter::pad` and
    // `core::fmt::num::imp::<impl core::fmt::Display for u32>::fmt`; legacy impls elsewhere,
    // `my_crate::<impl core::fmt::Debug for my_crate::Thing>::fmt` (legacy names carry no
    // generic arguments, so the substring cannot come from one).
    in_fmt_module(path) || FMT_MODULES.iter().any(|m| path.contains(&format!("<impl {m}")))
}

fn is_default_alloc_error_handler(path: &str) -> bool {
    let last = path.rsplit("::").next().unwrap_or(path);
    // x86 adds a `_` to C names: `___rdl_oom`.
    matches!(
        last.trim_start_matches('_'),
        "rdl_alloc_error_handler" | "rdl_oom" | "default_alloc_error_hook"
    )
}

/// `<Self as Trait>::rest` or `<Self>::rest` split into its parts; `None` for a plain path.
/// Brackets nest (`<alloc::sync::Arc<T> as core::ops::Drop>::drop`); the `>` of a `->` in a fn
/// pointer type is not one.
fn qualified(path: &str) -> Option<(&str, Option<&str>, &str)> {
    let inner_and_rest = path.strip_prefix('<')?;
    let bytes = inner_and_rest.as_bytes();
    let mut depth = 0usize;
    let mut close = None;
    let mut as_at = None;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'<' | b'[' | b'(' => depth += 1,
            b'>' if i > 0 && bytes[i - 1] == b'-' => {}
            b'>' | b']' | b')' => {
                if depth == 0 {
                    close = Some(i);
                    break;
                }
                depth -= 1;
            }
            b' ' if depth == 0 && as_at.is_none() && inner_and_rest[i..].starts_with(" as ") => {
                as_at = Some(i);
            }
            _ => {}
        }
    }
    let close = close?;
    let inner = &inner_and_rest[..close];
    let rest = &inner_and_rest[close + 1..];
    Some(match as_at {
        Some(at) => (&inner[..at], Some(&inner[at + 4..]), rest),
        None => (inner, None, rest),
    })
}

/// The crate a demangled path belongs to, for deciding whether it is the driver's own code:
/// the impl's self type if that is a path (`<npi_runtime::X as core::ops::Drop>::drop` is
/// npi-runtime's), else the trait's (`<[u8] as core::ops::Index<usize>>::index` is core's);
/// `None` for what is not a Rust path.
fn path_crate(path: &str) -> Option<&str> {
    fn first_segment(path: &str) -> Option<&str> {
        let end = path.find("::")?;
        let segment = &path[..end];
        segment.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_').then_some(segment)
    }
    match qualified(path) {
        // Inherent methods of primitives (`<*mut _>::add::precondition_check`, `<[T]>::len`)
        // are the sysroot's.
        Some((self_type, None, _)) => first_segment(self_type).or(Some("core")),
        Some((self_type, Some(trait_path), _)) => {
            first_segment(self_type).or_else(|| first_segment(trait_path))
        }
        None => first_segment(path),
    }
}

/// The crate of an object in rustc's staticlib: members are named
/// `<crate>-<hash>.<cgu>.rcgu.o`.
fn object_crate(object: &str) -> &str {
    object.split(['-', '.']).next().unwrap_or(object)
}

/// One section of one object of the staticlib.
#[derive(Debug)]
struct Node {
    /// The archive member.
    object: String,
    /// The symbols defined in it (section symbols excluded), as written in the object.
    symbols: Vec<String>,
    code: bool,
    /// Relocation targets: a section of the same object, or a global symbol by name (resolved
    /// against the map, as lld may have taken another object's COMDAT copy).
    refs: Vec<Ref>,
}

#[derive(Debug)]
enum Ref {
    Local(usize),
    Global(String),
}

/// What the objects of a staticlib reference.
#[derive(Debug, Default)]
pub(crate) struct References {
    nodes: Vec<Node>,
}

impl References {
    /// Reads every COFF object of the staticlib `bytes`.
    pub(crate) fn from_archive(bytes: &[u8]) -> anyhow::Result<Self> {
        let archive = ArchiveFile::parse(bytes).context("unreadable staticlib archive")?;
        let mut references = References::default();
        for member in archive.members() {
            let member = member.context("unreadable staticlib member")?;
            let data = member.data(bytes)?;
            if !matches!(FileKind::parse(data), Ok(FileKind::Coff | FileKind::CoffBig)) {
                continue;
            }
            let name = String::from_utf8_lossy(member.name()).into_owned();
            let file =
                object::File::parse(data).with_context(|| format!("unreadable object {name}"))?;
            references.add_object(&name, &file);
        }
        Ok(references)
    }

    fn add_object(&mut self, object: &str, file: &object::File<'_>) {
        let mut node_of = HashMap::new();
        for section in file.sections() {
            node_of.insert(section.index(), self.nodes.len());
            self.nodes.push(Node {
                object: object.to_owned(),
                symbols: Vec::new(),
                code: section.kind() == SectionKind::Text,
                refs: Vec::new(),
            });
        }
        for symbol in file.symbols() {
            if symbol.kind() == object::SymbolKind::Section {
                continue;
            }
            if let (Some(index), Ok(name)) = (symbol.section_index(), symbol.name())
                && let Some(&node) = node_of.get(&index)
            {
                self.nodes[node].symbols.push(name.to_owned());
            }
        }
        for section in file.sections() {
            let Some(&from) = node_of.get(&section.index()) else { continue };
            for (_, relocation) in section.relocations() {
                let target = match relocation.target() {
                    RelocationTarget::Section(index) => node_of.get(&index).map(|&n| Ref::Local(n)),
                    RelocationTarget::Symbol(index) => {
                        file.symbol_by_index(index).ok().and_then(|symbol| {
                            if symbol.is_global() || symbol.is_undefined() {
                                symbol.name().ok().map(|n| Ref::Global(n.to_owned()))
                            } else {
                                symbol
                                    .section_index()
                                    .and_then(|i| node_of.get(&i))
                                    .map(|&n| Ref::Local(n))
                            }
                        })
                    }
                    _ => None,
                };
                if let Some(target) = target {
                    self.nodes[from].refs.push(target);
                }
            }
        }
    }
}

/// A formatting symbol in the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FmtSymbol {
    pub(crate) name: String,
    pub(crate) readable: String,
    pub(crate) kind: FmtKind,
    /// The archive member the map says it came from (`core-<hash>.core.<hash>-cgu.0.rcgu.o`).
    pub(crate) object: String,
}

/// A function of the driver's own crates that (through sysroot code and data) references
/// formatting code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Culprit {
    /// Its readable name.
    pub(crate) function: String,
    /// The crate of the object it was compiled into.
    pub(crate) object_crate: String,
    /// Each of its references that leads to formatting code, followed (shortest way, readable
    /// names) to the nearest formatting symbol.
    pub(crate) routes: Vec<Vec<String>>,
}

/// What the check found.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    pub(crate) symbols: Vec<FmtSymbol>,
    pub(crate) culprits: Vec<Culprit>,
    /// Formatting symbols that no function of the driver's crates reaches, with what
    /// references them.
    pub(crate) untraced: Vec<(String, Vec<String>)>,
    /// The number of linked symbols looked at.
    pub(crate) linked: usize,
}

/// The formatting symbols the map lists, and (with the staticlib's references) the driver
/// functions that pull them in.
pub(crate) fn find(map: &LinkMap, references: Option<&References>) -> Findings {
    let mut findings = Findings { linked: map.symbols.len(), ..Findings::default() };
    let mut seen = BTreeSet::new();
    for symbol in &map.symbols {
        if let Some(kind) = classify(&symbol.name)
            && seen.insert((symbol.object.clone(), symbol.name.clone()))
        {
            findings.symbols.push(FmtSymbol {
                name: symbol.name.clone(),
                readable: demangled(&symbol.name),
                kind,
                object: symbol.object.clone(),
            });
        }
    }
    if findings.symbols.is_empty() {
        return findings;
    }
    findings.symbols.sort_by(|a, b| {
        let rank = |s: &FmtSymbol| s.kind != FmtKind::DefaultAllocErrorHandler;
        (rank(a), &a.readable).cmp(&(rank(b), &b.readable))
    });
    if let Some(references) = references {
        trace(map, references, &mut findings);
    }
    findings
}

/// The linked part of the reference graph, and the walk back from the formatting symbols.
fn trace(map: &LinkMap, references: &References, findings: &mut Findings) {
    let nodes = &references.nodes;
    // What lld kept: (object, symbol) pairs from the map; a section is linked when one of its
    // symbols is listed with its object.
    let mut kept: HashMap<&str, Vec<&str>> = HashMap::new();
    for symbol in &map.symbols {
        kept.entry(symbol.name.as_str()).or_default().push(symbol.object.as_str());
    }
    let is_kept = |node: &Node, name: &str| {
        kept.get(name).is_some_and(|objects| objects.iter().any(|o| *o == node.object))
    };
    let mut linked: Vec<bool> =
        nodes.iter().map(|n| n.symbols.iter().any(|s| is_kept(n, s))).collect();
    // Sections without any symbol (jump tables, some constants) are not in the map: they are
    // linked when a linked section of their object references them.
    let mut work: Vec<usize> = (0..nodes.len()).filter(|&i| linked[i]).collect();
    while let Some(at) = work.pop() {
        for target in &nodes[at].refs {
            if let Ref::Local(to) = *target
                && !linked[to]
                && nodes[to].symbols.is_empty()
            {
                linked[to] = true;
                work.push(to);
            }
        }
    }
    let mut definition: HashMap<&str, usize> = HashMap::new();
    for (i, node) in nodes.iter().enumerate().filter(|(i, _)| linked[*i]) {
        for symbol in node.symbols.iter().filter(|s| is_kept(node, s)) {
            definition.entry(symbol.as_str()).or_insert(i);
        }
    }
    // COFF weak externals (compiler_builtins' `memcpy`, ...) have no section of their own; the
    // definition is their default, `.weak.<name>.default.<other symbol>`.
    for (i, node) in nodes.iter().enumerate().filter(|(i, _)| linked[*i]) {
        for symbol in node.symbols.iter().filter(|s| is_kept(node, s)) {
            if let Some((weak, _)) =
                symbol.strip_prefix(".weak.").and_then(|rest| rest.split_once(".default."))
            {
                definition.entry(weak).or_insert(i);
            }
        }
    }
    let mut forward: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    let mut backward: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for (from, node) in nodes.iter().enumerate().filter(|(i, _)| linked[*i]) {
        for target in &node.refs {
            let to = match target {
                Ref::Local(n) => Some(*n),
                Ref::Global(name) => definition.get(name.as_str()).copied(),
            };
            if let Some(to) = to.filter(|&t| linked[t] && t != from) {
                forward[from].push(to);
                backward[to].push(from);
            }
        }
    }

    let label = |i: usize| node_label(&nodes[i]);
    let formatting: Vec<bool> = (0..nodes.len())
        .map(|i| linked[i] && nodes[i].symbols.iter().any(|s| classify(s).is_some()))
        .collect();
    let own: Vec<bool> = (0..nodes.len()).map(|i| linked[i] && is_own_code(&nodes[i])).collect();

    // Breadth-first backwards from every formatting section at once: `next[i]` is the step
    // from `i` towards the nearest one.
    let mut next: Vec<Option<usize>> = vec![None; nodes.len()];
    let mut visited = formatting.clone();
    let mut queue: VecDeque<usize> = (0..nodes.len()).filter(|&i| formatting[i]).collect();
    let mut culprits = Vec::new();
    while let Some(at) = queue.pop_front() {
        for &from in &backward[at] {
            if visited[from] {
                continue;
            }
            visited[from] = true;
            next[from] = Some(at);
            if own[from] {
                culprits.push(from);
            } else {
                queue.push_back(from);
            }
        }
    }

    // Every route of each culprit: each of its direct references that leads to formatting code
    // through the sysroot (or is formatting code), followed to the nearest formatting symbol.
    let leads = |i: usize| formatting[i] || (visited[i] && !own[i]);
    for &culprit in &culprits {
        let mut routes: Vec<Vec<String>> = Vec::new();
        let mut first_steps: Vec<usize> = forward[culprit].clone();
        first_steps.sort_unstable();
        first_steps.dedup();
        for step in first_steps.into_iter().filter(|&i| leads(i)) {
            let mut route = vec![label(step)];
            let mut at = step;
            while let Some(next_step) = next[at] {
                route.push(label(next_step));
                at = next_step;
            }
            routes.push(route);
        }
        routes.sort();
        routes.dedup();
        findings.culprits.push(Culprit {
            function: label(culprit),
            object_crate: object_crate(&nodes[culprit].object).to_owned(),
            routes,
        });
    }
    findings.culprits.sort_by(|a, b| a.function.cmp(&b.function));

    // Formatting sections no culprit reaches: say who references them instead.
    let mut covered = vec![false; nodes.len()];
    let mut stack: Vec<usize> = culprits.clone();
    while let Some(at) = stack.pop() {
        for &to in &forward[at] {
            if !covered[to] && !own[to] {
                covered[to] = true;
                stack.push(to);
            }
        }
    }
    for i in (0..nodes.len()).filter(|&i| formatting[i] && !covered[i]) {
        let referrers: BTreeSet<String> = backward[i].iter().map(|&r| label(r)).collect();
        findings.untraced.push((label(i), referrers.into_iter().collect()));
    }
}

/// A function of the driver's crates, as opposed to the sysroot's (generic sysroot code
/// instantiated in a driver object counts as the sysroot's) or the allocator shim rustc
/// generates (`__rustc::__rust_alloc_error_handler`). The panic handler
/// (`__rustc::rust_begin_unwind`) is the driver's.
fn is_own_code(node: &Node) -> bool {
    if !node.code {
        return false;
    }
    let Some(symbol) = node.symbols.first() else { return false };
    let path = demangled(symbol);
    if path == "__rustc::rust_begin_unwind" {
        return true;
    }
    let krate =
        if rustc_demangle::try_demangle(symbol.rsplit_once('@').map_or(symbol, |s| s.0)).is_ok() {
            path_crate(&path).unwrap_or_else(|| object_crate(&node.object))
        } else {
            object_crate(&node.object)
        };
    krate != "__rustc" && !SYSROOT_CRATES.contains(&krate)
}

fn node_label(node: &Node) -> String {
    let Some(symbol) = node.symbols.first() else {
        return format!("(unnamed section of {})", node.object);
    };
    let name = demangled(symbol);
    if name == "__rustc::rust_begin_unwind" {
        format!("{name} (the #[panic_handler])")
    } else {
        name
    }
}

impl Findings {
    /// The check's verdict: what was looked at when clean, else the symbols and the paths.
    pub(crate) fn outcome(&self, traced: bool) -> Result<String, String> {
        if self.symbols.is_empty() {
            return Ok(format!(
                "none of the {} linked symbols is core::fmt code or the default alloc error handler",
                self.linked
            ));
        }
        let mut out = format!(
            "{} formatting symbols linked (a panic or allocation-failure path that formats its \
             message):",
            self.symbols.len()
        );
        for symbol in &self.symbols {
            let why = match symbol.kind {
                FmtKind::Formatting => "",
                FmtKind::DefaultAllocErrorHandler => "  <- the default alloc error handler",
            };
            let _ = write!(out, "\n  {} [{}]{why}", symbol.readable, object_crate(&symbol.object));
        }
        if !traced {
            out.push_str("\n(the staticlib's objects were not read, so no referrers)");
            return Err(out);
        }
        if self.culprits.is_empty() {
            out.push_str("\nno function of the driver's crates references them");
        } else {
            let _ = write!(
                out,
                "\npulled in by {} function(s) of the driver's crates, each with the references \
                 that lead to formatting code (-> ... -> the nearest formatting symbol):",
                self.culprits.len()
            );
            for culprit in &self.culprits {
                let _ = write!(out, "\n  {}  [{} object]", culprit.function, culprit.object_crate);
                for route in &culprit.routes {
                    let _ = write!(out, "\n      -> {}", route.join(" -> "));
                }
            }
        }
        for (symbol, referrers) in &self.untraced {
            let _ = write!(
                out,
                "\nnot reached from the driver's crates: {symbol}, referenced by {}",
                if referrers.is_empty() { "nothing".to_owned() } else { referrers.join(", ") }
            );
        }
        Err(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Formatting code, in v0 and legacy mangling, with x86's extra `_` and `@bytes`.
    const FMT: [&str; 16] = [
        // core::fmt::write
        "_RNvNtCs4q6l33LMc3M_4core3fmt5write",
        "_ZN4core3fmt5write17h0123456789abcdefE",
        // <core::fmt::Formatter>::pad_integral (and a function nested in it)
        "_RNvMsa_NtCs4q6l33LMc3M_4core3fmtNtB5_9Formatter12pad_integral",
        "_RNvNvMsa_NtCs4q6l33LMc3M_4core3fmtNtB7_9Formatter12pad_integral12write_prefix",
        "_ZN4core3fmt9Formatter3pad17h0123456789abcdefE",
        // <usize as core::fmt::Display>::fmt, <u64 as ...>
        "_RNvXsi_NtNtNtCs4q6l33LMc3M_4core3fmt3num3impjNtB9_7Display3fmt",
        "_RNvXsd_NtNtNtCs4q6l33LMc3M_4core3fmt3num3impyNtB9_7Display3fmt",
        // legacy: core::fmt::num::imp::<impl core::fmt::Display for u32>::fmt
        "_ZN4core3fmt3num3imp52_$LT$impl$u20$core..fmt..Display$u20$for$u20$u32$GT$3fmt17h0123456789abcdefE",
        // legacy, x86: <&T as core::fmt::Debug>::fmt
        "__ZN42_$LT$$RF$T$u20$as$u20$core..fmt..Debug$GT$3fmt17h0123456789abcdefE",
        // a user type's Debug impl: <drv::Thing as core::fmt::Debug>::fmt
        "_RNvXCs1a2b3c_3drvNtB2_5ThingNtNtCs4q6l33LMc3M_4core3fmt5Debug3fmt",
        // x86 v0 with stdcall bytes: <drv::Thing as core::fmt::Debug>::fmt@8
        "__RNvXCs1a2b3c_3drvNtB2_5ThingNtNtCs4q6l33LMc3M_4core3fmt5Debug3fmt@8",
        // alloc::fmt::format::format_inner
        "_RNvNvNtCs7gJyvXkznFw_5alloc3fmt6format12format_inner",
        // the default alloc error handler: __rustc::__rdl_alloc_error_handler, old __rdl_oom
        "_RNvCsfgHYwM92fyn_7___rustc25___rdl_alloc_error_handler",
        "__rdl_oom",
        "___rdl_oom",
        // std::alloc::default_alloc_error_hook (legacy)
        "_ZN3std5alloc24default_alloc_error_hook17h0123456789abcdefE",
    ];

    /// Not formatting code, though some are on the way to it or look like it.
    const NOT_FMT: [&str; 19] = [
        "DriverEntry",
        "_DriverEntry@8",
        "__imp_KeBugCheckEx",
        "anon.6925fd46c80a44749525e9d93d740a1f.0",
        "__xmm@01010101010101010101010101010101",
        // __rustc::rust_begin_unwind (the panic handler)
        "_RNvCsfgHYwM92fyn_7___rustc17rust_begin_unwind",
        // __rustc::__rust_alloc_error_handler (the shim), alloc::alloc::handle_alloc_error
        "_RNvCsfgHYwM92fyn_7___rustc26___rust_alloc_error_handler",
        "_RNvNtCs7gJyvXkznFw_5alloc5alloc18handle_alloc_error",
        // a user's #[alloc_error_handler] (rustc names it __rg_oom): not the default
        "__rg_oom",
        // core::panicking::panic_nounwind_fmt, core::panicking::panic_bounds_check
        "_RNvNtCs4q6l33LMc3M_4core9panicking18panic_nounwind_fmt",
        "_ZN4core9panicking18panic_bounds_check17h0123456789abcdefE",
        // core::str::count::do_count_chars
        "_RNvNtNtCs4q6l33LMc3M_4core3str5count14do_count_chars",
        // core::ptr::drop_in_place::<core::fmt::Error>: a fmt type as a generic argument
        "_RINvNtCs4q6l33LMc3M_4core3ptr13drop_in_placeNtNtB4_3fmt5ErrorEB4_",
        // <alloc::sync::Arc<drv::Record>>::drop_slow
        "_RNvMsn_NtCs7gJyvXkznFw_5alloc4syncINtB5_3ArcNtCs1a2b3c_3drv6RecordE9drop_slow",
        // Arguments plumbing (unoptimised builds): <core::fmt::Arguments>::from_str,
        // <core::fmt::Arguments>::new::<40, 2>, <core::fmt::rt::Argument>::new_display::<usize>
        "_RNvMs4_NtCshdhksrvEEoD_4core3fmtNtB5_9Arguments8from_strB7_",
        "_RINvMs2_NtCshdhksrvEEoD_4core3fmtNtB6_9Arguments3newKj28_Kj2_EB8_",
        "_RINvMNtNtCshdhksrvEEoD_4core3fmt2rtNtB3_8Argument11new_displayjEB7_",
        // legacy: core::fmt::Arguments::new_const, core::fmt::rt::Argument::new_display
        "_ZN4core3fmt9Arguments9new_const17h0123456789abcdefE",
        "_ZN4core3fmt2rt8Argument11new_display17h0123456789abcdefE",
    ];

    #[test]
    fn the_test_names_demangle_as_intended() {
        assert_eq!(demangled(FMT[2]), "<core::fmt::Formatter>::pad_integral");
        assert_eq!(demangled(FMT[5]), "<usize as core::fmt::Display>::fmt");
        assert_eq!(
            demangled(FMT[7]),
            "core::fmt::num::imp::<impl core::fmt::Display for u32>::fmt"
        );
        assert_eq!(demangled(FMT[8]), "<&T as core::fmt::Debug>::fmt");
        assert_eq!(demangled(FMT[10]), "<drv::Thing as core::fmt::Debug>::fmt");
        assert_eq!(demangled(NOT_FMT[12]), "core::ptr::drop_in_place::<core::fmt::Error>");
        assert_eq!(demangled(NOT_FMT[13]), "<alloc::sync::Arc<drv::Record>>::drop_slow");
        assert_eq!(demangled(NOT_FMT[15]), "<core::fmt::Arguments>::new::<40, 2>");
        assert_eq!(demangled(NOT_FMT[16]), "<core::fmt::rt::Argument>::new_display::<usize>");
        assert_eq!(demangled(NOT_FMT[18]), "core::fmt::rt::Argument::new_display");
    }

    #[test]
    fn classifies_formatting_symbols_in_both_manglings() {
        for name in FMT {
            assert!(classify(name).is_some(), "{name} ({}) is formatting code", demangled(name));
        }
        for name in NOT_FMT {
            assert_eq!(classify(name), None, "{name} ({}) is not", demangled(name));
        }
        assert_eq!(classify(FMT[12]), Some(FmtKind::DefaultAllocErrorHandler));
        assert_eq!(classify(FMT[0]), Some(FmtKind::Formatting));
    }

    #[test]
    fn qualified_paths_split_at_the_outer_as() {
        assert_eq!(
            qualified("<alloc::sync::Arc<T> as core::ops::Drop>::drop"),
            Some(("alloc::sync::Arc<T>", Some("core::ops::Drop"), "::drop"))
        );
        assert_eq!(qualified("<fn() -> u8 as X>::f"), Some(("fn() -> u8", Some("X"), "::f")));
        assert_eq!(qualified("<[u8]>::len"), Some(("[u8]", None, "::len")));
        assert_eq!(qualified("core::fmt::write"), None);
    }

    #[test]
    fn own_code_is_the_driver_crates_not_the_sysroot() {
        let node = |object: &str, symbol: &str| Node {
            object: object.into(),
            symbols: vec![symbol.into()],
            code: true,
            refs: Vec::new(),
        };
        let drv = "drv-0123.drv.4567-cgu.0.rcgu.o";
        assert!(is_own_code(&node(drv, "DriverEntry")));
        assert!(is_own_code(&node(drv, "_RNvCs1a2b3c_3drv12DriverUnload")));
        assert!(is_own_code(&node(drv, "_RNvCsfgHYwM92fyn_7___rustc17rust_begin_unwind")));
        // Sysroot generics instantiated in the driver's object, and the allocator shim.
        assert!(!is_own_code(&node(drv, NOT_FMT[13])));
        assert!(!is_own_code(&node(drv, NOT_FMT[6])));
        // <*mut _>::add::precondition_check: an inherent method of a primitive type.
        assert!(!is_own_code(&node(
            drv,
            "_RNvNvMNtNtCshdhksrvEEoD_4core3ptr7mut_ptrOp3add18precondition_checkCs5WafY9PN8wa_12exnpi_driver"
        )));
        assert!(!is_own_code(&node("compiler_builtins-89ab.cb.cdef-cgu.0.rcgu.o", "memcpy")));
        assert_eq!(
            object_crate("core-d27fd6672b1e6178.core.337e81d207a9826c-cgu.0.rcgu.o"),
            "core"
        );
    }

    /// drv's `f` calls `handle_alloc_error`, which reaches the default handler and a Display
    /// impl; drv's `g` reaches nothing; `dead` references the impl but was not linked.
    #[test]
    fn traces_formatting_back_to_the_driver_function() {
        let drv = "drv-0.drv.0-cgu.0.rcgu.o";
        let core = "core-0.core.0-cgu.0.rcgu.o";
        let alloc = "alloc-0.alloc.0-cgu.0.rcgu.o";
        let f = "_RNvCs1a2b3c_3drv1f";
        let g = "_RNvCs1a2b3c_3drv1g";
        let handle = NOT_FMT[7];
        let rdl = FMT[12];
        let display = FMT[5];
        let node = |object: &str, symbol: &str, code: bool, refs: Vec<Ref>| Node {
            object: object.into(),
            symbols: vec![symbol.into()],
            code,
            refs,
        };
        let references = References {
            nodes: vec![
                node(drv, f, true, vec![Ref::Global(handle.into()), Ref::Local(1)]),
                node(drv, g, true, vec![Ref::Global("__imp_KeBugCheckEx".into())]),
                node(alloc, handle, true, vec![Ref::Global(rdl.into())]),
                node(alloc, rdl, true, vec![Ref::Global(display.into())]),
                node(core, display, true, Vec::new()),
                // Not in the map: dropped by /OPT:REF, so its reference does not count.
                node(drv, "_RNvCs1a2b3c_3drv4dead", true, vec![Ref::Global(display.into())]),
            ],
        };
        let symbols = [(f, drv), (g, drv), (handle, alloc), (rdl, alloc), (display, core)];
        let map = LinkMap {
            load_address: 0x1_4000_0000,
            section_groups: Vec::new(),
            symbols: symbols
                .iter()
                .enumerate()
                .map(|(i, (name, object))| crate::map::MapSymbol {
                    name: (*name).into(),
                    rva: 0x1000 + 0x10 * u32::try_from(i).unwrap(),
                    object: (*object).into(),
                })
                .collect(),
        };
        let findings = find(&map, Some(&references));
        let names: Vec<&str> = findings.symbols.iter().map(|s| s.readable.as_str()).collect();
        assert_eq!(
            names,
            ["__rustc::__rdl_alloc_error_handler", "<usize as core::fmt::Display>::fmt"]
        );
        assert_eq!(
            findings.culprits,
            [Culprit {
                function: "drv::f".into(),
                object_crate: "drv".into(),
                routes: vec![vec![
                    "alloc::alloc::handle_alloc_error".into(),
                    "__rustc::__rdl_alloc_error_handler".into()
                ]],
            }]
        );
        assert!(findings.untraced.is_empty(), "{:?}", findings.untraced);
        let message = findings.outcome(true).unwrap_err();
        assert!(message.contains("2 formatting symbols linked"), "{message}");
        assert!(
            message.contains(
                "drv::f  [drv object]\n      -> alloc::alloc::handle_alloc_error -> __rustc::"
            ),
            "{message}"
        );

        // Without the call from f, nothing of the driver reaches them: say who does.
        let mut references = references;
        references.nodes[0].refs.clear();
        let findings = find(&map, Some(&references));
        assert!(findings.culprits.is_empty());
        assert_eq!(findings.untraced.len(), 2);
        assert_eq!(findings.untraced[0].1, ["alloc::alloc::handle_alloc_error"]);
    }

    /// A weak external (`memcpy` from compiler_builtins, defined as
    /// `.weak.memcpy.default.<sym>`) and a section without symbols (a table) on the way.
    #[test]
    fn follows_weak_externals_and_unnamed_sections() {
        let drv = "drv-0.drv.0-cgu.0.rcgu.o";
        let cb = "compiler_builtins-0.compiler_builtins.0-cgu.0.rcgu.o";
        let g = "_RNvCs1a2b3c_3drv1g";
        let weak = ".weak.memcpy.default._RNvCs1a2b3c_17compiler_builtins1x";
        let display = FMT[5];
        let node = |object: &str, symbols: &[&str], code: bool, refs: Vec<Ref>| Node {
            object: object.into(),
            symbols: symbols.iter().map(|s| (*s).into()).collect(),
            code,
            refs,
        };
        let references = References {
            nodes: vec![
                node(drv, &[g], true, vec![Ref::Global("memcpy".into())]),
                node(cb, &[weak], true, vec![Ref::Local(2)]),
                node(cb, &[], false, vec![Ref::Global(display.into())]),
                node("core-0.core.0-cgu.0.rcgu.o", &[display], true, Vec::new()),
            ],
        };
        let symbols =
            [(g, drv), ("memcpy", cb), (weak, cb), (display, "core-0.core.0-cgu.0.rcgu.o")];
        let map = LinkMap {
            load_address: 0x1_4000_0000,
            section_groups: Vec::new(),
            symbols: symbols
                .iter()
                .map(|(name, object)| crate::map::MapSymbol {
                    name: (*name).into(),
                    rva: 0x1000,
                    object: (*object).into(),
                })
                .collect(),
        };
        let findings = find(&map, Some(&references));
        assert_eq!(findings.culprits.len(), 1, "{findings:?}");
        assert_eq!(
            findings.culprits[0].routes,
            [vec![
                weak.to_owned(),
                format!("(unnamed section of {cb})"),
                "<usize as core::fmt::Display>::fmt".to_owned()
            ]]
        );
    }

    #[test]
    fn a_clean_map_passes() {
        let map = LinkMap::parse(crate::map::tests::SAMPLE).unwrap();
        let findings = find(&map, None);
        assert!(findings.outcome(false).is_ok());
    }
}
