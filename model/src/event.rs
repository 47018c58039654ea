//! Events: what the devices see. Each carries its source id, device and time.

use serde::{Deserialize, Serialize};

use crate::base::str_enum;
use crate::{
    BaseKind, BaseRef, CardNo, DeviceId, Direction, EventId, Feature, HouseId, Mac, PersonId,
    Plate, RfidTag, Timestamp, VehicleKind,
};

str_enum!(EventKind {
    FaceCapture = "face_capture",
    Access = "access",
    VehiclePass = "vehicle_pass",
    Visitor = "visitor",
    Probe = "probe",
    Rfid = "rfid",
    DoorSensor = "door_sensor",
    DeviceAlarm = "device_alarm",
});

impl EventKind {
    pub fn type_name(self) -> &'static str {
        self.as_str()
    }
}

str_enum!(AccessMethod { Card = "card", Face = "face", IdCard = "idcard", QrCode = "qrcode", Password = "password", Remote = "remote" });
str_enum!(AccessResult { Granted = "granted", Denied = "denied" });
str_enum!(DoorState { Open = "open", Close = "close" });
str_enum!(AlarmKind { Fall = "fall", Smoke = "smoke", Throwing = "throwing", Gathering = "gathering", Intrusion = "intrusion", Fight = "fight", Loitering = "loitering" });

/// An event as stored: envelope plus the type-specific body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: EventId,
    pub device: DeviceId,
    pub time: Timestamp,
    pub body: EventBody,
}

/// The visitor of a visitor registration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisitorInfo {
    pub name: Option<String>,
    pub id_number: Option<crate::IdNumber>,
    pub phone: Option<String>,
    pub plate: Option<Plate>,
    pub feature: Option<Feature>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EventBody {
    /// A face seen by a camera or gate; without `person` it is a stranger
    /// capture. The feature is absent only for GA/T 1400 objects sent without one.
    FaceCapture {
        feature: Option<Feature>,
        person: Option<PersonId>,
        score: Option<f32>,
        image_url: Option<String>,
        direction: Option<Direction>,
    },
    Access {
        method: AccessMethod,
        person: Option<PersonId>,
        card_no: Option<CardNo>,
        direction: Option<Direction>,
        result: Option<AccessResult>,
        feature: Option<Feature>,
    },
    VehiclePass {
        /// `None` when the plate was not read (`"unknown"`).
        plate: Option<Plate>,
        direction: Option<Direction>,
        plate_color: Option<String>,
        vehicle_kind: Option<VehicleKind>,
        image_url: Option<String>,
        occupant_features: Vec<Feature>,
    },
    Visitor {
        host_house: HouseId,
        visitor: VisitorInfo,
        host_person: Option<PersonId>,
        purpose: Option<String>,
        leave_by: Option<Timestamp>,
    },
    Probe {
        mac: Mac,
        rssi: Option<i32>,
    },
    Rfid {
        tag: RfidTag,
        card_no: Option<CardNo>,
        person: Option<PersonId>,
        direction: Option<Direction>,
    },
    DoorSensor {
        state: DoorState,
    },
    DeviceAlarm {
        kind: AlarmKind,
        level: Option<String>,
        image_url: Option<String>,
        note: Option<String>,
    },
}

impl Event {
    pub fn kind(&self) -> EventKind {
        match &self.body {
            EventBody::FaceCapture { .. } => EventKind::FaceCapture,
            EventBody::Access { .. } => EventKind::Access,
            EventBody::VehiclePass { .. } => EventKind::VehiclePass,
            EventBody::Visitor { .. } => EventKind::Visitor,
            EventBody::Probe { .. } => EventKind::Probe,
            EventBody::Rfid { .. } => EventKind::Rfid,
            EventBody::DoorSensor { .. } => EventKind::DoorSensor,
            EventBody::DeviceAlarm { .. } => EventKind::DeviceAlarm,
        }
    }

    /// The base records this event refers to: its device, and the person,
    /// card or host house it names. Plates and tags are not references: a
    /// visiting car or an unregistered e-bike is normal, not missing data.
    pub fn references(&self) -> Vec<BaseRef> {
        let mut refs = vec![BaseRef::new(BaseKind::Device, self.device.as_str())];
        let mut person = |p: &Option<PersonId>| {
            if let Some(p) = p {
                refs.push(BaseRef::new(BaseKind::Person, p.as_str()));
            }
        };
        match &self.body {
            EventBody::FaceCapture { person: p, .. } => person(p),
            EventBody::Access {
                person: p, card_no, ..
            }
            | EventBody::Rfid {
                person: p, card_no, ..
            } => {
                person(p);
                if let Some(c) = card_no {
                    refs.push(BaseRef::new(BaseKind::Card, c.as_str()));
                }
            }
            EventBody::Visitor {
                host_house,
                host_person,
                ..
            } => {
                person(host_person);
                refs.push(BaseRef::new(BaseKind::House, host_house.as_str()));
            }
            _ => {}
        }
        refs
    }
}
