//! stderr on a terminal, shared by log lines and a block of lines kept below them (the live
//! view): a log line erases the block, is written, and the block is drawn again under it, so
//! logs scroll and the view stays at the bottom.

use std::io::{self, Write};
use std::sync::{Arc, Mutex, MutexGuard};

use tracing_subscriber::fmt::MakeWriter;

/// Cheap to clone; every clone draws on the same stderr.
#[derive(Clone, Default)]
pub struct Console {
    block: Arc<Mutex<Block>>,
}

#[derive(Default)]
struct Block {
    lines: Vec<String>,
    /// Lines of the block on screen now (0: nothing to erase).
    drawn: usize,
}

impl Block {
    fn erase(&mut self, out: &mut impl Write) {
        if self.drawn > 0 {
            // Up to the block's first line, then clear to the end of the screen.
            let _ = write!(out, "\x1b[{}A\r\x1b[J", self.drawn);
            self.drawn = 0;
        }
    }

    fn draw(&mut self, out: &mut impl Write) {
        for line in &self.lines {
            let _ = writeln!(out, "{line}");
        }
        self.drawn = self.lines.len();
        let _ = out.flush();
    }
}

impl Console {
    fn lock(&self) -> MutexGuard<'_, Block> {
        self.block.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Replaces the block on screen with `lines` (each without a line end, none wider than the
    /// terminal).
    pub fn show(&self, lines: Vec<String>) {
        let mut block = self.lock();
        let mut err = io::stderr().lock();
        block.erase(&mut err);
        block.lines = lines;
        block.draw(&mut err);
    }
}

/// One log line's writer: the block is erased when it is made and drawn again when it is dropped.
pub struct LineWriter<'a> {
    block: MutexGuard<'a, Block>,
}

impl<'a> MakeWriter<'a> for Console {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        let mut block = self.lock();
        block.erase(&mut io::stderr().lock());
        LineWriter { block }
    }
}

impl Write for LineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        io::stderr().write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

impl Drop for LineWriter<'_> {
    fn drop(&mut self) {
        self.block.draw(&mut io::stderr().lock());
    }
}

/// Whether colours may be used on a terminal: `NO_COLOR` (any non-empty value) turns them off.
pub fn colour_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The terminal's size in characters (columns, rows), when stderr is one that says.
pub fn size() -> Option<(usize, usize)> {
    #[cfg(unix)]
    {
        // SAFETY: TIOCGWINSZ fills the `winsize` it is given and touches nothing else; a failed
        // call leaves it zeroed, which reads as "unknown".
        let mut size: libc::winsize = unsafe { std::mem::zeroed() };
        let ok = unsafe { libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
        (ok && size.ws_col > 0 && size.ws_row > 0).then_some((usize::from(size.ws_col), usize::from(size.ws_row)))
    }
    #[cfg(not(unix))]
    None
}
