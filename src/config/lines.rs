//! Maps key paths (`connectors[0].region`) to their line in the YAML text, for error messages.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, Span, SpannedEventReceiver};

/// How deep mappings and sequences may nest in a config file: far beyond any real config, and
/// small enough that every later pass (which builds key paths) stays linear.
pub const MAX_DEPTH: usize = 64;

/// How large a config file may be.
pub const MAX_BYTES: usize = 8 * 1024 * 1024;

/// Refuses text over [`MAX_BYTES`] or nesting deeper than [`MAX_DEPTH`], in one linear pass that
/// stops at the first offence: `Err((message, line))`. Other YAML errors pass (the YAML parser
/// names them better), except nesting so deep that this parser gives up: the YAML parser would
/// take time quadratic in the depth to say the same (51 s for 100,000 levels).
pub fn check_bounds(text: &str) -> Result<(), (String, Option<usize>)> {
    if text.len() > MAX_BYTES {
        return Err((format!("the config file is {} bytes; at most {MAX_BYTES} are read", text.len()), None));
    }
    let too_deep = format!("mappings and lists nest deeper than {MAX_DEPTH} levels");
    let mut depth = 0usize;
    for event in Parser::new_from_str(text) {
        let (event, span) = match event {
            Ok(event) => event,
            Err(e) if e.to_string().contains("recursion limit") => {
                return Err((too_deep, Some(e.marker().line())));
            }
            Err(_) => return Ok(()),
        };
        match event {
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err((too_deep, Some(span.start.line())));
                }
            }
            Event::MappingEnd | Event::SequenceEnd => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Line numbers of every key and sequence item in a YAML document.
#[derive(Debug, Default)]
pub struct LineIndex {
    lines: HashMap<String, usize>,
}

impl LineIndex {
    /// Builds the index; a document that does not parse gives an empty index.
    pub fn build(text: &str) -> Self {
        let mut builder = Builder::default();
        let mut parser = Parser::new_from_str(text);
        if parser.load(&mut builder, false).is_err() {
            return Self::default();
        }
        Self { lines: builder.lines }
    }

    /// The line of `path`, or of its nearest ancestor that has one.
    pub fn line_of(&self, path: &str) -> Option<usize> {
        let mut path = path;
        loop {
            if let Some(line) = self.lines.get(path) {
                return Some(*line);
            }
            let cut = path.rfind(['.', '['])?;
            path = &path[..cut];
        }
    }
}

enum Frame {
    /// A mapping; `key` is the pending key once read, waiting for its value.
    Map {
        path: String,
        key: Option<String>,
    },
    Seq {
        path: String,
        next: usize,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    lines: HashMap<String, usize>,
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() { key.to_owned() } else { format!("{parent}.{key}") }
}

impl Builder {
    /// The path a value starting now belongs at, recording its line; `None` when it is a map key.
    fn value_path(&mut self, line: usize) -> Option<String> {
        match self.stack.last_mut() {
            None => Some(String::new()),
            Some(Frame::Map { key: None, .. }) => None,
            Some(Frame::Map { path, key }) => {
                let p = join(path, key.as_deref().unwrap_or_default());
                *key = None;
                Some(p)
            }
            Some(Frame::Seq { path, next }) => {
                let p = format!("{path}[{next}]");
                *next += 1;
                self.lines.entry(p.clone()).or_insert(line);
                Some(p)
            }
        }
    }
}

impl<'input> SpannedEventReceiver<'input> for Builder {
    fn on_event(&mut self, ev: Event<'input>, span: Span) {
        let line = span.start.line();
        match ev {
            Event::Scalar(text, ..) => {
                if self.value_path(line).is_none()
                    && let Some(Frame::Map { path, key }) = self.stack.last_mut()
                {
                    self.lines.entry(join(path, &text)).or_insert(line);
                    *key = Some(text.into_owned());
                }
            }
            Event::Alias(_) => {
                self.value_path(line);
            }
            Event::MappingStart(..) => {
                let path = self.value_path(line).unwrap_or_default();
                self.stack.push(Frame::Map { path, key: None });
            }
            Event::SequenceStart(..) => {
                let path = self.value_path(line).unwrap_or_default();
                self.stack.push(Frame::Seq { path, next: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_in_nested_maps_and_sequences() {
        let text = "kafka:\n  bootstrap_servers: embedded\nconnectors:\n  - name: a\n    class: datagen\n  - name: b\n    rate: 10\n";
        let index = LineIndex::build(text);
        assert_eq!(index.line_of("kafka.bootstrap_servers"), Some(2));
        assert_eq!(index.line_of("connectors[0].class"), Some(5));
        assert_eq!(index.line_of("connectors[1]"), Some(6));
        assert_eq!(index.line_of("connectors[1].rate"), Some(7));
        // Unknown leaf: falls back to the nearest ancestor.
        assert_eq!(index.line_of("connectors[1].nope"), Some(6));
    }
}
