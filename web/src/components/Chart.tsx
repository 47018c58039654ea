// ECharts, tree-shaken to the charts the console draws; one instance per
// element, options set again on new data (never re-created: re-initialising
// per refresh leaks), resized with its box, disposed on unmount.
import { useEffect, useRef } from 'react';
import * as echarts from 'echarts/core';
import { BarChart, LineChart, PieChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TooltipComponent, TitleComponent, DatasetComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';

echarts.use([BarChart, LineChart, PieChart, GridComponent, LegendComponent, TooltipComponent, TitleComponent, DatasetComponent, CanvasRenderer]);

export type Option = echarts.EChartsCoreOption;

export function Chart({ option, className = 'chart', theme, testId }: { option: Option; className?: string; theme?: string; testId?: string }) {
  const el = useRef<HTMLDivElement>(null);
  const chart = useRef<echarts.ECharts | null>(null);
  useEffect(() => {
    if (!el.current) return;
    chart.current = echarts.init(el.current, theme);
    let t: ReturnType<typeof setTimeout> | undefined;
    const ro = new ResizeObserver(() => {
      clearTimeout(t);
      t = setTimeout(() => chart.current?.resize(), 100);
    });
    ro.observe(el.current);
    return () => {
      ro.disconnect();
      clearTimeout(t);
      chart.current?.dispose();
      chart.current = null;
    };
  }, [theme]);
  useEffect(() => {
    chart.current?.setOption(option, { notMerge: true });
  }, [option]);
  return <div ref={el} className={className} data-testid={testId} />;
}
