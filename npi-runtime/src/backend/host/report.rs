//! What the host NMR tells a test: violations, listings, stuck-wait reports and failed waits.

use std::fmt;
use std::string::String;
use std::vec::Vec;

use crate::sys::{GUID, HANDLE, NPI_MODULEID, NTSTATUS};

/// A breach of the NMR contract by a module (or a bad argument), as Driver Verifier would flag it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ViolationKind {
    /// `NmrRegister*` got NULL or short characteristics, a NULL id or callback (OQ-6).
    InvalidCharacteristics,
    /// Characteristics `Version` is not 0: accepted with this warning, rejected in strict mode.
    NonZeroCharacteristicsVersion,
    /// A handle that is NULL, was never issued, or is no longer live.
    BadHandle,
    /// A handle of the wrong kind: a client handle given to a provider function, and so on.
    WrongHandleKind,
    /// `NmrDeregister*` called a second time for one registration (OQ-14).
    DeregisterTwice,
    /// `NmrWaitFor*DeregisterComplete` before `NmrDeregister*`, or while another wait runs.
    WaitWithoutDeregister,
    /// `NmrWaitFor*DeregisterComplete` from inside a callback of a binding it waits for (R31).
    WaitWouldDeadlock,
    /// `NmrClientAttachProvider` outside the `ClientAttachProvider` callback of its handle (OQ-9).
    AttachOutsideCallback,
    /// `NmrClientAttachProvider` again after it succeeded for the handle (R12).
    AttachAfterSuccess,
    /// `NmrClientAttachProvider` with NULL out-parameters.
    AttachNullOutParameter,
    /// `ClientAttachProvider` returned success without an attached binding (OQ-8).
    SuccessWithoutAttach,
    /// `ClientAttachProvider` failed after the provider accepted; the provider side is unwound
    /// (OQ-7).
    FailureAfterProviderAccepted,
    /// A detach callback returned something other than SUCCESS or PENDING (OQ-10).
    BadDetachStatus,
    /// `*DetachComplete` called for a half that was already complete (OQ-11).
    CompleteTwice,
    /// `*DetachComplete` after the detach callback returned SUCCESS (R20).
    CompleteAfterSuccess,
    /// `*DetachComplete` before this side's detach callback was invoked; counted if the
    /// callback then returns `STATUS_PENDING`.
    CompleteBeforeDetach,
    /// An NMR function called above its IRQL limit (simulated IRQL, R34).
    IrqlTooHigh,
    /// Module code panicked inside a callback; the safe layer caught it at the `extern "system"`
    /// boundary and answered with an error status (attach) or as if the callback had finished.
    ModulePanic,
    /// A handle of another registrar, passed on a thread that entered a registrar of its own
    /// (`host::Registrar`): refused with `STATUS_INVALID_PARAMETER`, recorded in the caller's.
    ForeignHandle,
    /// The host NMR itself failed; always a bug in npi.
    Internal,
}

/// A handle as the host NMR's listings and reports give it: the value the NMR issued for a
/// registration or a binding. It compares equal to the `HANDLE` the safe layer and the raw ABI
/// return for the same registration or binding (`info.handle == registration.handle()`), and
/// unlike a `HANDLE` it is `Send` and `Sync`, so listings and errors cross threads. `Display`
/// and `Debug` print it in hex, as the host's reports and graphs do.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Handle(usize);

impl Handle {
    /// The handle with this raw value.
    #[must_use]
    pub fn from_raw(handle: HANDLE) -> Self {
        Handle(handle.addr())
    }

    /// The raw `HANDLE`, for the `Nmr*` functions.
    #[must_use]
    pub fn as_raw(self) -> HANDLE {
        // A host handle is a number, never dereferenced: it needs no provenance.
        core::ptr::without_provenance_mut(self.0)
    }

    /// The handle's numeric value.
    #[must_use]
    pub const fn value(self) -> usize {
        self.0
    }

    /// NULL: no handle.
    #[must_use]
    pub const fn is_null(self) -> bool {
        self.0 == 0
    }

    /// The handle with this numeric value (as [`Handle::value`] gives it).
    #[must_use]
    pub const fn from_value(value: usize) -> Self {
        Handle(value)
    }
}

impl From<HANDLE> for Handle {
    fn from(handle: HANDLE) -> Self {
        Handle::from_raw(handle)
    }
}

impl PartialEq<HANDLE> for Handle {
    fn eq(&self, other: &HANDLE) -> bool {
        self.0 == other.addr()
    }
}

impl PartialEq<Handle> for HANDLE {
    fn eq(&self, other: &Handle) -> bool {
        self.addr() == other.0
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Handle({:#x})", self.0)
    }
}

impl fmt::Display for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl fmt::LowerHex for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.0, f)
    }
}

/// One recorded violation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// What went wrong.
    pub kind: ViolationKind,
    /// The NPI concerned, when the handle or characteristics name one.
    pub npi: Option<GUID>,
    /// The handle the call was given (NULL if none).
    pub handle: Handle,
    /// The NMR function or callback at fault, e.g. `"NmrClientDetachProviderComplete"`.
    pub function: &'static str,
    /// A sentence a driver author can act on.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} in {}: {}", self.kind, self.function, self.detail)?;
        if let Some(npi) = self.npi {
            write!(f, " (NPI {npi})")?;
        }
        if !self.handle.is_null() {
            write!(f, " [handle {:#x}]", self.handle)?;
        }
        Ok(())
    }
}

/// Client or provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Registered with `NmrRegisterClient`.
    Client,
    /// Registered with `NmrRegisterProvider`.
    Provider,
}

/// A registration as the host NMR sees it.
#[derive(Clone, Debug)]
pub struct RegistrationInfo {
    /// The registration handle.
    pub handle: Handle,
    /// Client or provider.
    pub role: Role,
    /// `*NpiId`.
    pub npi: GUID,
    /// `*ModuleId`.
    pub module_id: NPI_MODULEID,
    /// `Number`.
    pub number: u32,
    /// `NmrDeregister*` has been called.
    pub deregistering: bool,
    /// Bindings (including attaches in flight) that still hold the registration.
    pub bindings: usize,
}

/// One side's share of a detach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HalfState {
    /// Detach has not begun.
    Attached,
    /// The detach callback is running or about to run.
    Detaching,
    /// The callback returned `STATUS_PENDING`; `*DetachComplete` has not come yet.
    Pending,
    /// This side's detach is complete.
    Done,
}

/// Where a binding is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindingState {
    /// `ClientAttachProvider` is running.
    Proposed,
    /// `ProviderAttachClient` is running inside `NmrClientAttachProvider`.
    ProviderAttaching,
    /// `NmrClientAttachProvider` succeeded; `ClientAttachProvider` has not returned yet.
    Attached,
    /// Attached on both sides.
    Established,
    /// Detach has begun; see the halves.
    Detaching,
    /// Both halves are done; cleanup callbacks are running.
    CleaningUp,
}

/// A binding as the host NMR sees it.
#[derive(Clone, Debug)]
pub struct BindingInfo {
    /// The binding handle.
    pub handle: Handle,
    /// The NPI.
    pub npi: GUID,
    /// The client registration handle.
    pub client: Handle,
    /// The client's module id.
    pub client_module: NPI_MODULEID,
    /// The provider registration handle.
    pub provider: Handle,
    /// The provider's module id.
    pub provider_module: NPI_MODULEID,
    /// Overall state.
    pub state: BindingState,
    /// The client's half of the detach.
    pub client_half: HalfState,
    /// The provider's half of the detach.
    pub provider_half: HalfState,
}

/// Returned by a bounded wait that ran out of time: what it is still waiting for.
#[derive(Clone, Debug)]
pub struct StuckWait {
    /// The registration being waited for.
    pub registration: RegistrationInfo,
    /// Its bindings that are not gone yet.
    pub bindings: Vec<BindingInfo>,
}

/// Why a bounded wait returned without success.
#[derive(Debug)]
pub enum WaitError {
    /// The wait was refused with this status (bad handle, not deregistered, …); see
    /// [`violations`](crate::host::violations).
    Status(NTSTATUS),
    /// The time ran out; this is what the wait still waits for. The handle stays valid and the
    /// wait may be repeated.
    Stuck(StuckWait),
}

impl fmt::Display for WaitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitError::Status(s) => write!(f, "wait refused with status {s:#x}"),
            WaitError::Stuck(s) => s.fmt(f),
        }
    }
}

impl std::error::Error for WaitError {}

impl fmt::Display for BindingInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "binding {:#x} of NPI {}: {:?}; client {:#x} (module {:?}) half {:?}, provider {:#x} \
             (module {:?}) half {:?}",
            self.handle,
            self.npi,
            self.state,
            self.client,
            ModuleIdShort(&self.client_module),
            self.client_half,
            self.provider,
            ModuleIdShort(&self.provider_module),
            self.provider_half,
        )
    }
}

impl fmt::Display for StuckWait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.registration;
        write!(
            f,
            "wait for {:?} registration {:#x} (NPI {}, module {:?}) is stuck on {} binding(s)",
            r.role,
            r.handle,
            r.npi,
            ModuleIdShort(&r.module_id),
            self.bindings.len()
        )?;
        for b in &self.bindings {
            write!(f, "\n  {b}")?;
            let waiting_on: &[(&str, HalfState)] =
                &[("client", b.client_half), ("provider", b.provider_half)];
            for (side, half) in waiting_on {
                if *half == HalfState::Pending {
                    write!(
                        f,
                        "\n    waiting for the {side} to call Nmr{}Complete",
                        if *side == "client" {
                            "ClientDetachProvider"
                        } else {
                            "ProviderDetachClient"
                        }
                    )?;
                }
            }
        }
        Ok(())
    }
}

struct ModuleIdShort<'a>(&'a NPI_MODULEID);

impl fmt::Debug for ModuleIdShort<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0.guid(), self.0.if_luid()) {
            (Some(g), _) => write!(f, "{g}"),
            (_, Some(l)) => write!(f, "luid {:#x}:{:#x}", l.HighPart, l.LowPart),
            _ => write!(f, "type {}", self.0.Type),
        }
    }
}

/// The simulated IRQL of the calling thread (R34). Only the levels the NMR contract names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Irql {
    /// `PASSIVE_LEVEL`, the default.
    #[default]
    Passive,
    /// `APC_LEVEL`.
    Apc,
    /// `DISPATCH_LEVEL`.
    Dispatch,
}
