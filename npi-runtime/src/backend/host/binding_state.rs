//! One binding's life, and the two halves of its detach: the state machine of
//! `docs/nmr-contract.md` ("Lifecycle of one binding", R9–R12, R17–R22, R28, OQ-3, OQ-7, OQ-8,
//! OQ-10, OQ-11), as tables and as the two functions that implement them.
//!
//! Everything here is pure: the registrar looks a binding up under its lock, feeds the event in,
//! stores the result, records what comes back as a violation, and runs the module callbacks
//! after dropping the lock (R32). Nothing here calls a module or takes a lock.
//!
//! # The binding ([`BindingState`], [`advance`])
//!
//! | from | event | to | rule |
//! |---|---|---|---|
//! | (none) | a client and a provider of one NPI meet | `Proposed` | R4, R6, R8 |
//! | `Proposed` | `NmrClientAttachProvider` from its own `ClientAttachProvider` | `ProviderAttaching` | R9, OQ-9 |
//! | `Proposed` | `NmrClientAttachProvider` from anywhere else | refused: `AttachOutsideCallback` | R29, OQ-9 |
//! | `Attached` | `NmrClientAttachProvider` | refused: `AttachAfterSuccess` | R12, OQ-9 |
//! | any other | `NmrClientAttachProvider` | refused: `AttachOutsideCallback` | R29, OQ-9 |
//! | `ProviderAttaching` | `ProviderAttachClient` returns `STATUS_SUCCESS` | `Attached` | R9, R10 |
//! | `ProviderAttaching` | `ProviderAttachClient` returns a failure | `Proposed` | R12, R13 |
//! | `Attached` | `ClientAttachProvider` returns `STATUS_SUCCESS` | `Established` | R11 |
//! | `Attached` | `ClientAttachProvider` returns a failure | `Detaching`, the client unattached: `FailureAfterProviderAccepted` | OQ-7 |
//! | `Proposed` | `ClientAttachProvider` returns a failure | gone, no callbacks | R10 |
//! | `Proposed` | `ClientAttachProvider` returns `STATUS_SUCCESS` | gone, no callbacks: `SuccessWithoutAttach` | OQ-8 |
//! | `Established` | one of its registrations deregisters (or had begun to, R28) | `Detaching` | R17, R24, R28 |
//! | any other | a registration deregisters | unchanged: its detach already began or it is not attached yet | R19, R28 |
//! | `Detaching` | both halves are done | `CleaningUp` | R22 |
//! | `CleaningUp` | the cleanup callbacks returned | gone (`State::remove_binding`) | R22, OQ-5 |
//! | any other | an attach answer, halves done | an `Internal` violation: the NMR never sends it | — |
//!
//! # A half ([`Half`], [`transition`])
//!
//! Each side of a binding has a half: its share of the detach (R20). The `early` flag is a
//! `*DetachComplete` that came before the callback returned `STATUS_PENDING` (R21, OQ-11); it
//! counts once the callback does pend. `Done { completed }` says whether the half ended by a
//! completion call (`true`) or by the callback's `STATUS_SUCCESS` (`false`).
//!
//! | from | event | to | rule |
//! |---|---|---|---|
//! | `Attached{e}` | detach begins, this side waits its turn (the provider) | `Starting{e}` | R18, OQ-3 |
//! | `Attached{e}` | this side's callback is invoked | `Running{e}` | R18, R19 |
//! | `Starting{e}` | this side's callback is invoked (the client's returned) | `Running{e}` | R18, OQ-3 |
//! | `Running{false}` | the callback returns `STATUS_SUCCESS` | `Done{completed: false}` | R20 |
//! | `Running{false}` | the callback returns `STATUS_PENDING` | `Pending` | R20 |
//! | `Running{true}` | the callback returns `STATUS_PENDING` | `Done{completed: true}` | R21 |
//! | `Running{true}` | the callback returns `STATUS_SUCCESS` | `Done{completed: true}`: `CompleteAfterSuccess` | R20 |
//! | `Running{e}` | the callback returns anything else | `Done{completed: e}`: `BadDetachStatus` | OQ-10 |
//! | `Pending` | `*DetachComplete` | `Done{completed: true}` | R20 |
//! | `Running{false}` | `*DetachComplete` | `Running{true}` | R21 |
//! | `Attached{false}` | `*DetachComplete` | `Attached{true}`: warning `CompleteBeforeDetach` | OQ-11 |
//! | `Starting{false}` | `*DetachComplete` | `Starting{true}`: warning `CompleteBeforeDetach` | OQ-11 |
//! | `Attached{true}`, `Starting{true}`, `Running{true}` | `*DetachComplete` | refused: `CompleteTwice` | OQ-11 |
//! | `Done{completed: true}` | `*DetachComplete` | refused: `CompleteTwice` | OQ-11 |
//! | `Done{completed: false}` | `*DetachComplete` | refused: `CompleteAfterSuccess` | R20 |
//! | not `Attached` | detach begins | ignored: a detach begins once | R19 |
//! | `Running`, `Pending`, `Done` | the callback is invoked | ignored: it runs once (OQ-7's unwinding invokes the provider before its turn comes) | R19 |
//! | not `Running` | the callback returns | ignored: only a running callback returns | R19 |
//!
//! A binding goes to `CleaningUp` when both halves are `Done` (R22); the client's half of an
//! unwound attach (OQ-7) is `Done{completed: false}` from the start, and it gets no callbacks.

use core::ffi::c_void;
use std::format;
use std::string::String;

use super::report::{BindingState, HalfState, Role, ViolationKind};
use crate::sys::{GUID, NTSTATUS, STATUS_PENDING, STATUS_SUCCESS};

pub(super) type DetachFn = unsafe extern "system" fn(*mut c_void) -> NTSTATUS;
pub(super) type CleanupFn = unsafe extern "system" fn(*mut c_void);

// ----- the binding --------------------------------------------------------------------------

/// What happens to a binding: the events of the first table.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Event {
    /// `NmrClientAttachProvider` names the binding; `own_callback`: its handle is the one of
    /// the `ClientAttachProvider` callback running innermost on the calling thread (OQ-9).
    AttachCall { own_callback: bool },
    /// `ProviderAttachClient` returned this inside `NmrClientAttachProvider`.
    ProviderAnswered(NTSTATUS),
    /// `ClientAttachProvider` returned this.
    ClientAnswered(NTSTATUS),
    /// One of the binding's registrations deregisters.
    Deregistered,
    /// Both halves are done.
    HalvesDone,
}

/// Where a binding goes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Next {
    /// Into this state.
    To(BindingState),
    /// Out of the tables.
    Gone,
    /// Nowhere: the event means nothing in this state and nothing is recorded.
    Unchanged,
}

/// A binding's move, and what to record with it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) struct Move {
    pub(super) next: Next,
    /// Recorded as a violation although the move is made.
    pub(super) complaint: Option<(ViolationKind, &'static str)>,
}

impl Move {
    const fn to(state: BindingState) -> Self {
        Self { next: Next::To(state), complaint: None }
    }
}

/// The first table: where `event` takes a binding in `state`. `Err` is a refused event: the
/// binding stays as it is and the violation is recorded.
pub(super) fn advance(
    state: BindingState,
    event: Event,
) -> Result<Move, (ViolationKind, &'static str)> {
    use BindingState::{Attached, CleaningUp, Detaching, Established, Proposed, ProviderAttaching};
    // `CleaningUp` ends in `State::remove_binding`, which unlinks the binding once its cleanups
    // returned (R22, OQ-5): no event of its own.
    match (state, event) {
        // R9, OQ-9.
        (Proposed, Event::AttachCall { own_callback: true }) => Ok(Move::to(ProviderAttaching)),
        // R29, OQ-9: the handle must be the one of the ClientAttachProvider callback running
        // innermost on this thread, not another client's live proposal.
        (Proposed, Event::AttachCall { own_callback: false }) => Err((
            ViolationKind::AttachOutsideCallback,
            "not the handle of the ClientAttachProvider callback running on this thread",
        )),
        // R12, OQ-9.
        (Attached, Event::AttachCall { .. }) => Err((
            ViolationKind::AttachAfterSuccess,
            "NmrClientAttachProvider already succeeded for this binding",
        )),
        // R29, OQ-9.
        (_, Event::AttachCall { .. }) => Err((
            ViolationKind::AttachOutsideCallback,
            "called outside the ClientAttachProvider callback of this binding",
        )),
        // R9, R10.
        (ProviderAttaching, Event::ProviderAnswered(STATUS_SUCCESS)) => Ok(Move::to(Attached)),
        // R12, R13: the client may try again within the same callback.
        (ProviderAttaching, Event::ProviderAnswered(_)) => Ok(Move::to(Proposed)),
        // R11.
        (Attached, Event::ClientAnswered(STATUS_SUCCESS)) => Ok(Move::to(Established)),
        // OQ-7: the provider side is unwound; the client gets no callbacks.
        (Attached, Event::ClientAnswered(_)) => Ok(Move {
            next: Next::To(Detaching),
            complaint: Some((
                ViolationKind::FailureAfterProviderAccepted,
                "the provider side is detached and cleaned up, the client gets no callbacks",
            )),
        }),
        // OQ-8.
        (Proposed, Event::ClientAnswered(STATUS_SUCCESS)) => Ok(Move {
            next: Next::Gone,
            complaint: Some((
                ViolationKind::SuccessWithoutAttach,
                "returned STATUS_SUCCESS without a successful NmrClientAttachProvider; no \
                 binding exists",
            )),
        }),
        // R10.
        (Proposed, Event::ClientAnswered(_)) => Ok(Move { next: Next::Gone, complaint: None }),
        // R17, R24, R28.
        (Established, Event::Deregistered) => Ok(Move::to(Detaching)),
        // R19: a detach begins once; R28: an attach in flight detaches when it is established.
        (_, Event::Deregistered) => Ok(Move { next: Next::Unchanged, complaint: None }),
        // R22.
        (Detaching, Event::HalvesDone) => Ok(Move::to(CleaningUp)),
        (_, Event::ProviderAnswered(_) | Event::ClientAnswered(_) | Event::HalvesDone) => {
            Err((ViolationKind::Internal, "the binding is in no state to take this event"))
        }
    }
}

// ----- a half -------------------------------------------------------------------------------

/// One side's share of a detach. `early` records a `*DetachComplete` that arrived before the
/// callback returned `STATUS_PENDING` (R21, OQ-11). `Starting`: detach began, but this side's
/// callback has not been invoked yet (the provider's waits for the client's to return, OQ-3).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Half {
    Attached { early: bool },
    Starting { early: bool },
    Running { early: bool },
    Pending,
    Done { completed: bool },
}

/// What happens to a half: the events of the second table.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum HalfEvent {
    /// Detach began; this side's callback waits for the other side's to return.
    Queued,
    /// This side's detach callback is invoked now.
    Invoked,
    /// This side's detach callback returned this.
    Returned(NTSTATUS),
    /// This side called `Nmr*DetachComplete`.
    Completed,
}

/// Why a half's event is recorded as a violation.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Complaint {
    /// OQ-11: a completion before the binding's detach began.
    BeforeDetach,
    /// OQ-11: a completion before this side's callback was invoked.
    BeforeCallback,
    /// OQ-11: a second completion of a half still open.
    Twice,
    /// OQ-11: a completion of a half already complete.
    AlreadyComplete,
    /// R20: a completion after the callback returned `STATUS_SUCCESS`.
    AfterSuccess,
    /// R20: a completion of a client half that never attached (OQ-7), told apart by the binding.
    NeverAttached,
    /// R20: the callback returned `STATUS_SUCCESS` after its side completed.
    SuccessAfterCompletion,
    /// OQ-10: the callback returned neither `STATUS_SUCCESS` nor `STATUS_PENDING`.
    BadStatus(NTSTATUS),
}

impl Complaint {
    pub(super) fn kind(self) -> ViolationKind {
        match self {
            Complaint::BeforeDetach | Complaint::BeforeCallback => {
                ViolationKind::CompleteBeforeDetach
            }
            Complaint::Twice | Complaint::AlreadyComplete => ViolationKind::CompleteTwice,
            Complaint::AfterSuccess
            | Complaint::NeverAttached
            | Complaint::SuccessAfterCompletion => ViolationKind::CompleteAfterSuccess,
            Complaint::BadStatus(_) => ViolationKind::BadDetachStatus,
        }
    }

    pub(super) fn detail(self) -> String {
        String::from(match self {
            Complaint::BeforeDetach => {
                "completion before the binding's detach began; it counts if the detach callback \
                 later returns STATUS_PENDING"
            }
            Complaint::BeforeCallback => {
                "completion before this side's detach callback was invoked; it counts if the \
                 callback then returns STATUS_PENDING"
            }
            Complaint::Twice => "second completion for this half; ignored",
            Complaint::AlreadyComplete => "this half is already complete; ignored",
            Complaint::AfterSuccess => "the detach callback returned STATUS_SUCCESS; ignored",
            Complaint::NeverAttached => "the client never attached this binding; ignored",
            Complaint::SuccessAfterCompletion => {
                "completed the detach and then also returned STATUS_SUCCESS"
            }
            Complaint::BadStatus(status) => {
                return format!(
                    "returned {status:#x}; only STATUS_SUCCESS or STATUS_PENDING are allowed; \
                     treated as STATUS_SUCCESS"
                );
            }
        })
    }
}

/// A half's move, and what to record with it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) struct Step {
    pub(super) next: Half,
    /// Recorded as a violation (or a warning) although the step is taken.
    pub(super) complaint: Option<Complaint>,
}

/// Why a half did not move.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Refusal {
    /// Refused and recorded; the half stays as it is.
    Recorded(Complaint),
    /// Not an event this state takes (R19): nothing changes, nothing is recorded.
    Ignored,
}

/// The second table: where `event` takes a half in state `half`.
pub(super) fn transition(half: Half, event: HalfEvent) -> Result<Step, Refusal> {
    use Half::{Attached, Done, Pending, Running, Starting};
    let to = |next| Ok(Step { next, complaint: None });
    let with = |next, complaint| Ok(Step { next, complaint: Some(complaint) });
    match (half, event) {
        // R18, OQ-3: the provider's callback waits for the client's.
        (Attached { early }, HalfEvent::Queued) => to(Starting { early }),
        // R18, R19.
        (Attached { early }, HalfEvent::Invoked) => to(Running { early }),
        // R18, OQ-3: the client's callback returned.
        (Starting { early }, HalfEvent::Invoked) => to(Running { early }),
        // R20.
        (Running { early: false }, HalfEvent::Returned(STATUS_SUCCESS)) => {
            to(Done { completed: false })
        }
        (Running { early: false }, HalfEvent::Returned(STATUS_PENDING)) => to(Pending),
        // R21: the completion that came while the callback ran counts now.
        (Running { early: true }, HalfEvent::Returned(STATUS_PENDING)) => {
            to(Done { completed: true })
        }
        // R20: the side completed and then also said it was done.
        (Running { early: true }, HalfEvent::Returned(STATUS_SUCCESS)) => {
            with(Done { completed: true }, Complaint::SuccessAfterCompletion)
        }
        // OQ-10: treated as STATUS_SUCCESS.
        (Running { early }, HalfEvent::Returned(status)) => {
            with(Done { completed: early }, Complaint::BadStatus(status))
        }
        // R20.
        (Pending, HalfEvent::Completed) => to(Done { completed: true }),
        // R21: the callback is still running; it counts once the callback returns pending.
        (Running { early: false }, HalfEvent::Completed) => to(Running { early: true }),
        // OQ-11: remembered, with a warning.
        (Attached { early: false }, HalfEvent::Completed) => {
            with(Attached { early: true }, Complaint::BeforeDetach)
        }
        (Starting { early: false }, HalfEvent::Completed) => {
            with(Starting { early: true }, Complaint::BeforeCallback)
        }
        // OQ-11.
        (
            Attached { early: true } | Starting { early: true } | Running { early: true },
            HalfEvent::Completed,
        ) => Err(Refusal::Recorded(Complaint::Twice)),
        (Done { completed: true }, HalfEvent::Completed) => {
            Err(Refusal::Recorded(Complaint::AlreadyComplete))
        }
        // R20.
        (Done { completed: false }, HalfEvent::Completed) => {
            Err(Refusal::Recorded(Complaint::AfterSuccess))
        }
        // R19: each callback is invoked, and returns, once.
        (_, HalfEvent::Queued | HalfEvent::Invoked | HalfEvent::Returned(_)) => {
            Err(Refusal::Ignored)
        }
    }
}

impl Half {
    pub(super) fn is_done(self) -> bool {
        matches!(self, Half::Done { .. })
    }

    pub(super) fn public(self) -> HalfState {
        match self {
            Half::Attached { .. } => HalfState::Attached,
            Half::Starting { .. } | Half::Running { .. } => HalfState::Detaching,
            Half::Pending => HalfState::Pending,
            Half::Done { .. } => HalfState::Done,
        }
    }

    /// Takes `event` if this state does: the complaint to record, if any.
    fn take(&mut self, event: HalfEvent) -> Option<Complaint> {
        match transition(*self, event) {
            Ok(step) => {
                *self = step.next;
                step.complaint
            }
            Err(Refusal::Recorded(complaint)) => Some(complaint),
            Err(Refusal::Ignored) => None,
        }
    }
}

// ----- the binding record -------------------------------------------------------------------

/// One binding (proposal, attach in flight, or established), keyed by its handle in the slab.
pub(super) struct Binding {
    /// Creation order, for listings (slab handles are not ordered).
    pub(super) serial: usize,
    pub(super) npi: GUID,
    pub(super) client: usize,
    pub(super) provider: usize,
    pub(super) state: BindingState,
    pub(super) client_context: *mut c_void,
    pub(super) provider_context: *mut c_void,
    pub(super) client_half: Half,
    pub(super) provider_half: Half,
    /// False while unwinding a provider whose client failed after it accepted (OQ-7): the
    /// client considers itself unattached and gets no detach or cleanup callback.
    pub(super) client_attached: bool,
    // The detach and cleanup callbacks, read from the characteristics when the binding is
    // proposed. The characteristics must not change while registered (R2), so this is the
    // same value the NMR would read later, without a registration lookup on every transition.
    pub(super) client_detach: Option<DetachFn>,
    pub(super) client_cleanup: Option<CleanupFn>,
    pub(super) provider_detach: Option<DetachFn>,
    pub(super) provider_cleanup: Option<CleanupFn>,
}

/// What must run after a binding's last half completed: both cleanup callbacks, then unlink.
pub(super) struct Cleanup {
    pub(super) binding: usize,
    pub(super) client: Option<(CleanupFn, *mut c_void)>,
    pub(super) provider: Option<(CleanupFn, *mut c_void)>,
}

/// The detach callbacks of a binding that has been marked `Detaching`, client first (OQ-3).
pub(super) struct DetachJob {
    pub(super) binding: usize,
    pub(super) client: Option<(DetachFn, *mut c_void)>,
    pub(super) provider: Option<(DetachFn, *mut c_void)>,
}

impl Binding {
    /// A new proposal between two registrations (R4, R8): both halves attached.
    #[allow(clippy::too_many_arguments)] // one per field a proposal fixes; a struct would repeat them
    pub(super) fn proposed(
        serial: usize,
        npi: GUID,
        client: usize,
        provider: usize,
        client_detach: Option<DetachFn>,
        client_cleanup: Option<CleanupFn>,
        provider_detach: Option<DetachFn>,
        provider_cleanup: Option<CleanupFn>,
    ) -> Self {
        Binding {
            serial,
            npi,
            client,
            provider,
            state: BindingState::Proposed,
            client_context: core::ptr::null_mut(),
            provider_context: core::ptr::null_mut(),
            client_half: Half::Attached { early: false },
            provider_half: Half::Attached { early: false },
            client_attached: true,
            client_detach,
            client_cleanup,
            provider_detach,
            provider_cleanup,
        }
    }

    /// Feeds `event` to the binding: its state moves (or not), and what to record comes back.
    /// `Gone` is left to the caller, which unlinks the binding from the tables.
    pub(super) fn advance(&mut self, event: Event) -> Result<Move, (ViolationKind, &'static str)> {
        let step = advance(self.state, event)?;
        if let Next::To(state) = step.next {
            match (self.state, state) {
                (BindingState::Established, BindingState::Detaching) => {
                    // R18, OQ-3: the client's callback runs first; the provider's once the
                    // client's has returned, and a completion from the provider before then
                    // comes before its own callback was invoked (OQ-11).
                    self.client_half.take(HalfEvent::Invoked);
                    self.provider_half.take(HalfEvent::Queued);
                }
                (BindingState::Attached, BindingState::Detaching) => {
                    // OQ-7: the client considers itself unattached: no callbacks for it; the
                    // provider's detach runs at once.
                    self.client_attached = false;
                    self.client_half = Half::Done { completed: false };
                    self.provider_half.take(HalfEvent::Invoked);
                }
                _ => {}
            }
            self.state = state;
        }
        Ok(step)
    }

    /// The detach callbacks to run for a binding just marked `Detaching`.
    pub(super) fn detach_job(&self, binding: usize) -> DetachJob {
        DetachJob {
            binding,
            client: self
                .client_detach
                .filter(|_| self.client_attached)
                .map(|f| (f, self.client_context)),
            provider: self.provider_detach.map(|f| (f, self.provider_context)),
        }
    }

    /// The provider's detach callback is invoked now: the client's returned (OQ-3).
    pub(super) fn invoke_provider(&mut self) {
        self.provider_half.take(HalfEvent::Invoked);
    }

    /// `role`'s detach callback returned `status` (R20, R21, OQ-10): what to record.
    pub(super) fn detach_returned(&mut self, role: Role, status: NTSTATUS) -> Option<Complaint> {
        self.half_mut(role).take(HalfEvent::Returned(status))
    }

    /// `role` called `Nmr*DetachComplete` (R20, R21, OQ-11): what to record.
    pub(super) fn detach_complete(&mut self, role: Role) -> Option<Complaint> {
        let never_attached = role == Role::Client && !self.client_attached;
        match self.half_mut(role).take(HalfEvent::Completed) {
            Some(Complaint::AfterSuccess) if never_attached => Some(Complaint::NeverAttached),
            other => other,
        }
    }

    /// If both halves are done, moves the binding to `CleaningUp` and returns what to call
    /// (R22). Exactly one thread sees this move, so cleanups run once.
    pub(super) fn take_cleanup(&mut self, binding: usize) -> Option<Cleanup> {
        if self.state != BindingState::Detaching
            || !self.client_half.is_done()
            || !self.provider_half.is_done()
        {
            return None;
        }
        self.advance(Event::HalvesDone).ok()?;
        Some(Cleanup {
            binding,
            client: self
                .client_cleanup
                .filter(|_| self.client_attached)
                .map(|f| (f, self.client_context)),
            provider: self.provider_cleanup.map(|f| (f, self.provider_context)),
        })
    }

    fn half_mut(&mut self, role: Role) -> &mut Half {
        match role {
            Role::Client => &mut self.client_half,
            Role::Provider => &mut self.provider_half,
        }
    }
}

#[cfg(test)]
mod tests {
    //! One test per row of the two tables, named `<from>::<event>_<outcome>`.

    use super::*;
    use crate::sys::{STATUS_INVALID_PARAMETER, STATUS_NOINTERFACE};

    mod binding {
        use super::*;
        use BindingState::{
            Attached, CleaningUp, Detaching, Established, Proposed, ProviderAttaching,
        };

        const ALL: [BindingState; 6] =
            [Proposed, ProviderAttaching, Attached, Established, Detaching, CleaningUp];

        fn moved(state: BindingState, event: Event) -> Next {
            advance(state, event).expect("the move is allowed").next
        }

        fn refused(state: BindingState, event: Event) -> ViolationKind {
            advance(state, event).expect_err("the event is refused").0
        }

        #[test]
        fn proposed_attach_call_from_its_own_callback_to_provider_attaching() {
            let event = Event::AttachCall { own_callback: true };
            assert_eq!(moved(Proposed, event), Next::To(ProviderAttaching));
        }

        #[test]
        fn proposed_attach_call_from_elsewhere_is_refused_as_outside_the_callback() {
            let event = Event::AttachCall { own_callback: false };
            assert_eq!(refused(Proposed, event), ViolationKind::AttachOutsideCallback);
        }

        #[test]
        fn attached_attach_call_is_refused_as_after_success() {
            for own_callback in [true, false] {
                let event = Event::AttachCall { own_callback };
                assert_eq!(refused(Attached, event), ViolationKind::AttachAfterSuccess);
            }
        }

        #[test]
        fn other_states_attach_call_is_refused_as_outside_the_callback() {
            for state in [ProviderAttaching, Established, Detaching, CleaningUp] {
                for own_callback in [true, false] {
                    let event = Event::AttachCall { own_callback };
                    assert_eq!(refused(state, event), ViolationKind::AttachOutsideCallback);
                }
            }
        }

        #[test]
        fn provider_attaching_provider_success_to_attached() {
            let event = Event::ProviderAnswered(STATUS_SUCCESS);
            assert_eq!(moved(ProviderAttaching, event), Next::To(Attached));
        }

        #[test]
        fn provider_attaching_provider_failure_to_proposed() {
            let event = Event::ProviderAnswered(STATUS_NOINTERFACE);
            assert_eq!(moved(ProviderAttaching, event), Next::To(Proposed));
        }

        #[test]
        fn attached_client_success_to_established() {
            let event = Event::ClientAnswered(STATUS_SUCCESS);
            assert_eq!(advance(Attached, event), Ok(Move::to(Established)));
        }

        #[test]
        fn attached_client_failure_to_detaching_with_failure_after_provider_accepted() {
            let step = advance(Attached, Event::ClientAnswered(STATUS_NOINTERFACE)).unwrap();
            assert_eq!(step.next, Next::To(Detaching));
            assert_eq!(step.complaint.unwrap().0, ViolationKind::FailureAfterProviderAccepted);
        }

        #[test]
        fn proposed_client_failure_to_gone() {
            let event = Event::ClientAnswered(STATUS_NOINTERFACE);
            assert_eq!(advance(Proposed, event), Ok(Move { next: Next::Gone, complaint: None }));
        }

        #[test]
        fn proposed_client_success_to_gone_with_success_without_attach() {
            let step = advance(Proposed, Event::ClientAnswered(STATUS_SUCCESS)).unwrap();
            assert_eq!(step.next, Next::Gone);
            assert_eq!(step.complaint.unwrap().0, ViolationKind::SuccessWithoutAttach);
        }

        #[test]
        fn established_deregistered_to_detaching() {
            assert_eq!(moved(Established, Event::Deregistered), Next::To(Detaching));
        }

        #[test]
        fn other_states_deregistered_unchanged() {
            for state in [Proposed, ProviderAttaching, Attached, Detaching, CleaningUp] {
                assert_eq!(moved(state, Event::Deregistered), Next::Unchanged, "{state:?}");
            }
        }

        #[test]
        fn detaching_halves_done_to_cleaning_up() {
            assert_eq!(moved(Detaching, Event::HalvesDone), Next::To(CleaningUp));
        }

        #[test]
        fn out_of_place_answers_and_endings_are_internal_errors() {
            let events = [
                (Event::ProviderAnswered(STATUS_SUCCESS), ProviderAttaching),
                (Event::ClientAnswered(STATUS_SUCCESS), Proposed),
                (Event::HalvesDone, Detaching),
            ];
            for (event, home) in events {
                let others = ALL.iter().filter(|s| {
                    **s != home && !(matches!(event, Event::ClientAnswered(_)) && **s == Attached)
                });
                for state in others {
                    assert_eq!(refused(*state, event), ViolationKind::Internal, "{state:?}");
                }
            }
        }

        #[test]
        fn established_deregistered_invokes_the_client_and_queues_the_provider() {
            let mut b = Binding::proposed(1, GUID::default(), 1, 2, None, None, None, None);
            b.state = Established;
            b.advance(Event::Deregistered).unwrap();
            assert_eq!(b.client_half, Half::Running { early: false });
            assert_eq!(b.provider_half, Half::Starting { early: false });
        }

        #[test]
        fn attached_client_failure_unattaches_the_client_and_invokes_the_provider() {
            let mut b = Binding::proposed(1, GUID::default(), 1, 2, None, None, None, None);
            b.state = Attached;
            b.advance(Event::ClientAnswered(STATUS_NOINTERFACE)).unwrap();
            assert!(!b.client_attached);
            assert_eq!(b.client_half, Half::Done { completed: false });
            assert_eq!(b.provider_half, Half::Running { early: false });
        }

        #[test]
        fn detaching_with_a_half_open_takes_no_cleanup() {
            let mut b = Binding::proposed(1, GUID::default(), 1, 2, None, None, None, None);
            b.state = Detaching;
            b.client_half = Half::Done { completed: false };
            b.provider_half = Half::Pending;
            assert!(b.take_cleanup(0).is_none());
            assert_eq!(b.state, Detaching);
            b.provider_half = Half::Done { completed: true };
            assert!(b.take_cleanup(0).is_some());
            assert_eq!(b.state, CleaningUp);
            assert!(b.take_cleanup(0).is_none(), "cleanups are taken once (R22)");
        }

        #[test]
        fn completing_an_unattached_client_half_says_it_never_attached() {
            let mut b = Binding::proposed(1, GUID::default(), 1, 2, None, None, None, None);
            b.state = Attached;
            b.advance(Event::ClientAnswered(STATUS_NOINTERFACE)).unwrap();
            assert_eq!(b.detach_complete(Role::Client), Some(Complaint::NeverAttached));
        }
    }

    mod half {
        use super::*;
        use Half::{Attached, Done, Pending, Running, Starting};

        const ALL: [Half; 9] = [
            Attached { early: false },
            Attached { early: true },
            Starting { early: false },
            Starting { early: true },
            Running { early: false },
            Running { early: true },
            Pending,
            Done { completed: false },
            Done { completed: true },
        ];

        fn step(half: Half, event: HalfEvent) -> Step {
            transition(half, event).expect("the step is taken")
        }

        fn to(next: Half) -> Step {
            Step { next, complaint: None }
        }

        #[test]
        fn attached_queued_to_starting() {
            for early in [false, true] {
                assert_eq!(step(Attached { early }, HalfEvent::Queued), to(Starting { early }));
            }
        }

        #[test]
        fn attached_invoked_to_running() {
            for early in [false, true] {
                assert_eq!(step(Attached { early }, HalfEvent::Invoked), to(Running { early }));
            }
        }

        #[test]
        fn starting_invoked_to_running() {
            for early in [false, true] {
                assert_eq!(step(Starting { early }, HalfEvent::Invoked), to(Running { early }));
            }
        }

        #[test]
        fn running_returned_success_to_done_by_success() {
            let s = step(Running { early: false }, HalfEvent::Returned(STATUS_SUCCESS));
            assert_eq!(s, to(Done { completed: false }));
        }

        #[test]
        fn running_returned_pending_to_pending() {
            let s = step(Running { early: false }, HalfEvent::Returned(STATUS_PENDING));
            assert_eq!(s, to(Pending));
        }

        #[test]
        fn running_early_returned_pending_to_done_by_completion() {
            let s = step(Running { early: true }, HalfEvent::Returned(STATUS_PENDING));
            assert_eq!(s, to(Done { completed: true }));
        }

        #[test]
        fn running_early_returned_success_to_done_with_success_after_completion() {
            let s = step(Running { early: true }, HalfEvent::Returned(STATUS_SUCCESS));
            assert_eq!(s.next, Done { completed: true });
            assert_eq!(s.complaint, Some(Complaint::SuccessAfterCompletion));
            assert_eq!(
                Complaint::SuccessAfterCompletion.kind(),
                ViolationKind::CompleteAfterSuccess
            );
        }

        #[test]
        fn running_returned_other_status_to_done_with_bad_status() {
            for early in [false, true] {
                let s = step(Running { early }, HalfEvent::Returned(STATUS_INVALID_PARAMETER));
                assert_eq!(s.next, Done { completed: early });
                assert_eq!(s.complaint, Some(Complaint::BadStatus(STATUS_INVALID_PARAMETER)));
                assert_eq!(s.complaint.unwrap().kind(), ViolationKind::BadDetachStatus);
            }
        }

        #[test]
        fn pending_completed_to_done_by_completion() {
            assert_eq!(step(Pending, HalfEvent::Completed), to(Done { completed: true }));
        }

        #[test]
        fn running_completed_to_running_early() {
            let s = step(Running { early: false }, HalfEvent::Completed);
            assert_eq!(s, to(Running { early: true }));
        }

        #[test]
        fn attached_completed_to_attached_early_with_a_warning() {
            let s = step(Attached { early: false }, HalfEvent::Completed);
            assert_eq!(s.next, Attached { early: true });
            assert_eq!(s.complaint, Some(Complaint::BeforeDetach));
            assert_eq!(Complaint::BeforeDetach.kind(), ViolationKind::CompleteBeforeDetach);
        }

        #[test]
        fn starting_completed_to_starting_early_with_a_warning() {
            let s = step(Starting { early: false }, HalfEvent::Completed);
            assert_eq!(s.next, Starting { early: true });
            assert_eq!(s.complaint, Some(Complaint::BeforeCallback));
            assert_eq!(Complaint::BeforeCallback.kind(), ViolationKind::CompleteBeforeDetach);
        }

        #[test]
        fn early_completed_again_is_refused_as_complete_twice() {
            for half in
                [Attached { early: true }, Starting { early: true }, Running { early: true }]
            {
                let refused = transition(half, HalfEvent::Completed);
                assert_eq!(refused, Err(Refusal::Recorded(Complaint::Twice)), "{half:?}");
            }
            assert_eq!(Complaint::Twice.kind(), ViolationKind::CompleteTwice);
        }

        #[test]
        fn done_by_completion_completed_is_refused_as_complete_twice() {
            let refused = transition(Done { completed: true }, HalfEvent::Completed);
            assert_eq!(refused, Err(Refusal::Recorded(Complaint::AlreadyComplete)));
            assert_eq!(Complaint::AlreadyComplete.kind(), ViolationKind::CompleteTwice);
        }

        #[test]
        fn done_by_success_completed_is_refused_as_complete_after_success() {
            let refused = transition(Done { completed: false }, HalfEvent::Completed);
            assert_eq!(refused, Err(Refusal::Recorded(Complaint::AfterSuccess)));
            assert_eq!(Complaint::AfterSuccess.kind(), ViolationKind::CompleteAfterSuccess);
        }

        #[test]
        fn not_attached_queued_is_ignored() {
            for half in ALL.into_iter().filter(|h| !matches!(h, Attached { .. })) {
                assert_eq!(transition(half, HalfEvent::Queued), Err(Refusal::Ignored), "{half:?}");
            }
        }

        #[test]
        fn running_pending_or_done_invoked_is_ignored() {
            for half in ALL.into_iter().filter(|h| !matches!(h, Attached { .. } | Starting { .. }))
            {
                let ignored = transition(half, HalfEvent::Invoked);
                assert_eq!(ignored, Err(Refusal::Ignored), "{half:?}");
            }
        }

        #[test]
        fn not_running_returned_is_ignored() {
            for half in ALL.into_iter().filter(|h| !matches!(h, Running { .. })) {
                for status in [STATUS_SUCCESS, STATUS_PENDING, STATUS_INVALID_PARAMETER] {
                    let ignored = transition(half, HalfEvent::Returned(status));
                    assert_eq!(ignored, Err(Refusal::Ignored), "{half:?}");
                }
            }
        }

        #[test]
        fn every_complaint_names_its_violation_in_words() {
            let complaints = [
                Complaint::BeforeDetach,
                Complaint::BeforeCallback,
                Complaint::Twice,
                Complaint::AlreadyComplete,
                Complaint::AfterSuccess,
                Complaint::NeverAttached,
                Complaint::SuccessAfterCompletion,
                Complaint::BadStatus(STATUS_INVALID_PARAMETER),
            ];
            for c in complaints {
                assert!(!c.detail().is_empty(), "{c:?}");
            }
            assert!(Complaint::BadStatus(STATUS_INVALID_PARAMETER).detail().contains("0xc000000d"));
        }
    }
}
