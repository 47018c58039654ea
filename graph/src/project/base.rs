//! Base records: registration relations per house, releasing the events
//! that waited for a device, card or tag.

use super::*;

impl<'a> Projection<'a> {
    /// Projects a base record; returns how many waiting events it released.
    pub(super) fn project_base(&self, tx: &mut Tx<'_>, rec: &BaseRecord) -> Result<u64> {
        match rec {
            BaseRecord::Person(p) => {
                let node = NodeRef::Person(p.id.clone());
                tx.ops.push(GraphOp::Node(Node {
                    node: node.clone(),
                    label: p.name.clone().unwrap_or_default(),
                }));
                if let Some(n) = &p.id_number {
                    tx.put(
                        CF_DSTATE,
                        KeyBuf::new()
                            .tag(st::ID_NUMBER)
                            .str(n.as_str())
                            .into_bytes(),
                        p.id.as_str().as_bytes().to_vec(),
                    );
                }
                if let Some(phone) = &p.phone {
                    tx.put(
                        CF_DSTATE,
                        KeyBuf::new().tag(st::PHONE).str(phone).into_bytes(),
                        p.id.as_str().as_bytes().to_vec(),
                    );
                }
                let mut moved = 0;
                if let Some(f) = &p.face {
                    self.register_face(rec)?;
                    // stranger archives this face shows to be the person
                    for archive in self.matcher.claims(&p.id, f) {
                        if self.resolve(tx, archive.clone())? == archive {
                            moved += self.merge_in(tx, &archive, &node)?;
                        }
                    }
                }
                Ok(moved)
            }
            BaseRecord::House(h) => {
                tx.ops.push(GraphOp::Node(Node {
                    node: NodeRef::House(h.id.clone()),
                    label: h.address.clone().unwrap_or_else(|| {
                        format!("{} {}-{}-{}", h.community, h.building, h.unit, h.room)
                    }),
                }));
                self.house_registrations(tx, &h.id)?;
                Ok(0)
            }
            BaseRecord::Residence(r) => {
                tx.put(
                    CF_DSTATE,
                    KeyBuf::new()
                        .tag(st::RESIDENCE)
                        .str(r.house.as_str())
                        .str(&rec.key())
                        .into_bytes(),
                    Vec::new(),
                );
                self.house_registrations(tx, &r.house)?;
                // where the person lives scopes their face for searches
                self.register_face(rec)?;
                Ok(0)
            }
            BaseRecord::Vehicle(v) => {
                let node = NodeRef::Vehicle(v.plate.clone());
                let label = [
                    Some(v.plate.as_str()),
                    v.brand.as_deref(),
                    v.color.as_deref(),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
                tx.ops.push(GraphOp::Node(Node {
                    node: node.clone(),
                    label,
                }));
                let owner_key = KeyBuf::new()
                    .tag(st::OWNER)
                    .str(v.plate.as_str())
                    .into_bytes();
                let old: Option<PersonId> = match tx.get(CF_DSTATE, &owner_key)? {
                    Some(b) => Some(decode(&owner_key, &b)?),
                    None => None,
                };
                if old != v.owner {
                    if let Some(o) = &old {
                        tx.ops.push(GraphOp::Remove(EdgeKey::new(
                            RelKind::Owns,
                            NodeRef::Person(o.clone()),
                            node.clone(),
                            "",
                        )));
                    }
                    match &v.owner {
                        Some(o) => tx.put(CF_DSTATE, owner_key, encode(o)?),
                        None => tx.delete(CF_DSTATE, owner_key),
                    }
                }
                if let Some(o) = &v.owner {
                    tx.ops.push(GraphOp::Upsert(Edge {
                        key: EdgeKey::new(RelKind::Owns, NodeRef::Person(o.clone()), node, ""),
                        first_seen: None,
                        last_seen: None,
                        strength: 1,
                        historical: false,
                        detail: v.kind.map(|k| k.as_str().to_owned()).unwrap_or_default(),
                        evidence: vec![format!("vehicle:{}", v.plate)],
                        n_evidence: 1,
                    }));
                }
                let mut n = 0;
                if let Some(tag) = &v.rfid {
                    tx.put(
                        CF_DSTATE,
                        KeyBuf::new().tag(st::TAG).str(tag.as_str()).into_bytes(),
                        v.plate.as_str().as_bytes().to_vec(),
                    );
                    n += self.release(tx, UNRES_TAG, tag.as_str())?;
                }
                Ok(n)
            }
            BaseRecord::Kin(k) => {
                tx.ops.push(GraphOp::Upsert(Edge {
                    key: EdgeKey::new(
                        RelKind::Kin,
                        NodeRef::Person(k.a.clone()),
                        NodeRef::Person(k.b.clone()),
                        k.relation.as_str(),
                    ),
                    first_seen: None,
                    last_seen: None,
                    strength: 1,
                    historical: false,
                    detail: k.relation.as_str().to_owned(),
                    evidence: vec![format!("kin:{}", rec.key().replace('\u{1f}', "|"))],
                    n_evidence: 1,
                }));
                Ok(0)
            }
            BaseRecord::Card(c) => self.release(tx, UNRES_CARD, c.card_no.as_str()),
            BaseRecord::Device(d) => {
                self.devices
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(d.id.to_string(), Some(d.clone()));
                if d.kind == DeviceKind::UnitDoor
                    && let (Some(b), Some(u)) = (&d.building, &d.unit)
                {
                    tx.put(
                        CF_DSTATE,
                        KeyBuf::new()
                            .tag(st::UNIT_DOOR)
                            .str(d.community.as_str())
                            .str(b)
                            .str(u)
                            .str(d.id.as_str())
                            .into_bytes(),
                        Vec::new(),
                    );
                    tx.dirty_units
                        .insert((d.community.to_string(), b.clone(), u.clone()));
                }
                self.release(tx, UNRES_DEVICE, d.id.as_str())
            }
            BaseRecord::Region(_) | BaseRecord::Community(_) => Ok(0),
        }
    }

    /// Projects again the events that waited for a base record.
    pub(super) fn release(&self, tx: &mut Tx<'_>, what: u8, key: &str) -> Result<u64> {
        let prefix = KeyBuf::new()
            .tag(st::UNRESOLVED)
            .tag(what)
            .str(key)
            .into_bytes();
        let waiting = tx.prefix(CF_DSTATE, &prefix)?;
        let mut n = 0;
        for (k, _) in waiting {
            let mut r = KeyReader::new(&k[prefix.len()..]);
            let (id, device) =
                r.str()
                    .and_then(|id| Ok((id, r.str()?)))
                    .map_err(|e| Error::Corrupt {
                        key: format!("{k:02x?}"),
                        why: e.to_string(),
                    })?;
            tx.delete(CF_DSTATE, k.clone());
            if let Some(ev) = self.store.event(&id, &device)? {
                self.project_event(tx, &ev)?;
                n += 1;
            }
        }
        Ok(n)
    }

    pub(super) fn wait_for(&self, tx: &mut Tx<'_>, what: u8, key: &str, ev: &Event) {
        tx.put(
            CF_DSTATE,
            KeyBuf::new()
                .tag(st::UNRESOLVED)
                .tag(what)
                .str(key)
                .raw(&event_key(ev.id.as_str(), ev.device.as_str()))
                .into_bytes(),
            Vec::new(),
        );
    }

    /// Recomputes everything a house's registrations imply: lives_in /
    /// lived_in, registered cohabitants, tenant_of, and the unit's occupant
    /// index; removes what they no longer support.
    pub(super) fn house_registrations(
        &self,
        tx: &mut Tx<'_>,
        house: &model::HouseId,
    ) -> Result<()> {
        let hnode = NodeRef::House(house.clone());
        let (h, regs) = house_registers(&*tx, house)?;
        let ended = |t: Option<Timestamp>| t.is_some_and(|t| t <= self.now);
        let evidence =
            |r: &Residence| format!("residence:{}|{}|{}", r.person, r.house, r.role.as_str());
        let occupants: Vec<&Residence> =
            regs.iter().filter(|r| is_occupant(r, h.as_ref())).collect();
        let mut edges: BTreeMap<EdgeKey, Edge> = BTreeMap::new();

        // lives_in / lived_in: one edge per occupant, over all their roles
        let mut per_person: BTreeMap<&PersonId, Vec<&Residence>> = BTreeMap::new();
        for r in &occupants {
            per_person.entry(&r.person).or_default().push(r);
        }
        for (p, rs) in &per_person {
            let historical = rs.iter().all(|r| ended(r.until));
            let kind = if historical {
                RelKind::LivedIn
            } else {
                RelKind::LivesIn
            };
            let open = rs.iter().any(|r| r.until.is_none());
            let mut roles: Vec<&str> = rs.iter().map(|r| r.role.as_str()).collect();
            roles.sort();
            roles.dedup();
            let mut ev: Vec<String> = rs.iter().map(|r| evidence(r)).collect();
            ev.sort();
            let e = Edge {
                key: EdgeKey::new(kind, NodeRef::Person((*p).clone()), hnode.clone(), ""),
                first_seen: rs.iter().filter_map(|r| r.since).min(),
                last_seen: if open {
                    None
                } else {
                    rs.iter().filter_map(|r| r.until).max()
                },
                strength: rs.len() as u32,
                historical,
                detail: roles.join(";"),
                n_evidence: ev.len() as u32,
                evidence: ev,
            };
            edges.insert(e.key.clone(), e);
        }

        // cohabitants: occupants whose registrations overlap in time
        for (i, a) in occupants.iter().enumerate() {
            for b in &occupants[i + 1..] {
                if a.person == b.person {
                    continue;
                }
                let start = a.since.max(b.since);
                let end = match (a.until, b.until) {
                    (Some(x), Some(y)) => Some(x.min(y)),
                    (x, y) => x.or(y),
                };
                if let (Some(s), Some(e)) = (start, end)
                    && e <= s
                {
                    continue;
                }
                let key = EdgeKey::new(
                    RelKind::Cohabitant,
                    NodeRef::Person(a.person.clone()),
                    NodeRef::Person(b.person.clone()),
                    house.as_str(),
                );
                let mut ev = vec![evidence(a), evidence(b)];
                let entry = edges.entry(key.clone()).or_insert_with(|| Edge {
                    key,
                    first_seen: start,
                    last_seen: end,
                    strength: 0,
                    historical: true,
                    detail: String::new(),
                    evidence: Vec::new(),
                    n_evidence: 0,
                });
                entry.first_seen = entry.first_seen.min(start).or(start);
                entry.last_seen = match (entry.last_seen, end) {
                    (Some(x), Some(y)) => Some(x.max(y)),
                    _ => None,
                };
                entry.historical &= ended(end);
                entry.strength += 1;
                entry.evidence.append(&mut ev);
                entry.evidence.sort();
                entry.evidence.dedup();
                entry.n_evidence = entry.evidence.len() as u32;
            }
        }

        // tenant_of: a tenant of a house whose owner is the other person
        for t in regs.iter().filter(|r| r.role == ResidenceRole::Tenant) {
            for o in regs.iter().filter(|r| r.role == ResidenceRole::Owner) {
                if t.person == o.person {
                    continue;
                }
                let historical = ended(t.until) || ended(o.until);
                let key = EdgeKey::new(
                    RelKind::TenantOf,
                    NodeRef::Person(t.person.clone()),
                    NodeRef::Person(o.person.clone()),
                    house.as_str(),
                );
                let mut ev = vec![evidence(t), evidence(o)];
                ev.sort();
                edges.insert(
                    key.clone(),
                    Edge {
                        key,
                        first_seen: t.since,
                        last_seen: t.until,
                        strength: 1,
                        historical,
                        detail: String::new(),
                        n_evidence: 2,
                        evidence: ev,
                    },
                );
            }
        }

        // the unit's current occupants (for the inferred-cohabitant rule)
        let mut units = Vec::new();
        if let Some(h) = &h {
            for (p, rs) in &per_person {
                if rs.iter().any(|r| !ended(r.until)) {
                    units.push(
                        unit_prefix(h.community.as_str(), &h.building, &h.unit)
                            .str(p.as_str())
                            .str(house.as_str())
                            .into_bytes(),
                    );
                }
            }
        }

        let out_key = KeyBuf::new()
            .tag(st::HOUSE_OUT)
            .str(house.as_str())
            .into_bytes();
        let old: HouseOut = match tx.get(CF_DSTATE, &out_key)? {
            Some(b) => decode(&out_key, &b)?,
            None => HouseOut::default(),
        };
        for k in &old.edges {
            if !edges.contains_key(k) {
                tx.ops.push(GraphOp::Remove(k.clone()));
            }
        }
        for k in &old.units {
            if !units.contains(k) {
                tx.delete(CF_DSTATE, k.clone());
            }
        }
        if old.units != units {
            for k in old.units.iter().chain(&units) {
                let mut r = KeyReader::new(&k[1..]);
                if let (Ok(c), Ok(b), Ok(u)) = (r.str(), r.str(), r.str()) {
                    tx.dirty_units.insert((c, b, u));
                }
            }
        }
        for k in &units {
            tx.put(CF_DSTATE, k.clone(), Vec::new());
        }
        let new = HouseOut {
            edges: edges.keys().cloned().collect(),
            units,
        };
        for (_, mut e) in edges {
            e.evidence.truncate(self.params.max_evidence);
            tx.ops.push(GraphOp::Upsert(e));
        }
        tx.put(CF_DSTATE, out_key, encode(&new)?);
        Ok(())
    }
}

/// A house and its registrations (from the house → residences index).
pub(crate) fn house_registers(
    r: &dyn StateRead,
    house: &model::HouseId,
) -> Result<(Option<model::House>, Vec<Residence>)> {
    let store = r.store();
    let h = match store.base(BaseKind::House, house.as_str())? {
        Some(BaseRecord::House(h)) => Some(h),
        _ => None,
    };
    let prefix = KeyBuf::new()
        .tag(st::RESIDENCE)
        .str(house.as_str())
        .into_bytes();
    let mut regs = Vec::new();
    for rkey in r.keys_under(&prefix)? {
        if let Some(BaseRecord::Residence(res)) = store.base(BaseKind::Residence, &rkey)? {
            regs.push(res);
        }
    }
    Ok((h, regs))
}

/// Occupants of a house are its registrations other than the owner of a
/// rented house (the landlord).
pub(crate) fn is_occupant(r: &Residence, house: Option<&model::House>) -> bool {
    r.is_occupant(house.and_then(|h| h.usage))
}

/// The unit doors of a unit.
pub(crate) fn unit_doors(
    r: &dyn StateRead,
    community: &str,
    building: &str,
    unit: &str,
) -> Result<Vec<model::DeviceId>> {
    let prefix = KeyBuf::new()
        .tag(st::UNIT_DOOR)
        .str(community)
        .str(building)
        .str(unit)
        .into_bytes();
    Ok(r.keys_under(&prefix)?
        .iter()
        .filter_map(|d| model::DeviceId::new(d).ok())
        .collect())
}

/// Whether some window of `window` days holds at least `need` of `days`.
pub(super) fn within(days: &BTreeSet<i64>, need: u32, window: u32) -> bool {
    let need = need.max(1) as usize;
    let d: Vec<i64> = days.iter().copied().collect();
    d.windows(need)
        .any(|w| w[need - 1] - w[0] < i64::from(window.max(1)))
        || (need == 1 && !d.is_empty())
}

pub(super) fn unit_prefix(community: &str, building: &str, unit: &str) -> KeyBuf {
    KeyBuf::new()
        .tag(st::UNIT)
        .str(community)
        .str(building)
        .str(unit)
}
