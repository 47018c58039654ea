//! The one choke point every read goes through: who is asking and which
//! regions they may see. Until principals and grants exist (the access
//! control issue), every caller is the all-regions principal; the checks
//! below are already the ones every resolver calls, and they fail closed.

use graph::RocksStore;
use model::{BaseKind, BaseRecord, NodeRef};

use super::engine::{Engine, region_within};

#[derive(Debug, Clone)]
pub struct Principal {
    pub name: String,
    /// Region codes the principal may see (a region includes all below it);
    /// `None`: all regions.
    pub regions: Option<Vec<String>>,
    /// May see identity numbers and phones unmasked.
    pub see_identifiers: bool,
}

impl Principal {
    pub fn all_regions() -> Self {
        Self {
            name: "local".into(),
            regions: None,
            see_identifiers: true,
        }
    }

    pub fn sees_region(&self, region: Option<&str>) -> bool {
        match (&self.regions, region) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(rs), Some(r)) => rs.iter().any(|s| region_within(r, s)),
        }
    }

    /// Whether `node` is in scope: the regions of the communities it
    /// belongs to (a person's registrations, a house's, a vehicle's, a
    /// device's) or, for a stranger archive, where it was seen.
    pub fn sees(&self, engine: &Engine, store: &RocksStore, node: &NodeRef) -> graph::Result<bool> {
        if self.regions.is_none() {
            return Ok(true);
        }
        let communities: Vec<model::CommunityId> = match node {
            NodeRef::Community(c) => vec![c.clone()],
            NodeRef::Person(p) => graph::communities_of(store, p, model::Timestamp(i64::MAX))?,
            NodeRef::House(h) => match store.base(BaseKind::House, h.as_str())? {
                Some(BaseRecord::House(h)) => vec![h.community],
                _ => vec![],
            },
            NodeRef::Vehicle(v) => match store.base(BaseKind::Vehicle, v.as_str())? {
                Some(BaseRecord::Vehicle(v)) => v.community.into_iter().collect(),
                _ => vec![],
            },
            NodeRef::Device(d) => engine
                .device_place(store, d)?
                .map(|(c, _)| c)
                .into_iter()
                .collect(),
            NodeRef::Stranger(_) => {
                let page = graph::timeline::timeline(
                    store,
                    node,
                    model::Timestamp(i64::MIN),
                    model::Timestamp(i64::MAX),
                    64,
                    true,
                )?;
                let mut cs = Vec::new();
                for s in page.items {
                    if let Some((c, _)) = engine.device_place(store, &s.device)? {
                        cs.push(c);
                    }
                }
                cs
            }
        };
        for c in &communities {
            if self.sees_region(engine.community_region(store, c)?.as_deref()) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    pub fn mask_id_number(&self, s: &str) -> String {
        if self.see_identifiers {
            return s.to_owned();
        }
        mask(s, 4, 4)
    }

    pub fn mask_phone(&self, s: &str) -> String {
        if self.see_identifiers {
            return s.to_owned();
        }
        mask(s, 3, 4)
    }
}

/// `3209**********1234`: the first `head` and last `tail` characters kept.
pub fn mask(s: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= head + tail {
        return "*".repeat(chars.len());
    }
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i < head || i >= chars.len() - tail {
                *c
            } else {
                '*'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_head_and_tail() {
        assert_eq!(mask("320902198001011234", 4, 4), "3209**********1234");
        assert_eq!(mask("13812345678", 3, 4), "138****5678");
        assert_eq!(mask("123", 4, 4), "***");
    }

    #[test]
    fn regions_include_those_below() {
        let p = Principal {
            name: "t".into(),
            regions: Some(vec!["320900".into()]),
            see_identifiers: false,
        };
        assert!(p.sees_region(Some("320902")));
        assert!(!p.sees_region(Some("330100")));
        assert!(!p.sees_region(None));
        assert!(Principal::all_regions().sees_region(None));
    }
}
