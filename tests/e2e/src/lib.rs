//! End-to-end tests of slipway live in `tests/`; this library is empty.
#![warn(missing_docs)]
