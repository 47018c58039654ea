//! Parser tests: good and bad records of every type of the contract.

mod fuzz;

use base64::Engine;
use ingest::{ParseConfig, parse_line};
use model::{BaseRecord, EventBody, Record, Timestamp};

fn cfg() -> ParseConfig {
    ParseConfig {
        face_dim: 4,
        not_after: Some(Timestamp(1_900_000_000_000)),
        ..ParseConfig::default()
    }
}

/// Parses a line that must be accepted.
fn ok(line: &str) -> Record {
    match parse_line(line, &cfg()) {
        Ok(Some(r)) => r,
        Ok(None) => panic!("blank: {line}"),
        Err(p) => panic!("rejected {line}: {p:?}"),
    }
}

/// Parses a line that must be rejected with exactly these `field: why`
/// problems (each `why` matched as a substring).
fn bad(line: &str, expect: &[(&str, &str)]) {
    let problems = match parse_line(line, &cfg()) {
        Ok(r) => panic!("accepted {line}: {r:?}"),
        Err(p) => p,
    };
    let got: Vec<(String, String)> = problems
        .iter()
        .map(|p| (p.field.clone(), p.why.clone()))
        .collect();
    assert_eq!(got.len(), expect.len(), "problems of {line}: {got:?}");
    for ((field, why), (ef, ew)) in got.iter().zip(expect) {
        assert_eq!(field, ef, "{line}: {got:?}");
        assert!(why.contains(ew), "{line}: {field}: {why:?} lacks {ew:?}");
    }
}

const ID: &str = "320902198001011231";

fn b64(v: &[f32]) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>())
}

#[test]
fn identity_number_fixture_is_valid() {
    // the constant above must carry a valid check digit for the tests to mean anything
    model::IdNumber::new(ID).unwrap();
}

#[test]
fn base_records_of_every_type() {
    ok(r#"{"type":"region","code":"320902","name":"亭湖区","level":"district","parent":"320900"}"#);
    let Record::Base(BaseRecord::Community(c)) = ok(
        r#"{"type":"community","id":"C0001","name":"万户新村","region":"320902001003","center":[120.163,33.382],"boundary":[[120.16,33.38],[120.17,33.38],[120.17,33.39]],"kind":"open","extra":1}"#,
    ) else {
        panic!()
    };
    assert_eq!(c.boundary.unwrap().len(), 4, "an open ring is closed");
    ok(
        r#"{"type":"house","id":"C0001-12-2-301","community":"C0001","building":"12","unit":2,"room":"301","use":"rent","area_m2":58}"#,
    );
    let Record::Base(BaseRecord::Person(p)) = ok(&format!(
        r#"{{"type":"person","id":"{ID}","id_number":"{ID}","name":"张伟","gender":"M","birth_date":"1980-01-01","phone":"13800000000","household":"local","categories":["elderly_alone"],"face":[0.1,0.2,0.3,0.4]}}"#
    )) else {
        panic!()
    };
    assert_eq!(p.face.unwrap().dim(), 4);
    ok(&format!(
        r#"{{"type":"residence","person":"{ID}","house":"C0001-12-2-301","role":"tenant","since":"2025-03-01"}}"#
    ));
    let Record::Base(BaseRecord::Vehicle(v)) =
        ok(r#"{"type":"vehicle","plate":"苏j·12345","kind":"car","owner":"p1","rfid":"E2001"}"#)
    else {
        panic!()
    };
    assert_eq!(v.plate.as_str(), "苏J12345");
    ok(r#"{"type":"card","card_no":"IC0001","person":"p1","kind":"ic"}"#);
    ok(r#"{"type":"kin","a":"p1","b":"p2","relation":"spouse"}"#);
    ok(
        r#"{"type":"device","id":"32090200001310000012","kind":"unit_door","community":"C0001","building":"12","unit":"2","location":[120.1631,33.3822],"direction":"both"}"#,
    );
}

#[test]
fn events_of_every_type() {
    let f = b64(&[0.5, 0.5, 0.5, 0.5]);
    let Record::Event(e) = ok(&format!(
        r#"{{"type":"face_capture","id":"f1","device":"D1","time":"2026-11-20T07:31:05+08:00","feature":"{f}","person":"p1","score":0.93}}"#
    )) else {
        panic!()
    };
    let EventBody::FaceCapture { feature, .. } = e.body else {
        panic!()
    };
    assert_eq!(feature.unwrap().as_slice(), &[0.5; 4]);
    ok(
        r#"{"type":"access","id":"a1","device":"D1","time":"2026-11-20T07:31:05Z","method":"card","card_no":"IC1","direction":"out","result":"granted"}"#,
    );
    let Record::Event(e) = ok(&format!(
        r#"{{"type":"vehicle_pass","id":"v1","device":"D2","time":"2026-11-20T23:58:40+08:00","plate":"unknown","occupant_features":[[1,0,0,0],"{f}"]}}"#
    )) else {
        panic!()
    };
    let EventBody::VehiclePass {
        plate,
        occupant_features,
        ..
    } = e.body
    else {
        panic!()
    };
    assert_eq!(plate, None);
    assert_eq!(occupant_features.len(), 2);
    ok(
        r#"{"type":"visitor","id":"vi1","device":"T1","time":"2026-11-20T10:00:00+08:00","host_house":"H1","visitor":{"name":"李四","phone":"13900000000","plate":"苏J 54321","feature":[0,0,0,1]},"purpose":"探亲"}"#,
    );
    let Record::Event(e) = ok(
        r#"{"type":"probe","id":"p1","device":"W1","time":"2026-11-20T10:00:00+08:00","mac":"aa:bb:cc:dd:ee:ff","rssi":-60}"#,
    ) else {
        panic!()
    };
    let EventBody::Probe { mac, .. } = e.body else {
        panic!()
    };
    assert_eq!(mac.as_str(), "AA-BB-CC-DD-EE-FF");
    ok(
        r#"{"type":"rfid","id":"r1","device":"R1","time":"2026-11-20T10:00:00+08:00","tag":"E2001","card_no":"IC1"}"#,
    );
    ok(
        r#"{"type":"door_sensor","id":"s1","device":"S1","time":"2026-11-20T10:00:00+08:00","state":"open"}"#,
    );
    ok(
        r#"{"type":"device_alarm","id":"al1","device":"B1","time":"2026-11-20T10:00:00+08:00","kind":"throwing","level":2}"#,
    );
}

#[test]
fn times_without_offset_are_read_in_the_deployment_zone() {
    let t = |s: &str| match ok(&format!(
        r#"{{"type":"door_sensor","id":"s1","device":"S1","time":"{s}","state":"open"}}"#
    )) {
        Record::Event(e) => e.time,
        _ => panic!(),
    };
    let with_offset = t("2026-11-20T07:31:05+08:00");
    assert_eq!(t("2026-11-20T07:31:05"), with_offset);
    assert_eq!(t("20261120073105"), with_offset, "GA/T 1400 style");
    assert_eq!(t("2026-11-19T23:31:05Z"), with_offset);
    assert_eq!(t("2026-11-19T23:31:05.250Z").0, with_offset.0 + 250);
    let berlin = ParseConfig {
        clock: model::Clock::new(chrono_tz_berlin()),
        ..cfg()
    };
    let line = r#"{"type":"door_sensor","id":"s1","device":"S1","time":"2026-11-20T07:31:05","state":"open"}"#;
    let Ok(Some(Record::Event(e))) = parse_line(line, &berlin) else {
        panic!()
    };
    assert_eq!(
        e.time.0 - with_offset.0,
        7 * 3_600_000,
        "Berlin is 7 h behind Shanghai in November"
    );
}

fn chrono_tz_berlin() -> chrono_tz::Tz {
    chrono_tz::Europe::Berlin
}

#[test]
fn every_problem_of_a_record_is_reported() {
    bad(
        r#"{"type":"access","id":"","device":32090200001310000012,"time":"yesterday","method":"teleport","direction":"up"}"#,
        &[
            ("id", "must not be empty"),
            ("device", "expected a string, got number"),
            ("time", "not an RFC 3339 time"),
            ("method", "unknown value \"teleport\""),
            ("direction", "unknown value \"up\""),
        ],
    );
}

#[test]
fn missing_fields_and_unknown_types() {
    bad(
        r#"{"type":"face_capture","id":"f1","device":"D1","time":"2026-11-20T07:31:05+08:00"}"#,
        &[("feature", "required field is missing")],
    );
    bad(
        r#"{"type":"vehicle_pass","id":"v1","time":"2026-11-20T07:31:05+08:00"}"#,
        &[("device", "missing"), ("plate", "missing")],
    );
    bad(
        r#"{"type":"teleport","id":"x"}"#,
        &[("type", "unknown type \"teleport\"")],
    );
    bad(r#"{"id":"x"}"#, &[("type", "missing")]);
    bad(r#"{"type":"person"}"#, &[("id", "missing")]);
    bad(
        r#"{"type":"residence","person":"p1"}"#,
        &[("house", "missing"), ("role", "missing")],
    );
    bad("[1,2]", &[("-", "expected a JSON object")]);
    bad(r#"{"type":"access","#, &[("-", "not valid JSON")]);
    assert!(
        matches!(parse_line("   \r", &cfg()), Ok(None)),
        "blank lines are ignored"
    );
}

#[test]
fn features_are_checked_in_both_encodings() {
    let line = |f: &str| {
        format!(
            r#"{{"type":"face_capture","id":"f1","device":"D1","time":"2026-11-20T07:31:05+08:00","feature":{f}}}"#
        )
    };
    bad(&line("[1,2,3]"), &[("feature", "dimension 3 (expected 4)")]);
    bad(
        &line(&format!("\"{}\"", b64(&[1.0; 5]))),
        &[("feature", "dimension 5 (expected 4)")],
    );
    bad(&line("\"%%%\""), &[("feature", "not valid base64")]);
    bad(
        &line("\"AAAAAAA=\""),
        &[("feature", "not a whole number of f32")],
    );
    bad(
        &line("[1,\"2\",3,4]"),
        &[("feature", "component 1: expected a number, got string")],
    );
    bad(
        &line("{}"),
        &[("feature", "expected an array of numbers or a base64 string")],
    );
    bad(
        &line(&format!("\"{}\"", b64(&[1.0, f32::NAN, 0.0, 0.0]))),
        &[("feature", "not a finite number")],
    );
    bad(
        r#"{"type":"vehicle_pass","id":"v1","device":"D","time":"2026-11-20T07:31:05+08:00","plate":"苏J12345","occupant_features":[[1,2,3,4],[1]]}"#,
        &[("occupant_features", "[1]: invalid feature: dimension 1")],
    );
    bad(
        r#"{"type":"visitor","id":"v1","device":"D","time":"2026-11-20T07:31:05+08:00","host_house":"H","visitor":{"feature":[1]}}"#,
        &[("visitor.feature", "dimension 1")],
    );
}

#[test]
fn wrong_types_of_optional_fields_are_errors() {
    bad(
        r#"{"type":"house","id":"H","community":"C","building":"1","unit":"1","room":"1","area_m2":"58"}"#,
        &[("area_m2", "expected a number, got string")],
    );
    bad(
        &format!(r#"{{"type":"person","id":"{ID}","categories":"elderly_alone"}}"#),
        &[("categories", "expected a list of strings")],
    );
    bad(
        &format!(r#"{{"type":"person","id":"{ID}","id_number":"320902198001011235"}}"#),
        &[("id_number", "check digit")],
    );
    bad(
        &format!(r#"{{"type":"person","id":"{ID}","id_number":"{ID}","birth_date":"1981-01-01"}}"#),
        &[("birth_date", "differs")],
    );
    bad(
        r#"{"type":"community","id":"C","name":"n","region":"32x","center":[200,33]}"#,
        &[
            ("region", "must be digits"),
            ("center", "outside -180..180"),
        ],
    );
    bad(
        r#"{"type":"region","code":"320902","name":"亭湖区","level":"district","parent":"330100"}"#,
        &[("parent", "does not contain")],
    );
    bad(
        r#"{"type":"kin","a":"p1","b":"p1","relation":"spouse"}"#,
        &[("b", "own kin")],
    );
    bad(
        r#"{"type":"residence","person":"p","house":"h","role":"owner","since":"2026-01-02","until":"2026-01-01"}"#,
        &[("until", "before since")],
    );
    bad(
        r#"{"type":"probe","id":"p","device":"W","time":"2026-11-20T07:31:05+08:00","mac":"nope","rssi":"-60"}"#,
        &[
            ("mac", "not a MAC"),
            ("rssi", "expected an integer, got string"),
        ],
    );
    bad(
        r#"{"type":"door_sensor","id":"s","device":"S","time":"2040-01-01T00:00:00+08:00","state":"ajar"}"#,
        &[("time", "in the future"), ("state", "unknown value")],
    );
}

#[test]
fn csv_base_files_share_the_validator() {
    let csv = format!(
        "id,id_number,name,categories,phone\n{ID},{ID},张伟,elderly_alone;key_drug,13800000000\nP2,bad,李四,,12\n"
    );
    let mut out = Vec::new();
    ingest::parse_csv(csv.as_bytes(), "person", &cfg(), |line, r| {
        out.push((line, r))
    });
    let Ok(Record::Base(BaseRecord::Person(p))) = &out[0].1 else {
        panic!("{:?}", out[0])
    };
    assert_eq!(p.categories, ["elderly_alone", "key_drug"]);
    let (3, Err(problems)) = &out[1] else {
        panic!("{:?}", out[1])
    };
    let fields: Vec<_> = problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["id_number", "phone"]);
}
