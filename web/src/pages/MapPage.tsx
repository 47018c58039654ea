// 一张图: MapLibre GL with no tile server — the base map is the data itself
// (community boundaries, devices); a subject's trajectory with its stays
// and footholds, playable over time; a polygon or circle drawn with a time
// range runs a region collision (区域碰撞). An optional intranet tile URL
// (`?tiles=`, the deployment's own GIS) goes under it.
import { useEffect, useMemo, useRef, useState } from 'react';
import { Alert, Button, Card, Input, InputNumber, List, Slider, Space, Tag, Typography, message } from 'antd';
import { Link, useSearchParams } from 'react-router-dom';
import * as maplibregl from 'maplibre-gl';
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?worker&url';
import 'maplibre-gl/dist/maplibre-gl.css';
import { TerraDraw, TerraDrawCircleMode, TerraDrawPolygonMode } from 'terra-draw';
import { TerraDrawMapLibreGLAdapter } from 'terra-draw-maplibre-gl-adapter';
import { ApiError, gql } from '../api/client';
import { useT } from '../i18n';

maplibregl.setWorkerUrl(workerUrl);

interface Point { time: string; event: string; device: string; community: string | null; lon: number; lat: number }
interface Stay { start: string; end: string; sightings: number; community: string | null; lon: number; lat: number }
interface Places {
  communities: { id: string; name: string; lon: number | null; lat: number | null; boundary: number[][] | null }[];
  devices: { id: string; kind: string; name: string | null; community: string; lon: number | null; lat: number | null }[];
}
interface Match { entity: { ref: string; kind: string; label: string }; matched: number; sightings: number }

const PLACES = `{ places { communities { id name lon lat boundary } devices { id kind name community lon lat } } }`;
const TRAJ = `query T($s: String!, $from: String!, $to: String!) {
  trajectory(subject: $s, from: $from, to: $to) { points { time event device community lon lat } stays { start end sightings community lon lat } footholds { community nights } }
}`;
const COLLISION = `query C($conditions: [CollisionCondition!]!, $min: Int) {
  collision(conditions: $conditions, minMatches: $min) { totalCount matches { entity { ref kind label } matched sightings } }
}`;

const fc = (features: GeoJSON.Feature[]): GeoJSON.FeatureCollection => ({ type: 'FeatureCollection', features });

export default function MapPage() {
  const t = useT();
  const [params] = useSearchParams();
  const subject = params.get('ref') ?? '';
  const tiles = params.get('tiles');
  const el = useRef<HTMLDivElement>(null);
  const map = useRef<maplibregl.Map | null>(null);
  const draw = useRef<TerraDraw | null>(null);
  const [from, setFrom] = useState(params.get('from') ?? '2026-10-01');
  const [to, setTo] = useState(params.get('to') ?? '2026-12-31');
  const [points, setPoints] = useState<Point[]>([]);
  const [stays, setStays] = useState<Stay[]>([]);
  const [at, setAt] = useState(0);
  const [playing, setPlaying] = useState(false);
  const [matches, setMatches] = useState<Match[] | null>(null);
  const [minAreas, setMinAreas] = useState<number | null>(null);
  const [err, setErr] = useState<string | null>(null);
  const [ready, setReady] = useState(false);

  useEffect(() => {
    if (!el.current) return;
    const style: maplibregl.StyleSpecification = {
      version: 8,
      sources: {
        ...(tiles ? { base: { type: 'raster', tiles: [tiles], tileSize: 256 } } : {}),
        communities: { type: 'geojson', data: fc([]) },
        devices: { type: 'geojson', data: fc([]) },
        track: { type: 'geojson', data: fc([]) },
        stays: { type: 'geojson', data: fc([]) },
        cursor: { type: 'geojson', data: fc([]) },
      },
      layers: [
        { id: 'bg', type: 'background', paint: { 'background-color': '#eef2f6' } },
        ...(tiles ? [{ id: 'base', type: 'raster', source: 'base' } as maplibregl.LayerSpecification] : []),
        { id: 'community-fill', type: 'fill', source: 'communities', paint: { 'fill-color': '#cfe0f5', 'fill-opacity': 0.6 } },
        { id: 'community-line', type: 'line', source: 'communities', paint: { 'line-color': '#5b8bd0', 'line-width': 1.5 } },
        { id: 'community-label', type: 'symbol', source: 'communities', layout: { 'text-field': ['get', 'name'], 'text-size': 12, 'text-font': ['Noto Sans CJK SC', 'sans-serif'] }, paint: { 'text-color': '#2b4c7e' } },
        { id: 'devices', type: 'circle', source: 'devices', paint: { 'circle-radius': 3, 'circle-color': '#7f8c8d' } },
        { id: 'track', type: 'line', source: 'track', paint: { 'line-color': '#d8553b', 'line-width': 2.5 } },
        { id: 'stays', type: 'circle', source: 'stays', paint: { 'circle-radius': ['min', 14, ['+', 4, ['get', 'sightings']]], 'circle-color': '#f0a23b', 'circle-opacity': 0.8 } },
        { id: 'cursor', type: 'circle', source: 'cursor', paint: { 'circle-radius': 7, 'circle-color': '#ff1744', 'circle-stroke-color': '#fff', 'circle-stroke-width': 2 } },
      ],
    };
    const m = new maplibregl.Map({ container: el.current, style, center: [120.16, 33.38], zoom: 12, attributionControl: false, localIdeographFontFamily: '"Noto Sans CJK SC", "Microsoft YaHei", sans-serif' });
    m.addControl(new maplibregl.NavigationControl(), 'top-left');
    m.on('load', () => {
      map.current = m;
      const d = new TerraDraw({ adapter: new TerraDrawMapLibreGLAdapter({ map: m }), modes: [new TerraDrawPolygonMode(), new TerraDrawCircleMode()] });
      d.start();
      draw.current = d;
      setReady(true);
    });
    (window as unknown as { __anjuMap?: unknown }).__anjuMap = m;
    return () => {
      draw.current?.stop();
      m.remove();
      map.current = null;
    };
  }, [tiles]);

  // the base map: communities and devices in scope
  useEffect(() => {
    if (!ready) return;
    gql<{ places: Places }>(PLACES)
      .then(({ places }) => {
        const m = map.current!;
        (window as unknown as { __anjuPlaces?: Places }).__anjuPlaces = places;
        const cs = places.communities.map((c) => ({
          type: 'Feature' as const,
          properties: { id: c.id, name: c.name },
          geometry: c.boundary && c.boundary.length >= 3
            ? { type: 'Polygon' as const, coordinates: [[...c.boundary, c.boundary[0]]] }
            : { type: 'Point' as const, coordinates: [c.lon ?? 0, c.lat ?? 0] },
        }));
        (m.getSource('communities') as maplibregl.GeoJSONSource).setData(fc(cs));
        const ds = places.devices.filter((d) => d.lon !== null).map((d) => ({ type: 'Feature' as const, properties: { id: d.id, kind: d.kind }, geometry: { type: 'Point' as const, coordinates: [d.lon!, d.lat!] } }));
        (m.getSource('devices') as maplibregl.GeoJSONSource).setData(fc(ds));
        const first = places.communities.find((c) => c.lon !== null);
        if (first && !subject) m.jumpTo({ center: [first.lon!, first.lat!], zoom: 13 });
      })
      .catch((e: ApiError) => setErr(e.message));
  }, [ready, subject]);

  // the trajectory
  const load = () => {
    if (!subject) return;
    gql<{ trajectory: { points: Point[]; stays: Stay[] } }>(TRAJ, { s: subject, from, to })
      .then(({ trajectory }) => {
        setPoints(trajectory.points);
        setStays(trajectory.stays);
        setAt(trajectory.points.length);
        setErr(null);
      })
      .catch((e: ApiError) => setErr(e.code === 'NOT_FOUND' ? t('notFound') : e.message));
  };
  // eslint-disable-next-line react-hooks/exhaustive-deps
  useEffect(load, [ready, subject]);

  const shown = useMemo(() => points.slice(0, Math.max(at, 1)), [points, at]);
  useEffect(() => {
    const m = map.current;
    if (!m || !ready) return;
    (m.getSource('track') as maplibregl.GeoJSONSource).setData(
      fc(shown.length > 1 ? [{ type: 'Feature', properties: {}, geometry: { type: 'LineString', coordinates: shown.map((p) => [p.lon, p.lat]) } }] : []),
    );
    const last = shown[shown.length - 1];
    (m.getSource('cursor') as maplibregl.GeoJSONSource).setData(fc(last ? [{ type: 'Feature', properties: {}, geometry: { type: 'Point', coordinates: [last.lon, last.lat] } }] : []));
    (m.getSource('stays') as maplibregl.GeoJSONSource).setData(
      fc(stays.map((s) => ({ type: 'Feature', properties: { sightings: s.sightings }, geometry: { type: 'Point', coordinates: [s.lon, s.lat] } }))),
    );
  }, [shown, stays, ready]);
  useEffect(() => {
    if (points.length && map.current) {
      const b = new maplibregl.LngLatBounds();
      points.forEach((p) => b.extend([p.lon, p.lat]));
      map.current.fitBounds(b, { padding: 60, maxZoom: 16, duration: 0 });
    }
  }, [points]);
  // playback: one point per frame tick
  useEffect(() => {
    if (!playing) return;
    const h = setInterval(() => {
      setAt((a) => {
        if (a >= points.length) {
          setPlaying(false);
          return a;
        }
        return a + 1;
      });
    }, 120);
    return () => clearInterval(h);
  }, [playing, points.length]);

  const collide = async () => {
    const shapes = draw.current?.getSnapshot() ?? [];
    const polys = shapes.filter((f) => f.geometry.type === 'Polygon');
    // 区域碰撞: who was seen in (at least `minAreas` of) the drawn areas in
    // the time range; the API compares 2 to 10 areas
    if (polys.length < 2 || polys.length > 10) return message.info(t('drawTwoAreas'));
    const conditions = polys.map((f, i) => ({
      area: { polygon: (f.geometry as GeoJSON.Polygon).coordinates[0] },
      from,
      to,
      label: `#${i + 1}`,
    }));
    try {
      const d = await gql<{ collision: { totalCount: number; matches: Match[] } }>(COLLISION, { conditions, min: minAreas ? Math.min(minAreas, polys.length) : null });
      setMatches(d.collision.matches);
    } catch (e) {
      message.error((e as Error).message);
    }
  };

  const cur = shown[shown.length - 1];
  return (
    <div className="page">
      <Space wrap style={{ marginBottom: 8 }}>
        {subject && <Tag color="geekblue">{subject}</Tag>}
        <Input style={{ width: 130 }} value={from} onChange={(e) => setFrom(e.target.value)} addonBefore={t('from')} />
        <Input style={{ width: 130 }} value={to} onChange={(e) => setTo(e.target.value)} addonBefore={t('to')} />
        {subject && <Button onClick={load}>{t('trajectory')}</Button>}
        {points.length > 0 && (
          <Button onClick={() => { if (at >= points.length) setAt(1); setPlaying((p) => !p); }} data-testid="play">
            {playing ? t('pause') : t('play')}
          </Button>
        )}
        <Button onClick={() => draw.current?.setMode('polygon')} data-testid="draw-polygon">{t('drawPolygon')}</Button>
        <Button onClick={() => draw.current?.setMode('circle')} data-testid="draw-circle">{t('drawCircle')}</Button>
        <InputNumber min={1} max={10} value={minAreas} onChange={(v) => setMinAreas(v as number | null)} placeholder={t('allAreas')} addonBefore={t('minAreas')} style={{ width: 200 }} data-testid="min-areas" />
        <Button onClick={() => { draw.current?.clear(); setMatches(null); }}>{t('clearAreas')}</Button>
        <Button type="primary" onClick={collide} data-testid="collide">{t('collision')}</Button>
        <Typography.Text type="secondary" data-testid="track-status">
          {points.length ? `${points.length} · ${stays.length}` : ''}
        </Typography.Text>
      </Space>
      {points.length > 0 && (
        <Slider min={1} max={points.length} value={Math.max(at, 1)} onChange={(v) => setAt(v as number)} tooltip={{ formatter: (v) => points[(v ?? 1) - 1]?.time }} />
      )}
      {err && <Alert type="warning" message={err} data-testid="map-error" />}
      <div className="map-canvas" ref={el} data-testid="map">
        {cur && (
          <Card size="small" className="side-panel" style={{ width: 260 }}>
            <div>{cur.time}</div>
            <div className="muted">{cur.device} · {cur.community}</div>
          </Card>
        )}
      </div>
      {matches && (
        <Card size="small" title={`${t('matches')} (${matches.length})`} style={{ marginTop: 8 }} data-testid="matches">
          <List
            size="small"
            dataSource={matches}
            renderItem={(x) => (
              <List.Item>
                <Link to={`/archive/${encodeURIComponent(x.entity.ref)}`}>{x.entity.label || x.entity.ref}</Link> ×{x.sightings}
              </List.Item>
            )}
          />
        </Card>
      )}
    </div>
  );
}
