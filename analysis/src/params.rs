//! The models' parameters: one versioned section of the deployment's
//! configuration (`[analysis]`), unknown keys refused, DESIGN.md's defaults.

use serde::{Deserialize, Serialize};

/// The parameter format this build reads.
pub const PARAMS_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub version: u32,
    pub nocturnal: Nocturnal,
    pub frequent_night_outs: FrequentNightOuts,
    pub many_communities: ManyCommunities,
    pub reclusive: Reclusive,
    pub moved_out: MovedOut,
    pub households: Households,
    pub vacant: Vacant,
    pub theft_casing: TheftCasing,
    pub unregistered_resident: UnregisteredResident,
    pub elderly_unseen: ElderlyUnseen,
    pub vehicle_night_return: VehicleNightReturn,
    pub zombie_vehicle: ZombieVehicle,
    pub vehicle_muck: VehicleMuck,
    pub not_home_overnight: NotHomeOvernight,
    pub high_risk_origin: HighRiskOrigin,
    pub key_gathering: KeyGathering,
    pub key_mental: KeyMental,
    pub key_petitioner: KeyPetitioner,
    pub night_entrants: NightEntrants,
    pub unregistered_rental: UnregisteredRental,
    pub group_rental: GroupRental,
    pub gathering_point: GatheringPoint,
    pub incremental: Incremental,
}

/// The scheduled job inside `anju serve` keeps the window's sightings
/// between runs and reads only those of the last `late_hours` before where
/// the previous run ended and after (sightings arriving later than that are
/// read by the next full read, at least every `full_read_hours`); the
/// sighting models then judge only the subjects seen in what was read and
/// those with an active tag.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Incremental {
    pub late_hours: u32,
    pub full_read_hours: u32,
}

impl Default for Incremental {
    fn default() -> Self {
        Self {
            late_hours: 6,
            full_read_hours: 24,
        }
    }
}

/// Who comes home to a house at night, read by the house models: a person
/// or stranger archive passing its unit's door (not leaving) at night on at
/// least `regular_nights` of the last `window_days` is a regular night
/// entrant of the unit, attributed to one of the unit's houses (where
/// registered, else the house named by their latest visitor registration,
/// else the house whose occupants they came home with — through the door
/// within `together_minutes` of one of them — on at least `regular_nights`
/// nights, when one house leads; else none).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct NightEntrants {
    pub window_days: u32,
    pub regular_nights: u32,
    pub together_minutes: u32,
}

impl Default for NightEntrants {
    fn default() -> Self {
        Self {
            window_days: 30,
            regular_nights: 8,
            together_minutes: 10,
        }
    }
}

/// 疑似出租屋 (unregistered rental): a house registered as self-occupied
/// (`use` = `self` or not given) with at least `min_persons` regular night
/// entrants not registered there.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct UnregisteredRental {
    pub min_persons: u32,
}

impl Default for UnregisteredRental {
    fn default() -> Self {
        Self { min_persons: 3 }
    }
}

/// 群租房: more registered occupants than one per `m2_per_person` of the
/// house's area, or at least `min_night_entrants` regular night entrants
/// (registered or not).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GroupRental {
    pub m2_per_person: f64,
    pub min_night_entrants: u32,
}

impl Default for GroupRental {
    fn default() -> Self {
        Self {
            m2_per_person: 10.0,
            min_night_entrants: 6,
        }
    }
}

/// 可疑聚集点: a house where a key gathering (`key_gathering`'s categories,
/// persons and hours, at its unit door; attributed like night entrants) took
/// place on at least `min_days` different days of the last `window_days`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatheringPoint {
    pub window_days: u32,
    pub min_days: u32,
}

impl Default for GatheringPoint {
    fn default() -> Self {
        Self {
            window_days: 30,
            min_days: 2,
        }
    }
}

/// Petitioners (上访) leaving during a sensitive period: a person of
/// `category` last seen leaving (direction out, a gate or a unit door) and not seen again
/// for `away_hours`, inside one of `periods` (local dates `[from, to]`);
/// an alert.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeyPetitioner {
    pub category: String,
    pub away_hours: u32,
    pub periods: Vec<Period>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Period {
    pub from: chrono::NaiveDate,
    pub to: chrono::NaiveDate,
}

impl Default for KeyPetitioner {
    fn default() -> Self {
        Self {
            category: model::category::KEY_PETITIONER.into(),
            away_hours: 12,
            periods: Vec::new(),
        }
    }
}

/// Vehicles whose plate starts with one of `prefixes` (the deployment's
/// list, e.g. `["滇H"]`; empty: the model finds nothing), seen in the last
/// `window_days`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HighRiskOrigin {
    pub window_days: u32,
    pub prefixes: Vec<String>,
}

impl Default for HighRiskOrigin {
    fn default() -> Self {
        Self {
            window_days: 1,
            prefixes: Vec::new(),
        }
    }
}

/// Drug or gambling key persons gathering: at least `min_persons` persons of
/// one of `categories` at the same unit door within `within_hours` (an alert).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeyGathering {
    pub categories: Vec<String>,
    pub min_persons: u32,
    pub within_hours: u32,
    pub window_days: u32,
}

impl Default for KeyGathering {
    fn default() -> Self {
        Self {
            categories: vec![
                model::category::KEY_DRUG.into(),
                model::category::KEY_GAMBLING.into(),
            ],
            min_persons: 3,
            within_hours: 2,
            window_days: 1,
        }
    }
}

/// Mental-health key persons going out alone (leaving with nobody else at
/// the same device within `alone_secs`) or seen at a device whose name has
/// one of `sensitive_words` (schools, kindergartens) — an alert.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeyMental {
    pub category: String,
    pub alone_secs: u32,
    pub sensitive_words: Vec<String>,
    pub window_days: u32,
}

impl Default for KeyMental {
    fn default() -> Self {
        Self {
            category: model::category::KEY_MENTAL.into(),
            alone_secs: 60,
            sensitive_words: vec![
                "学校".into(),
                "幼儿园".into(),
                "school".into(),
                "kindergarten".into(),
            ],
            window_days: 1,
        }
    }
}

/// 夜不归宿 (and `vehicle_not_home_overnight` on a vehicle's passes): a
/// registered resident not seen in their community on `min_nights`
/// consecutive nights (from noon to the night's end), after being there on
/// at least `regular_nights` of the `regular_window` nights before, and last
/// seen leaving; judged over the last `window_days` complete nights.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotHomeOvernight {
    pub window_days: u32,
    pub min_nights: u32,
    pub regular_window: u32,
    pub regular_nights: u32,
}

impl Default for NotHomeOvernight {
    fn default() -> Self {
        Self {
            window_days: 14,
            min_nights: 3,
            regular_window: 7,
            regular_nights: 5,
        }
    }
}

/// Suspected vacant: no registered occupant seen for `window_days`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Vacant {
    pub window_days: u32,
}

impl Default for Vacant {
    fn default() -> Self {
        Self { window_days: 30 }
    }
}

/// 盗窃踩点: someone not living there at `min_unit_doors` different unit
/// doors, or in `min_communities` communities, within `within_hours`; an
/// alert when the person has one of `alert_categories`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TheftCasing {
    pub within_hours: u32,
    pub min_unit_doors: u32,
    pub min_communities: u32,
    pub alert_categories: Vec<String>,
}

impl Default for TheftCasing {
    fn default() -> Self {
        Self {
            within_hours: 24,
            min_unit_doors: 4,
            min_communities: 3,
            alert_categories: vec!["key_theft_record".into()],
        }
    }
}

/// 疑似未登记居住: a stranger archive or a person not registered in a
/// community seen there on `min_days` days of `window_days`, `min_nights`
/// of them at night.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct UnregisteredResident {
    pub window_days: u32,
    pub min_days: u32,
    pub min_nights: u32,
    /// Registered look-alikes suggested with each finding.
    pub suggestions: u32,
}

impl Default for UnregisteredResident {
    fn default() -> Self {
        Self {
            window_days: 30,
            min_days: 10,
            min_nights: 5,
            suggestions: 3,
        }
    }
}

/// 独居老人: a resident with `category` with no sighting and no door-sensor
/// change at home for `silent_hours` — counted outside the night window,
/// when no activity is expected — within the last `window_days` (an alert).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ElderlyUnseen {
    pub category: String,
    pub silent_hours: u32,
    pub window_days: u32,
}

impl Default for ElderlyUnseen {
    fn default() -> Self {
        Self {
            category: model::category::ELDERLY_ALONE.into(),
            silent_hours: 12,
            window_days: 2,
        }
    }
}

/// Vehicles entering at night on `min_nights` nights of `window_days`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct VehicleNightReturn {
    pub window_days: u32,
    pub min_nights: u32,
}

impl Default for VehicleNightReturn {
    fn default() -> Self {
        Self {
            window_days: 14,
            min_nights: 6,
        }
    }
}

/// 僵尸车: last seen entering at least `min_days` ago, no pass since.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ZombieVehicle {
    pub min_days: u32,
}

impl Default for ZombieVehicle {
    fn default() -> Self {
        Self { min_days: 15 }
    }
}

/// Muck and hazmat vehicles entering a residential community (in the last
/// `window_days`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct VehicleMuck {
    pub window_days: u32,
    pub kinds: Vec<String>,
}

impl Default for VehicleMuck {
    fn default() -> Self {
        Self {
            window_days: 1,
            kinds: vec!["muck".into(), "hazmat".into()],
        }
    }
}

impl Default for Params {
    fn default() -> Self {
        Self {
            version: PARAMS_VERSION,
            nocturnal: Nocturnal::default(),
            frequent_night_outs: FrequentNightOuts::default(),
            many_communities: ManyCommunities::default(),
            reclusive: Reclusive::default(),
            moved_out: MovedOut::default(),
            households: Households::default(),
            vacant: Vacant::default(),
            theft_casing: TheftCasing::default(),
            unregistered_resident: UnregisteredResident::default(),
            elderly_unseen: ElderlyUnseen::default(),
            vehicle_night_return: VehicleNightReturn::default(),
            zombie_vehicle: ZombieVehicle::default(),
            vehicle_muck: VehicleMuck::default(),
            not_home_overnight: NotHomeOvernight::default(),
            high_risk_origin: HighRiskOrigin::default(),
            key_gathering: KeyGathering::default(),
            key_mental: KeyMental::default(),
            key_petitioner: KeyPetitioner::default(),
            night_entrants: NightEntrants::default(),
            unregistered_rental: UnregisteredRental::default(),
            group_rental: GroupRental::default(),
            gathering_point: GatheringPoint::default(),
            incremental: Incremental::default(),
        }
    }
}

/// 昼伏夜出: at least `night_share` of a day's sightings at night, on at
/// least `min_days` days of the last `window_days`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Nocturnal {
    pub window_days: u32,
    pub min_days: u32,
    pub night_share: f64,
}

impl Default for Nocturnal {
    fn default() -> Self {
        Self {
            window_days: 14,
            min_days: 5,
            night_share: 0.7,
        }
    }
}

/// 频繁夜出: out at night on at least `min_nights` nights of the last
/// `window_days`: seen leaving (direction out) at night, or — a registered
/// resident — seen at night outside their communities. Coming home late is
/// not going out.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FrequentNightOuts {
    pub window_days: u32,
    pub min_nights: u32,
}

impl Default for FrequentNightOuts {
    fn default() -> Self {
        Self {
            window_days: 14,
            min_nights: 6,
        }
    }
}

/// 多地频现: a stranger seen in at least `min_communities` communities in
/// the last `window_days`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ManyCommunities {
    pub window_days: u32,
    pub min_communities: u32,
}

impl Default for ManyCommunities {
    fn default() -> Self {
        Self {
            window_days: 7,
            min_communities: 3,
        }
    }
}

/// 深居简出: a registered resident seen on at most `max_days` days of the
/// last `window_days`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Reclusive {
    pub window_days: u32,
    pub max_days: u32,
}

impl Default for Reclusive {
    fn default() -> Self {
        Self {
            window_days: 30,
            max_days: 2,
        }
    }
}

/// Residents younger than `min_age` are not observed on their own (young
/// children pass gates carried or with adults, without a capture): the
/// absence models judge them with their household — a child is reclusive or
/// moved out when every older resident of the house is.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Households {
    pub min_age: u32,
}

impl Default for Households {
    fn default() -> Self {
        Self { min_age: 14 }
    }
}

/// 疑似搬离: a registered resident not seen for at least `min_days`
/// consecutive days (up to the end of the data).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MovedOut {
    pub min_days: u32,
}

impl Default for MovedOut {
    fn default() -> Self {
        Self { min_days: 30 }
    }
}

impl Params {
    /// Every problem of the parameters, not just the first.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.version != PARAMS_VERSION {
            out.push(format!(
                "analysis.version {} is not supported (this build reads {PARAMS_VERSION})",
                self.version
            ));
        }
        let mut positive = |name: &str, v: u32| {
            if v == 0 {
                out.push(format!("analysis.{name} must be at least 1"));
            }
        };
        positive("nocturnal.window_days", self.nocturnal.window_days);
        positive("nocturnal.min_days", self.nocturnal.min_days);
        positive(
            "frequent_night_outs.window_days",
            self.frequent_night_outs.window_days,
        );
        positive(
            "frequent_night_outs.min_nights",
            self.frequent_night_outs.min_nights,
        );
        positive(
            "many_communities.window_days",
            self.many_communities.window_days,
        );
        positive(
            "many_communities.min_communities",
            self.many_communities.min_communities,
        );
        positive("reclusive.window_days", self.reclusive.window_days);
        positive("moved_out.min_days", self.moved_out.min_days);
        positive("vacant.window_days", self.vacant.window_days);
        positive("theft_casing.within_hours", self.theft_casing.within_hours);
        positive(
            "unregistered_resident.window_days",
            self.unregistered_resident.window_days,
        );
        positive(
            "elderly_unseen.silent_hours",
            self.elderly_unseen.silent_hours,
        );
        positive(
            "elderly_unseen.window_days",
            self.elderly_unseen.window_days,
        );
        positive(
            "vehicle_night_return.window_days",
            self.vehicle_night_return.window_days,
        );
        positive("zombie_vehicle.min_days", self.zombie_vehicle.min_days);
        positive("vehicle_muck.window_days", self.vehicle_muck.window_days);
        positive(
            "not_home_overnight.min_nights",
            self.not_home_overnight.min_nights,
        );
        positive(
            "not_home_overnight.regular_window",
            self.not_home_overnight.regular_window,
        );
        positive(
            "night_entrants.window_days",
            self.night_entrants.window_days,
        );
        positive(
            "night_entrants.regular_nights",
            self.night_entrants.regular_nights,
        );
        positive(
            "unregistered_rental.min_persons",
            self.unregistered_rental.min_persons,
        );
        positive(
            "group_rental.min_night_entrants",
            self.group_rental.min_night_entrants,
        );
        positive(
            "gathering_point.window_days",
            self.gathering_point.window_days,
        );
        positive("gathering_point.min_days", self.gathering_point.min_days);
        if self.group_rental.m2_per_person.is_nan() || self.group_rental.m2_per_person <= 0.0 {
            out.push("analysis.group_rental.m2_per_person must be above 0".into());
        }
        if !(0.0..=1.0).contains(&self.nocturnal.night_share) {
            out.push("analysis.nocturnal.night_share must be between 0 and 1".into());
        }
        out
    }

    /// The longest window any model looks back over, in days.
    pub fn longest_window_days(&self) -> u32 {
        [
            self.nocturnal.window_days,
            self.frequent_night_outs.window_days,
            self.many_communities.window_days,
            self.reclusive.window_days,
            self.moved_out.min_days,
            self.vacant.window_days,
            self.unregistered_resident.window_days,
            self.vehicle_night_return.window_days,
            // a zombie's last entry lies before its quiet period
            self.zombie_vehicle.min_days * 2,
            self.not_home_overnight.window_days + self.not_home_overnight.regular_window + 1,
            self.night_entrants.window_days,
            self.gathering_point.window_days,
        ]
        .into_iter()
        .max()
        .unwrap_or(1)
    }
}
