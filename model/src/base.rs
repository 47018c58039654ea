//! Base data: the registers of places, people, houses, vehicles and devices.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::region::Region;
use crate::{
    CardNo, CommunityId, DeviceId, Feature, HouseId, IdNumber, PersonId, Plate, RegionCode,
    RfidTag, Timestamp,
};

/// Declares a closed set of contract strings as an enum with `parse`,
/// `as_str` and the list of accepted values (for error messages).
macro_rules! str_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $s:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some(Self::$variant),)+ _ => None }
            }

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $s),+ }
            }

            /// The accepted values, for "expected one of …" messages.
            pub fn expected() -> String {
                [$($s),+].join(", ")
            }
        }
    };
}
pub(crate) use str_enum;

str_enum!(CommunityKind { Open = "open", Gated = "gated", UrbanVillage = "urban_village", Resettlement = "resettlement", Rental = "rental", Apartment = "apartment" });
str_enum!(
    /// How a house is used. `Self_` is the contract's `self` (owner-occupied).
    HouseUse { SelfOccupied = "self", Rent = "rent", Vacant = "vacant", Renovating = "renovating", Commercial = "commercial" }
);
str_enum!(Gender { Male = "M", Female = "F" });
str_enum!(Household { Local = "local", Floating = "floating", Foreign = "foreign" });
str_enum!(ResidenceRole { Owner = "owner", Family = "family", Tenant = "tenant", Resident = "resident" });
str_enum!(VehicleKind { Car = "car", Truck = "truck", Muck = "muck", Hazmat = "hazmat", Ebike = "ebike", Motorbike = "motorbike" });
str_enum!(CardKind { Ic = "ic", IdCard = "idcard", QrCode = "qrcode" });
str_enum!(KinRelation { Spouse = "spouse", Parent = "parent", Child = "child", Sibling = "sibling", Other = "other" });
str_enum!(DeviceKind {
    FaceGate = "face_gate",
    FaceCamera = "face_camera",
    UnitDoor = "unit_door",
    VehicleGate = "vehicle_gate",
    Camera = "camera",
    WifiProbe = "wifi_probe",
    RfidReader = "rfid_reader",
    DoorSensor = "door_sensor",
    SmokeSensor = "smoke_sensor",
    BehaviorCamera = "behavior_camera",
});
str_enum!(Direction { In = "in", Out = "out", Both = "both" });

/// A `[lon, lat]` WGS-84 coordinate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LonLat {
    pub lon: f64,
    pub lat: f64,
}

/// Person categories used by the analysis models; a deployment may add more,
/// so a category is an open string.
pub mod category {
    pub const ELDERLY_ALONE: &str = "elderly_alone";
    pub const KEY_PETITIONER: &str = "key_petitioner";
    pub const KEY_MENTAL: &str = "key_mental";
    pub const KEY_DRUG: &str = "key_drug";
    pub const KEY_THEFT_RECORD: &str = "key_theft_record";
    pub const KEY_GAMBLING: &str = "key_gambling";
    pub const KEY_FUGITIVE: &str = "key_fugitive";
    pub const KEY_STABILITY: &str = "key_stability";
    pub const KEY_TERROR: &str = "key_terror";
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Community {
    pub id: CommunityId,
    pub name: String,
    pub region: RegionCode,
    pub address: Option<String>,
    pub center: Option<LonLat>,
    /// Closed ring (the first point repeated at the end) when given.
    pub boundary: Option<Vec<LonLat>>,
    pub kind: Option<CommunityKind>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct House {
    pub id: HouseId,
    pub community: CommunityId,
    pub building: String,
    pub unit: String,
    pub room: String,
    pub address: Option<String>,
    pub area_m2: Option<f64>,
    pub usage: Option<HouseUse>,
    pub floor: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Person {
    pub id: PersonId,
    pub id_number: Option<IdNumber>,
    pub name: Option<String>,
    pub gender: Option<Gender>,
    pub birth_date: Option<NaiveDate>,
    pub phone: Option<String>,
    pub ethnicity: Option<String>,
    pub household: Option<Household>,
    pub categories: Vec<String>,
    pub face: Option<Feature>,
    pub photo_url: Option<String>,
}

/// A person ↔ house registration; historical once `until` has passed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Residence {
    pub person: PersonId,
    pub house: HouseId,
    pub role: ResidenceRole,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
}

impl Residence {
    /// Whether the registration makes the person an occupant of a house of
    /// this use: every role but the owner of a rented house (its landlord).
    pub fn is_occupant(&self, usage: Option<HouseUse>) -> bool {
        self.role != ResidenceRole::Owner || usage != Some(HouseUse::Rent)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vehicle {
    pub plate: Plate,
    pub color: Option<String>,
    pub brand: Option<String>,
    pub kind: Option<VehicleKind>,
    pub owner: Option<PersonId>,
    pub community: Option<CommunityId>,
    pub rfid: Option<RfidTag>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Card {
    pub card_no: CardNo,
    pub person: PersonId,
    pub kind: Option<CardKind>,
}

/// `a`'s relation to `b`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Kin {
    pub a: PersonId,
    pub b: PersonId,
    pub relation: KinRelation,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Device {
    pub id: DeviceId,
    pub kind: DeviceKind,
    pub community: CommunityId,
    pub name: Option<String>,
    pub location: Option<LonLat>,
    pub building: Option<String>,
    pub unit: Option<String>,
    pub house: Option<HouseId>,
    pub direction: Option<Direction>,
}

str_enum!(
    /// The kinds of base record, in the order their references point
    /// (a residence refers to a person and a house, a house to a community …).
    BaseKind { Region = "region", Community = "community", House = "house", Person = "person", Residence = "residence", Vehicle = "vehicle", Card = "card", Kin = "kin", Device = "device" }
);

impl BaseKind {
    pub fn type_name(self) -> &'static str {
        self.as_str()
    }
}

/// A base record of any kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum BaseRecord {
    Region(Region),
    Community(Community),
    House(House),
    Person(Person),
    Residence(Residence),
    Vehicle(Vehicle),
    Card(Card),
    Kin(Kin),
    Device(Device),
}

/// A reference from one record to a base record it needs, e.g. a house's
/// community. Unresolved references are kept and resolved when the target
/// arrives.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BaseRef {
    pub kind: BaseKind,
    pub key: String,
}

impl BaseRef {
    pub fn new(kind: BaseKind, key: impl Into<String>) -> Self {
        Self {
            kind,
            key: key.into(),
        }
    }
}

impl BaseRecord {
    pub fn kind(&self) -> BaseKind {
        match self {
            Self::Region(_) => BaseKind::Region,
            Self::Community(_) => BaseKind::Community,
            Self::House(_) => BaseKind::House,
            Self::Person(_) => BaseKind::Person,
            Self::Residence(_) => BaseKind::Residence,
            Self::Vehicle(_) => BaseKind::Vehicle,
            Self::Card(_) => BaseKind::Card,
            Self::Kin(_) => BaseKind::Kin,
            Self::Device(_) => BaseKind::Device,
        }
    }

    /// The record's identity within its kind: a later record with the same key
    /// replaces it (registers are updated, not appended).
    pub fn key(&self) -> String {
        match self {
            Self::Region(r) => r.code.as_str().to_owned(),
            Self::Community(c) => c.id.to_string(),
            Self::House(h) => h.id.to_string(),
            Self::Person(p) => p.id.to_string(),
            Self::Residence(r) => format!("{}\u{1f}{}\u{1f}{}", r.person, r.house, r.role.as_str()),
            Self::Vehicle(v) => v.plate.to_string(),
            Self::Card(c) => c.card_no.to_string(),
            Self::Kin(k) => format!("{}\u{1f}{}\u{1f}{}", k.a, k.b, k.relation.as_str()),
            Self::Device(d) => d.id.to_string(),
        }
    }

    /// The base records this one refers to.
    pub fn references(&self) -> Vec<BaseRef> {
        match self {
            Self::Region(r) => r
                .parent
                .iter()
                .map(|p| BaseRef::new(BaseKind::Region, p.as_str()))
                .collect(),
            Self::Community(c) => vec![BaseRef::new(BaseKind::Region, c.region.as_str())],
            Self::House(h) => vec![BaseRef::new(BaseKind::Community, h.community.as_str())],
            Self::Person(_) => vec![],
            Self::Residence(r) => vec![
                BaseRef::new(BaseKind::Person, r.person.as_str()),
                BaseRef::new(BaseKind::House, r.house.as_str()),
            ],
            Self::Vehicle(v) => {
                let mut refs = Vec::new();
                if let Some(o) = &v.owner {
                    refs.push(BaseRef::new(BaseKind::Person, o.as_str()));
                }
                if let Some(c) = &v.community {
                    refs.push(BaseRef::new(BaseKind::Community, c.as_str()));
                }
                refs
            }
            Self::Card(c) => vec![BaseRef::new(BaseKind::Person, c.person.as_str())],
            Self::Kin(k) => vec![
                BaseRef::new(BaseKind::Person, k.a.as_str()),
                BaseRef::new(BaseKind::Person, k.b.as_str()),
            ],
            Self::Device(d) => {
                let mut refs = vec![BaseRef::new(BaseKind::Community, d.community.as_str())];
                if let Some(h) = &d.house {
                    refs.push(BaseRef::new(BaseKind::House, h.as_str()));
                }
                refs
            }
        }
    }
}
