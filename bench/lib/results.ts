/**
 * A bench entry: one figure, the baseline measured on the same bytes in the same run, their
 * ratio and the target it is judged by. Only the ratio is compared with a target (except for
 * absolute limits such as peak RSS), because the machines are shared and only ratios taken in
 * one run hold.
 */
export type Target =
  | { readonly kind: 'ratio-min'; readonly value: number }
  | { readonly kind: 'ratio-max'; readonly value: number }
  | { readonly kind: 'ratio-eq'; readonly value: number }
  | { readonly kind: 'value-max'; readonly value: number }
  | { readonly kind: 'value-min'; readonly value: number }
  | { readonly kind: 'none' };

export interface Entry {
  readonly name: string;
  readonly unit: string;
  /** null only when the figure could not be measured (see notes). */
  readonly value: number | null;
  readonly baseline: number | null;
  readonly baselineName: string;
  readonly ratio: number | null;
  readonly target: string;
  /** null when the figure has no target and is reported only. */
  readonly pass: boolean | null;
  readonly notes: string | null;
}

export interface EntryInput {
  readonly name: string;
  readonly unit: string;
  readonly value: number;
  readonly baseline: number | null;
  readonly baselineName: string;
  readonly target: Target;
  readonly notes?: string;
}

export function describeTarget(t: Target, unit: string): string {
  switch (t.kind) {
    case 'ratio-min': return `ratio >= ${t.value}`;
    case 'ratio-max': return `ratio <= ${t.value}`;
    case 'ratio-eq': return `ratio = ${t.value}`;
    case 'value-max': return `<= ${t.value} ${unit}`;
    case 'value-min': return `>= ${t.value} ${unit}`;
    case 'none': return 'reported only';
  }
}

function judge(t: Target, value: number, ratio: number | null): boolean | null {
  switch (t.kind) {
    case 'ratio-min': return ratio !== null && ratio >= t.value;
    case 'ratio-max': return ratio !== null && ratio <= t.value;
    case 'ratio-eq': return ratio !== null && Math.abs(ratio - t.value) < 1e-9;
    case 'value-max': return value <= t.value;
    case 'value-min': return value >= t.value;
    case 'none': return null;
  }
}

export function round(n: number, digits = 3): number {
  if (!Number.isFinite(n)) return n;
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export function entry(input: EntryInput): Entry {
  const ratio = input.baseline === null || input.baseline === 0 ? null : input.value / input.baseline;
  return {
    name: input.name,
    unit: input.unit,
    value: round(input.value),
    baseline: input.baseline === null ? null : round(input.baseline),
    baselineName: input.baselineName,
    ratio: ratio === null ? null : round(ratio),
    target: describeTarget(input.target, input.unit),
    pass: judge(input.target, input.value, ratio),
    notes: input.notes ?? null,
  };
}

/** A figure that could not be measured: it counts as a miss, with the reason in notes. */
export function failed(name: string, unit: string, baselineName: string, target: Target, err: unknown): Entry {
  const reason = err instanceof Error ? err.message.split('\n')[0] ?? err.name : String(err);
  return { name, unit, value: null, baseline: null, baselineName, ratio: null, target: describeTarget(target, unit), pass: false, notes: `not measured: ${reason}` };
}

function fmt(n: number | null): string {
  if (n === null) return '-';
  if (Math.abs(n) >= 1000) return n.toFixed(0);
  if (Math.abs(n) >= 100) return n.toFixed(1);
  return n.toFixed(2);
}

function verdict(pass: boolean | null): string {
  return pass === null ? '-' : pass ? 'pass' : 'MISS';
}

const COLUMNS = ['figure', 'value', 'unit', 'baseline', 'vs', 'ratio', 'target', 'result'] as const;

function rows(entries: readonly Entry[]): string[][] {
  return entries.map((e) => [e.name, fmt(e.value), e.unit, fmt(e.baseline), e.baselineName, e.ratio === null ? '-' : e.ratio.toFixed(3), e.target, verdict(e.pass)]);
}

const NUMERIC = new Set([1, 3, 5]);

/** Plain-text table with aligned columns (numbers right-aligned). */
export function formatTable(entries: readonly Entry[]): string {
  const body = rows(entries);
  const widths = COLUMNS.map((c, i) => Math.max(c.length, ...body.map((r) => r[i]?.length ?? 0)));
  const line = (cells: readonly string[]): string => cells
    .map((c, i) => (NUMERIC.has(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
    .join('  ').trimEnd();
  return [line(COLUMNS), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/** The same table as GitHub markdown, for the README's Performance section. */
export function formatMarkdown(entries: readonly Entry[]): string {
  const escape = (s: string): string => s.replace(/\|/g, '\\|');
  const header = `| ${COLUMNS.join(' | ')} |`;
  const align = `| ${COLUMNS.map((_c, i) => (NUMERIC.has(i) ? '---:' : '---')).join(' | ')} |`;
  return [header, align, ...rows(entries).map((r) => `| ${r.map(escape).join(' | ')} |`)].join('\n');
}
