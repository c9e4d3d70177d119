import fs from 'fs';
import path from 'path';
import type { EvalReport } from './run-eval';

/**
 * Evaluation results beside the speed figures in bench/results: one JSON per configuration
 * (`eval-<model>-<runtime>-<size>.json`), and a summary table (markdown and CSV) rebuilt from
 * every such file, so runs accumulate: runtime x input size x mAP x images/s.
 */

export const DEFAULT_RESULTS_DIR = path.join('bench', 'results');

const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_');

export function resultFileName(report: Pick<EvalReport, 'model' | 'runtime' | 'inputSize' | 'images'>, fullSize: boolean): string {
  const base = `eval-${safe(report.model)}-${safe(report.runtime)}-${safe(report.inputSize)}`;
  // A --limit run must not overwrite the full-set figure.
  return `${base}${fullSize ? '' : `-${report.images}img`}.json`;
}

const pct = (v: number) => (v < 0 ? '-' : (v * 100).toFixed(1));

function readReports(dir: string): EvalReport[] {
  if (!fs.existsSync(dir)) return [];
  const reports: EvalReport[] = [];
  for (const file of fs.readdirSync(dir).filter((f) => /^eval-.*\.json$/.test(f)).sort()) {
    try {
      const report = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as EvalReport;
      if (report.metric?.stats) reports.push(report);
    } catch {
      // Not one of ours or half-written: leave it out of the table rather than fail the run.
    }
  }
  return reports.sort((a, b) =>
    a.model.localeCompare(b.model) || b.images - a.images || a.runtime.localeCompare(b.runtime) || a.inputSize.localeCompare(b.inputSize, undefined, { numeric: true }),
  );
}

const COLUMNS = ['model', 'runtime', 'device', 'input', 'images', 'mAP', 'mAP50', 'mAP75', 'mAP_S', 'mAP_M', 'mAP_L', 'P@thr', 'R@thr', 'thr', 'images/s', 'threads', 'cpus', 'load', 'date'];

function cells(r: EvalReport): string[] {
  const s = r.metric.stats;
  const op = r.metric.operatingPoint;
  return [
    r.model, r.runtime, r.device, r.inputSize, String(r.images),
    pct(s.ap), pct(s.ap50), pct(s.ap75), pct(s.apSmall), pct(s.apMedium), pct(s.apLarge),
    op ? pct(op.precision) : '-', op ? pct(op.recall) : '-', op ? String(op.threshold) : '-',
    r.imagesPerSecond.toFixed(1), String(r.threads),
    r.host ? String(r.host.cpus) : '-', r.host ? Math.max(r.host.loadAverageStart, r.host.loadAverageEnd).toFixed(1) : '-', r.date.slice(0, 10),
  ];
}

export function summaryMarkdown(rows: EvalReport[]): string {
  const lines = [
    '# COCO accuracy of the plugin pipeline',
    '',
    'Written by `npm run eval` (src/cli/eval.ts) from the `eval-*.json` files in this folder. mAP is COCO',
    'mAP@[.5:.95] in points (maxDets 100, confidence floor per run); P/R are precision and recall at IoU 0.5',
    'at the plugin\'s default threshold; images/s is the whole pipeline (decode, resize, tensor, model, NMS)',
    'on the machine and thread count shown; `load` is the 1-minute load average around the run (a load above',
    '`cpus` means other work shared the machine and images/s is understated). Compare rows on the same image set only.',
    '',
    `| ${COLUMNS.join(' | ')} |`,
    `|${COLUMNS.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${cells(r).join(' | ')} |`),
    '',
  ];
  return lines.join('\n');
}

export function summaryCsv(rows: EvalReport[]): string {
  return [COLUMNS.join(','), ...rows.map((r) => cells(r).map((c) => (/[,"]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c)).join(','))].join('\n') + '\n';
}

/** Writes the report's JSON and rebuilds the summary tables; returns the paths written. */
export function saveReport(report: EvalReport, dir: string, fullSize: boolean): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, resultFileName(report, fullSize));
  fs.writeFileSync(file, JSON.stringify(report, null, 1) + '\n');
  const rows = readReports(dir);
  const md = path.join(dir, 'eval-summary.md');
  const csv = path.join(dir, 'eval-summary.csv');
  fs.writeFileSync(md, summaryMarkdown(rows));
  fs.writeFileSync(csv, summaryCsv(rows));
  return [file, md, csv];
}
