//! Fuzzing the parsers (property tests): the JSON Lines parser, the CSV base
//! files and the GA/T 1400 mapper take arbitrary bytes, and valid records
//! mutated byte by byte, token by token and type by type, and must answer —
//! a record or problems naming fields — never panic, never hang.
//!
//! The default run is short (`ANJU_FUZZ_CASES`, default 256 per target);
//! the long one: `ANJU_FUZZ_CASES=200000 cargo nextest run -p ingest fuzz`.

use ingest::gat1400;
use ingest::{ParseConfig, fuzzing, parse_line};
use proptest::prelude::*;
use serde_json::{Value, json};

fn cases() -> u32 {
    std::env::var("ANJU_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(256)
}

fn cfg() -> ParseConfig {
    fuzzing::parse_config()
}

/// One valid line of every record type (the seeds the mutations start from).
fn corpus() -> Vec<Value> {
    let id = "320902198001011231";
    let dev = "32090200001310000012";
    let t = "2026-11-20T07:31:05+08:00";
    vec![
        json!({"type":"region","code":"320902","name":"亭湖区","level":"district","parent":"320900"}),
        json!({"type":"community","id":"C0001","name":"万户新村","region":"320902001003","center":[120.163,33.382],"boundary":[[120.1,33.3],[120.2,33.3],[120.2,33.4]],"kind":"open"}),
        json!({"type":"house","id":"C0001-12-2-301","community":"C0001","building":"12","unit":"2","room":"301","use":"rent","area_m2":58}),
        json!({"type":"person","id":id,"id_number":id,"name":"张伟","gender":"M","birth_date":"1980-01-01","phone":"13800000000","household":"local","categories":["elderly_alone"],"face":[0.5,0.5,0.5,0.5]}),
        json!({"type":"residence","person":id,"house":"C0001-12-2-301","role":"tenant","since":"2025-01-01"}),
        json!({"type":"vehicle","plate":"苏J12345","kind":"ebike","owner":id,"community":"C0001","rfid":"E2001"}),
        json!({"type":"card","card_no":"A1","person":id,"kind":"ic"}),
        json!({"type":"kin","a":id,"b":"320902198001011258","relation":"spouse"}),
        json!({"type":"device","id":dev,"kind":"unit_door","community":"C0001","building":"12","unit":"2","location":[120.1631,33.3822],"direction":"both"}),
        json!({"type":"face_capture","id":"f1","device":dev,"time":t,"feature":[0.1,0.2,0.3,0.4],"score":0.9}),
        json!({"type":"access","id":"a1","device":dev,"time":t,"method":"face","person":id,"direction":"out","result":"granted"}),
        json!({"type":"vehicle_pass","id":"v1","device":dev,"time":t,"plate":"苏J12345","direction":"in","occupant_features":[[0.1,0.2,0.3,0.4]]}),
        json!({"type":"visitor","id":"vi1","device":dev,"time":t,"host_house":"C0001-12-2-301","visitor":{"name":"李四","id_number":id,"phone":"13800000001","plate":"苏J12346","feature":[0.1,0.2,0.3,0.4]}}),
        json!({"type":"probe","id":"p1","device":dev,"time":t,"mac":"AA:BB:CC:DD:EE:FF","rssi":-70}),
        json!({"type":"rfid","id":"r1","device":dev,"time":t,"tag":"E2001","card_no":"A1","direction":"in"}),
        json!({"type":"door_sensor","id":"d1","device":dev,"time":t,"state":"open"}),
        json!({"type":"device_alarm","id":"al1","device":dev,"time":t,"kind":"smoke","level":"high"}),
    ]
}

/// Values of every JSON type, and the awkward ones: 20-digit numbers, huge
/// and negative numbers, non-finite-looking strings, deep nesting, GBK-ish
/// bytes in strings, empty things.
fn odd_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        Just(serde_json::from_str::<Value>("32090200001310000012").unwrap()),
        Just(json!(1e308)),
        Just(json!("")),
        Just(json!("NaN")),
        Just(json!("2099-01-01T00:00:00+08:00")),
        Just(json!("1970-01-01")),
        ".{0,40}".prop_map(Value::String),
        Just(json!([])),
        Just(json!({})),
        Just(json!([[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]])),
        prop::collection::vec(any::<f32>().prop_map(|f| json!(f)), 0..6).prop_map(Value::Array),
    ]
}

/// A valid record with one field replaced by an odd value, removed, or a
/// field added.
fn mutated_record() -> impl Strategy<Value = String> {
    (
        0..corpus().len(),
        any::<prop::sample::Index>(),
        odd_value(),
        0u8..3,
    )
        .prop_map(|(i, field, v, how)| {
            let mut r = corpus()[i].clone();
            let o = r.as_object_mut().unwrap();
            let keys: Vec<String> = o.keys().cloned().collect();
            let k = keys[field.index(keys.len())].clone();
            match how {
                0 => {
                    o.insert(k, v);
                }
                1 => {
                    o.remove(&k);
                }
                _ => {
                    o.insert("extra".into(), v);
                }
            }
            r.to_string()
        })
}

/// A valid line with bytes flipped, cut or spliced.
fn mangled_line() -> impl Strategy<Value = Vec<u8>> {
    (
        0..corpus().len(),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6),
    )
        .prop_map(|(i, edits)| {
            let mut b = corpus()[i].to_string().into_bytes();
            for (at, byte, how) in edits {
                if b.is_empty() {
                    break;
                }
                let p = at.index(b.len());
                match how {
                    0 => b[p] = byte,
                    1 => {
                        b.truncate(p);
                    }
                    _ => b.insert(p, byte),
                }
            }
            b
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn fuzz_json_lines_arbitrary_text(s in "\\PC{0,300}") {
        let r = fuzzing::jsonl(s.as_bytes());
        prop_assert!(r.is_ok(), "{r:?}");
    }

    #[test]
    fn fuzz_json_lines_mutated_records(line in mutated_record()) {
        let r = fuzzing::jsonl(line.as_bytes());
        prop_assert!(r.is_ok(), "{r:?}");
    }

    #[test]
    fn fuzz_json_lines_mangled_bytes(b in mangled_line()) {
        // the HTTP intake refuses non-UTF-8 bodies before parsing; lossy
        // text is what a lenient reader would hand the parser
        let r = fuzzing::jsonl(String::from_utf8_lossy(&b).as_bytes());
        prop_assert!(r.is_ok(), "{r:?}");
    }

    #[test]
    fn fuzz_csv_base_files(ty in 0..fuzzing::CSV_TYPES.len() as u8,
                           body in "[a-z0-9_,;\"\\.\\-: \\n张苏]{0,400}") {
        // a record or problems naming fields, per row
        let r = fuzzing::csv(&[&[ty], body.as_bytes()].concat());
        prop_assert!(r.is_ok(), "{r:?}");
    }

    #[test]
    fn fuzz_gat1400_arbitrary_bytes(b in prop::collection::vec(any::<u8>(), 0..400)) {
        for list in 0..4u8 {
            let r = fuzzing::viid(&[&[list], b.as_slice()].concat());
            prop_assert!(r.is_ok(), "{r:?}");
        }
    }

    #[test]
    fn fuzz_gat1400_mutated_objects(field in prop::sample::select(vec!["FaceID", "DeviceID", "FaceAppearTime", "SubImageList", "LeftTopX", "MotorVehicleID", "PassTime", "PlateNo", "PlateColor"]),
                                    v in odd_value()) {
        let dev = "32090200001310000012";
        let mut face = json!({"FaceID": format!("{dev}02{}", "0".repeat(26)), "DeviceID": dev, "FaceAppearTime": "20261008083000",
            "SubImageList": {"SubImageInfoObject": [{"Type": "11", "FeatureInfoObject": {"FeatureData": "AACAPwAAgD8AAIA/AACAPw=="}}]}});
        let mut mv = json!({"MotorVehicleID": "mv-1", "DeviceID": dev, "PassTime": "20261008083100", "PlateNo": "浙A00001", "PlateColor": "2"});
        face[field] = v.clone();
        mv[field] = v;
        let f = json!({"FaceListObject": {"FaceObject": [face]}}).to_string();
        let m = json!({"MotorVehicleListObject": {"MotorVehicleObject": [mv]}}).to_string();
        if let Ok(objs) = gat1400::parse_faces(f.as_bytes(), &cfg()) {
            for o in objs {
                if let Err(problems) = o.record {
                    prop_assert!(problems.iter().all(|p| p.field.starts_with("FaceObject[")), "{problems:?}");
                }
            }
        }
        let _ = gat1400::parse_motor_vehicles(m.as_bytes(), &cfg());
    }
}

#[test]
fn the_corpus_is_valid() {
    for r in corpus() {
        let line = r.to_string();
        assert!(
            matches!(parse_line(&line, &cfg()), Ok(Some(_))),
            "{line}: {:?}",
            parse_line(&line, &cfg())
        );
    }
}
