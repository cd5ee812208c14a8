//! Test, example and benchmark carrier for the npi workspace; it has no API of its own.
