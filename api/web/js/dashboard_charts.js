// The dashboard's charts, drawn with ECharts (installed from npm into
// api/web/node_modules and served as /ui/lib/echarts.esm.min.mjs). Each chart
// is created once and then only given new data (setOption merges), so live
// updates animate in place instead of redrawing.
import * as echarts from '/ui/lib/echarts.esm.min.mjs';
import { PRIORITIES, cellName } from './format.js';

const TEXT = '#c9d5e8';
const MUTED = '#8ea0bd';
const LINE = '#22324f';
const STATE_COLORS = ['#f6c344', '#4cc2ff', '#3ecf8e'];
const TIER_COLORS = ['#5b8def', '#ff9f43', '#c77dff'];

const axis = (extra = {}) => ({
  axisLine: { lineStyle: { color: LINE } },
  axisLabel: { color: MUTED },
  splitLine: { lineStyle: { color: LINE } },
  ...extra,
});
const base = {
  backgroundColor: 'transparent',
  textStyle: { color: TEXT, fontFamily: 'system-ui, "DejaVu Sans", sans-serif' },
  // Short: a node's charts are drawn up to four times a second (dashboard.js,
  // DRAW_MS), and an animation still running when the next draw comes keeps
  // the canvas redrawing at every frame.
  animationDurationUpdate: 200,
  tooltip: { trigger: 'axis', backgroundColor: '#0d1628', borderColor: LINE, textStyle: { color: TEXT } },
};

export class DashboardCharts {
  constructor(els, { onCell }) {
    this.open = echarts.init(els.open, null, { renderer: 'canvas' });
    this.intake = echarts.init(els.intake);
    this.response = echarts.init(els.response);
    this.callbacks = echarts.init(els.callbacks);
    this.heat = echarts.init(els.heat);
    this.all = [this.open, this.intake, this.response, this.callbacks, this.heat];
    this.heatCells = [];
    this.setup();
    this.heat.on('click', (p) => {
      const cell = this.heatCells[p.dataIndex];
      if (cell) onCell(cell.path);
    });
    addEventListener('resize', () => this.all.forEach((c) => c.resize()));
  }

  setup() {
    this.open.setOption({
      ...base,
      tooltip: { ...base.tooltip, axisPointer: { type: 'shadow' } },
      // Each half holds its own axis labels (containLabel), so that on a
      // narrow panel the second's do not run into the first's bars.
      grid: [
        { left: 4, right: '52%', top: 24, bottom: 4, containLabel: true },
        { left: '52%', right: 6, top: 24, bottom: 4, containLabel: true },
      ],
      xAxis: [
        // Every label shown, slanted: level, echarts dropped two of three at 1440 px.
        axis({ type: 'category', gridIndex: 0, data: ['reported', 'assigned', 'in progress'], axisLabel: { color: MUTED, interval: 0, rotate: 30, fontSize: 11 } }),
        axis({ type: 'category', gridIndex: 1, data: ['tier 1', 'tier 2', 'tier 3'], axisLabel: { color: MUTED, interval: 0, rotate: 30, fontSize: 11 } }),
      ],
      yAxis: [axis({ type: 'value', gridIndex: 0, minInterval: 1 }), axis({ type: 'value', gridIndex: 1, minInterval: 1 })],
      series: [
        { name: 'by state', type: 'bar', xAxisIndex: 0, yAxisIndex: 0, data: [], label: { show: true, position: 'top', color: TEXT }, barWidth: '55%' },
        { name: 'by tier', type: 'bar', xAxisIndex: 1, yAxisIndex: 1, data: [], label: { show: true, position: 'top', color: TEXT }, barWidth: '55%' },
      ],
    });
    const hours = Array.from({ length: 24 }, (_, i) => String(i).padStart(2, '0'));
    this.intake.setOption({
      ...base,
      legend: { top: 0, right: 10, textStyle: { color: MUTED } },
      grid: { left: 40, right: 14, top: 30, bottom: 28 },
      xAxis: axis({ type: 'category', data: hours }),
      yAxis: axis({ type: 'value', minInterval: 1 }),
      series: [
        { name: 'today', type: 'bar', data: [], itemStyle: { color: '#4cc2ff', borderRadius: [3, 3, 0, 0] } },
        { name: intakeLine(7), type: 'line', data: [], smooth: true, symbol: 'none', lineStyle: { color: '#f6c344', width: 2 } },
      ],
    });
    this.response.setOption({
      ...base,
      // Four series: the legend takes two lines in a narrow panel.
      legend: { top: 0, itemWidth: 10, itemHeight: 10, itemGap: 8, textStyle: { color: MUTED, fontSize: 11 } },
      grid: { left: 40, right: 10, top: 46, bottom: 28 },
      xAxis: axis({ type: 'category', data: PRIORITIES }),
      yAxis: axis({ type: 'value' }),
      series: [
        { name: 'accept p50', type: 'bar', data: [], itemStyle: { color: '#3ecf8e' } },
        { name: 'accept p90', type: 'bar', data: [], itemStyle: { color: '#1f7a55' } },
        { name: 'arrival p50', type: 'bar', data: [], itemStyle: { color: '#4cc2ff' } },
        { name: 'arrival p90', type: 'bar', data: [], itemStyle: { color: '#2a6f99' } },
      ],
    });
    this.callbacks.setOption({
      ...base,
      tooltip: { ...base.tooltip, axisPointer: { type: 'shadow' } },
      grid: { left: 40, right: 10, top: 24, bottom: 28 },
      // Every label shown (echarts hides those that would touch at narrow widths).
      xAxis: axis({ type: 'category', data: ['due', 'done', 'overdue', 'not reached'], axisLabel: { color: MUTED, interval: 0, fontSize: 11 } }),
      yAxis: axis({ type: 'value', minInterval: 1 }),
      series: [{ type: 'bar', data: [], barWidth: '50%', label: { show: true, position: 'top', color: TEXT } }],
    });
    this.heat.setOption({
      ...base,
      tooltip: {
        trigger: 'item',
        backgroundColor: '#0d1628',
        borderColor: LINE,
        textStyle: { color: TEXT },
        formatter: (p) => {
          const c = this.heatCells[p.dataIndex];
          if (!c) return '';
          return `${c.path}<br>open cases: ${c.open ?? '—'}<br>deadlines missed: ${c.missed ?? '—'}${c.note ? `<br>${c.note}` : ''}`;
        },
      },
      grid: { left: 4, right: 4, top: 4, bottom: 34 },
      xAxis: { type: 'category', data: [], show: false },
      yAxis: { type: 'category', data: [], show: false, inverse: true },
      visualMap: {
        min: 0,
        max: 1,
        calculable: false,
        orient: 'horizontal',
        left: 'center',
        bottom: 0,
        itemHeight: 120,
        itemWidth: 10,
        textStyle: { color: MUTED },
        inRange: { color: ['#123049', '#1f6f8b', '#f6c344', '#ff6b5b'] },
      },
      series: [
        {
          type: 'heatmap',
          data: [],
          itemStyle: { borderColor: '#0b1220', borderWidth: 3, borderRadius: 4 },
          label: {
            show: true,
            color: '#fff',
            fontSize: 11,
            lineHeight: 15,
            overflow: 'truncate',
            formatter: (p) => `${p.name}\n${p.data.shown}`,
          },
          // Each name cut to its tile's width, as laid out: names of 9
          // letters overlapped on the narrow tiles of a busy node at 1440 px
          // (black-box probe 100).
          labelLayout: (p) => ({ width: Math.max(0, p.rect.width - 10) }),
        },
      ],
    });
  }

  render(view) {
    const s = view.open.by_state;
    const t = view.open.by_tier;
    this.open.setOption({
      series: [
        {
          data: [
            { value: s.reported, itemStyle: { color: STATE_COLORS[0] } },
            { value: s.assigned, itemStyle: { color: STATE_COLORS[1] } },
            { value: s.in_progress, itemStyle: { color: STATE_COLORS[2] } },
          ],
        },
        { data: ['1', '2', '3'].map((k, i) => ({ value: t[k], itemStyle: { color: TIER_COLORS[i] } })) },
      ],
    });
    // The line is the average of the days the log has before today, at
    // most 7 (previous_days; a server before session 25 does not say: 7).
    // The legend said "7 days" whatever the count (black-box probe 100).
    const days = view.intake_hourly.previous_days ?? 7;
    const average = days === 0 ? [] : view.intake_hourly.previous_7_days_average.map((v) => Math.round(v * 100) / 100);
    this.intake.setOption({
      series: [
        { data: view.intake_hourly.today },
        { name: intakeLine(days), data: average },
      ],
    });
    const r = view.response_minutes ?? {};
    const a = view.arrival_minutes ?? {};
    this.response.setOption({
      series: [
        { data: PRIORITIES.map((p) => r[p]?.p50 ?? null) },
        { data: PRIORITIES.map((p) => r[p]?.p90 ?? null) },
        { data: PRIORITIES.map((p) => a[p]?.p50 ?? null) },
        { data: PRIORITIES.map((p) => a[p]?.p90 ?? null) },
      ],
    });
    const c = view.callbacks;
    this.callbacks.setOption({
      series: [
        {
          data: [
            { value: c.due, itemStyle: { color: '#4cc2ff' } },
            { value: c.completed, itemStyle: { color: '#3ecf8e' } },
            { value: c.overdue, itemStyle: { color: '#ff6b5b' } },
            // Attempts that did not reach the reporter (null: a server before session 30).
            { value: c.unreachable ?? null, itemStyle: { color: '#b48cff' } },
          ],
        },
      ],
    });
  }

  // Every chart but the heat map empty: no node's figures (the heat map's
  // cells are the page's, cleared with them).
  clear() {
    this.open.setOption({ series: [{ data: [] }, { data: [] }] });
    this.intake.setOption({ series: [{ data: [] }, { data: [] }] });
    this.response.setOption({ series: [{ data: [] }, { data: [] }, { data: [] }, { data: [] }] });
    this.callbacks.setOption({ series: [{ data: [] }] });
  }

  // cells: [{path, open, missed, absent, note}] (null: not known, shown "—";
  // absent: not defined yet, shown so); metric: 'open' | 'missed'.
  renderHeat(cells, metric) {
    this.heatCells = cells;
    const cols = Math.max(1, Math.ceil(Math.sqrt(cells.length * 1.6)));
    const rows = Math.max(1, Math.ceil(cells.length / cols));
    const known = cells.map((c) => (metric === 'missed' ? c.missed : c.open));
    const values = known.map((v) => v ?? 0);
    const shown = cells.map((c, i) => (c.absent ? 'not yet' : (known[i] ?? '—')));
    this.heat.setOption({
      xAxis: { data: Array.from({ length: cols }, (_, i) => i) },
      yAxis: { data: Array.from({ length: rows }, (_, i) => i) },
      visualMap: { max: Math.max(1, ...values), text: [String(Math.max(1, ...values)), '0'] },
      series: [
        {
          data: cells.map((c, i) => ({ name: cellName(c.path), value: [i % cols, Math.floor(i / cols), values[i]], shown: String(shown[i]) })),
        },
      ],
    });
  }
}

// The name of the intake chart's line, for the days it averages.
function intakeLine(days) {
  if (days === 0) return 'no earlier day';
  return days === 1 ? 'the day before' : `average of the ${days} days before`;
}
