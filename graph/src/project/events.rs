//! Events: attribution, timelines and co-occurrence evidence.

use super::*;

impl<'a> Projection<'a> {
    pub(super) fn device(&self, id: &model::DeviceId) -> Result<Option<Device>> {
        let mut cache = self.devices.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(d) = cache.get(id.as_str()) {
            return Ok(d.clone());
        }
        let d = match self.store.base(BaseKind::Device, id.as_str())? {
            Some(BaseRecord::Device(d)) => Some(d),
            _ => None,
        };
        if d.is_some() {
            cache.insert(id.to_string(), d.clone());
        }
        Ok(d)
    }

    /// Follows recorded merges from a stranger archive to whom it now is.
    pub(super) fn resolve(&self, tx: &Tx<'_>, n: NodeRef) -> Result<NodeRef> {
        let mut n = n;
        for _ in 0..16 {
            if !matches!(n, NodeRef::Stranger(_)) {
                break;
            }
            let k = KeyBuf::new().tag(MERGE_PREFIX).node(&n).into_bytes();
            match tx.get(CF_ATTR, &k)? {
                Some(b) => n = decode(&k, &b)?,
                None => break,
            }
        }
        Ok(n)
    }

    /// Who a face feature belongs to: the recorded answer, else the matcher's
    /// (recorded now). With `strangers`, an unregistered face gets a stranger
    /// archive. The matcher observes the answer (merges followed) either way.
    pub(super) fn identify(
        &self,
        tx: &mut Tx<'_>,
        ev: &Event,
        slot: u8,
        f: &Feature,
        strangers: bool,
    ) -> Result<Option<NodeRef>> {
        let k = KeyBuf::new()
            .raw(&event_key(ev.id.as_str(), ev.device.as_str()))
            .tag(slot)
            .into_bytes();
        let device = self.device(&ev.device)?;
        let capture = Capture {
            event: &ev.id,
            slot,
            time: ev.time,
            community: device.as_ref().map(|d| &d.community),
        };
        let who = match tx.get(CF_ATTR, &k)? {
            Some(b) => decode(&k, &b)?,
            None => {
                let who = self.matcher.identify(f, &capture, strangers);
                tx.put(CF_ATTR, k, encode(&who)?);
                who
            }
        };
        if let Some(w) = &who {
            let now = self.resolve(tx, w.clone())?;
            self.matcher.observe(&now, f, &capture);
        }
        Ok(who)
    }

    /// Who a registered visitor is: the person with that identity number,
    /// else the face's match, else the person with that phone. A visitor
    /// known only by an unregistered identity number or phone becomes a
    /// person node keyed by it (`tel:` + phone), labelled with the name given.
    pub(super) fn visitor(
        &self,
        tx: &mut Tx<'_>,
        ev: &Event,
        visitor: &model::VisitorInfo,
    ) -> Result<Option<NodeRef>> {
        let lookup = |tx: &Tx<'_>, space: u8, key: &str| -> Result<Option<String>> {
            let k = KeyBuf::new().tag(space).str(key).into_bytes();
            Ok(tx
                .get(CF_DSTATE, &k)?
                .map(|p| String::from_utf8_lossy(&p).into_owned()))
        };
        let mut fallback = None;
        if let Some(n) = &visitor.id_number {
            match lookup(tx, st::ID_NUMBER, n.as_str())? {
                Some(p) => return Ok(PersonId::new(&p).ok().map(NodeRef::Person)),
                None => fallback = Some(n.as_str().to_owned()),
            }
        }
        if let Some(f) = &visitor.feature
            && let Some(who) = self.identify(tx, ev, 0, f, false)?
        {
            return Ok(Some(who));
        }
        if let Some(phone) = visitor
            .phone
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            match lookup(tx, st::PHONE, phone)? {
                Some(p) => return Ok(PersonId::new(&p).ok().map(NodeRef::Person)),
                None => fallback = fallback.or_else(|| Some(format!("tel:{phone}"))),
            }
        }
        let Some(key) = fallback else {
            return Ok(None);
        };
        let Ok(pid) = PersonId::new(&key) else {
            return Ok(None);
        };
        if self.store.base(BaseKind::Person, pid.as_str())?.is_none()
            && let Some(name) = &visitor.name
        {
            tx.ops.push(GraphOp::Node(Node {
                node: NodeRef::Person(pid.clone()),
                label: name.clone(),
            }));
        }
        Ok(Some(NodeRef::Person(pid)))
    }

    pub(super) fn card_holder(
        &self,
        tx: &mut Tx<'_>,
        card: &model::CardNo,
        ev: &Event,
    ) -> Result<Option<NodeRef>> {
        match self.store.base(BaseKind::Card, card.as_str())? {
            Some(BaseRecord::Card(c)) => Ok(Some(NodeRef::Person(c.person))),
            _ => {
                self.wait_for(tx, UNRES_CARD, card.as_str(), ev);
                Ok(None)
            }
        }
    }

    pub(super) fn subjects(&self, tx: &mut Tx<'_>, ev: &Event) -> Result<Vec<Subject>> {
        let mut out = Vec::new();
        let id = ev;
        let mut push = |node: Option<NodeRef>, slot: u8, role: SightingRole| {
            if let Some(node) = node {
                out.push(Subject {
                    node,
                    archived: None,
                    slot,
                    role,
                });
            }
        };
        match &ev.body {
            EventBody::FaceCapture {
                person, feature, ..
            } => {
                let who = match (person, feature) {
                    (Some(p), _) => Some(NodeRef::Person(p.clone())),
                    (None, Some(f)) => self.identify(tx, ev, 0, f, true)?,
                    (None, None) => None,
                };
                push(who, 0, SightingRole::Pass);
            }
            EventBody::Access {
                person,
                card_no,
                feature,
                ..
            } => {
                let who = match (person, card_no, feature) {
                    (Some(p), _, _) => Some(NodeRef::Person(p.clone())),
                    (None, Some(c), _) => self.card_holder(tx, c, id)?,
                    (None, None, Some(f)) => self.identify(tx, ev, 0, f, true)?,
                    _ => None,
                };
                push(who, 0, SightingRole::Pass);
            }
            EventBody::Rfid {
                tag,
                card_no,
                person,
                ..
            } => {
                let tag_key = KeyBuf::new().tag(st::TAG).str(tag.as_str()).into_bytes();
                let bike = match tx.get(CF_DSTATE, &tag_key)? {
                    Some(p) => Some(NodeRef::Vehicle(
                        Plate::new(&String::from_utf8_lossy(&p)).map_err(|e| Error::Corrupt {
                            key: format!("tag {tag}"),
                            why: e.to_string(),
                        })?,
                    )),
                    None => {
                        self.wait_for(tx, UNRES_TAG, tag.as_str(), id);
                        None
                    }
                };
                let rider = match (person, card_no) {
                    (Some(p), _) => Some(NodeRef::Person(p.clone())),
                    (None, Some(c)) => self.card_holder(tx, c, id)?,
                    _ => None,
                };
                push(bike, 0, SightingRole::Pass);
                push(rider, 1, SightingRole::Rider);
            }
            EventBody::VehiclePass {
                plate,
                occupant_features,
                ..
            } => {
                push(plate.clone().map(NodeRef::Vehicle), 0, SightingRole::Pass);
                for (i, f) in occupant_features.iter().enumerate().take(250) {
                    let slot = i as u8 + 1;
                    let who = self.identify(tx, ev, slot, f, true)?;
                    let role = if i == 0 {
                        SightingRole::Driver
                    } else {
                        SightingRole::Passenger
                    };
                    push(who, slot, role);
                }
            }
            EventBody::Visitor { visitor, .. } => {
                let who = self.visitor(tx, ev, visitor)?;
                push(who, 0, SightingRole::Visitor);
            }
            EventBody::Probe { .. }
            | EventBody::DoorSensor { .. }
            | EventBody::DeviceAlarm { .. } => {}
        }
        for s in &mut out {
            let now = self.resolve(tx, s.node.clone())?;
            if now != s.node {
                s.archived = Some(std::mem::replace(&mut s.node, now));
            }
        }
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn put_tl(
        &self,
        tx: &mut Tx<'_>,
        subject: &NodeRef,
        ev: &Event,
        slot: u8,
        role: SightingRole,
        subjects: Vec<NodeRef>,
        direction: Option<Direction>,
    ) -> Result<()> {
        let v = TlValue {
            device: ev.device.clone(),
            kind: ev.kind(),
            direction,
            role,
            subjects,
        };
        tx.put(CF_TL, tl_key(subject, ev.time, &ev.id, slot), encode(&v)?);
        Ok(())
    }

    pub(super) fn project_event(&self, tx: &mut Tx<'_>, ev: &Event) -> Result<()> {
        let device = self.device(&ev.device)?;
        if device.is_none() {
            self.wait_for(tx, UNRES_DEVICE, ev.device.as_str(), ev);
        }
        let direction = match &ev.body {
            EventBody::FaceCapture { direction, .. }
            | EventBody::Access { direction, .. }
            | EventBody::VehiclePass { direction, .. }
            | EventBody::Rfid { direction, .. } => *direction,
            _ => None,
        }
        .or(device.as_ref().and_then(|d| d.direction));
        let subjects = self.subjects(tx, ev)?;
        let me: Ev = (&ev.id, ev.time);
        let all: Vec<NodeRef> = subjects.iter().map(|s| s.node.clone()).collect();

        // timelines: the device, each subject, and the houses concerned
        let dnode = NodeRef::Device(ev.device.clone());
        self.put_tl(
            tx,
            &dnode,
            ev,
            0,
            SightingRole::Device,
            all.clone(),
            direction,
        )?;
        for s in &subjects {
            self.put_tl(tx, &s.node, ev, s.slot, s.role, Vec::new(), direction)?;
            if let Some(a) = &s.archived {
                self.put_tl(tx, a, ev, s.slot, s.role, Vec::new(), direction)?;
            }
        }
        if let Some(h) = device.as_ref().and_then(|d| d.house.clone()) {
            self.put_tl(
                tx,
                &NodeRef::House(h),
                ev,
                0,
                SightingRole::Device,
                all.clone(),
                direction,
            )?;
        }
        if let EventBody::Visitor {
            host_house,
            host_person,
            ..
        } = &ev.body
        {
            self.put_tl(
                tx,
                &NodeRef::House(host_house.clone()),
                ev,
                0,
                SightingRole::Visitor,
                all.clone(),
                direction,
            )?;
            for s in &subjects {
                self.contribute(
                    tx,
                    RelKind::Visitor,
                    &s.node,
                    &NodeRef::House(host_house.clone()),
                    me,
                    me,
                    true,
                )?;
                if let Some(hp) = host_person {
                    self.contribute(
                        tx,
                        RelKind::Visitor,
                        &s.node,
                        &NodeRef::Person(hp.clone()),
                        me,
                        me,
                        true,
                    )?;
                }
            }
        }
        let unit_door = device
            .as_ref()
            .filter(|d| d.kind == DeviceKind::UnitDoor)
            .and_then(|d| Some((d, d.building.as_deref()?, d.unit.as_deref()?)));
        if let Some((d, building, unit)) = unit_door {
            for s in subjects.iter().filter(|s| s.node.is_individual()) {
                if direction != Some(Direction::Out) {
                    self.night_entry(tx, d, building, unit, &s.node, ev)?;
                }
            }
        }

        // vehicles and their drivers and riders
        let vehicle = subjects
            .iter()
            .find(|s| matches!(s.node, NodeRef::Vehicle(_)))
            .map(|s| s.node.clone());
        if let Some(v) = &vehicle {
            for s in &subjects {
                match s.role {
                    SightingRole::Driver => {
                        self.contribute(tx, RelKind::Drives, &s.node, v, me, me, true)?
                    }
                    SightingRole::Passenger | SightingRole::Rider => {
                        self.contribute(tx, RelKind::Rides, &s.node, v, me, me, true)?
                    }
                    _ => {}
                }
            }
        }

        // co-occurrence at the same device: companions, and drivers by proximity
        let secs = i64::from(self.params.companion_secs.max(self.params.drive_secs));
        let movers: Vec<&Subject> = subjects
            .iter()
            .filter(|s| s.node.is_individual() && s.role.moves_with_others())
            .collect();
        let passing_vehicle = matches!(ev.body, EventBody::VehiclePass { .. })
            .then_some(vehicle.as_ref())
            .flatten();
        if movers.is_empty() && passing_vehicle.is_none() {
            return Ok(());
        }
        let lo = tl_prefix(&dnode).i64(ev.time.0 - secs * 1000).into_bytes();
        let hi = tl_prefix(&dnode)
            .i64(ev.time.0 + secs * 1000 + 1)
            .into_bytes();
        let plen = tl_prefix(&dnode).into_bytes().len();
        for (k, v) in tx.range(CF_TL, &lo, &hi)? {
            let mut r = KeyReader::new(&k[plen..]);
            let (Ok(t), Ok(other_id)) = (r.i64(), r.str()) else {
                continue;
            };
            let near: TlValue = decode(&k, &v)?;
            let dt = (t - ev.time.0).abs();
            let Ok(other_id) = EventId::new(&other_id) else {
                continue;
            };
            let other: Ev = (&other_id, Timestamp(t));
            for s in &movers {
                if dt <= i64::from(self.params.companion_secs) * 1000 {
                    for o in near
                        .subjects
                        .iter()
                        .filter(|o| o.is_individual() && **o != s.node)
                    {
                        if *other.0 == ev.id && !movers.iter().any(|m| &m.node == o) {
                            continue;
                        }
                        self.contribute(tx, RelKind::Companion, &s.node, o, me, other, false)?;
                    }
                }
                if dt <= i64::from(self.params.drive_secs) * 1000
                    && near.kind == EventKind::VehiclePass
                    && *other.0 != ev.id
                    && s.role == SightingRole::Pass
                {
                    for o in near
                        .subjects
                        .iter()
                        .filter(|o| matches!(o, NodeRef::Vehicle(_)))
                    {
                        self.contribute(tx, RelKind::Drives, &s.node, o, me, other, false)?;
                    }
                }
            }
            if let Some(veh) = passing_vehicle
                && *other.0 != ev.id
                && dt <= i64::from(self.params.drive_secs) * 1000
                && near.kind != EventKind::VehiclePass
                && near.role == SightingRole::Device
            {
                // the person's own entry tells its role; only passers drive by proximity
                for o in near.subjects.iter().filter(|o| o.is_individual()) {
                    if self.passed(tx, o, other)? {
                        self.contribute(tx, RelKind::Drives, o, veh, other, me, false)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether `who` appears in `ev` as a plain pass (not an occupant or rider).
    pub(super) fn passed(&self, tx: &Tx<'_>, who: &NodeRef, ev: Ev<'_>) -> Result<bool> {
        let k = tl_key(who, ev.1, ev.0, 0);
        Ok(match tx.get(CF_TL, &k)? {
            Some(v) => decode::<TlValue>(&k, &v)?.role == SightingRole::Pass,
            None => false,
        })
    }

    /// A night entry through a unit door: pairs the entrant with the other
    /// entrants of that night when exactly one of the two is registered in
    /// the unit.
    pub(super) fn night_entry(
        &self,
        tx: &mut Tx<'_>,
        d: &Device,
        building: &str,
        unit: &str,
        who: &NodeRef,
        ev: &Event,
    ) -> Result<()> {
        let Some(night) = self.clock.night_of(ev.time) else {
            return Ok(());
        };
        let night = i64::from(night.num_days_from_ce());
        let prefix = KeyBuf::new()
            .tag(st::NIGHT)
            .str(d.id.as_str())
            .i64(night)
            .into_bytes();
        // every entry is kept, so the pairs found do not depend on which of a
        // night's entries was projected first
        let mine = KeyBuf::new()
            .raw(&prefix)
            .node(who)
            .str(ev.id.as_str())
            .into_bytes();
        tx.put(CF_DSTATE, mine, encode(&ev.time.0)?);
        let registered = |tx: &Tx<'_>, n: &NodeRef| -> Result<bool> {
            if !matches!(n, NodeRef::Person(_)) {
                return Ok(false);
            }
            let p = unit_prefix(d.community.as_str(), building, unit)
                .str(n.key())
                .into_bytes();
            Ok(!tx.prefix(CF_DSTATE, &p)?.is_empty())
        };
        let me_registered = registered(tx, who)?;
        for (k, v) in tx.prefix(CF_DSTATE, &prefix)? {
            let mut r = KeyReader::new(&k[prefix.len()..]);
            let (Ok(other), Ok(oid)) = (r.node(), r.str()) else {
                continue;
            };
            if &other == who || registered(tx, &other)? == me_registered {
                continue;
            }
            let Ok(oid) = EventId::new(&oid) else {
                continue;
            };
            let ot: i64 = decode(&k, &v)?;
            let me: Ev = (&ev.id, ev.time);
            self.put_acc(
                tx,
                RelKind::CohabitantInferred,
                who,
                &other,
                me,
                (&oid, Timestamp(ot)),
                night,
                false,
            )?;
        }
        Ok(())
    }

    /// Judges every night entry through a unit's doors again against who is
    /// registered there now: pairs that qualify get their evidence, pairs
    /// that no longer do lose it. Runs when the unit's occupants change, so
    /// inferred cohabitants never depend on whether the registers or the
    /// events arrived first.
    pub(super) fn judge_unit(
        &self,
        tx: &mut Tx<'_>,
        community: &str,
        building: &str,
        unit: &str,
    ) -> Result<()> {
        let doors = unit_doors(&*tx, community, building, unit)?;
        let mut registered: HashMap<NodeRef, bool> = HashMap::new();
        for door in doors {
            let prefix = KeyBuf::new().tag(st::NIGHT).str(door.as_str()).into_bytes();
            // (night) → entries (who, event id, time)
            let mut nights: BTreeMap<i64, Vec<(NodeRef, String, i64)>> = BTreeMap::new();
            for (k, v) in tx.prefix(CF_DSTATE, &prefix)? {
                let mut r = KeyReader::new(&k[prefix.len()..]);
                let (Ok(night), Ok(who), Ok(id)) = (r.i64(), r.node(), r.str()) else {
                    continue;
                };
                let t: i64 = decode(&k, &v)?;
                nights.entry(night).or_default().push((who, id, t));
            }
            for (night, entries) in nights {
                for (i, (x, xid, xt)) in entries.iter().enumerate() {
                    for (y, yid, yt) in &entries[i + 1..] {
                        if x == y {
                            continue;
                        }
                        let rx = self.registered_cached(
                            tx,
                            &mut registered,
                            x,
                            community,
                            building,
                            unit,
                        )?;
                        let ry = self.registered_cached(
                            tx,
                            &mut registered,
                            y,
                            community,
                            building,
                            unit,
                        )?;
                        let (xid, yid) = (EventId::new(xid), EventId::new(yid));
                        let (Ok(xid), Ok(yid)) = (xid, yid) else {
                            continue;
                        };
                        let (ex, ey): (Ev, Ev) = ((&xid, Timestamp(*xt)), (&yid, Timestamp(*yt)));
                        let (k, key) = acc_key(RelKind::CohabitantInferred, x, y, ex, ey, night);
                        let present = tx.get(CF_ACC, &k)?.is_some();
                        if rx != ry && !present {
                            self.put_acc(
                                tx,
                                RelKind::CohabitantInferred,
                                x,
                                y,
                                ex,
                                ey,
                                night,
                                false,
                            )?;
                        } else if rx == ry && present {
                            tx.delete(CF_ACC, k);
                            tx.dirty.insert((key.kind, key.from, key.to));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether a person is currently registered in a house of the unit.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn registered_cached(
        &self,
        tx: &Tx<'_>,
        cache: &mut HashMap<NodeRef, bool>,
        who: &NodeRef,
        community: &str,
        building: &str,
        unit: &str,
    ) -> Result<bool> {
        if let Some(r) = cache.get(who) {
            return Ok(*r);
        }
        let r = matches!(who, NodeRef::Person(_))
            && !tx
                .prefix(
                    CF_DSTATE,
                    &unit_prefix(community, building, unit)
                        .str(who.key())
                        .into_bytes(),
                )?
                .is_empty();
        cache.insert(who.clone(), r);
        Ok(r)
    }

    /// Adds evidence for an event-derived relation, the day being the local
    /// day of the earlier event.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn contribute(
        &self,
        tx: &mut Tx<'_>,
        kind: RelKind,
        a: &NodeRef,
        b: &NodeRef,
        ea: Ev<'_>,
        eb: Ev<'_>,
        direct: bool,
    ) -> Result<()> {
        let t = ea.1.min(eb.1);
        let day = i64::from(self.clock.local_date(t).num_days_from_ce());
        self.put_acc(tx, kind, a, b, ea, eb, day, direct)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn put_acc(
        &self,
        tx: &mut Tx<'_>,
        kind: RelKind,
        a: &NodeRef,
        b: &NodeRef,
        ea: Ev<'_>,
        eb: Ev<'_>,
        day: i64,
        direct: bool,
    ) -> Result<()> {
        if a == b {
            return Ok(());
        }
        let (k, key) = acc_key(kind, a, b, ea, eb, day);
        let v = AccValue {
            time: ea.1.min(eb.1).0,
            direct,
        };
        let end = ea.1.max(eb.1).0;
        tx.put(CF_ACC, k, encode(&(v, end))?);
        tx.dirty.insert((kind, key.from, key.to));
        Ok(())
    }

    /// The edge a pair's evidence supports, if it meets the kind's rule.
    pub(super) fn pair_edge(
        &self,
        tx: &Tx<'_>,
        kind: RelKind,
        a: &NodeRef,
        b: &NodeRef,
    ) -> Result<Option<Edge>> {
        let prefix = acc_prefix(kind, a, b);
        let mut days = BTreeSet::new();
        let mut direct = false;
        let (mut first, mut last) = (i64::MAX, i64::MIN);
        let mut evidence: BTreeSet<(i64, String)> = BTreeSet::new();
        let mut n_rows = 0u32;
        for (k, v) in tx.prefix(CF_ACC, &prefix)? {
            let mut r = KeyReader::new(&k[prefix.len()..]);
            let (Ok(day), Ok(e1), Ok(e2)) = (r.i64(), r.str(), r.str()) else {
                continue;
            };
            let (val, end): (AccValue, i64) = decode(&k, &v)?;
            days.insert(day);
            direct |= val.direct;
            first = first.min(val.time);
            last = last.max(end);
            evidence.insert((val.time, e1));
            evidence.insert((end, e2));
            n_rows += 1;
        }
        if n_rows == 0 {
            return Ok(None);
        }
        let p = &self.params;
        let holds = match kind {
            RelKind::Companion => within(&days, p.companion_days, p.companion_window_days),
            RelKind::CohabitantInferred => within(&days, p.cohabit_nights, p.cohabit_window_days),
            RelKind::Drives => direct || within(&days, p.drive_days, p.drive_window_days),
            _ => true,
        };
        if !holds {
            return Ok(None);
        }
        let mut ids: Vec<String> = Vec::new();
        for (_, id) in &evidence {
            if !ids.contains(id) {
                ids.push(id.clone());
            }
        }
        let n_evidence = ids.len() as u32;
        ids.truncate(p.max_evidence);
        let strength = match kind {
            RelKind::Visitor => n_rows,
            _ => days.len() as u32,
        };
        Ok(Some(Edge {
            key: EdgeKey::new(kind, a.clone(), b.clone(), ""),
            first_seen: Some(Timestamp(first)),
            last_seen: Some(Timestamp(last)),
            strength,
            historical: false,
            detail: String::new(),
            evidence: ids,
            n_evidence,
        }))
    }
}
