//! Bounds on paging through an API that decides when paging ends: at most `max_pages` pages per
//! query, and a cursor seen twice stops it (a server that hands back a cursor it gave before
//! would page forever).

use std::collections::HashSet;

/// One paged read's guard. Errors name the limit or the cursor.
#[derive(Debug)]
pub struct PageGuard {
    max_pages: u32,
    pages: u32,
    cursors: HashSet<String>,
}

impl PageGuard {
    pub fn new(max_pages: u32) -> Self {
        Self { max_pages: max_pages.max(1), pages: 0, cursors: HashSet::new() }
    }

    /// Counts one more page about to be asked for; an error once that is over `max_pages`.
    pub fn next_page(&mut self) -> Result<(), String> {
        self.pages += 1;
        if self.pages > self.max_pages {
            return Err(format!("still more pages after backfill.max_pages ({}): paging stopped", self.max_pages));
        }
        Ok(())
    }

    /// Notes the cursor of the next page; an error when it was handed out before.
    pub fn cursor(&mut self, cursor: &str) -> Result<(), String> {
        if !self.cursors.insert(cursor.to_owned()) {
            return Err(format!("the server handed back cursor `{cursor}` a second time: paging stopped"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_counted_and_a_repeated_cursor_stops_paging() {
        let mut guard = PageGuard::new(3);
        for _ in 0..3 {
            assert!(guard.next_page().is_ok());
        }
        let err = guard.next_page().expect_err("a fourth page");
        assert!(err.contains("backfill.max_pages (3)"), "{err}");

        let mut guard = PageGuard::new(100);
        assert!(guard.cursor("a").is_ok());
        assert!(guard.cursor("b").is_ok());
        let err = guard.cursor("a").expect_err("a cycle");
        assert!(err.contains("cursor `a` a second time"), "{err}");
    }
}
