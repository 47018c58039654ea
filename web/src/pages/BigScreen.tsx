// 大屏: the dashboard on a fixed 1920×1080 canvas scaled to the screen,
// refreshing itself every 30 s (paused while the page is hidden), full
// screen, no navigation.
import { useEffect, useMemo, useRef, useState } from 'react';
import { Button, Col, Row } from 'antd';
import { useSearchParams, useNavigate } from 'react-router-dom';
import { Chart, type Option } from '../components/Chart';
import { useT } from '../i18n';
import { byType, useDashboard, window30 } from './dashboardData';

export default function BigScreen() {
  const t = useT();
  const nav = useNavigate();
  const [params] = useSearchParams();
  const w = window30();
  const { data } = useDashboard(params.get('region'), w.from, w.to, 30_000);
  const [scale, setScale] = useState(1);
  const root = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const fit = () => setScale(Math.min(window.innerWidth / 1920, window.innerHeight / 1080));
    fit();
    window.addEventListener('resize', fit);
    return () => window.removeEventListener('resize', fit);
  }, []);
  const events = useMemo(() => data && byType(data.eventsPerDay), [data]);
  const axis = { axisLabel: { color: '#9fb7d9' }, axisLine: { lineStyle: { color: '#345' } } };
  const title = (text: string) => ({ text, left: 8, top: 4, textStyle: { color: '#8fd3ff', fontSize: 16 } });
  const lines = (d: NonNullable<typeof events>): Option => ({
    title: title(t('eventsPerDay')),
    legend: { top: 30, textStyle: { color: '#cfe' } },
    grid: { left: 60, right: 20, top: 70, bottom: 30 },
    xAxis: { type: 'category', data: d.days, ...axis },
    yAxis: { type: 'value', ...axis, splitLine: { lineStyle: { color: '#1d3557' } } },
    series: d.series.map((s) => ({ ...s, name: t.term(s.name), type: 'line', stack: 'all', areaStyle: {}, smooth: true })),
  });
  return (
    <div style={{ width: '100vw', height: '100vh', overflow: 'hidden', background: '#020b18' }}>
      <div ref={root} className="big-screen" style={{ transform: `scale(${scale})` }} data-testid="big-screen">
        <div style={{ display: 'flex', justifyContent: 'space-between' }}>
          <h1>{t('app')} · {data?.regionName || t('regions')}</h1>
          <div>
            <Button ghost onClick={() => root.current?.parentElement?.requestFullscreen?.()}>{t('fullscreen')}</Button>{' '}
            <Button ghost onClick={() => nav('/dashboard')}>{t('back')}</Button>
          </div>
        </div>
        {data && (
          <>
            <Row gutter={24}>
              {(['communities', 'persons', 'houses', 'vehicles', 'devices', 'events'] as const).map((k) => (
                <Col span={4} key={k}>
                  <div className="muted">{k === 'communities' ? t('community') : t(k)}</div>
                  <div className="big-number">{data[k].toLocaleString()}</div>
                </Col>
              ))}
            </Row>
            <Row gutter={24} style={{ marginTop: 24 }}>
              <Col span={16}>{events && <Chart option={lines(events)} className="chart-big" theme="dark" />}</Col>
              <Col span={8}>
                <Chart
                  className="chart-big"
                  theme="dark"
                  option={{ title: title(t('alerts')), series: [{ type: 'pie', radius: ['40%', '70%'], data: data.alertsByStatus.map((c) => ({ name: t.term(c.key.toUpperCase()), value: c.count })) }] }}
                />
              </Col>
            </Row>
            <Row gutter={24} style={{ marginTop: 24 }}>
              <Col span={12}>
                <Chart
                  className="chart-big"
                  theme="dark"
                  option={{
                    title: title(t('topCommunities')),
                    grid: { left: 140, right: 20, top: 40, bottom: 30 },
                    xAxis: { type: 'value', ...axis },
                    yAxis: { type: 'category', data: data.topCommunities.map((c) => c.name || c.community).reverse(), ...axis },
                    series: [{ type: 'bar', data: data.topCommunities.map((c) => c.events).reverse() }],
                  }}
                />
              </Col>
              <Col span={12}>
                <Chart
                  className="chart-big"
                  theme="dark"
                  option={{ title: title(t('personsByHousehold')), series: [{ type: 'pie', roseType: 'area', radius: ['20%', '75%'], data: data.personsByHousehold.map((c) => ({ name: t.term(c.key), value: c.count })) }] }}
                />
              </Col>
            </Row>
          </>
        )}
      </div>
    </div>
  );
}
