//! RBAC (rbac.authorization.k8s.io). Roles and cluster roles have no printer upstream and show
//! the default Name + Created At; bindings show their role and, wide, their subjects.

use jiff::Timestamp;
use serde_json::Value;

use super::format::{age, arr_at, name, str_at};
use super::{AGE, Column, DEFAULT_COLUMNS, NAME, Printer, col, default_cells, wide};

/// The RBAC printers.
#[rustfmt::skip]
pub(super) static PRINTERS: &[Printer] = &[
    Printer::new(RBAC, "roles", DEFAULT_COLUMNS, default_cells),
    Printer::new(RBAC, "clusterroles", DEFAULT_COLUMNS, default_cells),
    Printer::new(RBAC, "rolebindings", BINDING, binding_cells),
    Printer::new(RBAC, "clusterrolebindings", BINDING, binding_cells),
];

const RBAC: &str = "rbac.authorization.k8s.io";

#[rustfmt::skip]
static BINDING: &[Column] = &[
    NAME,
    col("Role", "string", "The role granted, as Kind/name."),
    AGE,
    wide("Users", "string", "Users the role is granted to."),
    wide("Groups", "string", "Groups the role is granted to."),
    wide("ServiceAccounts", "string", "Service accounts the role is granted to, as ns/name."),
];

fn binding_cells(b: &Value, now: Timestamp) -> Vec<Value> {
    let role = format!(
        "{}/{}",
        str_at(b, &["roleRef", "kind"]),
        str_at(b, &["roleRef", "name"])
    );
    let mut users = Vec::new();
    let mut groups = Vec::new();
    let mut accounts = Vec::new();
    for s in arr_at(b, &["subjects"]) {
        let subject = str_at(s, &["name"]);
        match str_at(s, &["kind"]) {
            "User" => users.push(subject.to_string()),
            "Group" => groups.push(subject.to_string()),
            "ServiceAccount" => accounts.push(format!("{}/{subject}", str_at(s, &["namespace"]))),
            // Upstream leaves other kinds out of the table.
            _ => {}
        }
    }
    vec![
        name(b),
        Value::from(role),
        age(b, now),
        Value::from(users.join(", ")),
        Value::from(groups.join(", ")),
        Value::from(accounts.join(", ")),
    ]
}

#[cfg(test)]
pub(super) use tests::samples;
#[cfg(test)]
mod tests {
    use super::super::{cells, columns, test_now};
    use serde_json::{Value, json};

    /// Samples for the module-wide robustness tests.
    pub(in super::super) fn samples() -> Vec<(&'static str, &'static str, Value)> {
        vec![
            ("rbac.authorization.k8s.io", "rolebindings", binding()),
            (
                "rbac.authorization.k8s.io",
                "clusterrolebindings",
                binding(),
            ),
            ("rbac.authorization.k8s.io", "roles", role()),
            (
                "rbac.authorization.k8s.io",
                "clusterroles",
                aggregated_role(),
            ),
        ]
    }

    fn binding() -> Value {
        json!({
            "metadata": {"name": "readers", "creationTimestamp": "2024-05-01T11:30:00Z"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": "view"},
            "subjects": [
                {"kind": "User", "name": "alice"}, {"kind": "User", "name": "bob"},
                {"kind": "Group", "name": "family"},
                {"kind": "ServiceAccount", "name": "backup", "namespace": "ops"}
            ]
        })
    }

    fn role() -> Value {
        json!({
            "metadata": {"name": "reader", "creationTimestamp": "2024-05-01T10:00:00Z"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]
        })
    }

    fn aggregated_role() -> Value {
        json!({
            "metadata": {"name": "view"},
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"a": "b"}}]}
        })
    }

    #[test]
    fn binding_row() {
        let r = cells(
            "rbac.authorization.k8s.io",
            "rolebindings",
            &binding(),
            test_now(),
        );
        let want = [
            "readers",
            "ClusterRole/view",
            "30m",
            "alice, bob",
            "family",
            "ops/backup",
        ];
        assert_eq!(r, want.map(Value::from));
    }

    #[test]
    fn roles_use_the_default_columns() {
        let cols = columns("rbac.authorization.k8s.io", "roles");
        assert_eq!(
            cols.iter().map(|c| c.name).collect::<Vec<_>>(),
            ["Name", "Created At"]
        );
        let r = cells(
            "rbac.authorization.k8s.io",
            "clusterroles",
            &role(),
            test_now(),
        );
        assert_eq!(r, [json!("reader"), json!("2024-05-01T10:00:00Z")]);
        let r = cells("rbac.authorization.k8s.io", "roles", &json!({}), test_now());
        assert_eq!(r, [json!(""), json!("0001-01-01T00:00:00Z")]);
    }
}
