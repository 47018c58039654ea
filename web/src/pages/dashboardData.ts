// The dashboard's data: one query per region and window (the API counts
// only what the caller may see).
import { useEffect, useState } from 'react';
import { gql } from '../api/client';

export interface Count { key: string; count: number }
export interface DayCount { day: string; type: string; count: number }
export interface SubRegion { region: string; name: string; level: string; persons: number; houses: number; events: number; alerts: number }
export interface Dashboard {
  region: string;
  regionName: string;
  path: { region: string; name: string }[];
  communities: number;
  persons: number;
  houses: number;
  vehicles: number;
  devices: number;
  events: number;
  personsByHousehold: Count[];
  housesByUse: Count[];
  devicesByKind: Count[];
  eventsPerDay: DayCount[];
  alertsPerDay: DayCount[];
  alertsByKind: Count[];
  alertsByStatus: Count[];
  falseAlarmRate: number;
  topCommunities: { community: string; name: string; events: number }[];
  subRegions: SubRegion[];
}

const Q = `query D($region: String, $from: String!, $to: String!) {
  dashboard(region: $region, from: $from, to: $to) {
    region regionName path { region name } communities persons houses vehicles devices events
    personsByHousehold { key count } housesByUse { key count } devicesByKind { key count }
    eventsPerDay { day type count } alertsPerDay { day type count }
    alertsByKind { key count } alertsByStatus { key count } falseAlarmRate
    topCommunities { community name events }
    subRegions { region name level persons houses events alerts }
  }
}`;

export function window30(): { from: string; to: string } {
  const to = new Date(Date.now() + 86400000);
  const from = new Date(to.getTime() - 60 * 86400000);
  return { from: from.toISOString().slice(0, 10), to: to.toISOString().slice(0, 10) };
}

/** The dashboard of `region` over [from, to), read again every `refreshMs`
 * (0: once) while the page is visible. */
export function useDashboard(region: string | null, from: string, to: string, refreshMs = 0) {
  const [data, setData] = useState<Dashboard | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    const load = () => {
      if (document.hidden) return;
      gql<{ dashboard: Dashboard }>(Q, { region, from, to })
        .then((d) => live && (setData(d.dashboard), setError(null)))
        .catch((e: Error) => live && setError(e.message));
    };
    load();
    const h = refreshMs > 0 ? setInterval(load, refreshMs) : undefined;
    return () => {
      live = false;
      if (h) clearInterval(h);
    };
  }, [region, from, to, refreshMs]);
  return { data, error };
}

/** Series per type from day counts (one line or bar per type). */
export function byType(rows: DayCount[]) {
  const days = [...new Set(rows.map((r) => r.day))].sort();
  const types = [...new Set(rows.map((r) => r.type))].sort();
  const series = types.map((ty) => ({
    name: ty,
    data: days.map((d) => rows.find((r) => r.day === d && r.type === ty)?.count ?? 0),
  }));
  return { days, series };
}
