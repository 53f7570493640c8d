//! Networking: ingresses, ingress classes and network policies (networking.k8s.io), and
//! endpoint slices (discovery.k8s.io).

use jiff::Timestamp;
use serde_json::Value;

use super::core::lb_addresses;
use super::format::{age, arr_at, at, list_with_more, name, obj, opt_int, opt_str, str_at};
use super::selector::format_label_selector;
use super::{AGE, Column, NAME, Printer, col};

/// The networking printers.
#[rustfmt::skip]
pub(super) static PRINTERS: &[Printer] = &[
    Printer::new(NET, "ingresses", INGRESS, ingress_cells),
    Printer::new(NET, "ingressclasses", CLASS, class_cells),
    Printer::new(NET, "networkpolicies", POLICY, policy_cells),
    Printer::new("discovery.k8s.io", "endpointslices", SLICE, slice_cells),
];

const NET: &str = "networking.k8s.io";

#[rustfmt::skip]
static INGRESS: &[Column] = &[
    NAME,
    col("Class", "string", "The IngressClass that handles this ingress."),
    col("Hosts", "string", "Host names the rules match, up to three."),
    col("Address", "string", "Load-balancer addresses the ingress is reachable at."),
    col("Ports", "string", "Ports served: 80, and 443 when TLS is configured."),
    AGE,
];

#[rustfmt::skip]
static CLASS: &[Column] = &[
    NAME,
    col("Controller", "string", "The controller that implements this class."),
    col("Parameters", "string", "Resource with extra configuration, as kind.group/name."),
    AGE,
];

#[rustfmt::skip]
static POLICY: &[Column] = &[
    NAME,
    col("Pod-Selector", "string", "Pods the policy applies to."),
    AGE,
];

#[rustfmt::skip]
static SLICE: &[Column] = &[
    NAME,
    col("AddressType", "string", "IPv4, IPv6 or FQDN."),
    col("Ports", "string", "Port numbers (or names) of the slice, up to three."),
    col("Endpoints", "string", "Endpoint addresses, up to three."),
    AGE,
];

fn ingress_cells(ing: &Value, now: Timestamp) -> Vec<Value> {
    let class = opt_str(ing, &["spec", "ingressClassName"]).unwrap_or("<none>");
    let ports = if arr_at(ing, &["spec", "tls"]).is_empty() {
        "80"
    } else {
        "80, 443"
    };
    let address = lb_addresses(arr_at(ing, &["status", "loadBalancer", "ingress"])).join(",");
    vec![
        name(ing),
        Value::from(class),
        Value::from(hosts(arr_at(ing, &["spec", "rules"]))),
        Value::from(address),
        Value::from(ports),
        age(ing, now),
    ]
}

/// Up to three rule hosts; `*` when no rule names a host. As upstream, the "more" count is
/// taken over all rules, hostless ones included.
fn hosts(rules: &[Value]) -> String {
    const MAX: usize = 3;
    let mut list = Vec::new();
    let mut more = false;
    for rule in rules {
        if list.len() == MAX {
            more = true;
        }
        let host = str_at(rule, &["host"]);
        if !more && !host.is_empty() {
            list.push(host);
        }
    }
    if list.is_empty() {
        return "*".to_string();
    }
    let joined = list.join(",");
    if more {
        format!("{joined} + {} more...", rules.len().saturating_sub(MAX))
    } else {
        joined
    }
}

fn class_cells(class: &Value, now: Timestamp) -> Vec<Value> {
    let parameters = match obj(class, &["spec", "parameters"]) {
        None => "<none>".to_string(),
        Some(_) => {
            let kind = str_at(class, &["spec", "parameters", "kind"]);
            let name = str_at(class, &["spec", "parameters", "name"]);
            match opt_str(class, &["spec", "parameters", "apiGroup"]) {
                Some(group) => format!("{kind}.{group}/{name}"),
                None => format!("{kind}/{name}"),
            }
        }
    };
    vec![
        name(class),
        Value::from(str_at(class, &["spec", "controller"])),
        Value::from(parameters),
        age(class, now),
    ]
}

fn policy_cells(pol: &Value, now: Timestamp) -> Vec<Value> {
    let selector = format_label_selector(at(pol, &["spec", "podSelector"]));
    vec![name(pol), Value::from(selector), age(pol, now)]
}

fn slice_cells(slice: &Value, now: Timestamp) -> Vec<Value> {
    const MAX: usize = 3;
    let ports: Vec<String> = arr_at(slice, &["ports"])
        .iter()
        .map(|p| match (opt_int(p, &["port"]), opt_str(p, &["name"])) {
            (Some(n), _) => n.to_string(),
            (None, Some(name)) => name.to_string(),
            (None, None) => "*".to_string(),
        })
        .collect();
    let addresses: Vec<String> = arr_at(slice, &["endpoints"])
        .iter()
        .flat_map(|e| arr_at(e, &["addresses"]))
        .map(|a| a.as_str().unwrap_or("").to_string())
        .collect();
    let shown = |all: &[String]| {
        let head = &all[..all.len().min(MAX)];
        list_with_more(head, all.len() > MAX, all.len(), MAX)
    };
    vec![
        name(slice),
        Value::from(str_at(slice, &["addressType"])),
        Value::from(shown(&ports)),
        Value::from(shown(&addresses)),
        age(slice, now),
    ]
}

#[cfg(test)]
pub(super) use tests::samples;
#[cfg(test)]
mod tests {
    use super::super::{cells, test_now};
    use serde_json::{Value, json};

    fn row(group: &str, resource: &str, o: &Value) -> Vec<Value> {
        cells(group, resource, o, test_now())
    }

    /// Samples for the module-wide robustness tests.
    pub(in super::super) fn samples() -> Vec<(&'static str, &'static str, Value)> {
        vec![
            ("networking.k8s.io", "ingresses", ingress()),
            ("networking.k8s.io", "ingressclasses", ingress_class()),
            ("networking.k8s.io", "networkpolicies", deny_all()),
            ("discovery.k8s.io", "endpointslices", slice()),
        ]
    }

    fn ingress() -> Value {
        json!({
            "metadata": {"name": "media", "creationTimestamp": "2024-05-01T10:00:00Z"},
            "spec": {"ingressClassName": "closet",
                     "tls": [{"hosts": ["jelly.home.lan"], "secretName": "jelly-tls"}],
                     "rules": [{"host": "jelly.home.lan"}, {"host": "photos.home.lan"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "192.168.1.240"},
                                                    {"hostname": "closet.home.lan"}]}}
        })
    }

    fn ingress_class() -> Value {
        json!({
            "metadata": {"name": "closet"},
            "spec": {"controller": "closet.dev/ingress",
                     "parameters": {"apiGroup": "closet.dev", "kind": "IngressParams",
                                    "name": "default"}}
        })
    }

    fn deny_all() -> Value {
        json!({"metadata": {"name": "deny"}, "spec": {"podSelector": {}}})
    }

    fn slice() -> Value {
        json!({
            "metadata": {"name": "web-abcde", "creationTimestamp": "2024-05-01T11:59:00Z"},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "metrics"}],
            "endpoints": [{"addresses": ["10.42.0.5"]}, {"addresses": ["10.42.1.6"]},
                          {"addresses": ["10.42.2.7", "10.42.2.8"]},
                          {"addresses": ["10.42.3.9"]}]
        })
    }

    #[test]
    fn ingress_row() {
        let want = [
            "media",
            "closet",
            "jelly.home.lan,photos.home.lan",
            "192.168.1.240,closet.home.lan",
            "80, 443",
            "120m",
        ];
        assert_eq!(
            row("networking.k8s.io", "ingresses", &ingress()),
            want.map(Value::from)
        );
        let many = json!({"spec": {"rules": [{"host": "a"}, {}, {"host": "b"}, {"host": "c"},
                                              {"host": "d"}]}});
        let r = row("networking.k8s.io", "ingresses", &many);
        assert_eq!(
            r[1..5],
            ["<none>", "a,b,c + 2 more...", "", "80"].map(Value::from)
        );
        let hostless = json!({"spec": {"rules": [{}]}});
        assert_eq!(
            row("networking.k8s.io", "ingresses", &hostless)[2],
            json!("*")
        );
    }

    #[test]
    fn ingress_class_and_policy_rows() {
        let r = row("networking.k8s.io", "ingressclasses", &ingress_class());
        let want = ["closet.dev/ingress", "IngressParams.closet.dev/default"];
        assert_eq!(r[1..3], want.map(Value::from));
        assert_eq!(
            row("networking.k8s.io", "networkpolicies", &deny_all())[1],
            json!("<none>")
        );
        let pol = json!({"spec": {"podSelector": {"matchLabels": {"app": "db"}}}});
        assert_eq!(
            row("networking.k8s.io", "networkpolicies", &pol)[1],
            json!("app=db")
        );
    }

    #[test]
    fn endpoint_slice_row() {
        let want = [
            "web-abcde",
            "IPv4",
            "8080,metrics",
            "10.42.0.5,10.42.1.6,10.42.2.7 + 2 more...",
            "60s",
        ];
        assert_eq!(
            row("discovery.k8s.io", "endpointslices", &slice()),
            want.map(Value::from)
        );
        let empty = json!({"addressType": "IPv6", "ports": [{}]});
        let r = row("discovery.k8s.io", "endpointslices", &empty);
        assert_eq!(r[2..4], ["*", "<unset>"].map(Value::from));
    }
}
