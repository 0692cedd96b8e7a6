//! The embedded registry's state and rules, independent of HTTP: subjects, versions, global ids,
//! compatibility levels. Every refusal is an [`ApiError`] carrying Confluent's status and code.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use apache_avro::Schema;

use crate::schema_registry::compat::{self, CompatibilityLevel};
use crate::schema_registry::messages::{SchemaRequest, SubjectVersion, codes};
use crate::schema_registry::schema_label;

/// A refusal, as Confluent's registry words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: u16,
    pub code: i64,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, code: i64, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }

    fn subject_not_found(subject: &str) -> Self {
        Self::new(404, codes::SUBJECT_NOT_FOUND, format!("Subject '{subject}' not found."))
    }

    fn invalid_schema(detail: impl std::fmt::Display) -> Self {
        Self::new(422, codes::INVALID_SCHEMA, format!("Invalid schema: {detail}"))
    }
}

/// `latest` (or `-1`) or a version number from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VersionSpec {
    Latest,
    Number(u32),
}

impl VersionSpec {
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        match text {
            "latest" | "-1" => Ok(Self::Latest),
            _ => match text.parse::<u32>() {
                Ok(n) if (1..=i32::MAX as u32).contains(&n) => Ok(Self::Number(n)),
                _ => Err(ApiError::new(
                    422,
                    codes::INVALID_VERSION,
                    format!(
                        "The specified version '{text}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\""
                    ),
                )),
            },
        }
    }
}

struct Stored {
    /// The normalized text (see [`normalize`]), returned by every read.
    text: Arc<str>,
    schema: Arc<Schema>,
}

/// All registry state. Ids are global and start at 1; the same schema text always gets the same
/// id, whichever subject it is registered under (as in Confluent's registry).
pub(crate) struct Store {
    schemas: Vec<Stored>,
    ids_by_text: HashMap<Arc<str>, u32>,
    /// Subject → the ids of its versions, version 1 first.
    subjects: BTreeMap<String, Vec<u32>>,
    subject_levels: HashMap<String, CompatibilityLevel>,
    global_level: CompatibilityLevel,
}

impl Store {
    pub fn new(global_level: CompatibilityLevel) -> Self {
        Self {
            schemas: Vec::new(),
            ids_by_text: HashMap::new(),
            subjects: BTreeMap::new(),
            subject_levels: HashMap::new(),
            global_level,
        }
    }

    /// Registers a schema under `subject` after the compatibility check; returns its global id.
    /// A schema the subject already holds returns its id without a new version.
    pub fn register(&mut self, subject: &str, request: &SchemaRequest) -> Result<u32, ApiError> {
        let (text, schema) = parse(request)?;
        let existing_id = self.ids_by_text.get(&text).copied();
        let versions = self.subjects.get(subject).map(Vec::as_slice).unwrap_or_default();
        if let Some(id) = existing_id
            && versions.contains(&id)
        {
            return Ok(id);
        }
        let messages = self.check_against(subject, &schema, versions);
        if !messages.is_empty() {
            let name = schema_label(&text);
            return Err(ApiError::new(
                409,
                codes::INCOMPATIBLE_SCHEMA,
                format!(
                    "Schema being registered is incompatible with an earlier schema for subject \"{subject}\" (schema {name}), details: [{}]",
                    messages.join("; ")
                ),
            ));
        }
        let id = match existing_id {
            Some(id) => id,
            None => {
                self.schemas.push(Stored { text: text.clone(), schema: Arc::new(schema) });
                let id = self.schemas.len() as u32;
                self.ids_by_text.insert(text, id);
                id
            }
        };
        self.subjects.entry(subject.to_owned()).or_default().push(id);
        Ok(id)
    }

    /// The version of `subject` that holds the schema.
    pub fn lookup(&self, subject: &str, request: &SchemaRequest) -> Result<SubjectVersion, ApiError> {
        let versions = self.subjects.get(subject).ok_or_else(|| ApiError::subject_not_found(subject))?;
        let (text, _) = parse(request)?;
        let not_found = || ApiError::new(404, codes::SCHEMA_NOT_FOUND, "Schema not found");
        let id = self.ids_by_text.get(&text).copied().ok_or_else(not_found)?;
        let index = versions.iter().position(|&v| v == id).ok_or_else(not_found)?;
        Ok(self.subject_version(subject, index, id))
    }

    pub fn subjects(&self) -> Vec<String> {
        self.subjects.keys().cloned().collect()
    }

    pub fn versions(&self, subject: &str) -> Result<Vec<u32>, ApiError> {
        let versions = self.subjects.get(subject).ok_or_else(|| ApiError::subject_not_found(subject))?;
        Ok((1..=versions.len() as u32).collect())
    }

    pub fn version(&self, subject: &str, spec: VersionSpec) -> Result<SubjectVersion, ApiError> {
        let versions = self.subjects.get(subject).ok_or_else(|| ApiError::subject_not_found(subject))?;
        let index = match spec {
            VersionSpec::Latest => versions.len().checked_sub(1),
            VersionSpec::Number(n) => Some(n as usize - 1).filter(|&i| i < versions.len()),
        };
        let index = index.ok_or_else(|| {
            let shown = match spec {
                VersionSpec::Latest => "latest".to_owned(),
                VersionSpec::Number(n) => n.to_string(),
            };
            ApiError::new(404, codes::VERSION_NOT_FOUND, format!("Version {shown} not found."))
        })?;
        Ok(self.subject_version(subject, index, versions[index]))
    }

    pub fn schema_text(&self, id: u32) -> Result<Arc<str>, ApiError> {
        self.stored(id)
            .map(|s| s.text.clone())
            .ok_or_else(|| ApiError::new(404, codes::SCHEMA_NOT_FOUND, format!("Schema {id} not found")))
    }

    /// The subject's own level, or the global level for `None`. A subject without its own level
    /// is 40408 unless `default_to_global`.
    pub fn level(&self, subject: Option<&str>, default_to_global: bool) -> Result<CompatibilityLevel, ApiError> {
        let Some(subject) = subject else { return Ok(self.global_level) };
        match self.subject_levels.get(subject) {
            Some(&level) => Ok(level),
            None if default_to_global => Ok(self.global_level),
            None => Err(ApiError::new(
                404,
                codes::SUBJECT_COMPATIBILITY_NOT_CONFIGURED,
                format!("Subject '{subject}' does not have subject-level compatibility configured"),
            )),
        }
    }

    pub fn set_level(&mut self, subject: Option<&str>, level: CompatibilityLevel) {
        match subject {
            Some(subject) => {
                self.subject_levels.insert(subject.to_owned(), level);
            }
            None => self.global_level = level,
        }
    }

    /// Reasons `request` is incompatible with the subject: against one version when `against` is
    /// given (in the direction the subject's level demands), else as a registration would check.
    pub fn check(
        &self,
        subject: &str,
        request: &SchemaRequest,
        against: Option<VersionSpec>,
    ) -> Result<Vec<String>, ApiError> {
        let (_, schema) = parse(request)?;
        match against {
            None => {
                let versions = self.subjects.get(subject).map(Vec::as_slice).unwrap_or_default();
                Ok(self.check_against(subject, &schema, versions))
            }
            Some(spec) => {
                // One version: whether the level is transitive makes no difference.
                let found = self.version(subject, spec)?;
                Ok(self.check_with(self.effective_level(subject), &schema, &[found.id], found.version))
            }
        }
    }

    fn effective_level(&self, subject: &str) -> CompatibilityLevel {
        self.subject_levels.get(subject).copied().unwrap_or(self.global_level)
    }

    fn check_against(&self, subject: &str, schema: &Schema, versions: &[u32]) -> Vec<String> {
        self.check_with(self.effective_level(subject), schema, versions, 1)
    }

    /// Checks against `ids`, numbered as versions from `first_version`.
    fn check_with(&self, level: CompatibilityLevel, schema: &Schema, ids: &[u32], first_version: u32) -> Vec<String> {
        let existing: Vec<(u32, &Schema)> = ids
            .iter()
            .zip(first_version..)
            .filter_map(|(&id, version)| self.stored(id).map(|s| (version, s.schema.as_ref())))
            .collect();
        compat::check(level, schema, &existing)
    }

    fn stored(&self, id: u32) -> Option<&Stored> {
        self.schemas.get((id as usize).checked_sub(1)?)
    }

    fn subject_version(&self, subject: &str, index: usize, id: u32) -> SubjectVersion {
        SubjectVersion {
            subject: subject.to_owned(),
            id,
            version: index as u32 + 1,
            schema: self.stored(id).map(|s| s.text.to_string()).unwrap_or_default(),
        }
    }
}

/// Parses an Avro schema request into its normalized text and schema.
fn parse(request: &SchemaRequest) -> Result<(Arc<str>, Schema), ApiError> {
    if let Some(kind) = &request.schema_type
        && !kind.eq_ignore_ascii_case("AVRO")
    {
        return Err(ApiError::invalid_schema(format!("schema type {kind} is not supported (only AVRO)")));
    }
    if !request.references.is_empty() {
        return Err(ApiError::invalid_schema("schema references are not supported"));
    }
    let schema = Schema::parse_str(&request.schema).map_err(ApiError::invalid_schema)?;
    let text = normalize(&schema).map_err(ApiError::invalid_schema)?;
    Ok((text.into(), schema))
}

/// The schema's JSON as apache-avro writes it: whitespace and key order no longer matter, while
/// defaults, docs and aliases are kept (unlike Avro's Parsing Canonical Form, which would lose
/// the defaults that compatibility depends on).
fn normalize(schema: &Schema) -> Result<String, serde_json::Error> {
    serde_json::to_string(schema)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(text: &str) -> SchemaRequest {
        SchemaRequest::avro(text)
    }

    const V1: &str = r#"{"type":"record","name":"E","namespace":"t","fields":[{"name":"id","type":"string"}]}"#;
    const V2: &str = r#"{"type":"record","name":"E","namespace":"t","fields":[{"name":"id","type":"string"},{"name":"n","type":"int","default":1}]}"#;
    const BAD: &str = r#"{"type":"record","name":"E","namespace":"t","fields":[{"name":"id","type":"string"},{"name":"m","type":"int"}]}"#;

    #[test]
    fn ids_are_global_and_stable_and_versions_count_per_subject() {
        let mut store = Store::new(CompatibilityLevel::Backward);
        assert_eq!(store.register("a-value", &req(V1)), Ok(1));
        // Same schema with other whitespace: same id, no new version.
        let spaced = V1.replace(',', " , ");
        assert_eq!(store.register("a-value", &req(&spaced)), Ok(1));
        assert_eq!(store.register("a-value", &req(V2)), Ok(2));
        assert_eq!(store.versions("a-value"), Ok(vec![1, 2]));
        // Another subject, same schema: same global id, version 1 there.
        assert_eq!(store.register("b-value", &req(V2)), Ok(2));
        let found = store.lookup("b-value", &req(V2)).expect("registered");
        assert_eq!((found.id, found.version), (2, 1));
        assert_eq!(store.subjects(), vec!["a-value".to_owned(), "b-value".to_owned()]);
        assert_eq!(store.version("a-value", VersionSpec::Latest).map(|v| v.version), Ok(2));
    }

    #[test]
    fn incompatible_schema_is_409_naming_subject_and_schema() {
        let mut store = Store::new(CompatibilityLevel::Backward);
        store.register("a-value", &req(V1)).expect("first");
        let err = store.register("a-value", &req(BAD)).expect_err("incompatible");
        assert_eq!((err.status, err.code), (409, 409));
        assert!(
            err.message
                .starts_with("Schema being registered is incompatible with an earlier schema for subject \"a-value\"")
        );
        assert!(err.message.contains("t.E") && err.message.contains("field `m`"), "{}", err.message);
        store.set_level(Some("a-value"), CompatibilityLevel::None);
        assert_eq!(store.register("a-value", &req(BAD)), Ok(2));
    }

    #[test]
    fn lookups_and_reads_use_confluent_codes() {
        let mut store = Store::new(CompatibilityLevel::Backward);
        assert_eq!(store.lookup("x", &req(V1)).map_err(|e| e.code), Err(40401));
        store.register("x", &req(V1)).expect("first");
        assert_eq!(store.lookup("x", &req(V2)).map_err(|e| e.code), Err(40403));
        assert_eq!(store.version("x", VersionSpec::Number(7)).map_err(|e| e.code), Err(40402));
        assert_eq!(store.schema_text(9).map_err(|e| e.code), Err(40403));
        assert_eq!(store.register("x", &req("{\"type\":\"nope\"}")).map_err(|e| (e.status, e.code)), Err((422, 42201)));
        assert_eq!(VersionSpec::parse("0").map_err(|e| e.code), Err(42202));
        assert_eq!(VersionSpec::parse("-1"), Ok(VersionSpec::Latest));
        assert_eq!(store.level(Some("x"), false).map_err(|e| e.code), Err(40408));
        assert_eq!(store.level(Some("x"), true), Ok(CompatibilityLevel::Backward));
    }

    #[test]
    fn compatibility_check_against_a_version_or_the_level() {
        let mut store = Store::new(CompatibilityLevel::Backward);
        store.register("x", &req(V1)).expect("first");
        assert_eq!(store.check("x", &req(V2), Some(VersionSpec::Latest)), Ok(vec![]));
        let msgs = store.check("x", &req(BAD), Some(VersionSpec::Number(1))).expect("checked");
        assert_eq!(msgs.len(), 1);
        assert!(store.check("nobody", &req(BAD), None).expect("no versions").is_empty());
        assert_eq!(store.check("nobody", &req(BAD), Some(VersionSpec::Latest)).map_err(|e| e.code), Err(40401));
    }
}
