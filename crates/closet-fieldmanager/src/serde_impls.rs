//! Serde in the wire forms: a [`FieldSet`] as its FieldsV1 object, [`ManagedFields`] as the
//! `managedFields` list. Deserializing is strict (errors, not resets).

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::{FieldSet, ManagedFields};

impl Serialize for FieldSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_fields_v1().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for FieldSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        FieldSet::from_fields_v1(&value).map_err(D::Error::custom)
    }
}

impl Serialize for ManagedFields {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ManagedFields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        ManagedFields::parse(&value).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_forms() {
        let text = r#"{"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:image":{}}}}}"#;
        let set: FieldSet = serde_json::from_str(text).unwrap_or_default();
        assert_eq!(serde_json::to_string(&set).unwrap_or_default(), text);
        let list = format!(
            r#"[{{"manager":"m","operation":"Apply","apiVersion":"v1","fieldsType":"FieldsV1","fieldsV1":{text}}}]"#
        );
        let managed: ManagedFields = serde_json::from_str(&list).unwrap_or_default();
        assert_eq!(serde_json::to_string(&managed).unwrap_or_default(), list);
        assert!(serde_json::from_str::<ManagedFields>("[1]").is_err());
    }
}
