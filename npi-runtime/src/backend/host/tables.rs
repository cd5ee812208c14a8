//! The registrar's tables: registrations by handle, bindings in a slab, and the NPI index that
//! matches clients with providers (R3); and the listings read from them.

use core::ffi::c_void;
use std::collections::BTreeSet;
use std::vec::Vec;

use rustc_hash::FxBuildHasher;

use super::binding_state::Binding;
use super::registrar::Registrar;
use super::report::{BindingInfo, Handle, RegistrationInfo, Role};
use super::{handles, slab, sync};
use crate::sys::{
    GUID, NPI_CLIENT_CHARACTERISTICS, NPI_MODULEID, NPI_PROVIDER_CHARACTERISTICS,
    NPI_REGISTRATION_INSTANCE,
};

pub(super) type FxHashMap<K, V> = std::collections::HashMap<K, V, FxBuildHasher>;
pub(super) type FxHashSet<T> = std::collections::HashSet<T, FxBuildHasher>;

/// One registration's characteristics, by pointer (R2: the NMR keeps pointers, not copies).
#[derive(Clone, Copy)]
pub(super) enum Chars {
    Client(*const NPI_CLIENT_CHARACTERISTICS),
    Provider(*const NPI_PROVIDER_CHARACTERISTICS),
}

impl Chars {
    /// The embedded registration instance: the very pointer the peer's attach callback gets.
    pub(super) fn instance(self) -> *const NPI_REGISTRATION_INSTANCE {
        match self {
            // SAFETY: the pointer was validated non-NULL at registration and stays valid until
            // the registration's wait returns (R2); `&raw const` reads nothing.
            Chars::Client(c) => unsafe { &raw const (*c).ClientRegistrationInstance },
            // SAFETY: as above.
            Chars::Provider(p) => unsafe { &raw const (*p).ProviderRegistrationInstance },
        }
    }
}

pub(super) struct Registration {
    pub(super) role: Role,
    pub(super) chars: Chars,
    pub(super) context: *mut c_void,
    pub(super) npi: GUID,
    pub(super) deregistering: bool,
    /// Deregistering because `host::AttachFaults` said its owner did: the owner's own
    /// `NmrDeregister*` is still to come and is then accepted quietly.
    pub(super) deregistered_by_fault: bool,
    pub(super) waiting: bool,
    /// Handles of the bindings this registration took part in, oldest first. Entries of
    /// bindings that are gone are skipped when read and dropped in bulk (see
    /// `State::remove_binding`), so ending a binding costs no search here.
    pub(super) bindings: Vec<usize>,
    /// Bindings (attaches in flight included, R28) not yet gone: what the wait waits for.
    pub(super) live: usize,
}

#[derive(Default)]
pub(super) struct NpiEntry {
    pub(super) clients: BTreeSet<usize>,
    pub(super) providers: BTreeSet<usize>,
}

pub(super) struct State {
    /// Handles start here: `HANDLE_BASE` plus the registrar id.
    pub(super) base: usize,
    pub(super) next_serial: usize,
    /// Creation order of bindings, for listings.
    pub(super) next_binding: usize,
    pub(super) registrations: FxHashMap<usize, Registration>,
    pub(super) bindings: slab::Slab<Binding>,
    /// Active (not deregistering) registrations per NPI id, in registration order.
    pub(super) npis: FxHashMap<GUID, NpiEntry>,
}

// SAFETY: the raw pointers in `State` are addresses the modules gave us; the registrar only
// dereferences them to call a module or read its characteristics, which the contract keeps
// valid from any thread (R2, R33). Access to the tables themselves is serialised by the mutex.
unsafe impl Send for State {}

impl State {
    pub(super) fn new(registrar: usize) -> Self {
        let base = handles::base(registrar);
        Self {
            base,
            next_serial: 0,
            next_binding: 0,
            registrations: FxHashMap::default(),
            bindings: slab::Slab::new(base, handles::TAG_BINDING),
            npis: FxHashMap::default(),
        }
    }

    /// Unlinks a finished binding; true if a deregistering registration just lost its last
    /// binding, so its waiter must be woken.
    pub(super) fn remove_binding(&mut self, handle: usize) -> bool {
        let Some(b) = self.bindings.remove(&handle) else {
            return false;
        };
        let mut wake = false;
        for reg in [b.client, b.provider] {
            if let Some(r) = self.registrations.get_mut(&reg) {
                r.live -= 1;
                wake |= r.deregistering && r.live == 0;
                // Drop the dead entries once they outnumber the live ones: amortised O(1).
                if r.bindings.len() > 2 * r.live + 16 {
                    let bindings = &self.bindings;
                    r.bindings.retain(|h| bindings.contains_key(h));
                }
            }
        }
        wake
    }

    /// The live bindings of a registration, oldest first.
    pub(super) fn live_bindings(&self, reg: &Registration) -> impl Iterator<Item = usize> {
        reg.bindings.iter().copied().filter(|h| self.bindings.contains_key(h))
    }

    pub(super) fn module_id(&self, reg: usize) -> NPI_MODULEID {
        self.registrations.get(&reg).map_or(NPI_MODULEID::from_guid(GUID::default()), |r| {
            // SAFETY: the characteristics were validated at registration and stay valid until
            // the wait returns (R2).
            let module_id = unsafe { (*r.chars.instance()).ModuleId };
            // SAFETY: validated non-NULL at registration, valid as long (R2).
            unsafe { *module_id }
        })
    }

    pub(super) fn registration_info(&self, handle: usize, r: &Registration) -> RegistrationInfo {
        // SAFETY: as in `module_id`.
        let number = unsafe { (*r.chars.instance()).Number };
        RegistrationInfo {
            handle: Handle::from_value(handle),
            role: r.role,
            npi: r.npi,
            module_id: self.module_id(handle),
            number,
            deregistering: r.deregistering,
            bindings: r.live,
        }
    }

    pub(super) fn binding_info(&self, handle: usize, b: &Binding) -> BindingInfo {
        BindingInfo {
            handle: Handle::from_value(handle),
            npi: b.npi,
            client: Handle::from_value(b.client),
            client_module: self.module_id(b.client),
            provider: Handle::from_value(b.provider),
            provider_module: self.module_id(b.provider),
            state: b.state,
            client_half: b.client_half.public(),
            provider_half: b.provider_half.public(),
        }
    }
}

impl Registrar {
    pub(crate) fn registrations(&self) -> Vec<RegistrationInfo> {
        let st = sync::lock(&self.state);
        let mut out: Vec<_> =
            st.registrations.iter().map(|(h, r)| st.registration_info(*h, r)).collect();
        out.sort_by_key(|r| r.handle);
        out
    }

    pub(crate) fn bindings(&self) -> Vec<BindingInfo> {
        let st = sync::lock(&self.state);
        let mut out: Vec<_> =
            st.bindings.iter().map(|(h, b)| (b.serial, st.binding_info(h, b))).collect();
        out.sort_by_key(|(serial, _)| *serial);
        out.into_iter().map(|(_, b)| b).collect()
    }
}
