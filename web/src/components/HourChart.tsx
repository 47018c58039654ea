// Activity by hour of day (the trajectory summary's 24 counts).
import { useMemo } from 'react';
import { Chart } from './Chart';

export default function HourChart({ byHour }: { byHour: number[] }) {
  const option = useMemo(
    () => ({
      grid: { left: 36, right: 8, top: 12, bottom: 24 },
      tooltip: { trigger: 'axis' },
      xAxis: { type: 'category', data: byHour.map((_, h) => `${h}`) },
      yAxis: { type: 'value', minInterval: 1 },
      series: [{ type: 'bar', data: byHour, itemStyle: { color: '#3b7dd8' } }],
    }),
    [byHour],
  );
  return <Chart option={option} className="chart" testId="hour-chart" />;
}
