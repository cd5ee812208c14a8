//! What the registrar records for a test: contract violations, strict mode, and the checks
//! shared by every NMR function (IRQL limits, R34; handles that name no live registration).

use std::format;
use std::string::String;
use std::vec::Vec;

use super::frames;
use super::registrar::Registrar;
use super::report::{Handle, Irql, Role, Violation, ViolationKind};
use super::sync;
use super::tables::{FxHashSet, State};
use crate::sys::GUID;

/// The violations recorded so far and the NPIs in strict mode; its own lock, so recording
/// never waits for the registrar's tables.
#[derive(Default)]
pub(super) struct Diagnostics {
    violations: Vec<Violation>,
    strict: FxHashSet<GUID>,
}

impl Registrar {
    /// Records a violation. In strict mode for the NPI (and for anything that is not a mere
    /// warning) the process stops here, as Driver Verifier would bugcheck.
    pub(crate) fn violation(
        &self,
        kind: ViolationKind,
        npi: Option<GUID>,
        handle: usize,
        function: &'static str,
        detail: String,
    ) {
        let v = Violation { kind, npi, handle: Handle::from_value(handle), function, detail };
        let mut d = sync::lock(&self.diagnostics);
        let strict = npi.is_some_and(|n| d.strict.contains(&n));
        let warning = matches!(
            kind,
            ViolationKind::NonZeroCharacteristicsVersion | ViolationKind::CompleteBeforeDetach
        );
        d.violations.push(v.clone());
        drop(d);
        if strict && !warning {
            std::eprintln!(
                "npi host NMR: contract violation in strict mode, stopping like a bugcheck:\n  {v}"
            );
            std::process::abort();
        }
    }

    pub(crate) fn violations(&self) -> Vec<Violation> {
        sync::lock(&self.diagnostics).violations.clone()
    }

    pub(crate) fn take_violations(&self, npi: Option<&GUID>) -> Vec<Violation> {
        let mut d = sync::lock(&self.diagnostics);
        let (taken, kept) =
            d.violations.drain(..).partition(|v| npi.is_none() || v.npi.as_ref() == npi);
        d.violations = kept;
        taken
    }

    pub(crate) fn set_strict(&self, npi: GUID, strict: bool) {
        let mut d = sync::lock(&self.diagnostics);
        if strict {
            d.strict.insert(npi);
        } else {
            d.strict.remove(&npi);
        }
    }

    pub(super) fn is_strict(&self, npi: &GUID) -> bool {
        sync::lock(&self.diagnostics).strict.contains(npi)
    }

    pub(super) fn check_irql(
        &self,
        max: Irql,
        function: &'static str,
        npi: Option<GUID>,
        handle: usize,
    ) -> bool {
        let now = frames::irql();
        if now > max {
            self.violation(
                ViolationKind::IrqlTooHigh,
                npi,
                handle,
                function,
                format!("called at {now:?}; the limit is {max:?}"),
            );
            return false;
        }
        true
    }

    /// Reports a handle that does not name a live registration of `role`.
    pub(super) fn bad_registration_handle(
        &self,
        st: &State,
        role: Role,
        handle: usize,
        function: &'static str,
    ) {
        let (kind, detail) = match st.registrations.get(&handle) {
            Some(r) => (
                ViolationKind::WrongHandleKind,
                format!("this is a {:?} registration handle, not a {role:?} one", r.role),
            ),
            None if st.bindings.contains_key(&handle) => (
                ViolationKind::WrongHandleKind,
                format!("this is a binding handle, not a {role:?} registration handle"),
            ),
            None => (
                ViolationKind::BadHandle,
                String::from(
                    "not a live registration handle (never issued, or already waited for)",
                ),
            ),
        };
        let npi = st
            .registrations
            .get(&handle)
            .map(|r| r.npi)
            .or_else(|| st.bindings.get(&handle).map(|b| b.npi));
        self.violation(kind, npi, handle, function, detail);
    }
}
