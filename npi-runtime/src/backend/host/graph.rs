//! The binding graph: registrations and bindings as a picture (Graphviz DOT, Mermaid).
//!
//! A registration is a box (client or provider, its module id and handle; red and bold once
//! `NmrDeregister*` was called); a binding is an ellipse between its client and its provider,
//! labelled with its state. Each edge carries that side's half of the detach. A half that
//! returned `STATUS_PENDING` is a red dashed edge named after the call the module still owes
//! (`NmrProviderDetachClientComplete`), and a deregistering registration points at every binding
//! its wait is waiting for: what holds up an unload is the red path.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::format;
use std::string::String;
use std::vec::Vec;

use super::report::{BindingInfo, HalfState, Handle, RegistrationInfo, Role, StuckWait};
use crate::sys::{GUID, NPI_MODULEID};

/// Registrations and bindings of a registrar (or of a stuck wait), ready to be drawn.
#[derive(Clone, Debug, Default)]
pub struct BindingGraph {
    /// Registrations, with what the registrar knows of them.
    pub registrations: Vec<RegistrationInfo>,
    /// Bindings; a registration a binding names but `registrations` lacks (the peer of a stuck
    /// wait) is drawn from what the binding says about it.
    pub bindings: Vec<BindingInfo>,
}

/// One box: a registration.
struct Node {
    role: Role,
    npi: GUID,
    module: String,
    deregistering: bool,
}

impl StuckWait {
    /// The picture of what this wait is stuck on: the registration, its bindings and their
    /// peers.
    #[must_use]
    pub fn graph(&self) -> BindingGraph {
        BindingGraph {
            registrations: std::vec![self.registration.clone()],
            bindings: self.bindings.clone(),
        }
    }
}

impl BindingGraph {
    /// Every registration box, by handle, in handle order (so the text is deterministic).
    fn nodes(&self) -> BTreeMap<Handle, Node> {
        let mut nodes = BTreeMap::new();
        for r in &self.registrations {
            nodes.insert(
                r.handle,
                Node {
                    role: r.role,
                    npi: r.npi,
                    module: module_label(&r.module_id),
                    deregistering: r.deregistering,
                },
            );
        }
        for b in &self.bindings {
            for (handle, role, module) in [
                (b.client, Role::Client, &b.client_module),
                (b.provider, Role::Provider, &b.provider_module),
            ] {
                nodes.entry(handle).or_insert_with(|| Node {
                    role,
                    npi: b.npi,
                    module: module_label(module),
                    deregistering: false,
                });
            }
        }
        nodes
    }

    /// Graphviz DOT (`dot -Tsvg graph.dot -o graph.svg`).
    #[must_use]
    pub fn to_dot(&self) -> String {
        let nodes = self.nodes();
        let mut s = String::from(
            "digraph npi {\n  rankdir=LR;\n  graph [fontname=\"Helvetica\"];\n  \
             node [fontname=\"Helvetica\", fontsize=11];\n  \
             edge [fontname=\"Helvetica\", fontsize=10];\n",
        );
        for (i, npi) in npis(&nodes).iter().enumerate() {
            let _ = writeln!(s, "  subgraph cluster_{i} {{\n    label=\"NPI {npi}\";");
            for (handle, n) in nodes.iter().filter(|(_, n)| n.npi == *npi) {
                let (shape, role) = match n.role {
                    Role::Client => ("box", "client"),
                    Role::Provider => ("box3d", "provider"),
                };
                let style =
                    if n.deregistering { ", color=red, penwidth=2, fontcolor=red" } else { "" };
                let state = if n.deregistering { "\\nderegistering" } else { "" };
                let _ = writeln!(
                    s,
                    "    r{handle:x} [shape={shape}{style}, label=\"{role} {}\\nregistration \
                     {handle:#x}{state}\"];",
                    n.module
                );
            }
            for b in self.bindings.iter().filter(|b| b.npi == *npi) {
                let _ = writeln!(
                    s,
                    "    b{:x} [shape=ellipse, label=\"binding {:#x}\\n{:?}\"];",
                    b.handle, b.handle, b.state
                );
                for (reg, side, half, owed) in halves(b) {
                    let (style, label) = edge(half, side, owed);
                    let _ =
                        writeln!(s, "    r{reg:x} -> b{:x} [{style}label=\"{label}\"];", b.handle);
                }
                for reg in [b.client, b.provider] {
                    if nodes.get(&reg).is_some_and(|n| n.deregistering) {
                        let _ = writeln!(
                            s,
                            "    r{reg:x} -> b{:x} [color=red, style=bold, constraint=false, \
                             label=\"waits for\"];",
                            b.handle
                        );
                    }
                }
            }
            s.push_str("  }\n");
        }
        s.push_str("}\n");
        s
    }

    /// Mermaid (`flowchart`), which GitHub and many viewers render inline.
    #[must_use]
    pub fn to_mermaid(&self) -> String {
        let nodes = self.nodes();
        let mut s = String::from("flowchart LR\n");
        let mut red_edges = Vec::new();
        let mut edge_count = 0;
        for (i, npi) in npis(&nodes).iter().enumerate() {
            let _ = writeln!(s, "  subgraph npi{i}[\"NPI {npi}\"]");
            for (handle, n) in nodes.iter().filter(|(_, n)| n.npi == *npi) {
                let role = match n.role {
                    Role::Client => "client",
                    Role::Provider => "provider",
                };
                let state = if n.deregistering { "<br/>deregistering" } else { "" };
                let _ = writeln!(
                    s,
                    "    r{handle:x}[\"{role} {}<br/>registration {handle:#x}{state}\"]",
                    n.module
                );
                if n.deregistering {
                    let _ = writeln!(s, "    style r{handle:x} stroke:#d00,stroke-width:3px");
                }
            }
            for b in self.bindings.iter().filter(|b| b.npi == *npi) {
                let _ = writeln!(
                    s,
                    "    b{:x}([\"binding {:#x}<br/>{:?}\"])",
                    b.handle, b.handle, b.state
                );
                for (reg, side, half, owed) in halves(b) {
                    let (_, label) = edge(half, side, owed);
                    let arrow = if half == HalfState::Pending { "-.->" } else { "-->" };
                    let _ = writeln!(s, "    r{reg:x} {arrow}|\"{label}\"| b{:x}", b.handle);
                    if half == HalfState::Pending {
                        red_edges.push(edge_count);
                    }
                    edge_count += 1;
                }
                for reg in [b.client, b.provider] {
                    if nodes.get(&reg).is_some_and(|n| n.deregistering) {
                        let _ = writeln!(s, "    r{reg:x} ==>|waits for| b{:x}", b.handle);
                        red_edges.push(edge_count);
                        edge_count += 1;
                    }
                }
            }
            s.push_str("  end\n");
        }
        for i in red_edges {
            let _ = writeln!(s, "  linkStyle {i} stroke:#d00,stroke-width:2px");
        }
        s
    }
}

/// The NPIs of the graph, in a fixed order.
fn npis(nodes: &BTreeMap<Handle, Node>) -> Vec<GUID> {
    let mut npis: Vec<GUID> = nodes.values().map(|n| n.npi).collect();
    npis.sort();
    npis.dedup();
    npis
}

/// Each side of a binding: its registration, its name, its half, and the call a pending half
/// still owes.
fn halves(b: &BindingInfo) -> [(Handle, &'static str, HalfState, &'static str); 2] {
    [
        (b.client, "client", b.client_half, "NmrClientDetachProviderComplete"),
        (b.provider, "provider", b.provider_half, "NmrProviderDetachClientComplete"),
    ]
}

/// DOT attributes and the label of a half's edge.
fn edge(half: HalfState, side: &str, owed: &str) -> (&'static str, String) {
    match half {
        HalfState::Pending => {
            ("color=red, fontcolor=red, style=dashed, ", format!("{side}: pending, owes {owed}"))
        }
        other => ("", format!("{side}: {other:?}")),
    }
}

/// A module id, short: the GUID's first group, or the LUID.
fn module_label(id: &NPI_MODULEID) -> String {
    match (id.guid(), id.if_luid()) {
        (Some(g), _) => format!("{{{:08X}…}}", g.data1),
        (_, Some(l)) => format!("luid {:#x}:{:#x}", l.HighPart, l.LowPart),
        _ => format!("module id type {}", id.Type),
    }
}
