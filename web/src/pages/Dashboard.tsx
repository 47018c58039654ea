// Dashboards for a region, drilled down province → city → district →
// station → community (each sub-region a click), and the big screen.
import { useMemo, useState } from 'react';
import { Alert, Breadcrumb, Button, Card, Col, Input, Row, Space, Statistic, Table } from 'antd';
import { Link } from 'react-router-dom';
import { Chart, type Option } from '../components/Chart';
import { useT } from '../i18n';
import { byType, useDashboard, window30, type Count } from './dashboardData';

const pie = (rows: Count[], term: (s: string) => string): Option => ({
  tooltip: { trigger: 'item' },
  series: [{ type: 'pie', radius: ['35%', '70%'], data: rows.map((r) => ({ name: term(r.key), value: r.count })) }],
});

export default function Dashboard() {
  const t = useT();
  const w = window30();
  const [region, setRegion] = useState<string | null>(null);
  const [from, setFrom] = useState(w.from);
  const [to, setTo] = useState(w.to);
  const { data, error } = useDashboard(region, from, to);
  const events = useMemo(() => data && byType(data.eventsPerDay), [data]);
  const alerts = useMemo(() => data && byType(data.alertsPerDay), [data]);
  if (error) return <div className="page"><Alert type="warning" message={error} /></div>;
  if (!data) return <div className="page">{t('loading')}</div>;
  const line = (d: NonNullable<typeof events>, stack: boolean, kind: 'line' | 'bar'): Option => ({
    tooltip: { trigger: 'axis' },
    legend: { type: 'scroll' },
    grid: { left: 48, right: 16, top: 36, bottom: 24 },
    xAxis: { type: 'category', data: d.days },
    yAxis: { type: 'value' },
    series: d.series.map((s) => ({ ...s, name: t.term(s.name), type: kind, stack: stack ? 'all' : undefined, smooth: true })),
  });
  return (
    <div className="page" data-testid="dashboard">
      <Space style={{ marginBottom: 12 }} wrap>
        <Breadcrumb
          data-testid="drill"
          items={[
            { title: <a onClick={() => setRegion(null)}>{t('regions')}</a> },
            ...data.path.map((p) => ({ title: <a onClick={() => setRegion(p.region)}>{p.name || p.region}</a> })),
          ]}
        />
        <Input style={{ width: 140 }} value={from} onChange={(e) => setFrom(e.target.value)} addonBefore={t('from')} />
        <Input style={{ width: 140 }} value={to} onChange={(e) => setTo(e.target.value)} addonBefore={t('to')} />
        <Link to={`/bigscreen${region ? `?region=${region}` : ''}`}><Button data-testid="big-screen">{t('bigScreen')}</Button></Link>
      </Space>
      <Row gutter={12}>
        {(['communities', 'persons', 'houses', 'vehicles', 'devices', 'events'] as const).map((k) => (
          <Col span={4} key={k}>
            <Card size="small"><Statistic title={k === 'communities' ? t('community') : t(k)} value={data[k]} data-testid={`stat-${k}`} /></Card>
          </Col>
        ))}
      </Row>
      <Row gutter={12} style={{ marginTop: 12 }}>
        <Col span={8}><Card size="small" title={t('personsByHousehold')}><Chart option={pie(data.personsByHousehold, t.term)} /></Card></Col>
        <Col span={8}><Card size="small" title={t('housesByUse')}><Chart option={pie(data.housesByUse, t.term)} /></Card></Col>
        <Col span={8}><Card size="small" title={t('devicesByKind')}><Chart option={pie(data.devicesByKind, t.term)} /></Card></Col>
      </Row>
      <Row gutter={12} style={{ marginTop: 12 }}>
        <Col span={12}><Card size="small" title={t('eventsPerDay')}>{events && <Chart option={line(events, true, 'line')} testId="events-chart" />}</Card></Col>
        <Col span={12}>
          <Card size="small" title={`${t('alertsPerDay')} · ${t('falseAlarmRate')} ${(data.falseAlarmRate * 100).toFixed(1)}%`}>
            {alerts && <Chart option={line(alerts, true, 'bar')} />}
          </Card>
        </Col>
      </Row>
      <Row gutter={12} style={{ marginTop: 12 }}>
        <Col span={12}>
          <Card size="small" title={t('subRegions')}>
            <Table
              data-testid="sub-regions"
              size="small"
              rowKey="region"
              pagination={false}
              dataSource={data.subRegions}
              columns={[
                { title: t('region'), dataIndex: 'name', render: (n: string, r) => <a onClick={() => setRegion(r.region)} data-testid={`drill-${r.region}`}>{n || r.region}</a> },
                { title: t('persons'), dataIndex: 'persons' },
                { title: t('houses'), dataIndex: 'houses' },
                { title: t('events'), dataIndex: 'events' },
                { title: t('alerts'), dataIndex: 'alerts' },
              ]}
            />
          </Card>
        </Col>
        <Col span={12}>
          <Card size="small" title={t('topCommunities')}>
            <Chart
              option={{
                grid: { left: 100, right: 16, top: 8, bottom: 24 },
                xAxis: { type: 'value' },
                yAxis: { type: 'category', data: data.topCommunities.map((c) => c.name || c.community).reverse() },
                series: [{ type: 'bar', data: data.topCommunities.map((c) => c.events).reverse() }],
              }}
            />
          </Card>
        </Col>
      </Row>
    </div>
  );
}
