// 研判: a subject across the regions in scope, cross-region grants (request;
// approve or refuse as a commander), saved investigations exported as CSV
// and JSON.
import { useCallback, useEffect, useState } from 'react';
import { Alert, Button, Card, Col, Form, Input, Row, Space, Table, Tag, message } from 'antd';
import { Link } from 'react-router-dom';
import { download, gql } from '../api/client';
import { useT } from '../i18n';
import { may, useSession } from '../session';

interface Grant { id: string; requester: string; subject: string | null; regions: string[]; reason: string; status: string; until: string | null }
interface Saved { id: string; title: string; subjects: { ref: string; label: string }[]; notes: string; updated: string }
interface Inv { subject: { ref: string; label: string }; byRegion: { key: string; count: number }[]; sightings: { time: string; event: string; device: string }[] }

const INVESTIGATE = `query I($s: String!, $from: String!, $to: String!) {
  investigate(subject: $s, from: $from, to: $to) { subject { ref label } byRegion { key count } sightings { time event device } }
}`;
const GRANTS = `{ grants { id requester subject regions reason status until } }`;
const SAVED = `{ investigations { id title subjects { ref label } notes updated } }`;

export function Investigations() {
  const t = useT();
  const { me } = useSession();
  const [subject, setSubject] = useState('');
  const [from, setFrom] = useState('2026-10-01');
  const [to, setTo] = useState('2026-12-31');
  const [inv, setInv] = useState<Inv | null>(null);
  const [err, setErr] = useState<string | null>(null);
  const [grants, setGrants] = useState<Grant[]>([]);
  const [saved, setSaved] = useState<Saved[]>([]);
  const [req, setReq] = useState({ regions: '', reason: '', duration: '8h' });
  const load = useCallback(() => {
    gql<{ grants: Grant[] }>(GRANTS).then((d) => setGrants(d.grants)).catch(() => undefined);
    gql<{ investigations: Saved[] }>(SAVED).then((d) => setSaved(d.investigations)).catch(() => undefined);
  }, []);
  useEffect(load, [load]);
  const run = async () => {
    try {
      const d = await gql<{ investigate: Inv }>(INVESTIGATE, { s: subject, from, to });
      setInv(d.investigate);
      setErr(null);
    } catch (e) {
      setErr((e as Error).message);
      setInv(null);
    }
  };
  const request = async () => {
    try {
      await gql(`mutation($s: String, $r: [String!]!, $why: String!, $d: String!) { requestGrant(subject: $s, regions: $r, reason: $why, duration: $d) { id } }`, {
        s: subject || null,
        r: req.regions.split(/[ ,]+/).filter(Boolean),
        why: req.reason,
        d: req.duration,
      });
      message.success(t('requestGrant'));
      load();
    } catch (e) {
      message.error((e as Error).message);
    }
  };
  const decide = async (id: string, approve: boolean) => {
    try {
      await gql(`mutation($id: String!) { ${approve ? 'approveGrant' : 'refuseGrant'}(id: $id) { id } }`, { id });
      load();
    } catch (e) {
      message.error((e as Error).message);
    }
  };
  const save = async () => {
    if (!inv) return;
    await gql(`mutation($input: InvestigationInput!) { saveInvestigation(input: $input) { id } }`, {
      input: { title: inv.subject.label || inv.subject.ref, subjects: [inv.subject.ref], queries: [`investigate ${subject} ${from} ${to}`], notes: '' },
    });
    load();
  };
  const exportOne = async (id: string, kind: 'Csv' | 'Json') => {
    const d = await gql<{ investigation: { exportCsv?: string; exportJson?: string } }>(`query($id: String!) { investigation(id: $id) { export${kind} } }`, { id });
    download(`investigation-${id}.${kind.toLowerCase()}`, (kind === 'Csv' ? d.investigation.exportCsv : d.investigation.exportJson) ?? '');
  };
  return (
    <div className="page">
      <Row gutter={16}>
        <Col span={14}>
          <Card size="small" title={t('investigate')}>
            <Space wrap>
              <Input style={{ width: 300 }} placeholder="person:… / vehicle:… / stranger:…" value={subject} onChange={(e) => setSubject(e.target.value)} data-testid="inv-subject" />
              <Input style={{ width: 130 }} value={from} onChange={(e) => setFrom(e.target.value)} />
              <Input style={{ width: 130 }} value={to} onChange={(e) => setTo(e.target.value)} />
              <Button type="primary" onClick={run} data-testid="inv-run">{t('run')}</Button>
              {inv && <Button onClick={save} data-testid="inv-save">{t('save')}</Button>}
            </Space>
            {err && <Alert style={{ marginTop: 8 }} type="warning" message={err} />}
            {inv && (
              <div style={{ marginTop: 8 }} data-testid="inv-result">
                <Link to={`/archive/${encodeURIComponent(inv.subject.ref)}`}>{inv.subject.label || inv.subject.ref}</Link>{' '}
                {inv.byRegion.map((r) => <Tag key={r.key}>{r.key}: {r.count}</Tag>)}
                <Table size="small" rowKey={(s) => `${s.event}-${s.time}`} dataSource={inv.sightings} pagination={{ pageSize: 10 }} columns={[{ title: t('time'), dataIndex: 'time' }, { title: t('device'), dataIndex: 'device' }, { title: t('evidence'), dataIndex: 'event' }]} />
              </div>
            )}
          </Card>
          {me && may.requestGrants(me.role) && (
            <Card size="small" title={t('requestGrant')} style={{ marginTop: 12 }}>
              <Form layout="inline">
                <Form.Item label={t('regions')}><Input value={req.regions} onChange={(e) => setReq({ ...req, regions: e.target.value })} data-testid="grant-regions" /></Form.Item>
                <Form.Item label={t('reason')}><Input value={req.reason} onChange={(e) => setReq({ ...req, reason: e.target.value })} data-testid="grant-reason" /></Form.Item>
                <Form.Item label={t('duration')}><Input style={{ width: 80 }} value={req.duration} onChange={(e) => setReq({ ...req, duration: e.target.value })} /></Form.Item>
                <Button onClick={request} data-testid="grant-request">{t('requestGrant')}</Button>
              </Form>
            </Card>
          )}
        </Col>
        <Col span={10}>
          <Card size="small" title={t('grants')}>
            <Table
              data-testid="grants"
              size="small"
              rowKey="id"
              pagination={false}
              dataSource={grants}
              columns={[
                { title: t('who'), dataIndex: 'requester' },
                { title: t('subject'), dataIndex: 'subject' },
                { title: t('regions'), dataIndex: 'regions', render: (r: string[]) => r.join(', ') },
                { title: t('status'), dataIndex: 'status' },
                {
                  title: '',
                  render: (_, g: Grant) =>
                    me && may.decideGrants(me.role) && g.status === 'REQUESTED' && (
                      <Space>
                        <Button size="small" type="primary" onClick={() => decide(g.id, true)} data-testid={`approve-${g.id}`}>{t('approve')}</Button>
                        <Button size="small" onClick={() => decide(g.id, false)}>{t('refuse')}</Button>
                      </Space>
                    ),
                },
              ]}
            />
          </Card>
          <Card size="small" title={t('saved')} style={{ marginTop: 12 }}>
            <Table
              data-testid="saved"
              size="small"
              rowKey="id"
              pagination={false}
              dataSource={saved}
              columns={[
                { title: t('name'), dataIndex: 'title' },
                { title: t('subject'), dataIndex: 'subjects', render: (s: Saved['subjects']) => s.map((x) => x.label || x.ref).join(', ') },
                {
                  title: '',
                  render: (_, s: Saved) => (
                    <Space>
                      <Button size="small" onClick={() => exportOne(s.id, 'Csv')}>CSV</Button>
                      <Button size="small" onClick={() => exportOne(s.id, 'Json')}>JSON</Button>
                    </Space>
                  ),
                },
              ]}
            />
          </Card>
        </Col>
      </Row>
    </div>
  );
}
