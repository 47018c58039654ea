//! The PostgreSQL (+ PostGIS, pg_trgm) peer: its schema, with the indexes
//! the workloads need; the durable event sink (batched inserts, one
//! transaction per batch, `synchronous_commit = on`); the bulk loads of the
//! state Anju derives (sightings, relations, search columns); and the SQL of
//! each workload.

use std::io::Write;

use anyhow::{Context, Result};
use ingest::{RecordSink, SinkError};
use model::WriteOutcome;
use model::{BaseRecord, Event, EventBody, Record};
use postgres::{Client, NoTls};

/// Tables and indexes. Events carry the same fields Anju stores (the face
/// feature as bytes, the rest of the body as JSON), with an index for each
/// way the platform reads them: by id (deduplication), device + time,
/// person + time, plate + time.
pub const SCHEMA: &str = r#"
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE EXTENSION IF NOT EXISTS pg_trgm;
DROP TABLE IF EXISTS events, persons, houses, residences, communities, devices,
    vehicles, cards, kin, sightings, relations, audit_log CASCADE;
CREATE TABLE events (
    id text PRIMARY KEY, type text NOT NULL, device text NOT NULL,
    time timestamptz NOT NULL, person text, card text, plate text,
    direction text, feature bytea, body jsonb NOT NULL);
CREATE INDEX events_device_time ON events (device, time);
CREATE INDEX events_person_time ON events (person, time) WHERE person IS NOT NULL;
CREATE INDEX events_plate_time ON events (plate, time) WHERE plate IS NOT NULL;
CREATE TABLE persons (
    id text PRIMARY KEY, name text, id_number text, phone text, gender text,
    birth_date date, household text, categories text[], pinyin text,
    initials text, face bytea);
CREATE TABLE houses (
    id text PRIMARY KEY, community text, building text, unit text, room text,
    address text, area_m2 float8, usage text);
CREATE TABLE residences (
    person text, house text, role text, since timestamptz, until timestamptz,
    PRIMARY KEY (person, house, role));
CREATE INDEX residences_house ON residences (house);
CREATE TABLE communities (
    id text PRIMARY KEY, name text, region text, boundary geometry(Polygon, 4326));
CREATE TABLE devices (
    id text PRIMARY KEY, kind text, community text, building text, unit text,
    geom geometry(Point, 4326));
CREATE INDEX devices_geom ON devices USING gist (geom);
CREATE TABLE vehicles (
    plate text PRIMARY KEY, owner text, community text, color text, brand text,
    kind text);
CREATE TABLE cards (card_no text PRIMARY KEY, person text);
CREATE TABLE kin (a text, b text, relation text, PRIMARY KEY (a, b, relation));
"#;

/// What is built after the bulk loads (faster than maintaining it row by
/// row while loading).
pub const DERIVED_INDEXES: &str = r#"
CREATE INDEX sightings_subject_time ON sightings (subject, time);
CREATE INDEX relations_a ON relations (a, kind);
CREATE INDEX persons_name_trgm ON persons USING gin (name gin_trgm_ops);
CREATE INDEX persons_pinyin_trgm ON persons USING gin (pinyin gin_trgm_ops);
CREATE INDEX persons_initials ON persons (initials text_pattern_ops);
CREATE INDEX persons_id_trgm ON persons USING gin (id_number gin_trgm_ops);
CREATE INDEX persons_phone_trgm ON persons USING gin (phone gin_trgm_ops);
CREATE INDEX vehicles_plate_trgm ON vehicles USING gin (plate gin_trgm_ops);
ANALYZE;
"#;

pub fn connect(url: &str) -> Result<Client> {
    Client::connect(url, NoTls).with_context(|| format!("connecting to PostgreSQL at {url}"))
}

/// Whether the database has a table of that name.
pub fn has_table(c: &mut Client, name: &str) -> Result<bool> {
    Ok(c.query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])?
        .get(0))
}

pub fn create_schema(c: &mut Client) -> Result<()> {
    c.batch_execute(SCHEMA)
        .context("creating the PostgreSQL schema")?;
    c.batch_execute(
        "CREATE TABLE sightings (subject text, time timestamptz, event text, device text,
             kind text, direction text);
         CREATE TABLE relations (a text, b text, kind text, strength int,
             first_seen timestamptz, last_seen timestamptz, historical bool, detail text);",
    )?;
    Ok(())
}

fn ts(t: model::Timestamp) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(t.0).unwrap_or_default()
}

fn feature_bytes(f: &model::Feature) -> Vec<u8> {
    f.as_slice().iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn dir(d: &Option<model::Direction>) -> Option<String> {
    d.map(|d| d.as_str().to_owned())
}

/// The columns of an event row.
struct EventRow {
    id: String,
    kind: String,
    device: String,
    time: chrono::DateTime<chrono::Utc>,
    person: Option<String>,
    card: Option<String>,
    plate: Option<String>,
    direction: Option<String>,
    feature: Option<Vec<u8>>,
    body: serde_json::Value,
}

fn event_row(e: &Event) -> EventRow {
    let mut body = e.body.clone();
    let (mut person, mut card, mut plate, mut direction, mut feature) =
        (None, None, None, None, None);
    match &mut body {
        EventBody::FaceCapture {
            feature: f,
            person: p,
            direction: d,
            ..
        } => {
            feature = f.take().map(|f| feature_bytes(&f));
            person = p.as_ref().map(|p| p.to_string());
            direction = dir(d);
        }
        EventBody::Access {
            person: p,
            card_no,
            direction: d,
            feature: f,
            ..
        } => {
            feature = f.take().map(|f| feature_bytes(&f));
            person = p.as_ref().map(|p| p.to_string());
            card = card_no.as_ref().map(|c| c.to_string());
            direction = dir(d);
        }
        EventBody::VehiclePass {
            plate: pl,
            direction: d,
            ..
        } => {
            plate = pl.as_ref().map(|p| p.to_string());
            direction = dir(d);
        }
        EventBody::Rfid {
            card_no,
            person: p,
            direction: d,
            ..
        } => {
            person = p.as_ref().map(|p| p.to_string());
            card = card_no.as_ref().map(|c| c.to_string());
            direction = dir(d);
        }
        EventBody::Visitor { visitor, .. } => {
            plate = visitor.plate.as_ref().map(|p| p.to_string());
            feature = visitor.feature.take().map(|f| feature_bytes(&f));
        }
        _ => {}
    }
    EventRow {
        id: e.id.to_string(),
        kind: e.kind().as_str().to_owned(),
        device: e.device.to_string(),
        time: ts(e.time),
        person,
        card,
        plate,
        direction,
        feature,
        body: serde_json::to_value(&body).unwrap_or(serde_json::Value::Null),
    }
}

/// The pinyin of a name and its initials (what a search box gets typed).
pub fn pinyin_of(name: &str) -> (String, String) {
    use pinyin::ToPinyin;
    let mut full = String::new();
    let mut initials = String::new();
    for p in name.to_pinyin().flatten() {
        full.push_str(p.plain());
        initials.push_str(p.first_letter());
    }
    (full, initials)
}

fn lonlat_wkt(points: &[model::LonLat]) -> Option<String> {
    if points.len() < 3 {
        return None;
    }
    let mut s: Vec<String> = points
        .iter()
        .map(|p| format!("{} {}", p.lon, p.lat))
        .collect();
    if points.first() != points.last() {
        s.push(s[0].clone());
    }
    Some(format!("SRID=4326;POLYGON(({}))", s.join(",")))
}

/// The ingest pipeline's sink into PostgreSQL: each batch one transaction
/// (committed synchronously), events inserted with `ON CONFLICT DO NOTHING`
/// (re-sent events are stored once, as in Anju).
pub struct PgSink {
    pub client: Client,
    /// The upsert of each base kind, prepared once.
    upserts: std::collections::HashMap<&'static str, postgres::Statement>,
}

impl std::fmt::Debug for PgSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PgSink")
    }
}

impl PgSink {
    pub fn new(client: Client) -> Self {
        Self {
            client,
            upserts: Default::default(),
        }
    }

    fn write_batch(&mut self, batch: &[Record]) -> Result<Vec<WriteOutcome>, postgres::Error> {
        let mut tx = self.client.transaction()?;
        let rows: Vec<EventRow> = batch
            .iter()
            .filter_map(|r| match r {
                Record::Event(e) => Some(event_row(e)),
                Record::Base(_) => None,
            })
            .collect();
        let mut inserted = std::collections::HashSet::new();
        if !rows.is_empty() {
            let col = |f: &dyn Fn(&EventRow) -> Option<String>| -> Vec<Option<String>> {
                rows.iter().map(f).collect()
            };
            let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
            let kinds: Vec<String> = rows.iter().map(|r| r.kind.clone()).collect();
            let devices: Vec<String> = rows.iter().map(|r| r.device.clone()).collect();
            let times: Vec<chrono::DateTime<chrono::Utc>> = rows.iter().map(|r| r.time).collect();
            let persons = col(&|r| r.person.clone());
            let cards = col(&|r| r.card.clone());
            let plates = col(&|r| r.plate.clone());
            let directions = col(&|r| r.direction.clone());
            let features: Vec<Option<Vec<u8>>> = rows.iter().map(|r| r.feature.clone()).collect();
            let bodies: Vec<serde_json::Value> = rows.iter().map(|r| r.body.clone()).collect();
            for row in tx.query(
                "INSERT INTO events (id, type, device, time, person, card, plate, direction, feature, body)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[],
                                      $6::text[], $7::text[], $8::text[], $9::bytea[], $10::jsonb[])
                 ON CONFLICT (id) DO NOTHING RETURNING id",
                &[&ids, &kinds, &devices, &times, &persons, &cards, &plates, &directions, &features, &bodies],
            )? {
                inserted.insert(row.get::<_, String>(0));
            }
        }
        for r in batch {
            if let Record::Base(b) = r {
                let sql = upsert_sql(b);
                if sql.is_empty() {
                    continue;
                }
                if !self.upserts.contains_key(sql) {
                    let st = tx.prepare(sql)?;
                    self.upserts.insert(sql, st);
                }
                put_base(&mut tx, &self.upserts[sql], b)?;
            }
        }
        tx.commit()?;
        Ok(batch
            .iter()
            .map(|r| match r {
                Record::Event(e) if !inserted.contains(e.id.as_str()) => WriteOutcome::Duplicate,
                _ => WriteOutcome::Accepted,
            })
            .collect())
    }
}

impl RecordSink for PgSink {
    fn write(&mut self, batch: &[Record]) -> std::result::Result<Vec<WriteOutcome>, SinkError> {
        self.write_batch(batch)
            // the server's reason (a full disk, a constraint) is the
            // error's source: `db error` alone says nothing
            .map_err(|e| SinkError::new(format!("postgresql: {:#}", anyhow::Error::from(e))))
    }
}

/// The upsert statement of a base record's table (empty: not kept).
fn upsert_sql(b: &BaseRecord) -> &'static str {
    match b {
        BaseRecord::Person(_) => {
            "INSERT INTO persons (id, name, id_number, phone, gender, birth_date, household,
                 categories, pinyin, initials, face)
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)
             ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, id_number = EXCLUDED.id_number,
                 phone = EXCLUDED.phone, categories = EXCLUDED.categories,
                 pinyin = EXCLUDED.pinyin, initials = EXCLUDED.initials, face = EXCLUDED.face"
        }
        BaseRecord::House(_) => {
            "INSERT INTO houses VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (id) DO UPDATE
             SET community = EXCLUDED.community, usage = EXCLUDED.usage"
        }
        BaseRecord::Residence(_) => {
            "INSERT INTO residences VALUES ($1,$2,$3,$4,$5) ON CONFLICT (person, house, role)
             DO UPDATE SET since = EXCLUDED.since, until = EXCLUDED.until"
        }
        BaseRecord::Community(_) => {
            "INSERT INTO communities VALUES ($1,$2,$3, ST_GeomFromEWKT($4))
             ON CONFLICT (id) DO UPDATE SET boundary = EXCLUDED.boundary"
        }
        BaseRecord::Device(_) => {
            "INSERT INTO devices VALUES ($1,$2,$3,$4,$5,
                 CASE WHEN $6::float8 IS NULL THEN NULL ELSE ST_SetSRID(ST_MakePoint($6, $7), 4326) END)
             ON CONFLICT (id) DO UPDATE SET geom = EXCLUDED.geom, community = EXCLUDED.community"
        }
        BaseRecord::Vehicle(_) => {
            "INSERT INTO vehicles VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (plate) DO UPDATE
             SET owner = EXCLUDED.owner, community = EXCLUDED.community"
        }
        BaseRecord::Card(_) => {
            "INSERT INTO cards VALUES ($1,$2) ON CONFLICT (card_no) DO UPDATE SET person = EXCLUDED.person"
        }
        BaseRecord::Kin(_) => "INSERT INTO kin VALUES ($1,$2,$3) ON CONFLICT DO NOTHING",
        BaseRecord::Region(_) => "",
    }
}

/// Upserts one base record into its table with its prepared statement.
fn put_base(
    tx: &mut postgres::Transaction<'_>,
    st: &postgres::Statement,
    b: &BaseRecord,
) -> Result<(), postgres::Error> {
    match b {
        BaseRecord::Person(p) => {
            let name = p.name.clone();
            let (py, ini) = name.as_deref().map(pinyin_of).unzip();
            tx.execute(
                st,
                &[
                    &p.id.to_string(),
                    &name,
                    &p.id_number.as_ref().map(|i| i.as_str().to_owned()),
                    &p.phone,
                    &p.gender.map(|g| g.as_str().to_owned()),
                    &p.birth_date,
                    &p.household.map(|h| h.as_str().to_owned()),
                    &p.categories,
                    &py,
                    &ini,
                    &p.face.as_ref().map(feature_bytes),
                ],
            )?;
        }
        BaseRecord::House(h) => {
            tx.execute(
                st,
                &[
                    &h.id.to_string(),
                    &h.community.to_string(),
                    &h.building,
                    &h.unit,
                    &h.room,
                    &h.address,
                    &h.area_m2,
                    &h.usage.map(|u| u.as_str().to_owned()),
                ],
            )?;
        }
        BaseRecord::Residence(r) => {
            tx.execute(
                st,
                &[
                    &r.person.to_string(),
                    &r.house.to_string(),
                    &r.role.as_str().to_owned(),
                    &r.since.map(ts),
                    &r.until.map(ts),
                ],
            )?;
        }
        BaseRecord::Community(c) => {
            let wkt = c.boundary.as_deref().and_then(lonlat_wkt);
            tx.execute(
                st,
                &[&c.id.to_string(), &c.name, &c.region.to_string(), &wkt],
            )?;
        }
        BaseRecord::Device(d) => {
            let (lon, lat) = d.location.map(|l| (l.lon, l.lat)).unzip();
            tx.execute(
                st,
                &[
                    &d.id.to_string(),
                    &d.kind.as_str().to_owned(),
                    &d.community.to_string(),
                    &d.building,
                    &d.unit,
                    &lon,
                    &lat,
                ],
            )?;
        }
        BaseRecord::Vehicle(v) => {
            tx.execute(
                st,
                &[
                    &v.plate.to_string(),
                    &v.owner.as_ref().map(|o| o.to_string()),
                    &v.community.as_ref().map(|c| c.to_string()),
                    &v.color,
                    &v.brand,
                    &v.kind.map(|k| k.as_str().to_owned()),
                ],
            )?;
        }
        BaseRecord::Card(c) => {
            tx.execute(st, &[&c.card_no.to_string(), &c.person.to_string()])?;
        }
        BaseRecord::Kin(k) => {
            tx.execute(
                st,
                &[
                    &k.a.to_string(),
                    &k.b.to_string(),
                    &k.relation.as_str().to_owned(),
                ],
            )?;
        }
        BaseRecord::Region(_) => {}
    }
    Ok(())
}

/// A text-format COPY field: `\N` for none, backslash escapes otherwise.
fn copy_field(out: &mut Vec<u8>, v: Option<&str>) {
    match v {
        None => out.extend_from_slice(b"\\N"),
        Some(s) => {
            for b in s.bytes() {
                match b {
                    b'\\' => out.extend_from_slice(b"\\\\"),
                    b'\t' => out.extend_from_slice(b"\\t"),
                    b'\n' => out.extend_from_slice(b"\\n"),
                    b'\r' => out.extend_from_slice(b"\\r"),
                    _ => out.push(b),
                }
            }
        }
    }
}

/// Streams rows into `COPY table FROM STDIN`; returns how many.
pub fn copy_rows(
    c: &mut Client,
    table: &str,
    rows: impl Iterator<Item = Vec<Option<String>>>,
) -> Result<u64> {
    let mut w = c.copy_in(&format!("COPY {table} FROM STDIN"))?;
    let mut n = 0u64;
    let mut buf = Vec::with_capacity(1 << 20);
    for row in rows {
        for (i, f) in row.iter().enumerate() {
            if i > 0 {
                buf.push(b'\t');
            }
            copy_field(&mut buf, f.as_deref());
        }
        buf.push(b'\n');
        n += 1;
        if buf.len() > (1 << 20) {
            w.write_all(&buf)?;
            buf.clear();
        }
    }
    w.write_all(&buf)?;
    w.finish()?;
    Ok(n)
}

/// RFC 3339 for COPY.
pub fn copy_time(t: model::Timestamp) -> String {
    ts(t).to_rfc3339()
}

/// The full-archive statements: profile, houses, relations grouped by kind
/// (strongest first, as many per group as the archive shows), the 20 most
/// recent sightings, and the 30-day trajectory summary (days per community,
/// activity by hour, and footholds: nights per community of the night's
/// last sighting — a night runs from noon to the end of the deployment's
/// night window, 05:00, as Anju counts it).
pub const ARCHIVE: [&str; 7] = [
    "SELECT id, name, id_number, phone, household, categories FROM persons WHERE id = $1",
    "SELECT r.role, r.since, r.until, h.id, h.address, h.community FROM residences r
       JOIN houses h ON h.id = r.house WHERE r.person = $1",
    "SELECT kind, b, strength, last_seen, historical FROM (
       SELECT kind, b, strength, last_seen, historical,
              row_number() OVER (PARTITION BY kind ORDER BY strength DESC, b) AS n,
              count(*) OVER (PARTITION BY kind) AS total
       FROM relations WHERE a = $1) g WHERE n <= 10",
    "SELECT time, device, kind, direction FROM sightings WHERE subject = $1
       ORDER BY time DESC LIMIT 21",
    "SELECT d.community, count(DISTINCT (s.time AT TIME ZONE 'Asia/Shanghai')::date) AS days
       FROM sightings s JOIN devices d ON d.id = s.device
       WHERE s.subject = $1 AND s.time >= $2 AND s.time < $3 GROUP BY d.community",
    "SELECT extract(hour FROM s.time AT TIME ZONE 'Asia/Shanghai') AS h, count(*)
       FROM sightings s WHERE s.subject = $1 AND s.time >= $2 AND s.time < $3 GROUP BY h",
    "SELECT community, count(*), max(night) FROM (
       SELECT DISTINCT ON (night) night, d.community FROM (
         SELECT s.time, s.device,
                ((s.time AT TIME ZONE 'Asia/Shanghai') - interval '5 hours')::date AS night
         FROM sightings s WHERE s.subject = $1 AND s.time >= $2 AND s.time < $3
           AND extract(hour FROM s.time AT TIME ZONE 'Asia/Shanghai') NOT BETWEEN 5 AND 11) x
       JOIN devices d ON d.id = x.device ORDER BY night, x.time DESC) n
     WHERE community IS NOT NULL GROUP BY community",
];

/// The audit table of the audited archive rows (Anju's audit entry: who,
/// role, when, the operation, its text and variables, the records
/// returned; no hash chain, which would serialise the writers on its head).
pub const AUDIT_TABLE: &str = "CREATE TABLE IF NOT EXISTS audit_log (seq bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(), who text, role text, operation text, query text,
    variables jsonb, records text[])";

/// One audited request.
pub const AUDIT_INSERT: &str =
    "INSERT INTO audit_log (who, role, operation, query, variables, records)
    VALUES ($1, $2, $3, $4, $5, $6)";

/// Sightings of a subject in a window at devices inside a polygon, oldest
/// first, with their places. The subject's sightings are read by their
/// (subject, time) index and joined to their devices by key first (the
/// `OFFSET 0` fence), then tested against the polygon: left to itself the
/// generic plan probes the devices' GiST index once per sighting, each
/// probe returning half the city's devices (15 ms instead of 0.1).
pub const TRAJECTORY: &str = "SELECT time, device, community, ST_X(geom), ST_Y(geom) FROM (
      SELECT s.time, s.device, d.community, d.geom
      FROM sightings s JOIN devices d ON d.id = s.device
      WHERE s.subject = $1 AND s.time >= $2 AND s.time < $3 OFFSET 0) t
    WHERE ST_Within(geom, ST_GeomFromEWKT($4))
    ORDER BY time";

/// Full-text workloads with pg_trgm: the 20 best matches and the count.
pub fn text_sql(workload: &str) -> &'static str {
    match workload {
        "name" => {
            "WITH m AS (SELECT id, similarity(name, $1) AS s FROM persons WHERE name LIKE '%' || $1 || '%')
             SELECT (SELECT count(*) FROM m), id FROM m ORDER BY s DESC, id LIMIT 20"
        }
        "pinyin" => {
            "WITH m AS (SELECT id FROM persons WHERE pinyin LIKE $1 || '%' OR initials = $1)
             SELECT (SELECT count(*) FROM m), id FROM m ORDER BY id LIMIT 20"
        }
        "plate" => {
            "WITH m AS (SELECT plate FROM vehicles WHERE plate LIKE $1)
             SELECT (SELECT count(*) FROM m), plate FROM m ORDER BY plate LIMIT 20"
        }
        _ => {
            "WITH m AS (SELECT id FROM persons WHERE id_number LIKE '%' || $1 OR phone LIKE '%' || $1)
             SELECT (SELECT count(*) FROM m), id FROM m ORDER BY id LIMIT 20"
        }
    }
}
