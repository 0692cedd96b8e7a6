//! The Avro schemas of `schemas/*.avsc`, loaded once at start-up.

use std::collections::HashMap;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use apache_avro::Schema;
use serde_json::Value as Json;

use serde::Serialize;

use super::compiled::{CompiledWriter, FastWriter};
use super::error::SchemaError;

/// One loaded schema: a named type, its self-contained JSON text and its writer.
pub struct LoadedSchema {
    full_name: Arc<str>,
    source: PathBuf,
    canonical: Arc<str>,
    schema: Schema,
    writer: ValueWriter,
}

/// How values of a schema are written, built once at load time.
enum ValueWriter {
    Fast(FastWriter),
    /// For a schema that serde_avro_fast does not parse; same bytes, slower.
    Apache(CompiledWriter),
}

impl LoadedSchema {
    /// `namespace.name`.
    pub fn full_name(&self) -> &str {
        &self.full_name
    }

    /// The file it came from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// The JSON text registered with the registry: self-contained (named types from other files
    /// inlined where first used), normalized (key order and whitespace fixed), and complete
    /// (defaults, docs, aliases and logical types kept, as compatibility checks need them).
    pub fn canonical_json(&self) -> &str {
        &self.canonical
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Appends the Avro binary encoding of `value` to `out`; on error, `out` may hold part of it.
    pub(crate) fn write<T: Serialize + ?Sized>(&self, out: &mut Vec<u8>, value: &T) -> Result<(), String> {
        match &self.writer {
            ValueWriter::Fast(writer) => writer.write(out, value),
            ValueWriter::Apache(writer) => writer.write(out, value).map(drop).map_err(|e| e.to_string()),
        }
    }

    /// Whether values are written by serde_avro_fast (else by apache-avro).
    #[cfg(test)]
    pub(crate) fn writes_fast(&self) -> bool {
        matches!(self.writer, ValueWriter::Fast(_))
    }
}

impl fmt::Debug for LoadedSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedSchema")
            .field("full_name", &self.full_name)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// Every schema of a directory, by full name. Immutable once loaded; share it in an `Arc`.
#[derive(Default)]
pub struct Schemas {
    by_name: HashMap<Arc<str>, Arc<LoadedSchema>>,
}

impl fmt::Debug for Schemas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.names()).finish()
    }
}

impl Schemas {
    /// Loads every `*.avsc` file of `dir` (not its subdirectories), in file-name order.
    ///
    /// Each file defines one named type (record, enum or fixed) at its top level. A file may use
    /// the top-level type of another file by its full name; types nested inside another file's
    /// definition are not visible outside that file. The first problem stops loading and is
    /// reported with the file it is in.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<Self, SchemaError> {
        let dir = dir.as_ref();
        let read_dir_error = |error| SchemaError::ReadDir { dir: dir.to_owned(), error };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(read_dir_error)? {
            let path = entry.map_err(read_dir_error)?.path();
            if path.extension().is_some_and(|ext| ext == "avsc") {
                files.push(path);
            }
        }
        files.sort();
        let mut sources = Vec::with_capacity(files.len());
        for file in files {
            let text = std::fs::read_to_string(&file)
                .map_err(|error| SchemaError::Unreadable { file: file.clone(), error })?;
            sources.push((file, text));
        }
        Self::from_texts(sources)
    }

    /// Loads schemas from `(origin, JSON text)` pairs; `origin` names the text in errors.
    pub fn from_texts<P, T>(sources: impl IntoIterator<Item = (P, T)>) -> Result<Self, SchemaError>
    where
        P: Into<PathBuf>,
        T: Into<String>,
    {
        let sources: Vec<Source> = sources
            .into_iter()
            .map(|(origin, text)| Source::new(origin.into(), text.into()))
            .collect::<Result<_, _>>()?;
        let mut seen: HashMap<&str, &Path> = HashMap::new();
        for source in &sources {
            if let Some(first) = seen.insert(&source.full_name, &source.file) {
                return Err(SchemaError::Duplicate {
                    name: source.full_name.clone(),
                    first: first.to_owned(),
                    second: source.file.clone(),
                });
            }
        }
        let parsed = parse_all(&sources)?;
        let mut by_name = HashMap::with_capacity(parsed.len());
        for (source, schema) in sources.iter().zip(&parsed) {
            let loaded = compile(source, schema, &parsed)?;
            by_name.insert(loaded.full_name.clone(), Arc::new(loaded));
        }
        Ok(Self { by_name })
    }

    /// The schema named `full_name` (`namespace.name`).
    pub fn get(&self, full_name: &str) -> Option<&Arc<LoadedSchema>> {
        self.by_name.get(full_name)
    }

    /// Full names, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.by_name.keys().map(AsRef::as_ref).collect();
        names.sort_unstable();
        names
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

/// A file's text, checked to be JSON defining a named type.
struct Source {
    file: PathBuf,
    text: String,
    full_name: String,
}

impl Source {
    fn new(file: PathBuf, text: String) -> Result<Self, SchemaError> {
        let json: Json = match serde_json::from_str(&text) {
            Ok(json) => json,
            Err(error) => return Err(SchemaError::InvalidJson { file, error }),
        };
        let named = json
            .get("type")
            .and_then(Json::as_str)
            .is_some_and(|kind| matches!(kind, "record" | "error" | "enum" | "fixed"));
        let field = |key: &str| json.get(key).and_then(Json::as_str).filter(|s| !s.is_empty());
        let full_name = match (named, field("namespace"), field("name")) {
            (true, _, Some(name)) if name.contains('.') => name.to_owned(),
            (true, Some(namespace), Some(name)) => format!("{namespace}.{name}"),
            (true, None, Some(name)) => name.to_owned(),
            _ => return Err(SchemaError::NotNamed { file }),
        };
        Ok(Self { file, text, full_name })
    }
}

/// Parses all sources together so that they can refer to one another's top-level types.
fn parse_all(sources: &[Source]) -> Result<Vec<Schema>, SchemaError> {
    match parse_list(sources.iter()) {
        Ok(schemas) => Ok(schemas),
        Err(_) => Err(diagnose(sources)),
    }
}

/// `Schema::parse_list`, with a panic inside the parser (on input it did not foresee) turned
/// into an error: schema files are user input.
fn parse_list<'a>(sources: impl Iterator<Item = &'a Source>) -> Result<Vec<Schema>, String> {
    let texts: Vec<&str> = sources.map(|s| s.text.as_str()).collect();
    match panic::catch_unwind(AssertUnwindSafe(|| Schema::parse_list(&texts))) {
        Ok(Ok(schemas)) => Ok(schemas),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("the Avro parser failed on this schema".to_owned()),
    }
}

/// Finds the file to blame when the sources do not parse together: grows a set of sources that
/// parse together, one file at a time; the first file (in load order) that never fits is it.
fn diagnose(sources: &[Source]) -> SchemaError {
    let mut good: Vec<usize> = Vec::new();
    let mut last_error: HashMap<usize, String> = HashMap::new();
    loop {
        let mut progress = false;
        for candidate in 0..sources.len() {
            if good.contains(&candidate) {
                continue;
            }
            let attempt = good.iter().chain(std::iter::once(&candidate)).map(|&i| &sources[i]);
            match parse_list(attempt) {
                Ok(_) => {
                    good.push(candidate);
                    progress = true;
                }
                Err(e) => {
                    last_error.insert(candidate, e);
                }
            }
        }
        if !progress {
            break;
        }
    }
    let culprit = (0..sources.len()).find(|i| !good.contains(i)).unwrap_or(0);
    let message = last_error.remove(&culprit).unwrap_or_else(|| "the schemas do not parse together".to_owned());
    SchemaError::InvalidAvro { file: sources[culprit].file.clone(), message }
}

/// Makes `schema` self-contained, fixes its registration text and builds its writer.
fn compile(source: &Source, schema: &Schema, all: &[Schema]) -> Result<LoadedSchema, SchemaError> {
    let invalid = |message: String| SchemaError::InvalidAvro { file: source.file.clone(), message };
    let mut standalone = schema.clone();
    standalone.denormalize(all).map_err(|e| invalid(e.to_string()))?;
    let canonical = serde_json::to_string(&standalone).map_err(|e| invalid(e.to_string()))?;
    // The registry parses the text on its own: make sure that works before anything is sent.
    Schema::parse_str(&canonical).map_err(|e| invalid(format!("its self-contained form does not parse: {e}")))?;
    let full_name = standalone.name().map(|n| n.fullname(None)).unwrap_or_else(|| source.full_name.clone());
    let writer = match FastWriter::new(&canonical) {
        Ok(fast) => ValueWriter::Fast(fast),
        Err(error) => {
            tracing::debug!(schema = %full_name, %error, "serde_avro_fast cannot parse the schema; apache-avro writes it");
            ValueWriter::Apache(CompiledWriter::new(standalone.clone()).map_err(|e| invalid(e.to_string()))?)
        }
    };
    Ok(LoadedSchema {
        full_name: full_name.into(),
        source: source.file.clone(),
        canonical: canonical.into(),
        schema: standalone,
        writer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADDRESS: &str =
        r#"{"type":"record","name":"Address","namespace":"t.common","fields":[{"name":"city","type":"string"}]}"#;
    const PERSON: &str = r#"{"type":"record","name":"Person","namespace":"t","doc":"A person.","fields":[
        {"name":"name","type":"string"},
        {"name":"home","type":"t.common.Address"},
        {"name":"work","type":["null","t.common.Address"],"default":null},
        {"name":"age","type":"int","default":0}]}"#;

    fn write(dir: &Path, name: &str, text: &[u8]) {
        std::fs::write(dir.join(name), text).expect("write test file");
    }

    #[test]
    fn loads_a_directory_and_inlines_types_from_other_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        // `person` sorts after `address`... and `b_person` before `z_address`, so the reference
        // points forward in load order.
        write(dir.path(), "b_person.avsc", PERSON.as_bytes());
        write(dir.path(), "z_address.avsc", ADDRESS.as_bytes());
        write(dir.path(), "notes.txt", b"not a schema");
        let schemas = Schemas::load_dir(dir.path()).expect("valid schemas");
        assert_eq!(schemas.names(), ["t.Person", "t.common.Address"]);
        let person = schemas.get("t.Person").expect("person");
        assert_eq!(person.source(), dir.path().join("b_person.avsc"));
        let text = person.canonical_json();
        // Self-contained: the Address definition is inlined once, then referenced by name.
        let standalone = Schema::parse_str(text).expect("canonical text parses alone");
        assert_eq!(standalone.name().map(|n| n.fullname(None)).as_deref(), Some("t.Person"));
        assert_eq!(text.matches("\"city\"").count(), 1, "{text}");
        // Defaults and docs survive (compatibility checks depend on defaults).
        assert!(text.contains("\"default\":0") && text.contains("\"doc\":\"A person.\""), "{text}");
    }

    #[test]
    fn unreadable_file_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "bad.avsc", &[0xff, 0xfe, b'{']);
        let err = Schemas::load_dir(dir.path()).expect_err("not UTF-8");
        let text = err.to_string();
        assert!(matches!(err, SchemaError::Unreadable { .. }), "{err:?}");
        assert!(text.starts_with("cannot read schema file ") && text.contains("bad.avsc"), "{text}");
    }

    #[cfg(unix)]
    #[test]
    fn dangling_link_is_unreadable() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::os::unix::fs::symlink(dir.path().join("missing"), dir.path().join("gone.avsc")).expect("symlink");
        let err = Schemas::load_dir(dir.path()).expect_err("dangling");
        assert!(matches!(&err, SchemaError::Unreadable { file, .. } if file.ends_with("gone.avsc")), "{err:?}");
    }

    #[test]
    fn invalid_json_is_named_with_its_position() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "a.avsc", ADDRESS.as_bytes());
        write(dir.path(), "broken.avsc", b"{\"type\": \"record\",\n  \"name\": }");
        let err = Schemas::load_dir(dir.path()).expect_err("bad json");
        let text = err.to_string();
        assert!(matches!(err, SchemaError::InvalidJson { .. }), "{err:?}");
        assert!(
            text.contains("broken.avsc") && text.contains("is not valid JSON") && text.contains("line 2"),
            "{text}"
        );
    }

    #[test]
    fn invalid_avro_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "a.avsc", ADDRESS.as_bytes());
        write(dir.path(), "wrong.avsc", br#"{"type":"record","name":"W","fields":[{"name":"x","type":"strnig"}]}"#);
        let err = Schemas::load_dir(dir.path()).expect_err("bad avro");
        let text = err.to_string();
        assert!(matches!(err, SchemaError::InvalidAvro { .. }), "{err:?}");
        assert!(text.contains("wrong.avsc") && text.contains("is not a valid Avro schema"), "{text}");
        assert!(text.contains("strnig"), "{text}");
    }

    #[test]
    fn unresolved_reference_blames_the_referring_file() {
        let err = Schemas::from_texts([
            ("ok.avsc", ADDRESS),
            ("person.avsc", &PERSON.replace("t.common.Address", "t.Nowhere")),
        ])
        .expect_err("unknown type");
        assert!(matches!(&err, SchemaError::InvalidAvro { file, .. } if file.ends_with("person.avsc")), "{err}");
    }

    #[test]
    fn top_level_must_be_named_and_names_unique() {
        let err = Schemas::from_texts([("p.avsc", r#"{"type":"array","items":"int"}"#)]).expect_err("unnamed");
        assert_eq!(
            err.to_string(),
            "schema file p.avsc must define a named type (record, enum or fixed) at the top level"
        );
        let err = Schemas::from_texts([("a.avsc", ADDRESS), ("b.avsc", ADDRESS)]).expect_err("duplicate");
        assert_eq!(err.to_string(), "schema `t.common.Address` is defined twice: in a.avsc and in b.avsc");
    }
}
