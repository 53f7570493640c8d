//! Tests of the public functions: kubectl's observed bodies, each directive, errors, and
//! properties over generated objects.

mod apply;
mod errors;
mod kubectl;
mod props;
mod upstream;
