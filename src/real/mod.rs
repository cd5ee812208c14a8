//! Real NPIs, defined with npi from the facts in the project's notes on them: ids, layouts,
//! versions. Each module holds one NPI and the types its two sides exchange.
