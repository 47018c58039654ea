//! Events and sightings as an archive or a query shows them.

use super::*;

#[derive(Debug, Clone, SimpleObject)]
pub struct Sighting {
    pub time: String,
    pub event: String,
    pub slot: u8,
    pub device: String,
    pub r#type: String,
    pub direction: Option<String>,
    /// How the subject appears: `face`, `pass`, `driver`, `visitor`, …
    pub role: String,
    /// On device and house timelines: who the event was attributed to.
    pub subjects: Vec<String>,
}

impl Sighting {
    pub fn new(clock: &model::Clock, s: graph::timeline::Sighting) -> Self {
        Self {
            time: fmt_time(clock, s.time),
            event: s.event.as_str().to_owned(),
            slot: s.slot,
            device: s.device.as_str().to_owned(),
            r#type: s.kind.as_str().to_owned(),
            direction: s.direction.map(|d| d.as_str().to_owned()),
            role: s.role.as_str().to_owned(),
            subjects: s.subjects.iter().map(ToString::to_string).collect(),
        }
    }
}

/// An event with what it is about.
#[derive(Debug)]
pub struct Event(pub model::Event);

#[Object]
impl Event {
    async fn id(&self) -> &str {
        self.0.id.as_str()
    }
    async fn r#type(&self) -> &str {
        self.0.kind().as_str()
    }
    async fn device(&self) -> &str {
        self.0.device.as_str()
    }
    async fn time(&self, ctx: &Context<'_>) -> String {
        fmt_time(&ctx.engine().clock, self.0.time)
    }
    /// The type-specific fields (features left out).
    async fn detail(&self) -> async_graphql::Json<serde_json::Value> {
        let mut v = serde_json::to_value(&self.0.body).unwrap_or_default();
        strip_features(&mut v);
        async_graphql::Json(v)
    }
    /// Who the event was attributed to, per slot.
    async fn subjects(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Entity>> {
        let ev = self.0.clone();
        Ok(blocking(ctx, move |e| {
            let store = e.store();
            let slots = match &ev.body {
                EventBody::VehiclePass {
                    occupant_features, ..
                } => occupant_features.len() + 1,
                _ => 1,
            };
            let mut out = Vec::new();
            for slot in 0..slots {
                if let Some(n) =
                    graph::attributed(store, ev.id.as_str(), ev.device.as_str(), slot as u8)?
                {
                    let label = e.labels(std::slice::from_ref(&n))?.remove(0);
                    out.push(Entity::new(&n, label));
                }
            }
            Ok(out)
        })
        .await?)
    }
}

fn strip_features(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            m.remove("feature");
            m.remove("occupant_features");
            for (_, x) in m.iter_mut() {
                strip_features(x);
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(strip_features),
        _ => {}
    }
}
