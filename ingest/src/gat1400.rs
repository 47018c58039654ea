//! GA/T 1400 (视图库) objects → records of the contract.
//!
//! Cameras and platforms push `FaceListObject`s and `MotorVehicleListObject`s;
//! each object is mapped onto a contract object (`shared/spec/ingest-format.md`,
//! "GA/T 1400 intake") and validated by the same code as JSON Lines, so the
//! rules and the error messages are the same. Real cameras send `null` and
//! empty strings for absent fields, numbers where the standard says strings,
//! and large base64 images: absent means absent, a number that fits is its
//! decimal text, and images are never copied into a record (their
//! `StoragePath`, when sent, is kept as the image reference).

use serde_json::{Map, Value, json};

use crate::FieldProblem;
use crate::wire::{ParseConfig, parse_object_with};

/// One object of a request and what became of it.
#[derive(Debug)]
pub struct ViidObject {
    /// The object's id as sent (`FaceID`, `MotorVehicleID`), empty if none.
    pub id: String,
    pub record: Result<model::Record, Vec<FieldProblem>>,
}

/// Why a whole request was refused: GA/T 1400 status `7` (not JSON) or `8`
/// (JSON, but not the expected objects).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViidError {
    InvalidJson(String),
    InvalidContent(String),
}

impl ViidError {
    /// The GA/T 1400 `StatusCode`.
    pub fn status_code(&self) -> &'static str {
        match self {
            Self::InvalidJson(_) => "7",
            Self::InvalidContent(_) => "8",
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Self::InvalidJson(m) | Self::InvalidContent(m) => m,
        }
    }
}

fn parse_body(body: &[u8]) -> Result<Map<String, Value>, ViidError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| ViidError::InvalidJson(format!("body is not UTF-8: {e}")))?;
    let text = text.trim_start_matches('\u{feff}');
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ViidError::InvalidContent(
            "expected a JSON object".to_owned(),
        )),
        Err(e) => Err(ViidError::InvalidJson(format!("not valid JSON: {e}"))),
    }
}

/// The objects of `{"<list>":{"<object>":[...]}}` (a single object instead
/// of an array is accepted).
fn objects(
    body: &Map<String, Value>,
    list: &str,
    object: &str,
) -> Result<Vec<Map<String, Value>>, ViidError> {
    let inner = body
        .get(list)
        .and_then(Value::as_object)
        .ok_or_else(|| ViidError::InvalidContent(format!("expected {{\"{list}\":{{...}}}}")))?;
    match inner.get(object) {
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_object().cloned().ok_or_else(|| {
                    ViidError::InvalidContent(format!("{list}.{object}[{i}] is not an object"))
                })
            })
            .collect(),
        Some(Value::Object(o)) => Ok(vec![o.clone()]),
        Some(Value::Null) | None => Ok(Vec::new()),
        Some(_) => Err(ViidError::InvalidContent(format!(
            "{list}.{object} is not an array"
        ))),
    }
}

/// A text field as sent: `null`, empty or blank is absent; a number that
/// fits an integer is its decimal text; a long id sent as a JSON number has
/// already lost digits and is refused.
fn text(o: &Map<String, Value>, name: &str) -> Result<Option<String>, String> {
    match o.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
        Some(Value::Number(n)) if n.is_u64() || n.is_i64() => Ok(Some(n.to_string())),
        Some(Value::Number(n)) => Err(format!(
            "{n} is a number that cannot be an exact id (send it as a string)"
        )),
        Some(other) => Err(format!(
            "expected a string, got {}",
            crate::fields::json_type(other)
        )),
    }
}

fn sub_images(o: &Map<String, Value>) -> Vec<&Map<String, Value>> {
    let list = o
        .get("SubImageList")
        .and_then(Value::as_object)
        .and_then(|l| l.get("SubImageInfoObject"));
    match list {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_object).collect(),
        Some(Value::Object(one)) => vec![one],
        _ => Vec::new(),
    }
}

/// Builds the contract object field by field; a field that cannot be read
/// becomes a problem named with the GA/T 1400 path.
struct Mapper<'a> {
    src: &'a Map<String, Value>,
    prefix: String,
    out: Map<String, Value>,
    problems: Vec<FieldProblem>,
}

impl<'a> Mapper<'a> {
    fn new(src: &'a Map<String, Value>, prefix: String, ty: &str) -> Self {
        let mut out = Map::new();
        out.insert("type".into(), json!(ty));
        Self {
            src,
            prefix,
            out,
            problems: Vec::new(),
        }
    }

    fn read(&mut self, name: &str) -> Option<String> {
        match text(self.src, name) {
            Ok(v) => v,
            Err(why) => {
                self.problems
                    .push(FieldProblem::new(format!("{}.{name}", self.prefix), why));
                None
            }
        }
    }

    fn map(&mut self, name: &str, to: &str) -> Option<String> {
        let v = self.read(name);
        if let Some(v) = &v {
            self.out.insert(to.into(), json!(v));
        }
        v
    }

    /// `time` from the object's own time field, else the first sub-image's
    /// `ShotTime`; `image_url` from the first sub-image's `StoragePath`.
    fn time_and_image(&mut self, time_field: &str, subs: &[&Map<String, Value>]) {
        let time = self
            .read(time_field)
            .or_else(|| subs.iter().find_map(|s| text(s, "ShotTime").ok().flatten()));
        if let Some(t) = time {
            self.out.insert("time".into(), json!(t));
        }
        if let Some(url) = subs
            .iter()
            .find_map(|s| text(s, "StoragePath").ok().flatten())
        {
            self.out.insert("image_url".into(), json!(url));
        }
    }

    /// The mapped record; problems of the contract's validation are renamed
    /// to the GA/T 1400 fields they came from.
    fn finish(
        mut self,
        cfg: &ParseConfig,
        names: &[(&str, &str)],
    ) -> Result<model::Record, Vec<FieldProblem>> {
        let r = parse_object_with(&self.out, cfg, true);
        match r {
            Ok(rec) if self.problems.is_empty() => Ok(rec),
            Ok(_) => Err(self.problems),
            Err(ps) => {
                for mut p in ps {
                    let src = names
                        .iter()
                        .find(|(_, to)| *to == p.field)
                        .map_or(p.field.as_str(), |(from, _)| from);
                    p.field = format!("{}.{src}", self.prefix);
                    // a field that could not be read is not also missing
                    if !self.problems.iter().any(|q| q.field == p.field) {
                        self.problems.push(p);
                    }
                }
                Err(self.problems)
            }
        }
    }
}

/// `POST /VIID/Faces`: each `FaceObject` as a `face_capture`.
pub fn parse_faces(body: &[u8], cfg: &ParseConfig) -> Result<Vec<ViidObject>, ViidError> {
    let body = parse_body(body)?;
    let objs = objects(&body, "FaceListObject", "FaceObject")?;
    Ok(objs
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let mut m = Mapper::new(o, format!("FaceObject[{i}]"), "face_capture");
            let id = m.map("FaceID", "id").unwrap_or_default();
            m.map("DeviceID", "device");
            let subs = sub_images(o);
            m.time_and_image("FaceAppearTime", &subs);
            let feature = subs.iter().find_map(|s| {
                s.get("FeatureInfoObject")
                    .and_then(Value::as_object)
                    .and_then(|f| text(f, "FeatureData").ok().flatten())
            });
            if let Some(f) = feature {
                m.out.insert("feature".into(), json!(f));
            }
            let record = m.finish(
                cfg,
                &[
                    ("FaceID", "id"),
                    ("DeviceID", "device"),
                    ("FaceAppearTime", "time"),
                    (
                        "SubImageList.SubImageInfoObject.FeatureInfoObject.FeatureData",
                        "feature",
                    ),
                ],
            );
            ViidObject { id, record }
        })
        .collect())
}

/// `POST /VIID/MotorVehicles`: each `MotorVehicleObject` as a `vehicle_pass`.
pub fn parse_motor_vehicles(body: &[u8], cfg: &ParseConfig) -> Result<Vec<ViidObject>, ViidError> {
    let body = parse_body(body)?;
    let objs = objects(&body, "MotorVehicleListObject", "MotorVehicleObject")?;
    Ok(objs
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let mut m = Mapper::new(o, format!("MotorVehicleObject[{i}]"), "vehicle_pass");
            let id = m.map("MotorVehicleID", "id").unwrap_or_default();
            m.map("DeviceID", "device");
            m.time_and_image("PassTime", &sub_images(o));
            // cameras write an unread plate in several ways
            let plate = m
                .read("PlateNo")
                .filter(|p| !matches!(p.as_str(), "无车牌" | "未识别" | "无牌" | "00000000" | "-"));
            m.out
                .insert("plate".into(), json!(plate.as_deref().unwrap_or("unknown")));
            m.map("PlateColor", "plate_color");
            let record = m.finish(
                cfg,
                &[
                    ("MotorVehicleID", "id"),
                    ("DeviceID", "device"),
                    ("PassTime", "time"),
                    ("PlateNo", "plate"),
                    ("PlateColor", "plate_color"),
                ],
            );
            ViidObject { id, record }
        })
        .collect())
}

/// `POST /VIID/System/Register` / `Keepalive`: the `DeviceID` of
/// `{"RegisterObject":{...}}` / `{"KeepaliveObject":{...}}`.
pub fn parse_device_object(body: &[u8], object: &str) -> Result<String, ViidError> {
    let body = parse_body(body)?;
    let o = body
        .get(object)
        .and_then(Value::as_object)
        .ok_or_else(|| ViidError::InvalidContent(format!("expected {{\"{object}\":{{...}}}}")))?;
    match text(o, "DeviceID") {
        Ok(Some(id)) => Ok(id),
        Ok(None) => Err(ViidError::InvalidContent(format!(
            "{object}.DeviceID: missing"
        ))),
        Err(why) => Err(ViidError::InvalidContent(format!(
            "{object}.DeviceID: {why}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use model::{EventBody, Record};

    fn cfg() -> ParseConfig {
        ParseConfig {
            face_dim: 4,
            ..ParseConfig::default()
        }
    }

    fn feature_b64(v: &[f32]) -> String {
        let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    #[test]
    fn a_camera_face_object_maps_to_a_face_capture() {
        let face_id = "3302000000119000000102020241122083015000010600001";
        let big = "A".repeat(400_000);
        let body = json!({"FaceListObject": {"FaceObject": [{
            "FaceID": face_id,
            "DeviceID": "33020000001190000001",
            "FaceAppearTime": "",
            "LeftTopX": null,
            "SubImageList": {"SubImageInfoObject": [{
                "ShotTime": "20261122083015",
                "Data": big,
                "StoragePath": "http://cam/img/1.jpg",
                "FeatureInfoObject": {"FeatureData": feature_b64(&[0.5, 0.5, 0.5, 0.5])}
            }]}
        }]}});
        let out = parse_faces(body.to_string().as_bytes(), &cfg()).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].id, face_id);
        let Ok(Record::Event(ev)) = &out[0].record else {
            panic!("{:?}", out[0].record)
        };
        assert_eq!(ev.device.as_str(), "33020000001190000001");
        let EventBody::FaceCapture {
            feature, image_url, ..
        } = &ev.body
        else {
            panic!()
        };
        assert!(feature.is_some());
        assert_eq!(image_url.as_deref(), Some("http://cam/img/1.jpg"));
    }

    #[test]
    fn a_face_without_feature_is_a_sighting_and_bad_fields_are_named() {
        let body = json!({"FaceListObject": {"FaceObject": [
            {"FaceID": "F1", "DeviceID": 3302000000119000000u64, "FaceAppearTime": "20261122083015"},
            {"FaceID": "F2", "DeviceID": 33020000001190000001.0, "FaceAppearTime": "yesterday"}
        ]}});
        let out = parse_faces(body.to_string().as_bytes(), &cfg()).unwrap();
        let Ok(Record::Event(ev)) = &out[0].record else {
            panic!("{:?}", out[0].record)
        };
        assert!(matches!(
            ev.body,
            EventBody::FaceCapture { feature: None, .. }
        ));
        let problems = out[1].record.as_ref().unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            ["FaceObject[1].DeviceID", "FaceObject[1].FaceAppearTime"]
        );
    }

    #[test]
    fn motor_vehicles_map_plates_and_unread_plates() {
        let body = json!({"MotorVehicleListObject": {"MotorVehicleObject": [
            {"MotorVehicleID": "V1", "DeviceID": "D1", "PassTime": "20261122083015", "PlateNo": "浙B·12345", "PlateColor": "2"},
            {"MotorVehicleID": "V2", "DeviceID": "D1", "PassTime": "20261122083016", "PlateNo": "无车牌"}
        ]}});
        let out = parse_motor_vehicles(body.to_string().as_bytes(), &cfg()).unwrap();
        let plates: Vec<Option<String>> = out
            .iter()
            .map(|o| match &o.record {
                Ok(Record::Event(e)) => match &e.body {
                    EventBody::VehiclePass { plate, .. } => {
                        plate.as_ref().map(|p| p.as_str().to_owned())
                    }
                    _ => panic!(),
                },
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(plates, [Some("浙B12345".to_owned()), None]);
    }

    #[test]
    fn whole_request_errors_have_their_status_codes() {
        assert_eq!(
            parse_faces(b"{not json", &cfg()).unwrap_err().status_code(),
            "7"
        );
        assert_eq!(
            parse_faces(b"{\"Other\":1}", &cfg())
                .unwrap_err()
                .status_code(),
            "8"
        );
        assert_eq!(
            parse_faces(&[0xff, 0xfe, 0x00], &cfg())
                .unwrap_err()
                .status_code(),
            "7"
        );
        assert_eq!(
            parse_device_object(
                b"{\"RegisterObject\":{\"DeviceID\":\"D1\"}}",
                "RegisterObject"
            )
            .unwrap(),
            "D1"
        );
    }
}
