//! The in-process NMR: `docs/nmr-contract.md` (R1–R35, OQ-1..OQ-20) implemented behind the nine
//! `Nmr*` functions.
//!
//! A registrar keeps its registrations and bindings in tables behind one lock, which is never
//! held while a module callback runs (R32), so modules may call back into the NMR from any
//! callback. Every NMR function is a short critical section that reads or writes the tables and
//! returns what the caller must invoke next; the callbacks then run unlocked on the calling
//! thread.
//!
//! Handles name their registrar: `HANDLE_BASE + (registrar << REGISTRAR_SHIFT) + payload * 4 +
//! tag`, never NULL, never reused, with a tag that tells client, provider and binding handles
//! apart (OQ-17). A call that names a handle goes to the handle's registrar from any thread; a
//! thread that entered another registrar is refused (`ViolationKind::ForeignHandle`).
//!
//! # Where things are
//!
//! | file | what |
//! |---|---|
//! | `abi.rs` | the nine `Nmr*` functions with their C signatures: route the call, never unwind |
//! | `routing.rs` | which registrar a call goes to: the default one, a test's own (`host::Registrar`), the thread's current one, the one a handle names |
//! | `handles.rs` | what a handle value is made of: base, registrar id, serial or slab slot, tag |
//! | `registrar.rs` | the registrar: its lock, condition variable and diagnostics; scoped registrars; callback frames; leftovers |
//! | `tables.rs` | registrations, bindings and the NPI index behind the lock; listings |
//! | `binding_state.rs` | **the state machine** of a binding and of the two halves of its detach, as tables, one function each, and a test per transition |
//! | `registration.rs` | `NmrRegister*`: validation (R1, OQ-6), handle, index, proposals (R1–R8) |
//! | `attach.rs` | proposals, `ClientAttachProvider`'s answer, `NmrClientAttachProvider` (R4–R14, R28, R29) |
//! | `detach.rs` | `NmrDeregister*`, the detach callbacks, `Nmr*DetachComplete`, cleanup (R17–R24, R27, R28) |
//! | `wait.rs` | `NmrWaitFor*DeregisterComplete`, bounded or not, and its stuck report (R25, R26, R31) |
//! | `diagnostics.rs` | violations, strict mode, IRQL checks (R34), bad-handle reports |
//! | `report.rs` | what tests read (public through `host`): violations, listings, stuck waits, `WaitError` |
//! | `graph.rs` | the binding graph as Graphviz DOT or Mermaid |
//! | `frames.rs` | per-thread: which binding's callbacks are on the stack (OQ-9, R31), the simulated IRQL |
//! | `faults.rs` | per-thread fault plans: allocation failures, refusing providers, late detaches |
//! | `slab.rs` | the binding table: slots reused, handle values never |
//! | `sync.rs` | the lock, condition variable, thread-locals and statics, swapped for loom's under `cfg(loom)` |

pub(crate) mod abi;
mod attach;
mod binding_state;
mod detach;
mod diagnostics;
pub(crate) mod faults;
mod frames;
pub(crate) mod graph;
mod handles;
mod registrar;
mod registration;
pub(crate) mod report;
mod routing;
mod slab;
mod sync;
mod tables;
mod wait;

pub(crate) use frames::{irql as current_irql, set_irql};
pub(crate) use handles::role_of_handle;
pub(crate) use registrar::Registrar;
pub(crate) use report::Role;
#[cfg(loom)]
pub(crate) use routing::nmr;
pub(crate) use routing::{Entered, Nmr, current, for_handle};
