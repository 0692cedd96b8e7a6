//! Subject name strategies: under which registry subject a topic's value schema is registered.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Confluent's subject name strategies, for record values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectNameStrategy {
    /// `<topic>-value`: one schema (and its evolutions) per topic. Confluent's default.
    #[default]
    #[serde(alias = "TopicNameStrategy")]
    TopicName,
    /// `<record full name>`: the same record type shares one subject across topics.
    #[serde(alias = "RecordNameStrategy")]
    RecordName,
    /// `<topic>-<record full name>`: several record types per topic, each evolving on its own.
    #[serde(alias = "TopicRecordNameStrategy")]
    TopicRecordName,
}

impl SubjectNameStrategy {
    /// The subject for values of `topic` written with the schema named `full_name`.
    pub fn value_subject(self, topic: &str, full_name: &str) -> String {
        match self {
            Self::TopicName => format!("{topic}-value"),
            Self::RecordName => full_name.to_owned(),
            Self::TopicRecordName => format!("{topic}-{full_name}"),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::TopicName => "topic_name",
            Self::RecordName => "record_name",
            Self::TopicRecordName => "topic_record_name",
        }
    }
}

impl fmt::Display for SubjectNameStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown strategy name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown subject name strategy `{0}` (expected topic_name, record_name or topic_record_name)")]
pub struct UnknownStrategy(pub String);

impl FromStr for SubjectNameStrategy {
    type Err = UnknownStrategy;

    /// Accepts the snake-case names and Confluent's class names (`TopicNameStrategy`, …).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "topic_name" | "TopicNameStrategy" => Ok(Self::TopicName),
            "record_name" | "RecordNameStrategy" => Ok(Self::RecordName),
            "topic_record_name" | "TopicRecordNameStrategy" => Ok(Self::TopicRecordName),
            other => Err(UnknownStrategy(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_follow_confluent_strategies() {
        let name = "com.example.ConversationEvent";
        assert_eq!(SubjectNameStrategy::TopicName.value_subject("orders", name), "orders-value");
        assert_eq!(SubjectNameStrategy::RecordName.value_subject("orders", name), name);
        assert_eq!(
            SubjectNameStrategy::TopicRecordName.value_subject("orders", name),
            "orders-com.example.ConversationEvent"
        );
        assert_eq!(SubjectNameStrategy::default(), SubjectNameStrategy::TopicName);
    }

    #[test]
    fn strategies_parse_from_config_names() {
        assert_eq!("record_name".parse(), Ok(SubjectNameStrategy::RecordName));
        assert_eq!("TopicRecordNameStrategy".parse(), Ok(SubjectNameStrategy::TopicRecordName));
        assert!("by_mood".parse::<SubjectNameStrategy>().is_err());
        let parsed: Result<SubjectNameStrategy, _> = serde_json::from_str("\"topic_record_name\"");
        assert_eq!(parsed.ok(), Some(SubjectNameStrategy::TopicRecordName));
    }
}
