// 全息档案: one archive (person, stranger archive, house, vehicle, community,
// device) in one query — profile (masked as the role requires), tags with
// their evidence, relation groups with counts and "N more", sightings as a
// paged timeline with activity by hour, open alerts, watch lists, similar
// faces (and merge, for the roles that may).
import { lazy, Suspense, useEffect, useState } from 'react';
import { Alert, Button, Card, Col, Descriptions, Empty, List, Popconfirm, Row, Space, Table, Tag, Typography, message } from 'antd';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { ApiError, gql } from '../api/client';
import { useT } from '../i18n';
import { may, useSession } from '../session';

const HourChart = lazy(() => import('../components/HourChart'));

interface Entity { ref: string; kind: string; label: string }
interface Relation { kind: string; direction: string; node: Entity; strength: number; lastSeen: string | null; historical: boolean; detail: string }
interface RelationList { total: number; more: number; items: Relation[] }
interface Sighting { time: string; event: string; device: string; type: string; role: string }

const GROUPS = ['houses', 'residents', 'cohabitants', 'kin', 'tenancy', 'visitors', 'visited', 'companions', 'vehicles', 'occupants'] as const;

const rel = (g: string) => `${g}(limit: 8) { total more items { kind direction node { ref kind label } strength lastSeen historical detail } }`;

const Q = `query Archive($ref: String!) {
  archive(ref: $ref) {
    ref kind key label
    person { id name gender birthDate idNumber phone household categories photoUrl hasFace }
    house { id community building unit room address areaM2 usage floor }
    vehicle { plate color brand kind owner community rfid }
    community { id name region address kind lon lat }
    device { id kind community name building unit house direction lon lat }
    statistics { persons houses vehicles devices }
    ${GROUPS.map(rel).join('\n    ')}
    trajectorySummary(days: 30) { byHour sightings footholds { community nights } communities { community days sightings } }
    tags { model active from to score detail evidence }
    openAlerts { id kind title time status }
    watchLists { id name }
  }
}`;

const SIGHTINGS = `query Sightings($ref: String!, $first: Int, $after: String) {
  archive(ref: $ref) { sightings(first: $first, after: $after) { edges { cursor node { time event device type role } } pageInfo { hasNextPage endCursor } } }
}`;

const SIMILAR = `query Similar($ref: String!) { archive(ref: $ref) { similarFaces(k: 3) { score entity { ref kind label } } } }`;

type A = Record<string, unknown> & {
  ref: string; kind: string; key: string; label: string;
  trajectorySummary: { byHour: number[]; sightings: number; footholds: { community: string; nights: number }[]; communities: { community: string; days: number; sightings: number }[] };
  tags: { model: string; active: boolean; from: string; to: string; score: number; detail: string; evidence: string[] }[];
  openAlerts: { id: string; kind: string; title: string; time: string; status: string }[];
  watchLists: { id: string; name: string }[];
};

function Profile({ a }: { a: A }) {
  const t = useT();
  const p = (a.person ?? a.house ?? a.vehicle ?? a.community ?? a.device) as Record<string, unknown> | null;
  if (!p) return <Typography.Text type="secondary">{a.ref}</Typography.Text>;
  return (
    <Descriptions size="small" column={2} bordered data-testid="profile">
      {Object.entries(p)
        .filter(([, v]) => v !== null && v !== '' && !(Array.isArray(v) && v.length === 0))
        .map(([k, v]) => (
          <Descriptions.Item key={k} label={t.term(k)}>
            {Array.isArray(v) ? v.map((x) => <Tag key={String(x)}>{t.term(String(x))}</Tag>) : typeof v === 'boolean' ? (v ? '✓' : '—') : /^([a-z_]+|[MF])$/.test(String(v)) ? t.term(String(v)) : String(v)}
          </Descriptions.Item>
        ))}
    </Descriptions>
  );
}

function Group({ name, list }: { name: string; list: RelationList }) {
  const t = useT();
  if (!list || list.total === 0) return null;
  return (
    <Card size="small" title={`${t.term(name)} (${list.total})`} style={{ marginBottom: 12 }} data-testid={`group-${name}`}>
      {list.items.map((r) => (
        <div key={`${r.kind}-${r.node.ref}`} style={{ marginBottom: 4 }}>
          <Tag>{t.term(r.kind)}</Tag>
          {r.node.kind === 'hidden' ? (
            <Typography.Text type="secondary">{t('hidden')}</Typography.Text>
          ) : (
            <Link to={`/archive/${encodeURIComponent(r.node.ref)}`}>{r.node.label || r.node.ref}</Link>
          )}{' '}
          <Typography.Text type="secondary">
            ×{r.strength}
            {r.historical ? ' · hist.' : ''}
            {r.lastSeen ? ` · ${r.lastSeen.slice(0, 10)}` : ''}
          </Typography.Text>
          {r.detail && <div className="muted" style={{ fontSize: 12 }}>{r.detail}</div>}
        </div>
      ))}
      {list.more > 0 && <Typography.Text type="secondary">{t('moreN', { n: list.more })}</Typography.Text>}
    </Card>
  );
}

function Sightings({ refId }: { refId: string }) {
  const t = useT();
  const [rows, setRows] = useState<Sighting[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [more, setMore] = useState(false);
  const load = async (after: string | null) => {
    const d = await gql<{ archive: { sightings: { edges: { node: Sighting }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } } }>(SIGHTINGS, { ref: refId, first: 20, after });
    const s = d.archive.sightings;
    setRows((r) => (after ? [...r, ...s.edges.map((e) => e.node)] : s.edges.map((e) => e.node)));
    setCursor(s.pageInfo.endCursor);
    setMore(s.pageInfo.hasNextPage);
  };
  useEffect(() => {
    load(null).catch(() => undefined);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [refId]);
  return (
    <>
      <Table
        data-testid="sightings"
        size="small"
        rowKey={(s) => `${s.event}-${s.time}`}
        pagination={false}
        dataSource={rows}
        columns={[
          { title: t('time'), dataIndex: 'time' },
          { title: t('kind'), dataIndex: 'type', render: (v: string) => t.term(v) },
          { title: t('device'), dataIndex: 'device', render: (v: string) => <Link to={`/archive/${encodeURIComponent(`device:${v}`)}`}>{v}</Link> },
          { title: t('evidence'), dataIndex: 'event' },
        ]}
      />
      {more && (
        <Button style={{ marginTop: 8 }} onClick={() => load(cursor)} data-testid="sightings-more">
          {t('more')}
        </Button>
      )}
    </>
  );
}

export function ArchivePage() {
  const t = useT();
  const { me } = useSession();
  const nav = useNavigate();
  const refId = decodeURIComponent(useParams().ref ?? '');
  const [a, setA] = useState<A | null>(null);
  const [err, setErr] = useState<ApiError | null>(null);
  const [similar, setSimilar] = useState<{ score: number; entity: Entity }[]>([]);
  useEffect(() => {
    setA(null);
    setErr(null);
    gql<{ archive: A }>(Q, { ref: refId })
      .then((d) => setA(d.archive))
      .catch((e: ApiError) => setErr(e));
    if (refId.startsWith('stranger:') || refId.startsWith('person:')) {
      gql<{ archive: { similarFaces: { score: number; entity: Entity }[] } }>(SIMILAR, { ref: refId })
        .then((d) => setSimilar(d.archive.similarFaces))
        .catch(() => setSimilar([]));
    }
  }, [refId]);
  if (err) return <div className="page"><Alert type="warning" data-testid="archive-error" message={err.code === 'NOT_FOUND' ? t('notFound') : err.message} /></div>;
  if (!a) return <div className="page">{t('loading')}</div>;
  const merge = async (into: string) => {
    try {
      await gql(`mutation($a: String!, $b: String!) { mergeArchive(archive: $a, into: $b) { merged } }`, { a: refId, b: into });
      message.success(t('merge'));
      nav(`/archive/${encodeURIComponent(into)}`);
    } catch (e) {
      message.error((e as Error).message);
    }
  };
  return (
    <div className="page" data-testid="archive" data-ref={a.ref}>
      <Space style={{ marginBottom: 12 }} wrap>
        <Typography.Title level={3} style={{ margin: 0 }} data-testid="archive-label">
          {a.label || a.ref}
        </Typography.Title>
        <Tag color="geekblue">{t.term(a.kind)}</Tag>
        {a.tags.filter((x) => x.active).map((x) => (
          <Tag key={x.model} color="volcano">{x.model}</Tag>
        ))}
        <Link to={`/graph?seed=${encodeURIComponent(a.ref)}`} data-testid="open-graph"><Button>{t('graph')}</Button></Link>
        <Link to={`/map?ref=${encodeURIComponent(a.ref)}`} data-testid="open-map"><Button>{t('map')}</Button></Link>
      </Space>
      <Row gutter={16}>
        <Col span={14}>
          <Card size="small" title={t('profile')} style={{ marginBottom: 12 }}>
            <Profile a={a} />
          </Card>
          <Card size="small" title={`${t('activityByHour')} (${a.trajectorySummary.sightings})`} style={{ marginBottom: 12 }}>
            <Suspense fallback={null}>
              <HourChart byHour={a.trajectorySummary.byHour} />
            </Suspense>
            <Space wrap>
              {a.trajectorySummary.footholds.map((f) => (
                <Tag key={f.community} color="green">{f.community} · {f.nights}</Tag>
              ))}
              {a.trajectorySummary.communities.map((c) => (
                <Tag key={c.community}>{c.community} · {c.days}d</Tag>
              ))}
            </Space>
          </Card>
          <Card size="small" title={t('sightings')}>
            <Sightings refId={a.ref} />
          </Card>
        </Col>
        <Col span={10}>
          {a.tags.length > 0 && (
            <Card size="small" title={t('tags')} style={{ marginBottom: 12 }} data-testid="tags">
              <List
                size="small"
                dataSource={a.tags}
                renderItem={(x) => (
                  <List.Item>
                    <div>
                      <Tag color={x.active ? 'volcano' : 'default'}>{x.model}</Tag> {x.from.slice(0, 10)} — {x.to.slice(0, 10)}
                      <div className="muted">{x.detail}</div>
                      <div className="muted" style={{ fontSize: 12 }}>{t('evidence')}: {x.evidence.slice(0, 6).join(', ')}</div>
                    </div>
                  </List.Item>
                )}
              />
            </Card>
          )}
          {GROUPS.map((g) => (
            <Group key={g} name={g} list={a[g] as RelationList} />
          ))}
          {a.openAlerts.length > 0 && (
            <Card size="small" title={t('openAlerts')} style={{ marginBottom: 12 }}>
              {a.openAlerts.map((x) => (
                <div key={x.id}>
                  <Tag color="red">{t.term(x.status)}</Tag> <Link to={`/alerts?id=${x.id}`}>{x.title}</Link>
                </div>
              ))}
            </Card>
          )}
          {a.watchLists.length > 0 && (
            <Card size="small" title={t('watchLists')} style={{ marginBottom: 12 }}>
              {a.watchLists.map((w) => <Tag key={w.id}>{w.name}</Tag>)}
            </Card>
          )}
          {similar.length > 0 && (
            <Card size="small" title={t('similarFaces')} data-testid="similar">
              {similar.map((s) => (
                <div key={s.entity.ref}>
                  <Link to={`/archive/${encodeURIComponent(s.entity.ref)}`}>{s.entity.label || s.entity.ref}</Link>{' '}
                  <Typography.Text type="secondary">{s.score.toFixed(2)}</Typography.Text>{' '}
                  {me && may.merge(me.role) && a.kind === 'stranger' && (
                    <Popconfirm title={`${t('merge')} → ${s.entity.label}`} onConfirm={() => merge(s.entity.ref)}>
                      <Button size="small">{t('merge')}</Button>
                    </Popconfirm>
                  )}
                </div>
              ))}
            </Card>
          )}
          {!a.tags.length && GROUPS.every((g) => !(a[g] as RelationList)?.total) && <Empty description={t('relations')} />}
        </Col>
      </Row>
    </div>
  );
}
