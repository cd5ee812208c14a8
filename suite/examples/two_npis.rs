//! A client of two NPIs. As in C, each NPI gets its own registration with its own
//! characteristics; here the driver's state is one struct and each registration context is a
//! small struct that points into it.
//!
//! ```text
//! cargo run --example two_npis
//! ```

use std::sync::atomic::{AtomicU32, Ordering};

use npi_runtime::{
    Attach, Client, ClientAttachRequest, ClientRegistration, Npi, Provider, ProviderAttachRequest,
    ProviderRegistration, host, npi, npi_client, npi_provider,
};

/// A clock service.
#[npi(id = "C0C0C0C0-0001-4000-8000-00000000C001")]
pub struct Clock;
// SAFETY: both sides in this program use this one declaration: the layouts are whatever
// it says, and no other declaration of this id exists.
unsafe impl ::npi_runtime::NpiLayout for Clock {}

/// A logging service.
#[npi(id = "C0C0C0C0-0002-4000-8000-00000000C002")]
pub struct Log;
// SAFETY: both sides in this program use this one declaration: the layouts are whatever
// it says, and no other declaration of this id exists.
unsafe impl ::npi_runtime::NpiLayout for Log {}

/// The driver's shared state.
struct Driver {
    attached: AtomicU32,
}

static DRIVER: Driver = Driver { attached: AtomicU32::new(0) };

/// The driver's registration as a clock client.
#[npi_client(npi = Clock, module_id = "C0C0C0C0-0003-4000-8000-00000000C003")]
struct AsClockClient(&'static Driver);

/// The driver's registration as a log client (same module id: one driver).
#[npi_client(npi = Log, module_id = "C0C0C0C0-0003-4000-8000-00000000C003")]
struct AsLogClient(&'static Driver);

impl Client for AsClockClient {
    type Binding = ();
    fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
        println!("  driver: clock provider available -> attach");
        self.0.attached.fetch_add(1, Ordering::SeqCst);
        request.accept((), &()).into()
    }
}

impl Client for AsLogClient {
    type Binding = ();
    fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
        println!("  driver: log provider available -> attach");
        self.0.attached.fetch_add(1, Ordering::SeqCst);
        request.accept((), &()).into()
    }
}

#[npi_provider(npi = Clock, module_id = "C0C0C0C0-0004-4000-8000-00000000C004")]
struct ClockService;

impl Provider for ClockService {
    type Binding = ();
    fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
        request.accept((), &()).into()
    }
}

#[npi_provider(npi = Log, module_id = "C0C0C0C0-0005-4000-8000-00000000C005")]
struct LogService;

impl Provider for LogService {
    type Binding = ();
    fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
        request.accept((), &()).into()
    }
}

static CLOCK_CLIENT: AsClockClient = AsClockClient(&DRIVER);
static LOG_CLIENT: AsLogClient = AsLogClient(&DRIVER);

fn main() {
    let clock = ProviderRegistration::register(&ClockService).unwrap();
    let log = ProviderRegistration::register(&LogService).unwrap();
    println!("driver DriverEntry: one registration per NPI");
    let as_clock = ClientRegistration::register(&CLOCK_CLIENT).unwrap();
    let as_log = ClientRegistration::register(&LOG_CLIENT).unwrap();
    assert_eq!(DRIVER.attached.load(Ordering::SeqCst), 2);
    for npi in [Clock::ID, Log::ID] {
        let b = host::bindings_of(&npi);
        assert_eq!(b.len(), 1);
        println!("  {}", b[0]);
    }
    println!("driver Unload: deregister both");
    drop((as_clock, as_log, clock, log));
    assert!(host::registrations_of(&Clock::ID).is_empty());
    assert!(host::registrations_of(&Log::ID).is_empty());
    println!("done");
}
