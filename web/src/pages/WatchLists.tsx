// 布控: watch lists — create, edit, import CSV with per-line problems, revoke,
// and their hits (live: a hit raised while the page is open appears).
import { useCallback, useEffect, useState } from 'react';
import { Button, Card, Col, Form, Input, InputNumber, List, Modal, Popconfirm, Row, Space, Table, Tag, Typography, message } from 'antd';
import { Link } from 'react-router-dom';
import { gql, subscribe } from '../api/client';
import { useT } from '../i18n';
import { may, useSession } from '../session';

interface WatchList { id: string; name: string; reason: string; region: string; threshold: number | null; persons: string[]; plates: string[]; faces: { id: string; label: string }[]; updated: string }
interface Hit { id: string; kind: string; title: string; time: string; subject: string | null; watchList: string | null; status: string }

const LISTS = `{ watchLists { id name reason region threshold persons plates faces { id label } updated } }`;
const HITS = `{ alerts(kinds: ["watchlist_face", "watchlist_plate", "watchlist_person", "vehicle_watchlist_occupant"], first: 200) { edges { node { id kind title time subject watchList status } } } }`;
const LIVE = `subscription { alerts(kinds: ["watchlist_face", "watchlist_plate", "watchlist_person", "vehicle_watchlist_occupant"]) { id kind title time subject watchList status } }`;

export function WatchLists() {
  const t = useT();
  const { me } = useSession();
  const write = me ? may.watchWrite(me.role) : false;
  const [lists, setLists] = useState<WatchList[]>([]);
  const [hits, setHits] = useState<Hit[]>([]);
  const [current, setCurrent] = useState<string | null>(null);
  const [editing, setEditing] = useState<Partial<WatchList> | null>(null);
  const [csv, setCsv] = useState('');
  const [problems, setProblems] = useState<{ line: number; field: string; why: string }[] | null>(null);
  const load = useCallback(() => {
    gql<{ watchLists: WatchList[] }>(LISTS).then((d) => {
      setLists(d.watchLists);
      setCurrent((c) => c ?? d.watchLists[0]?.id ?? null);
    });
    gql<{ alerts: { edges: { node: Hit }[] } }>(HITS).then((d) => setHits(d.alerts.edges.map((e) => e.node)));
  }, []);
  useEffect(load, [load]);
  useEffect(() => subscribe<{ alerts: Hit }>(LIVE, {}, ({ alerts: h }) => setHits((x) => (x.some((y) => y.id === h.id) ? x : [h, ...x]))), []);
  const save = async () => {
    if (!editing) return;
    const input = { name: editing.name ?? '', reason: editing.reason ?? '', region: editing.region ?? '', threshold: editing.threshold ?? null };
    try {
      if (editing.id) await gql(`mutation($id: String!, $input: WatchListInput!) { updateWatchList(id: $id, input: $input) { id } }`, { id: editing.id, input });
      else {
        const d = await gql<{ createWatchList: { id: string } }>(`mutation($input: WatchListInput!) { createWatchList(input: $input) { id } }`, { input });
        setCurrent(d.createWatchList.id);
      }
      setEditing(null);
      load();
    } catch (e) {
      message.error((e as Error).message);
    }
  };
  const importCsv = async () => {
    if (!current) return;
    try {
      const d = await gql<{ importWatchList: { added: number; rejected: { line: number; field: string; why: string }[] } }>(
        `mutation($id: String!, $csv: String!) { importWatchList(id: $id, csv: $csv) { added rejected { line field why } } }`,
        { id: current, csv },
      );
      setProblems(d.importWatchList.rejected);
      message.success(`${t('added')}: ${d.importWatchList.added}`);
      load();
    } catch (e) {
      message.error((e as Error).message);
    }
  };
  const revoke = async (id: string) => {
    await gql(`mutation($ids: [String!]!) { revokeWatchLists(ids: $ids) }`, { ids: [id] });
    setCurrent(null);
    load();
  };
  const list = lists.find((l) => l.id === current);
  return (
    <div className="page">
      <Row gutter={16}>
        <Col span={8}>
          <Card
            size="small"
            title={t('watchLists')}
            extra={write && <Button size="small" onClick={() => setEditing({ region: me?.regions[0] ?? '' })} data-testid="new-list">{t('create')}</Button>}
          >
            <List
              data-testid="lists"
              dataSource={lists}
              renderItem={(l) => (
                <List.Item onClick={() => setCurrent(l.id)} style={{ cursor: 'pointer', background: l.id === current ? '#e6f4ff' : undefined }}>
                  <Space>
                    <Typography.Text strong>{l.name}</Typography.Text>
                    <Tag>{l.region || '*'}</Tag>
                    <Typography.Text type="secondary">{l.persons.length + l.plates.length + l.faces.length}</Typography.Text>
                  </Space>
                </List.Item>
              )}
            />
          </Card>
        </Col>
        <Col span={16}>
          {list && (
            <Card
              size="small"
              title={list.name}
              extra={
                write && (
                  <Space>
                    <Button size="small" onClick={() => setEditing(list)}>{t('save')}</Button>
                    <Popconfirm title={t('revoke')} onConfirm={() => revoke(list.id)}>
                      <Button size="small" danger data-testid="revoke">{t('revoke')}</Button>
                    </Popconfirm>
                  </Space>
                )
              }
            >
              <div>{t('reason')}: {list.reason}</div>
              <div>{t('persons')}: {list.persons.map((p) => <Tag key={p}>{p}</Tag>)}</div>
              <div>{t('plates')}: {list.plates.map((p) => <Tag key={p}>{p}</Tag>)}</div>
              <div>{t('faces')}: {list.faces.map((f) => <Tag key={f.id}>{f.label}</Tag>)}</div>
              {write && (
                <Space direction="vertical" style={{ width: '100%', marginTop: 8 }}>
                  <Input.TextArea rows={4} placeholder={'type,value,label\nplate,浙A12345\nperson,320902…'} value={csv} onChange={(e) => setCsv(e.target.value)} data-testid="csv" />
                  <Button onClick={importCsv} data-testid="import">{t('importCsv')}</Button>
                  {problems && problems.length > 0 && (
                    <Table size="small" rowKey="line" pagination={false} dataSource={problems} data-testid="problems" columns={[{ title: t('lines'), dataIndex: 'line' }, { title: t('field'), dataIndex: 'field' }, { title: t('problems'), dataIndex: 'why' }]} />
                  )}
                </Space>
              )}
            </Card>
          )}
          <Card size="small" title={t('hits')} style={{ marginTop: 12 }}>
            <Table
              data-testid="hits"
              size="small"
              rowKey="id"
              dataSource={list ? hits.filter((h) => h.watchList === list.id) : hits}
              columns={[
                { title: t('time'), dataIndex: 'time' },
                { title: t('kind'), dataIndex: 'kind' },
                { title: t('name'), dataIndex: 'title', render: (x: string, h: Hit) => (h.subject ? <Link to={`/archive/${encodeURIComponent(h.subject)}`}>{x}</Link> : x) },
                { title: t('status'), dataIndex: 'status', render: (s: string) => t.term(s) },
              ]}
            />
          </Card>
        </Col>
      </Row>
      <Modal open={!!editing} onOk={save} onCancel={() => setEditing(null)} title={t('watchLists')} okButtonProps={{ 'data-testid': 'save-list' } as never}>
        <Form layout="vertical">
          <Form.Item label={t('name')}>
            <Input value={editing?.name} onChange={(e) => setEditing({ ...editing, name: e.target.value })} data-testid="list-name" />
          </Form.Item>
          <Form.Item label={t('reason')}>
            <Input value={editing?.reason} onChange={(e) => setEditing({ ...editing, reason: e.target.value })} />
          </Form.Item>
          <Form.Item label={t('region')}>
            <Input value={editing?.region} onChange={(e) => setEditing({ ...editing, region: e.target.value })} data-testid="list-region" />
          </Form.Item>
          <Form.Item label={t('threshold')}>
            <InputNumber min={0} max={1} step={0.01} value={editing?.threshold ?? undefined} onChange={(v) => setEditing({ ...editing, threshold: v ?? null })} />
          </Form.Item>
        </Form>
      </Modal>
    </div>
  );
}
