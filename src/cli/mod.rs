//! Parts of the command line that are not the runtime: the simulated org's commands, the view
//! of running connectors, and the `status` command.

pub mod console;
pub mod simulate;
pub mod status;
pub mod view;
