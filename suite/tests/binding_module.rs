//! A dispatch function gets the binding, not `&self`: `Binding::module()` is how it reaches the
//! module's shared state (here a counter) without a `static` or an `Arc` in every binding value.

use std::sync::atomic::{AtomicU32, Ordering};

use npi_runtime::*;

/// The provider's table.
#[dispatch_table]
pub struct CounterDispatch {
    /// Adds `value` to the provider's module-wide total and returns the total.
    pub add: fn(#[context] binding: *mut core::ffi::c_void, value: u32) -> u32,
}

#[npi(
    id = "B1D0E000-0000-4000-8000-000000000001",
    client_dispatch = (),
    provider_dispatch = CounterDispatch
)]
/// An NPI whose provider counts.
pub struct CounterNpi;
// SAFETY: the only declaration of this id in the program; both sides use these types.
unsafe impl NpiLayout for CounterNpi {}

#[npi_provider(npi = CounterNpi, module_id = "B1D0E000-0000-4000-8000-0000000000AA")]
struct Counter {
    total: AtomicU32,
}

impl Provider for Counter {
    type Binding = ();
    fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
        request.accept((), &COUNTER_DISPATCH).into()
    }
}

impl CounterDispatchImpl for Counter {
    fn add(binding: &ProviderBinding<'_, Counter>, value: u32) -> u32 {
        binding.module().total.fetch_add(value, Ordering::SeqCst) + value
    }
}

static COUNTER_DISPATCH: ProviderTable<Counter> = CounterDispatch::new::<Counter>();
static COUNTER: Counter = Counter { total: AtomicU32::new(0) };

#[npi_client(npi = CounterNpi, module_id = "B1D0E000-0000-4000-8000-0000000000BB")]
struct User {
    seen: AtomicU32,
}

impl Client for User {
    type Binding = ();
    fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
        let accepted = match request.accept((), &()) {
            Ok(accepted) => accepted,
            Err(refused) => return refused.into(),
        };
        // The attach callback's binding reaches its module too (here the client itself).
        let me: &User = accepted.binding().module();
        if let Some(counter) = accepted.binding().peer() {
            me.seen.store(counter.add(5), Ordering::SeqCst);
            me.seen.store(counter.add(7), Ordering::SeqCst);
        }
        accepted.into()
    }
}

static USER: User = User { seen: AtomicU32::new(0) };

#[test]
fn a_dispatch_function_reaches_its_module_through_the_binding() {
    let counter = ProviderRegistration::register(&COUNTER).unwrap();
    let user = ClientRegistration::register(&USER).unwrap();
    // Both calls landed in the one provider module's state, and the client's module saw them.
    assert_eq!(COUNTER.total.load(Ordering::SeqCst), 12);
    assert_eq!(USER.seen.load(Ordering::SeqCst), 12);
    user.deregister().unwrap();
    counter.deregister().unwrap();
}
