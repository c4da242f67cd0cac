// @ts-check
/**
 * Waveform drawing from the vault's peaks (GET /v1/recordings/{id}/peaks): per channel, min/max
 * pairs per bucket, -1..1. The peaks live only in memory and on the canvas; nothing is stored.
 */

/**
 * @typedef {{ sampleRate: number, channels: number, durationMs: number, bucketMs: number, peaks: number[][] }} Peaks
 * @typedef {{ min: Float32Array, max: Float32Array }} Columns
 */

/**
 * Whether a value has the shape of the peaks answer; anything else draws a flat line.
 * @param {unknown} value
 * @returns {value is Peaks}
 */
export function isPeaks(value) {
  if (!value || typeof value !== 'object') return false;
  const p = /** @type {Record<string, unknown>} */ (value);
  return typeof p.channels === 'number' && typeof p.durationMs === 'number' && Array.isArray(p.peaks)
    && p.peaks.every((ch) => Array.isArray(ch) && ch.every((v) => typeof v === 'number'));
}

/**
 * One channel's interleaved [min, max, min, max, ...] folded into `width` pixel columns: each
 * column keeps the lowest min and the highest max of the buckets it covers.
 * @param {readonly number[]} pairs
 * @param {number} width
 * @returns {Columns}
 */
export function toColumns(pairs, width) {
  const buckets = Math.floor(pairs.length / 2);
  const min = new Float32Array(width);
  const max = new Float32Array(width);
  if (buckets === 0) return { min, max };
  for (let x = 0; x < width; x++) {
    const from = Math.floor((x * buckets) / width);
    const to = Math.max(from + 1, Math.floor(((x + 1) * buckets) / width));
    let lo = 0;
    let hi = 0;
    for (let b = from; b < to && b < buckets; b++) {
      lo = Math.min(lo, pairs[2 * b] ?? 0);
      hi = Math.max(hi, pairs[2 * b + 1] ?? 0);
    }
    min[x] = lo;
    max[x] = hi;
  }
  return { min, max };
}

/**
 * Sizes the canvas's backing store to its CSS box at the device's pixel ratio.
 * @param {HTMLCanvasElement} canvas
 * @returns {number} the width in device pixels
 */
export function fitCanvas(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const width = Math.max(1, Math.round(canvas.clientWidth * ratio));
  const height = Math.max(1, Math.round(canvas.clientHeight * ratio));
  if (canvas.width !== width) canvas.width = width;
  if (canvas.height !== height) canvas.height = height;
  return width;
}

/**
 * Draws one lane: the played part in the accent colour, the rest muted, and the playhead.
 * `columns` null draws the flat line of a recording whose peaks are not available.
 * @param {HTMLCanvasElement} canvas
 * @param {Columns | null} columns
 * @param {number} progress 0..1
 */
export function drawLane(canvas, columns, progress) {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const { width, height } = canvas;
  const style = getComputedStyle(canvas);
  const played = style.getPropertyValue('--wave-played').trim() || '#1f5fbf';
  const rest = style.getPropertyValue('--wave-rest').trim() || '#8a94a6';
  const head = style.getPropertyValue('--wave-head').trim() || '#b3261e';
  const mid = height / 2;
  const split = Math.round(Math.min(1, Math.max(0, progress)) * width);
  ctx.clearRect(0, 0, width, height);
  for (let x = 0; x < width; x++) {
    const lo = columns ? columns.min[x] ?? 0 : 0;
    const hi = columns ? columns.max[x] ?? 0 : 0;
    const top = mid - hi * mid;
    const bottom = mid - lo * mid;
    ctx.fillStyle = x < split ? played : rest;
    ctx.fillRect(x, top, 1, Math.max(1, bottom - top));
  }
  ctx.fillStyle = head;
  ctx.fillRect(Math.min(split, width - 2), 0, 2, height);
}
