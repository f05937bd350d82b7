/**
 * A time-series chart on uPlot (small and fast). The numbers are also in
 * a visually hidden table, so the chart is not the only way to read them.
 */
import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { useT } from "../i18n";

export type Series = { label: string; values: (number | null)[]; color: string; format?: (v: number) => string };

export function TimeChart({
  title,
  times,
  series,
  height = 180,
  format,
}: {
  title: string;
  /** Unix seconds. */
  times: number[];
  series: Series[];
  height?: number;
  format?: (v: number) => string;
}) {
  const t = useT();
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el || times.length < 2) return;
    const plot = new uPlot(
      {
        width: Math.max(300, el.clientWidth),
        height,
        legend: { show: true },
        axes: [{}, { values: (_u, ticks) => ticks.map((v) => (format ? format(v) : String(v))), size: 70 }],
        series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, value: (_u: uPlot, v: number | null) => (v === null ? "—" : format ? format(v) : String(v)) }))],
      },
      [times, ...series.map((s) => s.values)] as uPlot.AlignedData,
      el,
    );
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(300, el.clientWidth), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [times, series, height, format]);
  const last = times.length - 1;
  if (times.length < 2) {
    // One point draws no line and an axis spanning years: say so instead.
    return (
      <figure className="chart">
        <figcaption>{title}</figcaption>
        <p className="state">{t("common.chartWaiting")}</p>
      </figure>
    );
  }
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} aria-hidden="true" />
      <table className="visually-hidden">
        <caption>{title}</caption>
        <tbody>
          {last >= 0 &&
            series.map((s) => (
              <tr key={s.label}>
                <th scope="row">{s.label}</th>
                <td>{s.values[last] === null ? "—" : format ? format(s.values[last] as number) : s.values[last]}</td>
              </tr>
            ))}
        </tbody>
      </table>
    </figure>
  );
}
