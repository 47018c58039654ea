//! The projections held to `shared/DESIGN.md`'s rules, case by case: each
//! relation's rule at and around its thresholds, with decoys that must not
//! link; attribution (ids, cards, tags, faces) including data that arrives
//! late; merges; timelines and trajectories; and a rebuild that gives the
//! same result as the incremental projection.

use chrono::NaiveDate;
use graph::project::{Capture, FaceMatcher, GraphTarget, Projection, RelationParams};
use graph::timeline::{self, Area, TrajectoryParams};
use graph::{EdgeFilter, EdgeKey, RelationStore, RocksGraph, RocksStore, derived_digest};
use model::*;

const DIM: usize = 2;

/// Recognises faces by their first component: 1 → person A, 2 → person B,
/// 9 → stranger archive S1.
#[derive(Debug, Default)]
struct ByFirstComponent;

impl FaceMatcher for ByFirstComponent {
    fn register(&self, _: &PersonId, _: &Feature, _: Option<&CommunityId>) {}
    fn identify(&self, f: &Feature, _: &Capture<'_>, strangers: bool) -> Option<NodeRef> {
        match f.as_slice()[0] as i32 {
            1 => Some(person("A")),
            2 => Some(person("B")),
            9 if strangers => Some(NodeRef::Stranger(ArchiveId::new("S1").unwrap())),
            _ => None,
        }
    }
}

fn face(x: f32) -> Feature {
    Feature::new(vec![x, 0.5], DIM).unwrap()
}

struct World {
    _dir: tempfile::TempDir,
    store: RocksStore,
    clock: Clock,
    now: Timestamp,
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::open(dir.path());
        Self {
            _dir: dir,
            store,
            clock: Clock::default(),
            now: Timestamp(at(400, "12:00:00").0),
        }
    }

    fn projection(&self) -> Projection<'_> {
        static MATCHER: ByFirstComponent = ByFirstComponent;
        Projection::new(
            &self.store,
            GraphTarget::Embedded,
            RelationParams::default(),
            self.clock,
            &MATCHER,
            self.now,
        )
    }

    /// Writes records and projects them.
    fn feed(&mut self, records: Vec<Record>) {
        self.store.write(&records).unwrap();
        self.projection().catch_up(|_| {}).unwrap();
    }

    fn graph(&self) -> RocksGraph {
        RocksGraph::new(&self.store)
    }

    fn edge(&self, kind: RelKind, a: NodeRef, b: NodeRef, ctx: &str) -> Option<graph::Edge> {
        self.graph().edge(&EdgeKey::new(kind, a, b, ctx)).unwrap()
    }

    fn kinds_between(&self, a: &NodeRef, b: &NodeRef) -> Vec<String> {
        let mut k: Vec<String> = self
            .graph()
            .expand(std::slice::from_ref(a), &EdgeFilter::default())
            .unwrap()
            .into_iter()
            .filter(|e| e.key.other(a) == Some(b))
            .map(|e| e.key.kind.as_str().to_owned())
            .collect();
        k.sort();
        k
    }

    fn digest(&self) -> String {
        derived_digest(&self.store, &self.graph()).unwrap()
    }

    /// Rebuilding from the store of record gives what incremental projection gave.
    fn assert_rebuild_is_identical(&self) {
        let before = self.digest();
        self.projection().rebuild(|_| {}).unwrap();
        assert_eq!(
            before,
            self.digest(),
            "rebuild differs from the incremental projection"
        );
    }
}

fn person(id: &str) -> NodeRef {
    NodeRef::Person(PersonId::new(id).unwrap())
}

fn house(id: &str) -> NodeRef {
    NodeRef::House(HouseId::new(id).unwrap())
}

fn vehicle(plate: &str) -> NodeRef {
    NodeRef::Vehicle(Plate::new(plate).unwrap())
}

/// Local time on day `d` after 2026-10-01 (Asia/Shanghai).
fn at(d: i64, hms: &str) -> Timestamp {
    let date = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap() + chrono::Duration::days(d);
    let t = chrono::NaiveTime::parse_from_str(hms, "%H:%M:%S").unwrap();
    Clock::default().from_local(date.and_time(t)).unwrap()
}

fn plus(t: Timestamp, secs: i64) -> Timestamp {
    Timestamp(t.0 + secs * 1000)
}

fn base_person(id: &str, name: &str, phone: Option<&str>) -> Record {
    Record::Base(BaseRecord::Person(Person {
        id: PersonId::new(id).unwrap(),
        id_number: None,
        name: Some(name.into()),
        gender: None,
        birth_date: None,
        phone: phone.map(Into::into),
        ethnicity: None,
        household: None,
        categories: vec![],
        face: None,
        photo_url: None,
    }))
}

fn base_house(id: &str, building: &str, unit: &str, usage: HouseUse) -> Record {
    Record::Base(BaseRecord::House(House {
        id: HouseId::new(id).unwrap(),
        community: CommunityId::new("C1").unwrap(),
        building: building.into(),
        unit: unit.into(),
        room: "101".into(),
        address: None,
        area_m2: None,
        usage: Some(usage),
        floor: None,
    }))
}

fn residence(p: &str, h: &str, role: ResidenceRole, since: i64, until: Option<i64>) -> Record {
    Record::Base(BaseRecord::Residence(Residence {
        person: PersonId::new(p).unwrap(),
        house: HouseId::new(h).unwrap(),
        role,
        since: Some(at(since, "00:00:00")),
        until: until.map(|u| at(u, "00:00:00")),
    }))
}

fn base_device(
    id: &str,
    kind: DeviceKind,
    unit: Option<(&str, &str)>,
    loc: (f64, f64),
    community: &str,
) -> Record {
    Record::Base(BaseRecord::Device(Device {
        id: DeviceId::new(id).unwrap(),
        kind,
        community: CommunityId::new(community).unwrap(),
        name: None,
        location: Some(LonLat {
            lon: loc.0,
            lat: loc.1,
        }),
        building: unit.map(|u| u.0.to_owned()),
        unit: unit.map(|u| u.1.to_owned()),
        house: None,
        direction: None,
    }))
}

fn ev(id: &str, dev: &str, t: Timestamp, body: EventBody) -> Record {
    Record::Event(Event {
        id: EventId::new(id).unwrap(),
        device: DeviceId::new(dev).unwrap(),
        time: t,
        body,
    })
}

fn access(
    id: &str,
    dev: &str,
    t: Timestamp,
    who: Option<&str>,
    card: Option<&str>,
    dir: Direction,
) -> Record {
    ev(
        id,
        dev,
        t,
        EventBody::Access {
            method: AccessMethod::Card,
            person: who.map(|p| PersonId::new(p).unwrap()),
            card_no: card.map(|c| CardNo::new(c).unwrap()),
            direction: Some(dir),
            result: Some(AccessResult::Granted),
            feature: None,
        },
    )
}

fn capture(id: &str, dev: &str, t: Timestamp, who: Option<&str>, feature: Option<f32>) -> Record {
    ev(
        id,
        dev,
        t,
        EventBody::FaceCapture {
            feature: feature.map(face),
            person: who.map(|p| PersonId::new(p).unwrap()),
            score: None,
            image_url: None,
            direction: Some(Direction::In),
        },
    )
}

fn vpass(id: &str, dev: &str, t: Timestamp, plate: &str, occupants: &[f32]) -> Record {
    ev(
        id,
        dev,
        t,
        EventBody::VehiclePass {
            plate: Some(Plate::new(plate).unwrap()),
            direction: Some(Direction::In),
            plate_color: None,
            vehicle_kind: None,
            image_url: None,
            occupant_features: occupants.iter().map(|x| face(*x)).collect(),
        },
    )
}

fn setting() -> Vec<Record> {
    vec![
        base_device("G1", DeviceKind::FaceGate, None, (120.10, 33.30), "C1"),
        base_device("G2", DeviceKind::FaceGate, None, (120.20, 33.40), "C2"),
        base_device(
            "U1",
            DeviceKind::UnitDoor,
            Some(("1", "1")),
            (120.1001, 33.3001),
            "C1",
        ),
        base_device(
            "V1",
            DeviceKind::VehicleGate,
            None,
            (120.1002, 33.3002),
            "C1",
        ),
    ]
}

#[test]
fn companions_need_the_same_device_within_30_s_on_3_days_in_30() {
    let mut w = World::new();
    w.feed(setting());
    let mut recs = Vec::new();
    let mut pair = |who: &str, other_dev: &str, lag: i64, days: &[i64]| {
        for d in days {
            let t = at(*d, "08:00:00");
            recs.push(capture(&format!("a-{who}-{d}"), "G1", t, Some("A"), None));
            recs.push(capture(
                &format!("{who}-{d}"),
                other_dev,
                plus(t, lag),
                Some(who),
                None,
            ));
        }
    };
    pair("B", "G1", 20, &[0, 3, 9]); // links
    pair("C", "G1", 20, &[1, 4]); // two days only
    pair("D", "G1", 31, &[10, 11, 12]); // 31 s apart
    pair("E", "G2", 5, &[13, 14, 15]); // another device
    pair("F", "G1", -30, &[20, 35, 50]); // 30 s before, but 3 days span 31 days
    w.feed(recs);
    let e = w
        .edge(RelKind::Companion, person("A"), person("B"), "")
        .expect("A and B are companions");
    assert_eq!(e.strength, 3);
    assert_eq!(e.n_evidence, 6);
    assert_eq!(e.first_seen, Some(at(0, "08:00:00")));
    assert_eq!(e.last_seen, Some(plus(at(9, "08:00:00"), 20)));
    assert!(e.evidence.contains(&"a-B-0".to_string()) && e.evidence.contains(&"B-9".to_string()));
    for decoy in ["C", "D", "E", "F"] {
        assert!(
            w.kinds_between(&person("A"), &person(decoy)).is_empty(),
            "A–{decoy}"
        );
    }
    // F's fourth day brings three within 30 days
    w.feed(vec![
        capture("a-F-40", "G1", at(40, "08:00:00"), Some("A"), None),
        capture("F-40", "G1", plus(at(40, "08:00:00"), 30), Some("F"), None),
    ]);
    assert_eq!(w.kinds_between(&person("A"), &person("F")), ["companion"]);
    w.assert_rebuild_is_identical();
}

#[test]
fn inferred_cohabitants_enter_one_unit_door_at_night_one_registered_there() {
    let mut w = World::new();
    let mut base = setting();
    base.extend([
        base_house("H1", "1", "1", HouseUse::SelfOccupied),
        base_house("H2", "1", "1", HouseUse::SelfOccupied),
        residence("R", "H1", ResidenceRole::Owner, -100, None),
        residence("N", "H2", ResidenceRole::Owner, -100, None),
    ]);
    w.feed(base);
    let mut recs = Vec::new();
    for d in 0..5 {
        recs.push(access(
            &format!("r{d}"),
            "U1",
            at(d, "22:30:00"),
            Some("R"),
            None,
            Direction::In,
        ));
        // the lodger comes in later the same night, after midnight on one of them
        let t = if d == 2 {
            at(d + 1, "01:15:00")
        } else {
            at(d, "23:40:00")
        };
        recs.push(access(
            &format!("l{d}"),
            "U1",
            t,
            Some("L"),
            None,
            Direction::In,
        ));
        // a registered neighbour: both registered, never inferred
        recs.push(access(
            &format!("n{d}"),
            "U1",
            at(d, "23:00:00"),
            Some("N"),
            None,
            Direction::In,
        ));
        // comes home by day only
        recs.push(access(
            &format!("day{d}"),
            "U1",
            at(d, "19:00:00"),
            Some("Y"),
            None,
            Direction::In,
        ));
        // leaves at night, never enters
        recs.push(access(
            &format!("out{d}"),
            "U1",
            at(d, "23:10:00"),
            Some("O"),
            None,
            Direction::Out,
        ));
    }
    for d in 0..4 {
        recs.push(access(
            &format!("f{d}"),
            "U1",
            at(d, "23:50:00"),
            Some("F"),
            None,
            Direction::In,
        ));
    }
    w.feed(recs);
    let e = w
        .edge(RelKind::CohabitantInferred, person("R"), person("L"), "")
        .expect("R and L");
    assert_eq!(e.strength, 5);
    assert_eq!(
        w.kinds_between(&person("N"), &person("L")),
        ["cohabitant_inferred"]
    );
    assert!(
        w.kinds_between(&person("R"), &person("N")).is_empty(),
        "both registered"
    );
    for decoy in ["Y", "O", "F"] {
        assert!(
            w.kinds_between(&person("R"), &person(decoy)).is_empty(),
            "R–{decoy}"
        );
    }
    // the resident's pass is on the house's timeline
    let page = timeline::timeline(
        &w.store,
        &house("H1"),
        at(0, "00:00:00"),
        at(9, "00:00:00"),
        100,
        false,
    )
    .unwrap();
    assert_eq!(
        page.items
            .iter()
            .map(|s| s.event.as_str())
            .collect::<Vec<_>>(),
        ["r0", "r1", "r2", "r3", "r4"]
    );
    w.assert_rebuild_is_identical();
}

#[test]
fn registrations_give_lives_in_cohabitants_and_tenancies_and_follow_updates() {
    let mut w = World::new();
    use ResidenceRole::*;
    w.feed(vec![
        base_house("H1", "1", "1", HouseUse::SelfOccupied),
        base_house("H2", "1", "2", HouseUse::Rent),
        residence("O", "H1", Owner, -3000, None),
        residence("F", "H1", Family, -100, None),
        residence("X", "H1", Family, -2000, Some(-1000)), // left before F came
        residence("L", "H2", Owner, -3000, None),         // landlord of a rented house
        residence("T1", "H2", Tenant, -50, None),
        residence("T2", "H2", Tenant, -40, None),
    ]);
    let h1 = house("H1");
    assert_eq!(w.kinds_between(&person("O"), &h1), ["lives_in"]);
    assert_eq!(w.kinds_between(&person("X"), &h1), ["lived_in"]);
    let of = w
        .edge(RelKind::Cohabitant, person("O"), person("F"), "H1")
        .unwrap();
    assert!(!of.historical);
    assert_eq!(of.evidence.len(), 2);
    let ox = w
        .edge(RelKind::Cohabitant, person("O"), person("X"), "H1")
        .unwrap();
    assert!(ox.historical);
    assert_eq!(
        (ox.first_seen, ox.last_seen),
        (Some(at(-2000, "00:00:00")), Some(at(-1000, "00:00:00")))
    );
    assert!(
        w.kinds_between(&person("F"), &person("X")).is_empty(),
        "never there together"
    );
    // a rented house: tenants live there and share it; the owner is their landlord
    assert_eq!(
        w.kinds_between(&person("T1"), &person("T2")),
        ["cohabitant"]
    );
    assert_eq!(w.kinds_between(&person("T1"), &person("L")), ["tenant_of"]);
    assert!(w.kinds_between(&person("L"), &house("H2")).is_empty());
    let landlord = w
        .graph()
        .neighbours(
            &person("L"),
            &EdgeFilter::kinds(&[RelKind::parse_lenient("landlord_of").unwrap()]),
            10,
        )
        .unwrap();
    assert_eq!(landlord.total, 2);
    assert!(landlord.items.iter().all(|n| !n.outgoing));

    // T2 moves out: the shared tenancy becomes history
    w.feed(vec![residence("T2", "H2", Tenant, -40, Some(-1))]);
    assert_eq!(w.kinds_between(&person("T2"), &house("H2")), ["lived_in"]);
    assert!(
        w.edge(RelKind::Cohabitant, person("T1"), person("T2"), "H2")
            .unwrap()
            .historical
    );
    assert!(
        w.edge(RelKind::TenantOf, person("T2"), person("L"), "H2")
            .unwrap()
            .historical
    );
    // the landlord moves in (self-occupied): now an occupant; back to rent: not
    w.feed(vec![base_house("H2", "1", "2", HouseUse::SelfOccupied)]);
    assert_eq!(
        w.kinds_between(&person("L"), &person("T1")),
        ["cohabitant", "tenant_of"]
    );
    assert_eq!(w.kinds_between(&person("L"), &house("H2")), ["lives_in"]);
    w.feed(vec![base_house("H2", "1", "2", HouseUse::Rent)]);
    assert_eq!(w.kinds_between(&person("L"), &person("T1")), ["tenant_of"]);
    assert!(w.kinds_between(&person("L"), &house("H2")).is_empty());
    w.assert_rebuild_is_identical();
}

#[test]
fn kin_ownership_driving_and_riding() {
    let mut w = World::new();
    let mut base = setting();
    base.extend([
        Record::Base(BaseRecord::Kin(Kin {
            a: PersonId::new("A").unwrap(),
            b: PersonId::new("B").unwrap(),
            relation: KinRelation::Spouse,
        })),
        Record::Base(BaseRecord::Vehicle(Vehicle {
            plate: Plate::new("苏J12345").unwrap(),
            color: None,
            brand: Some("比亚迪".into()),
            kind: Some(VehicleKind::Car),
            owner: Some(PersonId::new("A").unwrap()),
            community: None,
            rfid: None,
        })),
        Record::Base(BaseRecord::Card(Card {
            card_no: CardNo::new("K1").unwrap(),
            person: PersonId::new("B").unwrap(),
            kind: None,
        })),
    ]);
    w.feed(base);
    let kin = w
        .edge(RelKind::Kin, person("A"), person("B"), "spouse")
        .unwrap();
    assert_eq!(kin.detail, "spouse");
    assert_eq!(
        w.kinds_between(&person("A"), &vehicle("苏J12345")),
        ["owns"]
    );

    let mut recs = vec![
        // faces seen inside the car: the first drives, the others ride
        vpass("vp1", "V1", at(0, "08:00:00"), "苏J12345", &[1.0, 2.0, 5.0]),
    ];
    for d in 0..3 {
        let t = at(d, "18:00:00");
        recs.push(vpass(&format!("vp-c{d}"), "V1", t, "苏J12345", &[]));
        // C passes the same gate 8 s later on 3 days: drives by proximity
        recs.push(capture(&format!("c{d}"), "V1", plus(t, 8), Some("C"), None));
        // D is 12 s away: too far
        recs.push(capture(
            &format!("d{d}"),
            "V1",
            plus(t, -12),
            Some("D"),
            None,
        ));
    }
    // E within 5 s on two days only
    for d in 0..2 {
        recs.push(capture(
            &format!("e{d}"),
            "V1",
            plus(at(d, "18:00:00"), 5),
            Some("E"),
            None,
        ));
    }
    // an e-bike read by its tag before the bike is registered, with B's card
    recs.push(ev(
        "rf1",
        "G1",
        at(1, "07:00:00"),
        EventBody::Rfid {
            tag: RfidTag::new("T-77").unwrap(),
            card_no: Some(CardNo::new("K1").unwrap()),
            person: None,
            direction: Some(Direction::Out),
        },
    ));
    w.feed(recs);
    let car = vehicle("苏J12345");
    assert_eq!(w.kinds_between(&person("A"), &car), ["drives", "owns"]);
    assert_eq!(w.kinds_between(&person("B"), &car), ["rides"]);
    assert_eq!(
        w.edge(RelKind::Drives, person("C"), car.clone(), "")
            .unwrap()
            .strength,
        3
    );
    assert!(w.kinds_between(&person("D"), &car).is_empty());
    assert!(w.kinds_between(&person("E"), &car).is_empty());
    // the passenger with an unknown face is nobody: no edge, no timeline entry
    assert_eq!(
        w.graph()
            .neighbours(&car, &EdgeFilter::default(), 10)
            .unwrap()
            .total,
        4
    );
    // B rode, by card; the bike is not known yet
    let b_line = timeline::timeline(
        &w.store,
        &person("B"),
        Timestamp(0),
        at(9, "00:00:00"),
        10,
        false,
    )
    .unwrap();
    assert_eq!(
        b_line
            .items
            .iter()
            .map(|s| s.event.as_str())
            .collect::<Vec<_>>(),
        ["vp1", "rf1"]
    );

    // the e-bike arrives with its tag: the waiting read is projected again
    w.feed(vec![Record::Base(BaseRecord::Vehicle(Vehicle {
        plate: Plate::new("苏J0E77").unwrap(),
        color: None,
        brand: None,
        kind: Some(VehicleKind::Ebike),
        owner: Some(PersonId::new("A").unwrap()),
        community: None,
        rfid: Some(RfidTag::new("T-77").unwrap()),
    }))]);
    assert_eq!(
        w.kinds_between(&person("B"), &vehicle("苏J0E77")),
        ["rides"]
    );
    // ownership changes hands
    w.feed(vec![Record::Base(BaseRecord::Vehicle(Vehicle {
        plate: Plate::new("苏J12345").unwrap(),
        color: None,
        brand: Some("比亚迪".into()),
        kind: Some(VehicleKind::Car),
        owner: Some(PersonId::new("C").unwrap()),
        community: None,
        rfid: None,
    }))]);
    assert_eq!(w.kinds_between(&person("A"), &car), ["drives"]);
    assert_eq!(w.kinds_between(&person("C"), &car), ["drives", "owns"]);
    w.assert_rebuild_is_identical();
}

#[test]
fn cards_and_devices_that_arrive_late_are_attributed_then() {
    let mut w = World::new();
    w.feed(vec![
        base_house("H1", "1", "1", HouseUse::SelfOccupied),
        residence("A", "H1", ResidenceRole::Owner, -10, None),
    ]);
    // events at a unit door nobody knows yet, one by card of an unknown holder
    let mut recs = Vec::new();
    for d in 0..3 {
        let t = at(d, "08:00:00");
        recs.push(access(
            &format!("a{d}"),
            "U1",
            t,
            Some("A"),
            None,
            Direction::Out,
        ));
        recs.push(access(
            &format!("k{d}"),
            "U1",
            plus(t, 10),
            None,
            Some("K9"),
            Direction::Out,
        ));
    }
    w.feed(recs);
    assert!(w.kinds_between(&person("A"), &person("B")).is_empty());
    assert!(
        timeline::timeline(
            &w.store,
            &house("H1"),
            Timestamp(0),
            at(9, "00:00:00"),
            10,
            false
        )
        .unwrap()
        .items
        .is_empty()
    );
    // the card's holder is registered: the three passes become B's, and B is A's companion
    w.feed(vec![Record::Base(BaseRecord::Card(Card {
        card_no: CardNo::new("K9").unwrap(),
        person: PersonId::new("B").unwrap(),
        kind: None,
    }))]);
    assert_eq!(w.kinds_between(&person("A"), &person("B")), ["companion"]);
    let b = timeline::timeline(
        &w.store,
        &person("B"),
        Timestamp(0),
        at(9, "00:00:00"),
        10,
        false,
    )
    .unwrap();
    assert_eq!(b.items.len(), 3);
    // the device arrives: A's passes at their unit door reach their house's timeline
    w.feed(setting());
    let h = timeline::timeline(
        &w.store,
        &house("H1"),
        Timestamp(0),
        at(9, "00:00:00"),
        10,
        false,
    )
    .unwrap();
    assert_eq!(
        h.items.iter().map(|s| s.event.as_str()).collect::<Vec<_>>(),
        ["a0", "a1", "a2"]
    );
    w.assert_rebuild_is_identical();
    // projecting the same store again changes nothing
    let d = w.digest();
    w.feed(vec![]);
    assert_eq!(d, w.digest());
}

#[test]
fn visitors_link_to_the_host_house_and_person() {
    let mut w = World::new();
    let mut base = setting();
    base.extend([
        base_person("P", "王芳", Some("13800000001")),
        base_house("H1", "1", "1", HouseUse::SelfOccupied),
    ]);
    w.feed(base);
    let visit = |id: &str, d: i64, phone: &str, name: &str| {
        ev(
            id,
            "G1",
            at(d, "15:00:00"),
            EventBody::Visitor {
                host_house: HouseId::new("H1").unwrap(),
                visitor: VisitorInfo {
                    name: Some(name.into()),
                    id_number: None,
                    phone: Some(phone.into()),
                    plate: None,
                    feature: None,
                },
                host_person: Some(PersonId::new("Q").unwrap()),
                purpose: None,
                leave_by: None,
            },
        )
    };
    w.feed(vec![
        visit("v1", 0, "13800000001", "王芳"),
        visit("v2", 4, "13800000001", "王芳"),
        visit("v3", 5, "13900000000", "赵六"),
    ]);
    let e = w
        .edge(RelKind::Visitor, person("P"), house("H1"), "")
        .unwrap();
    assert_eq!(
        (e.strength, e.evidence.clone()),
        (2, vec!["v1".to_string(), "v2".to_string()])
    );
    assert_eq!(w.kinds_between(&person("P"), &person("Q")), ["visitor"]);
    let stranger = person("tel:13900000000");
    assert_eq!(w.kinds_between(&stranger, &house("H1")), ["visitor"]);
    assert_eq!(w.graph().node(&stranger).unwrap().unwrap().label, "赵六");
    let visits = timeline::timeline(
        &w.store,
        &house("H1"),
        Timestamp(0),
        at(9, "00:00:00"),
        10,
        false,
    )
    .unwrap();
    assert_eq!(visits.items.len(), 3);
    w.assert_rebuild_is_identical();
}

#[test]
fn a_stranger_archive_merged_into_a_person_takes_its_relations_along() {
    let mut w = World::new();
    w.feed(setting());
    let mut recs = Vec::new();
    for d in 0..3 {
        let t = at(d, "09:00:00");
        recs.push(capture(&format!("a{d}"), "G1", t, Some("A"), None));
        recs.push(capture(&format!("s{d}"), "G1", plus(t, 3), None, Some(9.0)));
    }
    w.feed(recs);
    let s1 = NodeRef::Stranger(ArchiveId::new("S1").unwrap());
    assert_eq!(w.kinds_between(&person("A"), &s1), ["companion"]);
    w.projection().merge(&s1, &person("P")).unwrap();
    assert!(w.kinds_between(&person("A"), &s1).is_empty());
    assert_eq!(w.kinds_between(&person("A"), &person("P")), ["companion"]);
    // the archive's own history stays; the person's timeline has the captures
    let span = (Timestamp(0), at(9, "00:00:00"));
    assert_eq!(
        timeline::timeline(&w.store, &s1, span.0, span.1, 10, false)
            .unwrap()
            .items
            .len(),
        3
    );
    assert_eq!(
        timeline::timeline(&w.store, &person("P"), span.0, span.1, 10, false)
            .unwrap()
            .items
            .len(),
        3
    );
    // later captures of the archive's face go to the person
    w.feed(vec![capture(
        "s9",
        "G1",
        at(7, "09:00:00"),
        None,
        Some(9.0),
    )]);
    assert_eq!(
        timeline::timeline(&w.store, &person("P"), span.0, span.1, 10, false)
            .unwrap()
            .items
            .len(),
        4
    );
    w.assert_rebuild_is_identical();
    assert!(w.projection().merge(&person("A"), &person("P")).is_err());
}

#[test]
fn timelines_and_trajectories() {
    let mut w = World::new();
    w.feed(setting());
    let mut recs = Vec::new();
    for d in 0..3 {
        // home (C1) in the evening and morning, work (C2) by day
        recs.push(access(
            &format!("out{d}"),
            "U1",
            at(d, "07:30:00"),
            Some("A"),
            None,
            Direction::Out,
        ));
        recs.push(capture(
            &format!("gate{d}"),
            "G1",
            at(d, "07:32:00"),
            Some("A"),
            None,
        ));
        recs.push(capture(
            &format!("work{d}"),
            "G2",
            at(d, "09:00:00"),
            Some("A"),
            None,
        ));
        recs.push(capture(
            &format!("back{d}"),
            "G1",
            at(d, "19:00:00"),
            Some("A"),
            None,
        ));
        recs.push(access(
            &format!("in{d}"),
            "U1",
            at(d, "19:02:00"),
            Some("A"),
            None,
            Direction::In,
        ));
    }
    // one night away, in C2
    recs.push(capture("late", "G2", at(2, "23:30:00"), Some("A"), None));
    w.feed(recs);
    let a = person("A");
    let all =
        timeline::timeline(&w.store, &a, Timestamp(0), at(9, "00:00:00"), 100, false).unwrap();
    assert_eq!(all.items.len(), 16);
    assert!(all.items.windows(2).all(|p| p[0].time <= p[1].time));
    let day1 = timeline::timeline(
        &w.store,
        &a,
        at(1, "00:00:00"),
        at(2, "00:00:00"),
        100,
        false,
    )
    .unwrap();
    assert_eq!(
        day1.items
            .iter()
            .map(|s| s.event.as_str())
            .collect::<Vec<_>>(),
        ["out1", "gate1", "work1", "back1", "in1"]
    );
    let newest =
        timeline::timeline(&w.store, &a, Timestamp(0), at(9, "00:00:00"), 2, true).unwrap();
    assert_eq!(
        newest
            .items
            .iter()
            .map(|s| s.event.as_str())
            .collect::<Vec<_>>(),
        ["late", "in2"]
    );
    assert!(newest.more);
    // the device's timeline says who passed
    let gate = timeline::timeline(
        &w.store,
        &NodeRef::Device(DeviceId::new("G1").unwrap()),
        at(0, "00:00:00"),
        at(1, "00:00:00"),
        10,
        false,
    )
    .unwrap();
    assert_eq!(gate.items[0].subjects, std::slice::from_ref(&a));

    let track = |from: Timestamp, to: Timestamp, area: Option<&Area>| {
        let (clock, params) = (Clock::default(), TrajectoryParams::default());
        timeline::trajectory(&w.store, &a, from, to, area, &clock, &params)
    };
    let all_days = (Timestamp(0), at(9, "00:00:00"));
    let t = track(all_days.0, all_days.1, None).unwrap();
    assert_eq!(t.points.len(), 16);
    // unit door and gate are ~15 m apart: one stay, which runs overnight
    // from the evening's return to the next morning's departure; work is another
    assert_eq!(t.stays.len(), 8);
    assert_eq!(t.stays[0].n_sightings, 2);
    assert_eq!(t.stays[2].n_sightings, 4);
    assert_eq!(
        (t.stays[2].start, t.stays[2].end),
        (at(0, "19:00:00"), at(1, "07:32:00"))
    );
    assert_eq!(t.stays[0].community.as_ref().unwrap().as_str(), "C1");
    let home: Vec<(&str, u32)> = t
        .footholds
        .iter()
        .map(|f| (f.community.as_str(), f.nights))
        .collect();
    assert_eq!(home, [("C1", 2), ("C2", 1)]);
    assert_eq!(t.communities[0].community.as_str(), "C1");
    assert_eq!((t.communities[0].days, t.communities[0].sightings), (3, 12));
    assert_eq!(t.by_hour[7], 6);
    assert_eq!(t.by_hour[23], 1);
    assert_eq!(t.by_hour.iter().sum::<u32>(), 16);
    let gj = t.geojson(&Clock::default());
    // times as the deployment reads them, with their offset
    assert!(
        gj["features"][1]["properties"]["start"]
            .as_str()
            .unwrap()
            .ends_with("+08:00"),
        "{gj}"
    );
    assert_eq!(
        gj["features"][0]["geometry"]["coordinates"]
            .as_array()
            .unwrap()
            .len(),
        16
    );

    // restricted to a polygon around C2, or a radius around the gate of C1
    let c2 = Area::Polygon(vec![
        LonLat {
            lon: 120.19,
            lat: 33.39,
        },
        LonLat {
            lon: 120.21,
            lat: 33.39,
        },
        LonLat {
            lon: 120.21,
            lat: 33.41,
        },
        LonLat {
            lon: 120.19,
            lat: 33.41,
        },
    ]);
    let t = track(all_days.0, all_days.1, Some(&c2)).unwrap();
    assert_eq!(t.points.len(), 4);
    assert!(t.points.iter().all(|p| p.device.as_str() == "G2"));
    let near_gate = Area::Radius {
        center: LonLat {
            lon: 120.10,
            lat: 33.30,
        },
        meters: 5.0,
    };
    let t = track(all_days.0, all_days.1, Some(&near_gate)).unwrap();
    assert_eq!(t.points.len(), 6);
    let t = track(at(1, "00:00:00"), at(1, "12:00:00"), Some(&near_gate)).unwrap();
    assert_eq!(t.points.len(), 1);
    assert!(track(all_days.0, all_days.1, Some(&Area::Polygon(vec![]))).is_err());
}

#[test]
fn inferred_cohabitants_follow_the_registers_whenever_they_arrive() {
    let mut w = World::new();
    w.feed(setting());
    // the nights first, nobody registered yet
    let mut recs = Vec::new();
    for d in 0..5 {
        recs.push(access(
            &format!("r{d}"),
            "U1",
            at(d, "22:30:00"),
            Some("R"),
            None,
            Direction::In,
        ));
        recs.push(access(
            &format!("l{d}"),
            "U1",
            at(d, "23:40:00"),
            Some("L"),
            None,
            Direction::In,
        ));
    }
    w.feed(recs);
    assert!(w.kinds_between(&person("R"), &person("L")).is_empty());
    // R's registration arrives: L is now the one not registered there
    w.feed(vec![
        base_house("H1", "1", "1", HouseUse::SelfOccupied),
        residence("R", "H1", ResidenceRole::Owner, -100, None),
    ]);
    assert_eq!(
        w.kinds_between(&person("R"), &person("L")),
        ["cohabitant_inferred"]
    );
    // the house's timeline shows R's passes, joined from the registers
    let line = |w: &World| {
        timeline::timeline(
            &w.store,
            &house("H1"),
            Timestamp(0),
            at(9, "00:00:00"),
            100,
            false,
        )
        .unwrap()
        .items
        .iter()
        .map(|s| s.event.to_string())
        .collect::<Vec<_>>()
    };
    assert_eq!(line(&w), ["r0", "r1", "r2", "r3", "r4"]);
    w.assert_rebuild_is_identical();
    // L registers in the same house (from day 2): both registered, no longer inferred —
    // they are registered cohabitants now
    w.feed(vec![residence("L", "H1", ResidenceRole::Resident, 2, None)]);
    assert_eq!(w.kinds_between(&person("R"), &person("L")), ["cohabitant"]);
    assert_eq!(
        line(&w),
        ["r0", "r1", "r2", "l2", "r3", "l3", "r4", "l4"],
        "L's passes count for the house from L's registration on"
    );
    w.assert_rebuild_is_identical();
}
