/** A dependency-free SVG: throughput and p95 latency against the number of cameras, one line per configuration. */
export interface PlotSeries {
  label: string;
  points: { cameras: number; throughput: number; p95: number }[];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

export function renderPlot(series: PlotSeries[], title: string, rawReference?: { label: string; value: number }): string {
  const W = 460;
  const H = 300;
  const M = { l: 56, r: 16, t: 36, b: 44 };
  const cams = [...new Set(series.flatMap((s) => s.points.map((p) => p.cameras)))].sort((a, b) => a - b);
  const xMin = Math.min(...cams, 1);
  const xMax = Math.max(...cams, xMin + 1);
  const panel = (ox: number, key: 'throughput' | 'p95', name: string, unit: string, ref?: number): string => {
    const yMax = niceMax(Math.max(ref ?? 0, ...series.flatMap((s) => s.points.map((p) => p[key]))) * 1.1);
    const x = (v: number) => ox + M.l + ((v - xMin) / (xMax - xMin)) * (W - M.l - M.r);
    const y = (v: number) => M.t + (1 - v / yMax) * (H - M.t - M.b);
    const out: string[] = [];
    out.push(`<text x="${ox + W / 2}" y="20" text-anchor="middle" font-weight="bold">${esc(name)}</text>`);
    out.push(`<line x1="${x(xMin)}" y1="${y(0)}" x2="${x(xMax)}" y2="${y(0)}" stroke="#000"/>`);
    out.push(`<line x1="${x(xMin)}" y1="${y(0)}" x2="${x(xMin)}" y2="${y(yMax)}" stroke="#000"/>`);
    for (let i = 0; i <= 5; i++) {
      const v = (yMax * i) / 5;
      out.push(`<line x1="${x(xMin)}" y1="${y(v)}" x2="${x(xMax)}" y2="${y(v)}" stroke="#ddd"/>`);
      out.push(`<text x="${x(xMin) - 6}" y="${y(v) + 4}" text-anchor="end">${+v.toFixed(1)}</text>`);
    }
    for (const c of cams) out.push(`<text x="${x(c)}" y="${y(0) + 16}" text-anchor="middle">${c}</text>`);
    out.push(`<text x="${ox + W / 2}" y="${H - 8}" text-anchor="middle">cameras</text>`);
    out.push(`<text transform="translate(${ox + 14},${H / 2}) rotate(-90)" text-anchor="middle">${esc(unit)}</text>`);
    if (ref !== undefined) {
      out.push(`<line x1="${x(xMin)}" y1="${y(ref)}" x2="${x(xMax)}" y2="${y(ref)}" stroke="#555" stroke-dasharray="6 4"/>`);
      out.push(`<text x="${x(xMax) - 4}" y="${y(ref) - 5}" text-anchor="end" fill="#555">${esc(rawReference!.label)} ${ref}</text>`);
    }
    series.forEach((s, i) => {
      const pts = [...s.points].sort((a, b) => a.cameras - b.cameras);
      const color = COLORS[i % COLORS.length];
      out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map((p) => `${x(p.cameras).toFixed(1)},${y(p[key]).toFixed(1)}`).join(' ')}"/>`);
      for (const p of pts) out.push(`<circle cx="${x(p.cameras).toFixed(1)}" cy="${y(p[key]).toFixed(1)}" r="3" fill="${color}"/>`);
    });
    return out.join('\n');
  };
  const legend = series.map((s, i) => `<g transform="translate(${20 + (i % 3) * 300},${H + 16 + Math.floor(i / 3) * 18})"><rect width="14" height="4" y="-4" fill="${COLORS[i % COLORS.length]}"/><text x="20" y="0">${esc(s.label)}</text></g>`);
  const rows = Math.ceil(series.length / 3);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * W}" height="${H + 30 + rows * 18}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="#fff"/>
<title>${esc(title)}</title>
${panel(0, 'throughput', 'Throughput (frames/s processed)', 'frames/s', rawReference?.value)}
${panel(W, 'p95', 'p95 latency, arrival to result', 'ms')}
${legend.join('\n')}
</svg>
`;
}
