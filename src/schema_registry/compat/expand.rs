//! Named-type references replaced by their definitions, for the compatibility checker.
//!
//! A schema defines a named type where it first uses it and refers to it by name afterwards.
//! Two versions of a schema may define the same type at different places (fields reordered),
//! and apache-avro's checker cannot compare a definition with a reference. Comparing expanded
//! trees avoids that; only references from a type to itself (recursion) stay references.

use std::collections::HashMap;

use apache_avro::Schema;
use apache_avro::schema::{Name, UnionSchema};

/// `schema` with every non-recursive reference replaced by a copy of the definition.
pub(super) fn expand(schema: &Schema) -> Schema {
    let mut definitions = HashMap::new();
    collect(schema, &mut definitions);
    let mut expanded = schema.clone();
    expand_in(&mut expanded, &definitions, &mut Vec::new());
    expanded
}

fn collect<'a>(schema: &'a Schema, definitions: &mut HashMap<Name, &'a Schema>) {
    match schema {
        Schema::Ref { .. } => {}
        Schema::Record(record) => {
            definitions.insert(record.name.clone(), schema);
            for field in &record.fields {
                collect(&field.schema, definitions);
            }
        }
        Schema::Array(array) => collect(&array.items, definitions),
        Schema::Map(map) => collect(&map.types, definitions),
        Schema::Union(union) => {
            for variant in union.variants() {
                collect(variant, definitions);
            }
        }
        other => {
            if let Some(name) = other.name() {
                definitions.insert(name.clone(), other);
            }
        }
    }
}

/// `within`: the records being expanded, outermost first; a reference to one of them is recursion.
fn expand_in(schema: &mut Schema, definitions: &HashMap<Name, &Schema>, within: &mut Vec<Name>) {
    if let Schema::Ref { name } = schema {
        match definitions.get(name) {
            Some(definition) if !within.contains(name) => *schema = (*definition).clone(),
            _ => return,
        }
    }
    match schema {
        Schema::Record(record) => {
            within.push(record.name.clone());
            for field in &mut record.fields {
                expand_in(&mut field.schema, definitions, within);
            }
            within.pop();
        }
        Schema::Array(array) => expand_in(&mut array.items, definitions, within),
        Schema::Map(map) => expand_in(&mut map.types, definitions, within),
        Schema::Union(union) => {
            let mut variants = union.variants().to_vec();
            for variant in &mut variants {
                expand_in(variant, definitions, within);
            }
            // Expanding keeps every variant's kind and name, so the union stays valid.
            if let Ok(expanded) = UnionSchema::new(variants) {
                *union = expanded;
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_become_definitions_except_recursive_ones() {
        let schema = Schema::parse_str(
            r#"{"type":"record","name":"Node","fields":[
                {"name":"a","type":{"type":"record","name":"P","fields":[{"name":"x","type":"int"}]}},
                {"name":"b","type":"P"},
                {"name":"next","type":["null","Node"]}]}"#,
        )
        .expect("schema");
        let text = serde_json::to_string(&expand(&schema)).expect("json");
        assert_eq!(text.matches("\"fields\":[{\"name\":\"x\"").count(), 2, "{text}");
        assert!(text.contains("[\"null\",\"Node\"]"), "{text}");
    }
}
