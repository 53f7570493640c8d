//! Answering one question from the zone: records, NODATA, NXDOMAIN (both with the SOA for
//! negative caching), an alias to chase outside the zone, or "not ours, forward it".

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr};

use hickory_proto::rr::rdata::{A, AAAA, CNAME, PTR, SOA, SRV};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::zone::{Node, Zone, fqdn, in_range, parse_reverse};

/// How many in-zone aliases are followed before giving up (a loop of ExternalNames).
const MAX_CHAIN: usize = 8;

/// What the zone says about a question.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// NOERROR with these records.
    Records {
        /// The answer section.
        answers: Vec<Record>,
        /// Addresses of SRV targets.
        additionals: Vec<Record>,
    },
    /// The name exists without records of the asked type; the record is the SOA.
    NoData(Record),
    /// The name does not exist; the record is the SOA.
    NxDomain(Record),
    /// The name is an alias for a name outside the zone: answer with `chain` (the CNAMEs)
    /// followed by whatever the upstream says about `target`.
    Alias {
        /// The CNAME records so far.
        chain: Vec<Record>,
        /// The name to look up elsewhere.
        target: Name,
    },
    /// The cluster's names are not known yet (SERVFAIL).
    NotReady,
    /// Not a name of the cluster: ask the upstream resolvers.
    Forward,
}

impl Zone {
    /// The answer to `qname`/`qtype`.
    pub fn lookup(&self, qname: &Name, qtype: RecordType) -> Outcome {
        let key = key_of(qname);
        let ours = self.owns(&key);
        if !ours {
            return Outcome::Forward;
        }
        if !self.ready {
            return Outcome::NotReady;
        }
        let mut chain = Vec::new();
        let mut owner = qname.clone();
        let mut key = key;
        for _ in 0..MAX_CHAIN {
            let Some(node) = self.node(&key) else {
                return if chain.is_empty() {
                    Outcome::NxDomain(self.soa(&key))
                } else {
                    // An alias to a missing cluster name: the chain is the whole answer.
                    Outcome::Records {
                        answers: chain,
                        additionals: Vec::new(),
                    }
                };
            };
            if let Some(target) = &node.cname
                && qtype != RecordType::CNAME
            {
                chain.push(self.record(&owner, RData::CNAME(CNAME(target.clone()))));
                let target_key = key_of(target);
                if !self.owns(&target_key) {
                    return Outcome::Alias {
                        chain,
                        target: target.clone(),
                    };
                }
                owner = target.clone();
                key = target_key;
                continue;
            }
            let (answers, additionals) = self.records_at(&owner, &key, &node, qtype);
            if answers.is_empty() && chain.is_empty() {
                return Outcome::NoData(self.soa(&key));
            }
            chain.extend(answers);
            return Outcome::Records {
                answers: chain,
                additionals,
            };
        }
        Outcome::Records {
            answers: chain,
            additionals: Vec::new(),
        }
    }

    /// Whether `key` is inside the cluster domain or a reverse range the zone owns.
    fn owns(&self, key: &str) -> bool {
        let domain = &self.settings.domain;
        if key == domain
            || key
                .strip_suffix(domain.as_str())
                .is_some_and(|r| r.ends_with('.'))
        {
            return true;
        }
        if key.ends_with(".arpa") {
            if self.names.contains_key(key) {
                return true;
            }
            return parse_reverse(key).is_some_and(|ip| {
                self.settings
                    .reverse_ranges
                    .iter()
                    .any(|range| in_range(ip, *range))
            });
        }
        false
    }

    /// The node at `key`, including the computed `<a-b-c-d>.<ns>.pod.<domain>` names.
    fn node(&self, key: &str) -> Option<Cow<'_, Node>> {
        if let Some(node) = self.names.get(key) {
            return Some(Cow::Borrowed(node));
        }
        let rest = key.strip_suffix(self.settings.domain.as_str())?;
        let rest = rest.strip_suffix(".pod.")?;
        let (label, namespace) = rest.split_once('.')?;
        if namespace.is_empty() || namespace.contains('.') {
            return None;
        }
        let ip: Ipv4Addr = label.replace('-', ".").parse().ok()?;
        Some(Cow::Owned(Node {
            a: vec![ip],
            ..Node::default()
        }))
    }

    fn records_at(
        &self,
        owner: &Name,
        key: &str,
        node: &Node,
        qtype: RecordType,
    ) -> (Vec<Record>, Vec<Record>) {
        let mut answers = Vec::new();
        let mut additionals = Vec::new();
        let any = qtype == RecordType::ANY;
        if any || qtype == RecordType::A {
            answers.extend(node.a.iter().map(|ip| self.record(owner, RData::A(A(*ip)))));
        }
        if any || qtype == RecordType::AAAA {
            answers.extend(
                node.aaaa
                    .iter()
                    .map(|ip| self.record(owner, RData::AAAA(AAAA(*ip)))),
            );
        }
        if (any || qtype == RecordType::CNAME)
            && let Some(target) = &node.cname
        {
            answers.push(self.record(owner, RData::CNAME(CNAME(target.clone()))));
        }
        if any || qtype == RecordType::PTR {
            answers.extend(
                node.ptr
                    .iter()
                    .map(|t| self.record(owner, RData::PTR(PTR(t.clone())))),
            );
        }
        if any || qtype == RecordType::SRV {
            let weight = u16::try_from(100 / node.srv.len().max(1))
                .unwrap_or(1)
                .max(1);
            for (port, target) in &node.srv {
                answers.push(self.record(
                    owner,
                    RData::SRV(SRV::new(0, weight, *port, target.clone())),
                ));
                if let Some(at) = self.names.get(&key_of(target)) {
                    for ip in
                        at.a.iter()
                            .map(|ip| IpAddr::V4(*ip))
                            .chain(at.aaaa.iter().map(|ip| IpAddr::V6(*ip)))
                    {
                        let data = match ip {
                            IpAddr::V4(v4) => RData::A(A(v4)),
                            IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
                        };
                        let record = self.record(target, data);
                        if !additionals.contains(&record) {
                            additionals.push(record);
                        }
                    }
                }
            }
        }
        if (any || qtype == RecordType::SOA) && key == self.settings.domain {
            answers.push(self.soa(key));
        }
        (answers, additionals)
    }

    fn record(&self, owner: &Name, data: RData) -> Record {
        Record::from_rdata(owner.clone(), self.settings.ttl, data)
    }

    /// The SOA that goes with answers about `key`: the cluster domain's, or for reverse
    /// names one at `in-addr.arpa`/`ip6.arpa`.
    pub fn soa(&self, key: &str) -> Record {
        let domain = &self.settings.domain;
        let apex = if key.ends_with(".in-addr.arpa") {
            "in-addr.arpa".to_owned()
        } else if key.ends_with(".ip6.arpa") {
            "ip6.arpa".to_owned()
        } else {
            domain.clone()
        };
        let name = |prefix: &str| fqdn(&format!("{prefix}.{domain}")).unwrap_or_else(Name::root);
        let soa = SOA::new(
            name("ns.dns"),
            name("hostmaster"),
            self.serial,
            7200,
            1800,
            86400,
            self.settings.ttl,
        );
        Record::from_rdata(
            fqdn(&apex).unwrap_or_else(Name::root),
            self.settings.ttl,
            RData::SOA(soa),
        )
    }
}

/// A name as a zone key: lower case, no trailing dot.
pub(crate) fn key_of(name: &Name) -> String {
    let mut text = name.to_lowercase().to_ascii();
    if text.ends_with('.') {
        text.pop();
    }
    text
}

#[cfg(test)]
mod tests;
