//! One JSON object of the ingest contract → a validated [`model::Record`].
//!
//! Validation reports every problem of the record; unknown extra fields are
//! ignored (forward compatibility); a field of the wrong type is a problem even
//! when the field is optional.

use model::*;
use serde_json::{Map, Value};

use crate::FieldProblem;
use crate::fields::{self, Fields, enum_value, json_type};

/// What parsing needs to know about the deployment.
#[derive(Debug, Clone, Copy)]
pub struct ParseConfig {
    /// Reads offset-less times.
    pub clock: Clock,
    /// The dimension every face feature must have.
    pub face_dim: usize,
    /// Events later than this are refused (a device with a wrong clock);
    /// `None` accepts any time.
    pub not_after: Option<Timestamp>,
}

impl Default for ParseConfig {
    fn default() -> Self {
        Self {
            clock: Clock::default(),
            face_dim: 128,
            not_after: None,
        }
    }
}

/// Parses one line of JSON Lines. `Ok(None)` for a blank line.
pub fn parse_line(line: &str, cfg: &ParseConfig) -> Result<Option<Record>, Vec<FieldProblem>> {
    let line = line.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\u{feff}');
    if line.is_empty() {
        return Ok(None);
    }
    let value: Value = serde_json::from_str(line)
        .map_err(|e| vec![FieldProblem::new("-", format!("not valid JSON: {e}"))])?;
    match value {
        Value::Object(obj) => parse_object(&obj, cfg).map(Some),
        other => Err(vec![FieldProblem::new(
            "-",
            format!("expected a JSON object, got {}", json_type(&other)),
        )]),
    }
}

/// Validates one object of the contract into a record.
pub fn parse_object(
    obj: &Map<String, Value>,
    cfg: &ParseConfig,
) -> Result<Record, Vec<FieldProblem>> {
    parse_object_with(obj, cfg, false)
}

/// [`parse_object`]; with `feature_optional`, a `face_capture` may come
/// without a feature (GA/T 1400 objects sent without one).
pub(crate) fn parse_object_with(
    obj: &Map<String, Value>,
    cfg: &ParseConfig,
    feature_optional: bool,
) -> Result<Record, Vec<FieldProblem>> {
    let mut f = Fields::new(obj, "");
    let Some(ty) = f.req_str("type") else {
        return Err(f.problems);
    };
    let record = if let Some(kind) = BaseKind::parse(ty) {
        base(kind, &mut f, cfg).map(Record::Base)
    } else if let Some(kind) = EventKind::parse(ty) {
        event(kind, &mut f, cfg, feature_optional).map(Record::Event)
    } else {
        f.problem(
            "type",
            format!(
                "unknown type {ty:?} (expected one of {}, {})",
                BaseKind::expected(),
                EventKind::expected()
            ),
        );
        None
    };
    match record {
        Some(r) if f.problems.is_empty() => Ok(r),
        _ => {
            debug_assert!(!f.problems.is_empty());
            Err(f.problems)
        }
    }
}

fn id<T>(new: fn(&str) -> model::Result<T>) -> impl Fn(&str) -> Result<T, String> {
    move |s| new(s).map_err(|e| e.to_string())
}

fn person_id(s: &str) -> Result<PersonId, String> {
    PersonId::new(s).map_err(|e| e.to_string())
}

fn region_code(s: &str) -> Result<RegionCode, String> {
    RegionCode::new(s).map_err(|e| e.to_string())
}

fn id_number(s: &str) -> Result<IdNumber, String> {
    IdNumber::new(s).map_err(|e| e.to_string())
}

fn phone(s: &str) -> Result<String, String> {
    let t = s.trim();
    let ok = (5..=20).contains(&t.len())
        && t.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' '));
    if ok {
        Ok(t.to_owned())
    } else {
        Err(format!("{s:?} is not a phone number"))
    }
}

/// Yields `Some` only when every listed part is present: a record is built
/// only once all its required fields parsed.
macro_rules! all {
    ($($x:ident),+) => { match ($($x,)+) { ($(Some($x),)+) => Some(($($x,)+)), _ => None } };
}

fn base(kind: BaseKind, f: &mut Fields<'_>, cfg: &ParseConfig) -> Option<BaseRecord> {
    let clock = &cfg.clock;
    match kind {
        BaseKind::Region => {
            let code = f.req_parsed("code", region_code);
            let name = f.req_str("name").map(str::to_owned);
            let level = f.req_parsed("level", |s| {
                enum_value(s, RegionLevel::parse, || {
                    "province, city, district, station, community".into()
                })
            });
            let parent = f.opt_parsed("parent", region_code);
            if let (Some(c), Some(p)) = (&code, &parent)
                && (!c.is_within(p) || c == p)
            {
                f.problem("parent", format!("{p} does not contain {c}"));
            }
            let (code, name, level) = all!(code, name, level)?;
            Some(BaseRecord::Region(Region {
                code,
                name,
                level,
                parent,
            }))
        }
        BaseKind::Community => {
            let id_ = f.req_parsed("id", id(CommunityId::new));
            let name = f.req_str("name").map(str::to_owned);
            let region = f.req_parsed("region", region_code);
            let address = f.opt_str("address").map(str::to_owned);
            let center = f.opt("center", fields::lon_lat);
            let boundary = f.opt("boundary", fields::polygon);
            let ckind = f.opt_parsed("kind", |s| {
                enum_value(s, CommunityKind::parse, CommunityKind::expected)
            });
            let (id_, name, region) = all!(id_, name, region)?;
            Some(BaseRecord::Community(Community {
                id: id_,
                name,
                region,
                address,
                center,
                boundary,
                kind: ckind,
            }))
        }
        BaseKind::House => {
            let id_ = f.req_parsed("id", id(HouseId::new));
            let community = f.req_parsed("community", id(CommunityId::new));
            let building = f.req("building", scalar_text);
            let unit = f.req("unit", scalar_text);
            let room = f.req("room", scalar_text);
            let address = f.opt_str("address").map(str::to_owned);
            let area_m2 = f.opt("area_m2", |v| {
                let a = fields::number(v)?;
                if a > 0.0 && a < 100_000.0 {
                    Ok(a)
                } else {
                    Err(format!("area {a} m² is not plausible"))
                }
            });
            let usage = f.opt_parsed("use", |s| {
                enum_value(s, HouseUse::parse, HouseUse::expected)
            });
            let floor = f.opt("floor", |v| {
                let n = fields::integer(v)?;
                i32::try_from(n)
                    .ok()
                    .filter(|n| (-10..=300).contains(n))
                    .ok_or_else(|| format!("floor {n} is not plausible"))
            });
            let (id_, community, building, unit, room) =
                all!(id_, community, building, unit, room)?;
            Some(BaseRecord::House(House {
                id: id_,
                community,
                building,
                unit,
                room,
                address,
                area_m2,
                usage,
                floor,
            }))
        }
        BaseKind::Person => {
            let id_ = f.req_parsed("id", person_id);
            let id_number_ = f.opt_parsed("id_number", id_number);
            let name = f.opt_str("name").map(|s| s.trim().to_owned());
            let gender = f.opt_parsed("gender", |s| enum_value(s, Gender::parse, Gender::expected));
            let birth_date = f.opt_parsed("birth_date", fields::date);
            let phone_ = f.opt_parsed("phone", phone);
            let ethnicity = f.opt_str("ethnicity").map(str::to_owned);
            let household = f.opt_parsed("household", |s| {
                enum_value(s, Household::parse, Household::expected)
            });
            let categories = f.opt("categories", fields::string_list).unwrap_or_default();
            let face = f.opt("face", |v| fields::feature(v, cfg.face_dim));
            let photo_url = f.opt_str("photo_url").map(str::to_owned);
            if let (Some(n), Some(b)) = (&id_number_, &birth_date)
                && n.birth_date() != *b
            {
                f.problem(
                    "birth_date",
                    format!("{b} differs from the date in the identity number"),
                );
            }
            let id_ = id_?;
            Some(BaseRecord::Person(Person {
                id: id_,
                id_number: id_number_,
                name,
                gender,
                birth_date,
                phone: phone_,
                ethnicity,
                household,
                categories,
                face,
                photo_url,
            }))
        }
        BaseKind::Residence => {
            let person = f.req_parsed("person", person_id);
            let house = f.req_parsed("house", id(HouseId::new));
            let role = f.req_parsed("role", |s| {
                enum_value(s, ResidenceRole::parse, ResidenceRole::expected)
            });
            let since = f.opt_parsed("since", |s| fields::date_or_time(s, clock));
            let until = f.opt_parsed("until", |s| fields::date_or_time(s, clock));
            if let (Some(s), Some(u)) = (since, until)
                && u < s
            {
                f.problem("until", "is before since");
            }
            let (person, house, role) = all!(person, house, role)?;
            Some(BaseRecord::Residence(Residence {
                person,
                house,
                role,
                since,
                until,
            }))
        }
        BaseKind::Vehicle => {
            let plate = f.req_parsed("plate", |s| Plate::new(s).map_err(|e| e.to_string()));
            let color = f.opt_str("color").map(str::to_owned);
            let brand = f.opt_str("brand").map(str::to_owned);
            let vkind = f.opt_parsed("kind", |s| {
                enum_value(s, VehicleKind::parse, VehicleKind::expected)
            });
            let owner = f.opt_parsed("owner", person_id);
            let community = f.opt_parsed("community", id(CommunityId::new));
            let rfid = f.opt_parsed("rfid", id(RfidTag::new));
            let plate = plate?;
            Some(BaseRecord::Vehicle(Vehicle {
                plate,
                color,
                brand,
                kind: vkind,
                owner,
                community,
                rfid,
            }))
        }
        BaseKind::Card => {
            let card_no = f.req_parsed("card_no", id(CardNo::new));
            let person = f.req_parsed("person", person_id);
            let ckind = f.opt_parsed("kind", |s| {
                enum_value(s, CardKind::parse, CardKind::expected)
            });
            let (card_no, person) = all!(card_no, person)?;
            Some(BaseRecord::Card(Card {
                card_no,
                person,
                kind: ckind,
            }))
        }
        BaseKind::Kin => {
            let a = f.req_parsed("a", person_id);
            let b = f.req_parsed("b", person_id);
            let relation = f.req_parsed("relation", |s| {
                enum_value(s, KinRelation::parse, KinRelation::expected)
            });
            if let (Some(a), Some(b)) = (&a, &b)
                && a == b
            {
                f.problem("b", "a person is not their own kin");
            }
            let (a, b, relation) = all!(a, b, relation)?;
            Some(BaseRecord::Kin(Kin { a, b, relation }))
        }
        BaseKind::Device => {
            let id_ = f.req_parsed("id", id(DeviceId::new));
            let dkind = f.req_parsed("kind", |s| {
                enum_value(s, DeviceKind::parse, DeviceKind::expected)
            });
            let community = f.req_parsed("community", id(CommunityId::new));
            let name = f.opt_str("name").map(str::to_owned);
            let location = f.opt("location", fields::lon_lat);
            let building = f.opt("building", scalar_text);
            let unit = f.opt("unit", scalar_text);
            let house = f.opt_parsed("house", id(HouseId::new));
            let direction = f.opt_parsed("direction", |s| {
                enum_value(s, Direction::parse, Direction::expected)
            });
            let (id_, kind, community) = all!(id_, dkind, community)?;
            Some(BaseRecord::Device(Device {
                id: id_,
                kind,
                community,
                name,
                location,
                building,
                unit,
                house,
                direction,
            }))
        }
    }
}

/// Building, unit and room are labels: strings, or whole numbers for
/// producers that write `"unit": 2`.
fn scalar_text(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
        Value::String(_) => Err("must not be empty".to_owned()),
        Value::Number(n) if n.is_u64() => Ok(n.to_string()),
        other => Err(format!("expected a string, got {}", json_type(other))),
    }
}

fn event(
    kind: EventKind,
    f: &mut Fields<'_>,
    cfg: &ParseConfig,
    feature_optional: bool,
) -> Option<Event> {
    let clock = &cfg.clock;
    let dim = cfg.face_dim;
    let id_ = f.req_parsed("id", id(EventId::new));
    let device = f.req_parsed("device", id(DeviceId::new));
    let time = f.req_parsed("time", |s| {
        let t = fields::time(s, clock)?;
        match cfg.not_after {
            Some(limit) if t > limit => Err(format!("{s:?} is in the future (later than {limit})")),
            _ if t.0 < 946_684_800_000 => Err(format!("{s:?} is before 2000")),
            _ => Ok(t),
        }
    });
    let direction = |f: &mut Fields<'_>| {
        f.opt_parsed("direction", |s| {
            enum_value(s, Direction::parse, Direction::expected)
        })
    };
    let body = match kind {
        EventKind::FaceCapture => {
            let feature = if feature_optional {
                Some(f.opt("feature", |v| fields::feature(v, dim)))
            } else {
                f.req("feature", |v| fields::feature(v, dim)).map(Some)
            };
            let person = f.opt_parsed("person", person_id);
            let score = f.opt("score", |v| {
                let s = fields::number(v)?;
                if (0.0..=1.0).contains(&s) {
                    Ok(s as f32)
                } else {
                    Err(format!("{s} is outside 0..1"))
                }
            });
            let image_url = f.opt_str("image_url").map(str::to_owned);
            let direction = direction(f);
            EventBody::FaceCapture {
                feature: feature?,
                person,
                score,
                image_url,
                direction,
            }
        }
        EventKind::Access => {
            let method = f.req_parsed("method", |s| {
                enum_value(s, AccessMethod::parse, AccessMethod::expected)
            });
            let person = f.opt_parsed("person", person_id);
            let card_no = f.opt_parsed("card_no", id(CardNo::new));
            let direction = direction(f);
            let result = f.opt_parsed("result", |s| {
                enum_value(s, AccessResult::parse, AccessResult::expected)
            });
            let feature = f.opt("feature", |v| fields::feature(v, dim));
            EventBody::Access {
                method: method?,
                person,
                card_no,
                direction,
                result,
                feature,
            }
        }
        EventKind::VehiclePass => {
            let plate = f.req_parsed("plate", |s| {
                Plate::parse_optional(s).map_err(|e| e.to_string())
            });
            let direction = direction(f);
            let plate_color = f.opt_str("plate_color").map(str::to_owned);
            let vehicle_kind = f.opt_parsed("vehicle_kind", |s| {
                enum_value(s, VehicleKind::parse, VehicleKind::expected)
            });
            let image_url = f.opt_str("image_url").map(str::to_owned);
            let occupant_features = f
                .opt("occupant_features", |v| {
                    let arr = v.as_array().ok_or_else(|| {
                        format!("expected a list of features, got {}", json_type(v))
                    })?;
                    arr.iter()
                        .enumerate()
                        .map(|(i, x)| fields::feature(x, dim).map_err(|e| format!("[{i}]: {e}")))
                        .collect::<Result<Vec<_>, _>>()
                })
                .unwrap_or_default();
            EventBody::VehiclePass {
                plate: plate?,
                direction,
                plate_color,
                vehicle_kind,
                image_url,
                occupant_features,
            }
        }
        EventKind::Visitor => {
            let host_house = f.req_parsed("host_house", id(HouseId::new));
            let host_person = f.opt_parsed("host_person", person_id);
            let purpose = f.opt_str("purpose").map(str::to_owned);
            let leave_by = f.opt_parsed("leave_by", |s| fields::time(s, clock));
            let visitor = f.req_object("visitor").map(|obj| {
                let mut v = Fields::new(obj, &f.path("visitor"));
                let info = VisitorInfo {
                    name: v.opt_str("name").map(|s| s.trim().to_owned()),
                    id_number: v.opt_parsed("id_number", id_number),
                    phone: v.opt_parsed("phone", phone),
                    plate: v
                        .opt_parsed("plate", |s| {
                            Plate::parse_optional(s).map_err(|e| e.to_string())
                        })
                        .flatten(),
                    feature: v.opt("feature", |x| fields::feature(x, dim)),
                };
                f.merge(v);
                info
            });
            EventBody::Visitor {
                host_house: host_house?,
                visitor: visitor?,
                host_person,
                purpose,
                leave_by,
            }
        }
        EventKind::Probe => {
            let mac = f.req_parsed("mac", normalise_mac);
            let rssi = f.opt("rssi", |v| {
                let n = fields::integer(v)?;
                i32::try_from(n)
                    .ok()
                    .filter(|n| (-150..=20).contains(n))
                    .ok_or_else(|| format!("rssi {n} is not plausible"))
            });
            EventBody::Probe { mac: mac?, rssi }
        }
        EventKind::Rfid => {
            let tag = f.req_parsed("tag", id(RfidTag::new));
            let card_no = f.opt_parsed("card_no", id(CardNo::new));
            let person = f.opt_parsed("person", person_id);
            let direction = direction(f);
            EventBody::Rfid {
                tag: tag?,
                card_no,
                person,
                direction,
            }
        }
        EventKind::DoorSensor => {
            let state = f.req_parsed("state", |s| {
                enum_value(s, DoorState::parse, DoorState::expected)
            });
            EventBody::DoorSensor { state: state? }
        }
        EventKind::DeviceAlarm => {
            let akind = f.req_parsed("kind", |s| {
                enum_value(s, AlarmKind::parse, AlarmKind::expected)
            });
            let level = f.opt("level", |v| match v {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                other => Err(format!("expected a string, got {}", json_type(other))),
            });
            let image_url = f.opt_str("image_url").map(str::to_owned);
            let note = f.opt_str("note").map(str::to_owned);
            EventBody::DeviceAlarm {
                kind: akind?,
                level,
                image_url,
                note,
            }
        }
    };
    let (id_, device, time) = all!(id_, device, time)?;
    Some(Event {
        id: id_,
        device,
        time,
        body,
    })
}

/// MACs are stored upper case with `-` separators (`AA-BB-CC-DD-EE-FF`).
fn normalise_mac(s: &str) -> Result<Mac, String> {
    let hex: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    let seps_ok = s
        .chars()
        .all(|c| c.is_ascii_hexdigit() || matches!(c, ':' | '-' | '.'));
    if hex.len() != 12 || !seps_ok {
        return Err(format!("{s:?} is not a MAC address"));
    }
    let parts: Vec<String> = hex
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).to_uppercase())
        .collect();
    Mac::new(&parts.join("-")).map_err(|e| e.to_string())
}
