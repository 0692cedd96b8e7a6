//! Parts of the command line that are not the runtime: the simulated org's commands and the
//! terminal progress display.

pub mod progress;
pub mod simulate;
