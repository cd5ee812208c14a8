//! Every macro, used next to local items that shadow the names an expansion could reach for:
//! `core`, `npi_runtime`, `GUID`, `Option`, `Some`, `None`, `Result`, `u16`, `u32`, `usize`,
//! `str`, `size_of`, `offset_of`, `Sync`, `PhantomData`, `c_void`. The expansions reach the
//! runtime only through `::npi_runtime::__private`, so they still compile.
#![allow(dead_code, non_camel_case_types, unused_imports, unused_macros)]

/// A crate-root `core` that a relative `core::…` path in an expansion would resolve to.
mod core {}

mod driver {
    // A local `npi_runtime` that a relative `npi_runtime::…` path would resolve to.
    mod npi_runtime {}

    use ::npi_runtime::{Attach, Client, ProviderAttachRequest, ClientRegistration, Provider, ProviderBinding, ClientAttachRequest, ProviderRegistration, ProviderTable, dispatch_table, host, npi, npi_client, npi_provider};
use ::npi_runtime::generic::{AsProvider};

    struct GUID;
    struct NPI_MODULEID;
    struct NPI_CLIENT_CHARACTERISTICS;
    struct NPI_PROVIDER_CHARACTERISTICS;
    type Option = ();
    type Result = ();
    struct Some;
    struct None;
    type u16 = ();
    type u32 = ();
    type usize = ();
    type str = ();
    struct Sync;
    struct PhantomData;
    struct c_void;
    struct Static;
    struct Binding;
    struct Peer;
    fn size_of() {}
    macro_rules! offset_of {
        () => {};
    }
    mod __private {}
    trait Npi {}
    trait NpiData {}
    trait DispatchTable {}
    trait ClientModule {}
    trait ProviderModule {}
    trait Side {}

    /// The provider's table: plain integers only (`u16` is shadowed here, so `i16`).
    #[dispatch_table(abi = "C")]
    pub struct ShadowDispatch {
        pub version: i16,
        pub twice: fn(#[context] binding: *mut ::core::ffi::c_void, value: i64) -> i64,
    }

    /// Client characteristics.
    #[::npi_runtime::npi_data]
    pub struct ShadowClientInfo {
        pub flags: i32,
    }


    static CLIENT_INFO: ShadowClientInfo = ShadowClientInfo { flags: 3 };

    #[npi(
        id = "0D15EA5E-0000-4000-8000-000000000001",
        client_characteristics = ShadowClientInfo,
        provider_dispatch = ShadowDispatch,
        registration_version = 2
    )]
    pub struct ShadowNpi;
    // SAFETY: the types this declaration gives the NPI are its layouts, and it is the only
    // declaration of this id in the program.
    unsafe impl ::npi_runtime::NpiLayout for ShadowNpi {}

    #[npi_provider(npi = ShadowNpi, module_id = "0D15EA5E-0000-4000-8000-000000000002", number = 5)]
    struct ShadowProvider;

    impl Provider for ShadowProvider {
        type Binding = i64;

        fn attach(&self, request: ProviderAttachRequest<'_, Self>) -> Attach {
            let info = request.client().characteristics().map_or(0, |c| c.flags);
            request.accept(i64::from(info), &SHADOW_DISPATCH).into()
        }
    }

    impl ShadowDispatchImpl for ShadowProvider {
        fn twice(binding: &ProviderBinding<'_, ShadowProvider>, value: i64) -> i64 {
            value * 2 + **binding
        }
    }

    static SHADOW_DISPATCH: ProviderTable<ShadowProvider> =
        ShadowDispatch::new::<ShadowProvider>(1);
    static PROVIDER: ShadowProvider = ShadowProvider;

    #[npi_client(
        npi = ShadowNpi,
        module_id = "0D15EA5E-0000-4000-8000-000000000003",
        version = 2,
        characteristics = CLIENT_INFO
    )]
    struct ShadowClient;

    impl Client for ShadowClient {
        type Binding = ();

        fn attach(&self, request: ClientAttachRequest<'_, Self>) -> Attach {
            assert_eq!(request.provider().number(), 5);
            assert_eq!(request.provider().version(), 2);
            match request.accept((), &()) {
                Ok(accepted) => {
                    let peer = accepted.binding().peer().expect("the provider's table");
                    assert_eq!(peer.twice(20), 43);
                    accepted.into()
                }
                Err(refused) => refused.into(),
            }
        }
    }

    static CLIENT: ShadowClient = ShadowClient;

    pub(crate) fn run() {
        let provider = ProviderRegistration::register(&PROVIDER).expect("register");
        let client = ClientRegistration::register(&CLIENT).expect("register");
        assert_eq!(host::bindings_of(&<ShadowNpi as ::npi_runtime::Npi>::ID).len(), 1);
        drop(client);
        drop(provider);
    }
}

fn main() {
    driver::run();
}
