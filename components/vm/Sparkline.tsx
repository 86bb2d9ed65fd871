/**
 * A tiny inline-SVG CPU sparkline fed from the cpuPercent samples that arrive with each snapshot.
 * The scale is 0–100 % unless a sample exceeds it (several busy vCPUs), then 0–max.
 */
export function Sparkline({
  values,
  width = 96,
  height = 24,
  label,
  className = '',
  valueClassName = '',
}: {
  values: number[];
  width?: number;
  height?: number;
  label: string;
  /** Extra classes for the SVG, e.g. a narrower width on phones (it stretches to fit). */
  className?: string;
  valueClassName?: string;
}) {
  const last = values.length ? values[values.length - 1] : null;
  const max = Math.max(100, ...values);
  const n = Math.max(values.length, 2);
  const pts = values.map((v, i) => {
    const x = values.length === 1 ? width : (i / (n - 1)) * width;
    const y = height - 1 - (Math.max(0, v) / max) * (height - 2);
    return `${x.toFixed(1)},${y.toFixed(1)}`;
  });
  return (
    <span className="inline-flex items-center gap-2" role="img" aria-label={last === null ? `${label}: no data` : `${label}: ${Math.round(last)}%`}>
      <svg width={width} height={height} viewBox={`0 0 ${width} ${height}`} preserveAspectRatio="none" className={`overflow-visible text-sky-600 dark:text-sky-400 ${className}`} aria-hidden>
        <line x1="0" y1={height - 0.5} x2={width} y2={height - 0.5} className="stroke-slate-200 dark:stroke-slate-700" strokeWidth="1" />
        {pts.length > 1 && <polygon points={`0,${height} ${pts.join(' ')} ${width},${height}`} className="fill-sky-500/15" />}
        {pts.length > 1 && <polyline points={pts.join(' ')} fill="none" stroke="currentColor" strokeWidth="1.5" strokeLinejoin="round" vectorEffect="non-scaling-stroke" />}
        {pts.length === 1 && <circle cx={width - 1.5} cy={pts[0].split(',')[1]} r="1.5" fill="currentColor" />}
      </svg>
      <span className={`muted w-9 text-right text-xs tabular-nums ${valueClassName}`} aria-hidden>
        {last === null ? '—' : `${Math.round(last)}%`}
      </span>
    </span>
  );
}
