//! The register profiles an archive shows.

use super::*;

#[derive(Debug, Clone, SimpleObject)]
pub struct PersonProfile {
    pub id: String,
    pub name: Option<String>,
    pub gender: Option<String>,
    pub birth_date: Option<String>,
    /// Masked (`3209**********1234`) unless the caller may see it.
    pub id_number: Option<String>,
    pub phone: Option<String>,
    pub ethnicity: Option<String>,
    /// `local`, `floating`, `foreign`.
    pub household: Option<String>,
    pub categories: Vec<String>,
    pub photo_url: Option<String>,
    pub has_face: bool,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct HouseProfile {
    pub id: String,
    pub community: String,
    pub building: String,
    pub unit: String,
    pub room: String,
    pub address: Option<String>,
    pub area_m2: Option<f64>,
    /// `self`, `rent`, `vacant`, …
    pub usage: Option<String>,
    pub floor: Option<i32>,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct VehicleProfile {
    pub plate: String,
    pub color: Option<String>,
    pub brand: Option<String>,
    pub kind: Option<String>,
    pub owner: Option<String>,
    pub community: Option<String>,
    pub rfid: Option<String>,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct CommunityProfile {
    pub id: String,
    pub name: String,
    pub region: String,
    pub address: Option<String>,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub kind: Option<String>,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct DeviceProfile {
    pub id: String,
    pub kind: String,
    pub community: String,
    pub name: Option<String>,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub building: Option<String>,
    pub unit: Option<String>,
    pub house: Option<String>,
    pub direction: Option<String>,
}

#[derive(Debug, Clone, SimpleObject)]
pub struct Count {
    pub key: String,
    pub count: u64,
}

pub fn counts(m: &std::collections::BTreeMap<String, u64>) -> Vec<Count> {
    m.iter()
        .map(|(k, v)| Count {
            key: k.clone(),
            count: *v,
        })
        .collect()
}

/// A community's registers at a glance.
#[derive(Debug, Clone, SimpleObject)]
pub struct CommunityStatistics {
    pub persons: u64,
    pub persons_by_household: Vec<Count>,
    pub persons_by_category: Vec<Count>,
    pub houses: u64,
    pub houses_by_use: Vec<Count>,
    pub vehicles: u64,
    pub devices: u64,
    pub devices_by_kind: Vec<Count>,
}

pub fn device_profile(d: model::Device) -> DeviceProfile {
    DeviceProfile {
        id: d.id.as_str().to_owned(),
        kind: d.kind.as_str().to_owned(),
        community: d.community.as_str().to_owned(),
        name: d.name,
        lon: d.location.map(|p| p.lon),
        lat: d.location.map(|p| p.lat),
        building: d.building,
        unit: d.unit,
        house: d.house.map(|h| h.as_str().to_owned()),
        direction: d.direction.map(|d| d.as_str().to_owned()),
    }
}
