// 预警处置: the live list (the subscription adds new alerts as they are
// raised), filters, sign and handle with a disposition, each alert with its
// evidence and a link to the archive; the false-alarm rate.
import { useCallback, useEffect, useState } from 'react';
import { Badge, Button, Card, Input, Modal, Select, Space, Statistic, Table, Tag, Typography, message } from 'antd';
import { Link, useSearchParams } from 'react-router-dom';
import { gql, subscribe } from '../api/client';
import { useT } from '../i18n';
import { may, useSession } from '../session';

interface Alert {
  id: string; kind: string; status: string; disposition: string | null; title: string; subject: string | null;
  community: string | null; region: string | null; device: string | null; time: string; evidence: string[]; watchList: string | null;
}

const FIELDS = 'id kind status disposition title subject community region device time evidence watchList';
const LIST = `query A($statuses: [AlertStatus!]!, $kinds: [String!]!, $first: Int) { alerts(statuses: $statuses, kinds: $kinds, first: $first) { totalCount edges { node { ${FIELDS} } } } }`;
const LIVE = `subscription { alerts { ${FIELDS} } }`;
const RATE = `query R($from: String!, $to: String!) { dashboard(from: $from, to: $to) { falseAlarmRate alertsByStatus { key count } } }`;
const SIGN = `mutation S($id: String!, $note: String) { signAlert(id: $id, note: $note) { id status } }`;
const HANDLE = `mutation H($id: String!, $d: Disposition!, $note: String) { handleAlert(id: $id, disposition: $d, note: $note) { id status disposition } }`;

const STATUS_COLORS: Record<string, string> = { NEW: 'red', SIGNED: 'orange', HANDLED: 'green' };

function days(n: number) {
  const d = new Date(Date.now() + n * 86400000);
  return d.toISOString().slice(0, 10);
}

export function Alerts() {
  const t = useT();
  const { me } = useSession();
  const [params] = useSearchParams();
  const [statuses, setStatuses] = useState<string[]>([]);
  const [kinds, setKinds] = useState<string[]>([]);
  const [rows, setRows] = useState<Alert[]>([]);
  const [total, setTotal] = useState(0);
  const [fresh, setFresh] = useState<Set<string>>(new Set());
  const [rate, setRate] = useState<number | null>(null);
  const [handling, setHandling] = useState<Alert | null>(null);
  const [disposition, setDisposition] = useState('CONFIRMED');
  const [note, setNote] = useState('');
  const load = useCallback(() => {
    gql<{ alerts: { totalCount: number; edges: { node: Alert }[] } }>(LIST, { statuses, kinds, first: 100 }).then((d) => {
      setRows(d.alerts.edges.map((e) => e.node));
      setTotal(d.alerts.totalCount);
    });
    gql<{ dashboard: { falseAlarmRate: number } }>(RATE, { from: days(-365), to: days(1) })
      .then((d) => setRate(d.dashboard.falseAlarmRate))
      .catch(() => setRate(null));
  }, [statuses, kinds]);
  useEffect(load, [load]);
  useEffect(
    () =>
      subscribe<{ alerts: Alert }>(LIVE, {}, ({ alerts: a }) => {
        setRows((r) => (r.some((x) => x.id === a.id) ? r : [a, ...r]));
        setTotal((n) => n + 1);
        setFresh((f) => new Set(f).add(a.id));
      }),
    [],
  );
  const sign = async (a: Alert) => {
    try {
      await gql(SIGN, { id: a.id, note: null });
      load();
    } catch (e) {
      message.error((e as Error).message);
    }
  };
  const handle = async () => {
    if (!handling) return;
    try {
      await gql(HANDLE, { id: handling.id, d: disposition, note: note || null });
      setHandling(null);
      setNote('');
      load();
    } catch (e) {
      message.error((e as Error).message);
    }
  };
  const work = me ? may.alertWork(me.role) : false;
  const kindsSeen = [...new Set(rows.map((r) => r.kind.split(':')[0]))];
  return (
    <div className="page">
      <Space style={{ marginBottom: 12 }} wrap>
        <Select
          mode="multiple"
          style={{ minWidth: 220 }}
          placeholder={t('status')}
          value={statuses}
          onChange={setStatuses}
          options={['NEW', 'SIGNED', 'HANDLED'].map((s) => ({ value: s, label: t.term(s) }))}
          data-testid="status-filter"
        />
        <Select
          mode="multiple"
          style={{ minWidth: 260 }}
          placeholder={t('kind')}
          value={kinds}
          onChange={setKinds}
          options={kindsSeen.map((k) => ({ value: k, label: k }))}
        />
        <Badge status="processing" text={t('live')} />
        <Typography.Text data-testid="alerts-total">
          {t('total')} {total}
        </Typography.Text>
        {rate !== null && (
          <Card size="small">
            <Statistic title={t('falseAlarmRate')} value={rate * 100} precision={1} suffix="%" />
          </Card>
        )}
      </Space>
      <Table
        data-testid="alerts"
        size="small"
        rowKey="id"
        dataSource={rows}
        pagination={{ pageSize: 20 }}
        rowClassName={(a) => (fresh.has(a.id) || a.id === params.get('id') ? 'ant-table-row-selected' : '')}
        expandable={{
          expandedRowRender: (a) => (
            <div>
              <div>{t('evidence')}: {a.evidence.join(', ')}</div>
              {a.device && <div>{t('device')}: <Link to={`/archive/${encodeURIComponent(`device:${a.device}`)}`}>{a.device}</Link></div>}
              {a.watchList && <div>{t('watchLists')}: {a.watchList}</div>}
            </div>
          ),
        }}
        columns={[
          { title: t('time'), dataIndex: 'time', width: 190 },
          { title: t('kind'), dataIndex: 'kind', render: (k: string) => <Tag>{k}</Tag> },
          { title: t('status'), dataIndex: 'status', render: (s: string, a) => <Tag color={STATUS_COLORS[s]} data-testid={`status-${a.id}`}>{t.term(s)}{a.disposition ? ` · ${t.term(a.disposition)}` : ''}</Tag> },
          { title: t('name'), dataIndex: 'title', render: (x: string, a) => (a.subject ? <Link to={`/archive/${encodeURIComponent(a.subject)}`}>{x}</Link> : x) },
          { title: t('community'), dataIndex: 'community' },
          {
            title: '',
            render: (_, a) =>
              work && (
                <Space>
                  {a.status === 'NEW' && <Button size="small" onClick={() => sign(a)} data-testid={`sign-${a.id}`}>{t('sign')}</Button>}
                  {a.status !== 'HANDLED' && <Button size="small" type="primary" onClick={() => setHandling(a)} data-testid={`handle-${a.id}`}>{t('handle')}</Button>}
                </Space>
              ),
          },
        ]}
      />
      <Modal open={!!handling} title={handling?.title} onOk={handle} onCancel={() => setHandling(null)} okText={t('ok')} cancelText={t('cancel')} okButtonProps={{ 'data-testid': 'handle-ok' } as never}>
        <Space direction="vertical" style={{ width: '100%' }}>
          <Select
            value={disposition}
            onChange={setDisposition}
            style={{ width: '100%' }}
            data-testid="disposition"
            options={['CONFIRMED', 'FALSE_ALARM', 'REGISTERED', 'MOVED_OUT'].map((d) => ({ value: d, label: t.term(d) }))}
          />
          <Input.TextArea placeholder={t('note')} value={note} onChange={(e) => setNote(e.target.value)} />
        </Space>
      </Modal>
    </div>
  );
}
