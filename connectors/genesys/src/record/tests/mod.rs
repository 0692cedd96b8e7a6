//! Tests of the record mapping: hand-written samples of the three shapes, the Avro contract, and
//! samples produced by the simulated org.

mod avro;
mod equivalence;
mod errors;
mod mapping;
pub(crate) mod samples;
mod simulated;
