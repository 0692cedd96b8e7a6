//! One line per connector, for people: what `tributary run` draws on a terminal, what it logs
//! every `logging.summary_interval` otherwise, and what `tributary status` prints.
//!
//! Everything here reads the REST status document (`GET /connectors/{name}/status`, or
//! `GET /connectors?expand=status` for all): the terminal view of a running process and the
//! `status` command of another one show the same thing from the same source. What a connector
//! adds comes from its tasks' [`Summary`](crate::api::Summary) (`detail.summary`).

mod rates;
mod render;
mod row;

pub use rates::{Line, Rates};
pub use render::{Style, table};
pub use row::Row;
