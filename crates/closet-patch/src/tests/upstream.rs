//! Conformance with the behaviour upstream's strategicpatch tests pin down, restated as
//! JSON over the same test type (`mergingList` by `name`, `mergingIntList` as a set,
//! `retainKeysMap`, ...).

use serde_json::{Value, json};

use crate::test_util::item_meta;
use crate::{PatchError, apply_strategic, create_three_way_patch, create_two_way_patch};

fn apply(original: Value, patch: Value) -> Result<Value, PatchError> {
    apply_strategic(&original, &patch, &item_meta())
}

/// original --patch--> result
fn applies(original: Value, patch: Value, result: Value) {
    assert_eq!(apply(original, patch).expect("patch applies"), result);
}

/// The patches computed between the documents, and what applying them gives.
struct Raw {
    original: Value,
    current: Value,
    modified: Value,
    two_way: Value,
    three_way: Value,
    result: Value,
}

impl Raw {
    fn check(self) {
        let meta = item_meta();
        let two_way = create_two_way_patch(&self.original, &self.modified, &meta).expect("two-way");
        assert_eq!(two_way, self.two_way, "two-way patch");
        let three_way =
            create_three_way_patch(Some(&self.original), &self.modified, &self.current, &meta)
                .expect("three-way");
        assert_eq!(three_way, self.three_way, "three-way patch");
        let result = apply_strategic(&self.current, &three_way, &meta).expect("apply");
        assert_eq!(result, self.result, "result of the three-way patch");
    }
}

#[test]
fn delete_directive_on_a_map_leaves_an_empty_map() {
    applies(
        json!({"simpleMap": {"key1": 1, "key2": 1}}),
        json!({"simpleMap": {"$patch": "delete"}}),
        json!({"simpleMap": {}}),
    );
}

#[test]
fn replace_element_empties_a_merging_list() {
    applies(
        json!({"mergingList": [{"name": 1}, {"name": 2}]}),
        json!({"mergingList": [{"$patch": "replace"}]}),
        json!({"mergingList": []}),
    );
}

#[test]
fn replace_directive_on_the_root() {
    applies(
        json!({"name": 1, "value": 1}),
        json!({"$patch": "replace"}),
        json!({}),
    );
    applies(
        json!({"name": 1, "value": 1}),
        json!({"other": "a", "$patch": "replace"}),
        json!({"other": "a"}),
    );
}

#[test]
fn delete_removes_every_duplicate() {
    applies(
        json!({"mergingList": [{"name": 1}, {"name": 1}, {"name": 2, "value": "a"}, {"name": 3}, {"name": 3}]}),
        json!({"mergingList": [{"name": 1, "$patch": "delete"}, {"name": 3, "$patch": "delete"}]}),
        json!({"mergingList": [{"name": 2, "value": "a"}]}),
    );
}

#[test]
fn unique_scalars_when_merging_sets() {
    applies(
        json!({"mergingIntList": [1, 2]}),
        json!({"mergingIntList": [2, 3]}),
        json!({"mergingIntList": [1, 2, 3]}),
    );
}

#[test]
fn retain_keys_maps_merge_without_the_directive() {
    applies(
        json!({"retainKeysMap": {"name": "foo", "value": "a"}}),
        json!({"retainKeysMap": {"value": null}}),
        json!({"retainKeysMap": {"name": "foo"}}),
    );
    applies(
        json!({"retainKeysMap": {"name": "foo", "value": "a"}}),
        json!({"retainKeysMap": {}}),
        json!({"retainKeysMap": {"name": "foo", "value": "a"}}),
    );
}

#[test]
fn patch_order_wins_and_server_only_elements_keep_their_place() {
    applies(
        json!({"mergingList": [{"name": 1}, {"name": 2, "value": "b"}, {"name": 3}]}),
        json!({"mergingList": [{"name": 3, "value": "c"}, {"name": 1, "value": "a"}]}),
        json!({"mergingList": [{"name": 2, "value": "b"}, {"name": 3, "value": "c"}, {"name": 1, "value": "a"}]}),
    );
    applies(
        json!({"mergingIntList": [1, 2, 3]}),
        json!({"mergingIntList": [3, 1]}),
        json!({"mergingIntList": [2, 3, 1]}),
    );
}

#[test]
fn set_element_order_may_name_absent_elements() {
    applies(
        json!({"mergingList": [{"name": 1}, {"name": 3}]}),
        json!({
            "$setElementOrder/mergingList": [{"name": 3}, {"name": 2}, {"name": 1}],
            "mergingList": [{"name": 3, "value": 3}, {"name": 1, "value": 1}]
        }),
        json!({"mergingList": [{"name": 3, "value": 3}, {"name": 1, "value": 1}]}),
    );
    applies(
        json!({"mergingIntList": [1, 3]}),
        json!({"$setElementOrder/mergingIntList": [3, 2, 1]}),
        json!({"mergingIntList": [3, 1]}),
    );
}

#[test]
fn set_element_order_must_agree_with_the_patch_list() {
    let err = apply(
        json!({"mergingList": [{"name": 1}, {"name": 3}, {"name": 2}]}),
        json!({
            "$setElementOrder/mergingList": [{"name": 1}, {"name": 2}, {"name": 3}],
            "mergingList": [{"name": 3, "value": 3}, {"name": 1, "value": 1}]
        }),
    );
    assert!(
        matches!(err, Err(PatchError::OrderMismatch { .. })),
        "{err:?}"
    );
    let err = apply(
        json!({"mergingIntList": [1, 3, 2]}),
        json!({"$setElementOrder/mergingIntList": [1, 2, 3], "mergingIntList": [3, 1]}),
    );
    assert!(
        matches!(err, Err(PatchError::OrderMismatch { .. })),
        "{err:?}"
    );
}

#[test]
fn deleting_an_absent_primitive_adds_nothing() {
    applies(
        json!({"mergingIntList": [1, 2]}),
        json!({"$deleteFromPrimitiveList/mergingIntList": [3]}),
        json!({"mergingIntList": [1, 2]}),
    );
}

#[test]
fn add_and_delete_preserving_order() {
    Raw {
        original: json!({"mergingList": [{"name": 1}, {"name": 3, "value": 3}, {"name": 2, "value": 2}]}),
        current: json!({"mergingList": [
            {"name": 1, "other": "a"}, {"name": 2, "value": 2, "other": "b"}, {"name": 3, "value": 3}
        ]}),
        modified: json!({"mergingList": [{"name": 4, "value": 4}, {"name": 2, "value": 2}, {"name": 1}]}),
        two_way: json!({
            "$setElementOrder/mergingList": [{"name": 4}, {"name": 2}, {"name": 1}],
            "mergingList": [{"name": 4, "value": 4}, {"name": 3, "$patch": "delete"}]
        }),
        three_way: json!({
            "$setElementOrder/mergingList": [{"name": 4}, {"name": 2}, {"name": 1}],
            "mergingList": [{"name": 4, "value": 4}, {"name": 3, "$patch": "delete"}]
        }),
        result: json!({"mergingList": [
            {"name": 4, "value": 4}, {"name": 2, "value": 2, "other": "b"}, {"name": 1, "other": "a"}
        ]}),
    }
    .check();
}

#[test]
fn set_order_with_server_only_elements() {
    let original = json!({"mergingList": [{"name": 1}, {"name": 2, "value": 2}, {"name": 3, "value": 3}, {"name": 4, "value": 4}]});
    let modified = json!({"mergingList": [{"name": 2, "value": 2}, {"name": 1}, {"name": 4, "value": 4}, {"name": 3, "value": 3}]});
    let order = json!({"$setElementOrder/mergingList": [{"name": 2}, {"name": 1}, {"name": 4}, {"name": 3}]});
    Raw {
        original,
        current: json!({"mergingList": [
            {"name": 1, "other": "a"}, {"name": 2, "value": 2}, {"name": 7}, {"name": 9}, {"name": 8},
            {"name": 3, "value": 3}, {"name": 4, "value": 4}
        ]}),
        modified,
        two_way: order.clone(),
        three_way: order,
        result: json!({"mergingList": [
            {"name": 2, "value": 2}, {"name": 1, "other": "a"}, {"name": 7}, {"name": 9}, {"name": 8},
            {"name": 4, "value": 4}, {"name": 3, "value": 3}
        ]}),
    }
    .check();
}

#[test]
fn set_order_in_a_set_with_server_only_elements() {
    Raw {
        original: json!({"mergingIntList": [1, 2, 3, 4]}),
        current: json!({"mergingIntList": [1, 2, 9, 3, 4]}),
        modified: json!({"mergingIntList": [2, 1, 4, 3]}),
        two_way: json!({"$setElementOrder/mergingIntList": [2, 1, 4, 3]}),
        three_way: json!({"$setElementOrder/mergingIntList": [2, 1, 4, 3]}),
        result: json!({"mergingIntList": [2, 1, 9, 4, 3]}),
    }
    .check();
}

#[test]
fn set_order_with_duplicates_groups_them() {
    let list = json!([{"name": 1}, {"name": 2, "value": "dup1"}, {"name": 3}, {"name": 2, "value": "dup2"}, {"name": 4}]);
    let order = json!({"$setElementOrder/mergingList": [{"name": 2}, {"name": 1}, {"name": 4}, {"name": 3}, {"name": 2}]});
    applies(
        json!({"mergingList": list}),
        order,
        json!({"mergingList": [
            {"name": 2, "value": "dup1"}, {"name": 2, "value": "dup2"}, {"name": 1}, {"name": 4}, {"name": 3}
        ]}),
    );
}

#[test]
fn retain_keys_clears_a_defaulted_field() {
    Raw {
        original: json!({}),
        current: json!({"retainKeysMap": {"name": "type1", "value": "foo"}}),
        modified: json!({"retainKeysMap": {"name": "type2", "other": "bar"}}),
        two_way: json!({"retainKeysMap": {"name": "type2", "other": "bar"}}),
        three_way: json!({"retainKeysMap": {"$retainKeys": ["name", "other"], "name": "type2", "other": "bar"}}),
        result: json!({"retainKeysMap": {"name": "type2", "other": "bar"}}),
    }
    .check();
}

#[test]
fn retain_keys_adds_a_field_and_clears_another() {
    Raw {
        original: json!({"retainKeysMap": {"name": "foo"}}),
        current: json!({"retainKeysMap": {"name": "foo", "other": "a"}}),
        modified: json!({"retainKeysMap": {"name": "foo", "value": "bar"}}),
        two_way: json!({"retainKeysMap": {"$retainKeys": ["name", "value"], "value": "bar"}}),
        three_way: json!({"retainKeysMap": {"$retainKeys": ["name", "value"], "value": "bar"}}),
        result: json!({"retainKeysMap": {"name": "foo", "value": "bar"}}),
    }
    .check();
}

#[test]
fn delete_and_reorder_in_one_list_reorder_in_another() {
    let patch = json!({
        "$setElementOrder/mergingList": [{"name": "b"}],
        "$setElementOrder/mergeItemPtr": [{"name": "d"}, {"name": "c"}],
        "mergingList": [{"$patch": "delete", "name": "a"}]
    });
    let both = json!({
        "mergingList": [{"name": "a", "value": "a"}, {"name": "b", "value": "b"}],
        "mergeItemPtr": [{"name": "c", "value": "c"}, {"name": "d", "value": "d"}]
    });
    Raw {
        original: both.clone(),
        current: both,
        modified: json!({
            "mergingList": [{"name": "b", "value": "b"}],
            "mergeItemPtr": [{"name": "d", "value": "d"}, {"name": "c", "value": "c"}]
        }),
        two_way: patch.clone(),
        three_way: patch,
        result: json!({
            "mergingList": [{"name": "b", "value": "b"}],
            "mergeItemPtr": [{"name": "d", "value": "d"}, {"name": "c", "value": "c"}]
        }),
    }
    .check();
}
