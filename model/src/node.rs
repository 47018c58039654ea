//! Nodes and relation kinds of the person/house/vehicle graph.
//!
//! A [`NodeRef`] names a vertex of the relationship graph or a subject of a
//! timeline: a registered person, a stranger archive (face captures of
//! someone not registered, clustered by the search issue), a house, a vehicle,
//! a device or a community. Its text form is `kind:key` (`person:3209…`,
//! `vehicle:苏J12345`), used on the command line and as the node key in the
//! Neo4j backend.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::base::str_enum;
use crate::{CommunityId, DeviceId, Error, HouseId, PersonId, Plate, Result};

/// A stranger archive (陌生人档案): the captures of one unregistered face.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ArchiveId(String);

impl ArchiveId {
    pub fn new(s: &str) -> Result<Self> {
        let s = s.trim();
        if s.is_empty() || s.chars().any(char::is_control) {
            return Err(Error::Id("archive id must be non-empty text"));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

str_enum!(
    /// The kind of a node, in the order of [`NodeRef`]'s variants.
    NodeKind { Person = "person", Stranger = "stranger", House = "house", Vehicle = "vehicle", Device = "device", Community = "community" }
);

/// A node of the graph (and a subject of a timeline).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum NodeRef {
    Person(PersonId),
    Stranger(ArchiveId),
    House(HouseId),
    Vehicle(Plate),
    Device(DeviceId),
    Community(CommunityId),
}

impl NodeRef {
    pub fn kind(&self) -> NodeKind {
        match self {
            Self::Person(_) => NodeKind::Person,
            Self::Stranger(_) => NodeKind::Stranger,
            Self::House(_) => NodeKind::House,
            Self::Vehicle(_) => NodeKind::Vehicle,
            Self::Device(_) => NodeKind::Device,
            Self::Community(_) => NodeKind::Community,
        }
    }

    /// The key within its kind (person id, plate, …).
    pub fn key(&self) -> &str {
        match self {
            Self::Person(x) => x.as_str(),
            Self::Stranger(x) => x.as_str(),
            Self::House(x) => x.as_str(),
            Self::Vehicle(x) => x.as_str(),
            Self::Device(x) => x.as_str(),
            Self::Community(x) => x.as_str(),
        }
    }

    pub fn from_parts(kind: NodeKind, key: &str) -> Result<Self> {
        Ok(match kind {
            NodeKind::Person => Self::Person(PersonId::new(key)?),
            NodeKind::Stranger => Self::Stranger(ArchiveId::new(key)?),
            NodeKind::House => Self::House(HouseId::new(key)?),
            NodeKind::Vehicle => Self::Vehicle(Plate::new(key)?),
            NodeKind::Device => Self::Device(DeviceId::new(key)?),
            NodeKind::Community => Self::Community(CommunityId::new(key)?),
        })
    }

    /// Parses the text form `kind:key`.
    pub fn parse(s: &str) -> Result<Self> {
        let (kind, key) = s
            .split_once(':')
            .ok_or(Error::Id("a node is written kind:key, e.g. person:320902…"))?;
        let kind = NodeKind::parse(kind).ok_or(Error::Id(
            "node kind must be person, stranger, house, vehicle, device or community",
        ))?;
        Self::from_parts(kind, key)
    }

    /// A person or a stranger archive: someone a face or a pass can belong to.
    pub fn is_individual(&self) -> bool {
        matches!(self, Self::Person(_) | Self::Stranger(_))
    }
}

impl fmt::Display for NodeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind().as_str(), self.key())
    }
}

str_enum!(
    /// The relations of `shared/DESIGN.md`. `TenantOf` runs tenant → landlord
    /// (seen from the landlord it is `landlord_of`); `LivesIn`/`LivedIn`,
    /// `Owns`, `Drives`, `Rides` and `Visitor` run from the person.
    RelKind {
        Cohabitant = "cohabitant",
        CohabitantInferred = "cohabitant_inferred",
        Companion = "companion",
        TenantOf = "tenant_of",
        Visitor = "visitor",
        Kin = "kin",
        Owns = "owns",
        Drives = "drives",
        Rides = "rides",
        LivesIn = "lives_in",
        LivedIn = "lived_in",
    }
);

impl RelKind {
    /// Symmetric relations are stored once, from the smaller node to the larger.
    pub fn is_symmetric(self) -> bool {
        matches!(
            self,
            Self::Cohabitant | Self::CohabitantInferred | Self::Companion
        )
    }

    /// Parses a kind, accepting `landlord_of` as the reverse of `tenant_of`.
    pub fn parse_lenient(s: &str) -> Option<Self> {
        match s {
            "landlord_of" => Some(Self::TenantOf),
            _ => Self::parse(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_text_form_round_trips() {
        for s in [
            "person:320902198001011234",
            "vehicle:苏J12345",
            "stranger:S1",
            "house:C1-1-1-101",
        ] {
            assert_eq!(NodeRef::parse(s).unwrap().to_string(), s);
        }
        assert_eq!(
            NodeRef::parse("vehicle:苏j·12345").unwrap().to_string(),
            "vehicle:苏J12345"
        );
        assert!(NodeRef::parse("planet:x").is_err());
        assert!(NodeRef::parse("person").is_err());
        assert!(NodeRef::parse("person: ").is_err());
    }
}
