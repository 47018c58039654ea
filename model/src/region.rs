//! Administrative/police regions and the "is this region inside that one" rule.
//!
//! Codes follow the 6-digit administrative division code (province `320000`,
//! city `320900`, district `320902`), extended with three more digits per level
//! below: station `320902001`, community `320902001003`. Containment is decided
//! by the code alone (its significant prefix), so it needs no lookup and works
//! for regions the store has not seen yet; [`RegionTree`] adds names and levels.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Level of a region in the province → community hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionLevel {
    Province,
    City,
    District,
    Station,
    Community,
}

impl RegionLevel {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "province" => Self::Province,
            "city" => Self::City,
            "district" => Self::District,
            "station" => Self::Station,
            "community" => Self::Community,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Province => "province",
            Self::City => "city",
            Self::District => "district",
            Self::Station => "station",
            Self::Community => "community",
        }
    }
}

/// A region code: 6 digits (province, city, district) or 9 (station) or 12
/// (community).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RegionCode(String);

impl RegionCode {
    pub fn new(s: &str) -> Result<Self> {
        let s = s.trim();
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::RegionCode("must be digits"));
        }
        if ![6, 9, 12].contains(&s.len()) {
            return Err(Error::RegionCode("must have 6, 9 or 12 digits"));
        }
        if s.starts_with("00") {
            return Err(Error::RegionCode("province digits must not be 00"));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The level the code's shape implies.
    pub fn level(&self) -> RegionLevel {
        match self.0.len() {
            12 => RegionLevel::Community,
            9 => RegionLevel::Station,
            _ if self.0.ends_with("0000") => RegionLevel::Province,
            _ if self.0.ends_with("00") => RegionLevel::City,
            _ => RegionLevel::District,
        }
    }

    /// The digits that every region inside this one starts with.
    pub fn significant_prefix(&self) -> &str {
        match self.level() {
            RegionLevel::Province => &self.0[..2],
            RegionLevel::City => &self.0[..4],
            _ => &self.0,
        }
    }

    /// True when `self` is `other` or lies inside it.
    pub fn is_within(&self, other: &RegionCode) -> bool {
        self.0.starts_with(other.significant_prefix()) && self.level() >= other.level()
    }

    /// The code of the enclosing region implied by the code's shape.
    pub fn parent(&self) -> Option<RegionCode> {
        Some(RegionCode(match self.level() {
            RegionLevel::Province => return None,
            RegionLevel::City => format!("{}0000", &self.0[..2]),
            RegionLevel::District => format!("{}00", &self.0[..4]),
            RegionLevel::Station | RegionLevel::Community => self.0[..self.0.len() - 3].to_owned(),
        }))
    }
}

impl fmt::Debug for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RegionCode({})", self.0)
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A region as registered in base data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Region {
    pub code: RegionCode,
    pub name: String,
    pub level: RegionLevel,
    pub parent: Option<RegionCode>,
}

/// The known regions, for names, levels and children.
#[derive(Debug, Default, Clone)]
pub struct RegionTree {
    regions: BTreeMap<RegionCode, Region>,
}

impl RegionTree {
    pub fn insert(&mut self, region: Region) {
        self.regions.insert(region.code.clone(), region);
    }

    pub fn get(&self, code: &RegionCode) -> Option<&Region> {
        self.regions.get(code)
    }

    pub fn len(&self) -> usize {
        self.regions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.regions.is_empty()
    }

    /// Every known region inside `code`, `code` itself included.
    pub fn descendants<'a>(
        &'a self,
        code: &'a RegionCode,
    ) -> impl Iterator<Item = &'a Region> + 'a {
        self.regions
            .range(RegionCode(code.significant_prefix().to_owned())..)
            .take_while(move |(c, _)| c.0.starts_with(code.significant_prefix()))
            .filter(move |(c, _)| c.is_within(code))
            .map(|(_, r)| r)
    }

    /// A region's parent: the registered one, or the one its code implies.
    fn parent_of(r: &Region) -> Option<RegionCode> {
        r.parent.clone().or_else(|| r.code.parent())
    }

    /// The known regions directly below `code`.
    pub fn children<'a>(&'a self, code: &'a RegionCode) -> impl Iterator<Item = &'a Region> + 'a {
        self.descendants(code)
            .filter(move |r| Self::parent_of(r).as_ref() == Some(code))
    }

    /// The known regions whose parent is not known (the provinces, in a
    /// complete register).
    pub fn roots(&self) -> impl Iterator<Item = &Region> + '_ {
        self.regions
            .values()
            .filter(|r| Self::parent_of(r).is_none_or(|p| !self.regions.contains_key(&p)))
    }

    /// The chain from the region up to its root, as far as it is known.
    pub fn ancestors(&self, code: &RegionCode) -> Vec<&Region> {
        let mut out = Vec::new();
        let mut cur = self.regions.get(code);
        while let Some(r) = cur {
            out.push(r);
            cur = Self::parent_of(r).and_then(|p| self.regions.get(&p));
            if out.len() > 8 {
                break; // a malformed parent cycle
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> RegionCode {
        RegionCode::new(s).unwrap()
    }

    #[test]
    fn containment_follows_the_hierarchy() {
        let province = c("320000");
        let city = c("320900");
        let district = c("320902");
        let station = c("320902001");
        let community = c("320902001003");
        assert_eq!(province.level(), RegionLevel::Province);
        assert_eq!(city.level(), RegionLevel::City);
        assert_eq!(district.level(), RegionLevel::District);
        for (inner, outer) in [
            (&community, &station),
            (&community, &district),
            (&community, &city),
            (&community, &province),
            (&station, &city),
            (&district, &province),
        ] {
            assert!(inner.is_within(outer), "{inner} in {outer}");
            assert!(!outer.is_within(inner), "{outer} not in {inner}");
        }
        assert!(community.is_within(&community));
        assert!(!c("320903").is_within(&district));
        assert!(!c("320902002001").is_within(&station));
        assert!(!c("330100").is_within(&province));
        assert_eq!(community.parent(), Some(station.clone()));
        assert_eq!(station.parent(), Some(district.clone()));
        assert_eq!(district.parent(), Some(city.clone()));
        assert_eq!(city.parent(), Some(province.clone()));
    }

    #[test]
    fn the_tree_knows_children_and_roots() {
        let mut t = RegionTree::default();
        for (code, name) in [
            ("320000", "江苏省"),
            ("320900", "盐城市"),
            ("320902", "亭湖区"),
            ("320903", "盐都区"),
            ("320902001", "一所"),
            ("320902001003", "社区"),
        ] {
            let code = c(code);
            t.insert(Region {
                level: code.level(),
                code,
                name: name.into(),
                parent: None,
            });
        }
        let names = |it: Vec<&Region>| it.iter().map(|r| r.code.to_string()).collect::<Vec<_>>();
        assert_eq!(
            names(t.children(&c("320900")).collect()),
            ["320902", "320903"]
        );
        assert_eq!(names(t.children(&c("320902")).collect()), ["320902001"]);
        assert_eq!(names(t.roots().collect()), ["320000"]);
        assert_eq!(names(t.ancestors(&c("320902001003"))).len(), 5);
    }

    #[test]
    fn tree_descendants() {
        let mut t = RegionTree::default();
        for (code, level) in [
            ("320000", RegionLevel::Province),
            ("320900", RegionLevel::City),
            ("320902", RegionLevel::District),
            ("320902001", RegionLevel::Station),
            ("320903", RegionLevel::District),
        ] {
            t.insert(Region {
                code: c(code),
                name: code.into(),
                level,
                parent: c(code).parent(),
            });
        }
        let district = c("320902");
        let d: Vec<_> = t.descendants(&district).map(|r| r.code.as_str()).collect();
        assert_eq!(d, ["320902", "320902001"]);
        assert_eq!(t.descendants(&c("320000")).count(), 5);
        assert_eq!(t.ancestors(&c("320902001")).len(), 4);
    }
}
