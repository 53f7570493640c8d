//! Tests of the public operations: kubectl-wire.md's scenarios, FieldsV1 bytes, managed
//! fields bookkeeping, and properties over generated objects.

mod apply;
mod fields_v1;
mod managed;
mod props;
