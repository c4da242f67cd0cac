// @ts-check
/**
 * The recording player: an <audio> element on the signed /media/ link (the browser seeks with
 * Range requests; the vault answers no-store), a canvas waveform per channel from the vault's
 * peaks, a volume per lane for stereo (agent left, customer right) through a WebAudio channel
 * splitter, speed 0.5-2x, +-10 s, click-to-seek, keyboard shortcuts and the #t= deep link.
 * Without peaks (not computed yet, or not served) it plays with a flat line.
 */
import { api, reportActivity } from './lib/api.js';
import { h, mount } from './lib/dom.js';
import { createChannelMixer } from './lib/channel-mixer.js';
import { formatTime, parseTimeHash } from './lib/format.js';
import { drawLane, fitCanvas, isPeaks, toColumns } from './lib/waveform.js';

/** How often a playing player tells the vault that the user is still listening. */
const LISTENING_REPORT_MS = 60_000;

export const SPEEDS = [0.5, 0.75, 1, 1.25, 1.5, 1.75, 2];
const SKIP_SECONDS = 10;
/** A link that fails again this soon after being renewed is not renewed again: the user decides. */
const RENEW_BACKOFF_MS = 20_000;
/** Stereo call recordings put the agent on the left channel and the customer on the right. */
const LANE_NAMES = ['Agent', 'Customer'];

/**
 * @typedef {import('./lib/waveform.js').Peaks} Peaks
 * @typedef {{ name: string, canvas: HTMLCanvasElement, pairs: number[] | null, columns: import('./lib/waveform.js').Columns | null }} Lane
 * @typedef {{ recordingId: string, src: string, durationSeconds: number | null, onError?: (message: string) => void,
 *   renewSource?: () => Promise<string | null> }} PlayerOptions
 * @typedef {{ root: HTMLElement, audio: HTMLAudioElement, destroy(): void }} Player
 */

/**
 * @param {PlayerOptions} opts
 * @returns {Player}
 */
export function createPlayer(opts) {
  const audio = /** @type {HTMLAudioElement} */ (h('audio', { preload: 'metadata' }));
  audio.src = opts.src;
  /** @type {Lane[]} */
  let lanes = [newLane('Recording', null)];
  /** @type {Peaks | null} */
  let peaks = null;
  /** @type {import('./lib/channel-mixer.js').ChannelMixer | null} */
  let mixer = null;
  let frame = 0;
  /** Whether the user wants sound: survives the error of an expired link and its renewal. */
  let intendsToPlay = false;
  /** Where to resume once a renewed link's metadata is known. */
  /** @type {number | null} */
  let resumeAt = null;
  let lastRenewal = 0;

  const duration = () => {
    if (Number.isFinite(audio.duration) && audio.duration > 0) return audio.duration;
    if (peaks) return peaks.durationMs / 1000;
    return opts.durationSeconds ?? 0;
  };

  const lanesBox = h('div', { class: 'wave-lanes' });
  const wave = h('div', { class: 'waveform' }, lanesBox);
  wave.setAttribute('role', 'slider');
  wave.setAttribute('tabindex', '0');
  wave.setAttribute('aria-label', 'Playback position');
  wave.setAttribute('aria-valuemin', '0');
  const waveNote = h('p', { class: 'wave-note' }, 'Drawing the waveform…');
  const time = h('span', { class: 'player-time' }, '0:00 / –');
  const playButton = h('button', { type: 'button', class: 'player-play', onClick: () => toggle() }, 'Play');
  const back = h('button', { type: 'button', onClick: () => skip(-SKIP_SECONDS), title: 'Back 10 seconds (←)' }, '−10 s');
  const forward = h('button', { type: 'button', onClick: () => skip(SKIP_SECONDS), title: 'Forward 10 seconds (→)' }, '+10 s');
  const speed = /** @type {HTMLSelectElement} */ (h('select', { id: 'player-speed', onChange: () => setSpeed(Number(speed.value)) },
    ...SPEEDS.map((s) => h('option', { value: String(s) }, `${s}×`))));
  speed.value = '1';
  const moment = h('button', { type: 'button', onClick: () => linkToMoment(), title: 'Put the current time in the address (#t=)' }, 'Link to this moment');
  const volumes = h('div', { class: 'player-volumes' });
  const keys = h('p', { class: 'player-keys' }, 'Keys: space play/pause · ← → 10 s · [ ] speed');
  const root = h('section', { class: 'player', 'aria-label': 'Player' },
    audio, wave, waveNote,
    h('div', { class: 'player-controls' }, playButton, back, forward, h('label', { for: 'player-speed' }, 'Speed '), speed, time, moment),
    volumes, keys);

  /**
   * @param {string} name
   * @param {number[] | null} pairs
   * @returns {Lane}
   */
  function newLane(name, pairs) {
    const canvas = /** @type {HTMLCanvasElement} */ (h('canvas', { class: 'wave-lane' }));
    canvas.setAttribute('aria-hidden', 'true');
    return { name, canvas, pairs, columns: null };
  }

  function renderLanes() {
    mount(lanesBox, lanes.map((lane) => {
      lane.canvas.addEventListener('click', (event) => seekToClick(lane.canvas, event));
      return h('div', { class: 'wave-row' }, h('span', { class: 'wave-label', 'aria-hidden': 'true' }, lane.name), lane.canvas);
    }));
    renderVolumes();
    resize();
  }

  function renderVolumes() {
    const stereo = lanes.length === 2;
    mount(volumes, lanes.map((lane, i) => {
      const id = `player-volume-${i}`;
      const input = h('input', { id, type: 'range', min: '0', max: '1', step: '0.05', value: '1' });
      input.addEventListener('input', () => setVolume(i, Number(input.value)));
      return h('span', { class: 'player-volume' }, h('label', { for: id }, stereo ? `${lane.name} volume` : 'Volume'), input);
    }));
  }

  /**
   * Mono plays through the element's own volume; stereo through a splitter so each party has its own.
   * @param {number} lane
   * @param {number} value
   */
  function setVolume(lane, value) {
    if (lanes.length !== 2) {
      audio.volume = value;
      return;
    }
    // Created on the first change of a lane's volume: a user gesture, so the context may start.
    mixer ??= createChannelMixer(audio, 2);
    mixer?.setGain(lane, value);
  }

  function resize() {
    for (const lane of lanes) {
      const width = fitCanvas(lane.canvas);
      lane.columns = lane.pairs ? toColumns(lane.pairs, width) : null;
    }
    draw();
  }

  function draw() {
    const total = duration();
    const progress = total > 0 ? audio.currentTime / total : 0;
    for (const lane of lanes) drawLane(lane.canvas, lane.columns, progress);
    time.textContent = `${formatTime(audio.currentTime)} / ${total > 0 ? formatTime(total) : '–'}`;
    wave.setAttribute('aria-valuemax', String(Math.round(total)));
    wave.setAttribute('aria-valuenow', String(Math.round(audio.currentTime)));
    wave.setAttribute('aria-valuetext', `${formatTime(audio.currentTime)} of ${formatTime(total)}`);
  }

  function animate() {
    draw();
    frame = audio.paused ? 0 : requestAnimationFrame(animate);
  }

  /** @param {number} to seconds */
  function seek(to) {
    const total = duration();
    audio.currentTime = Math.max(0, total > 0 ? Math.min(to, total) : to);
    draw();
  }

  /** @param {number} by seconds */
  function skip(by) {
    seek(audio.currentTime + by);
  }

  /**
   * @param {HTMLCanvasElement} canvas
   * @param {MouseEvent} event
   */
  function seekToClick(canvas, event) {
    const box = canvas.getBoundingClientRect();
    if (box.width <= 0) return;
    seek(((event.clientX - box.left) / box.width) * duration());
  }

  /** @param {number} rate */
  function setSpeed(rate) {
    const clamped = Math.min(2, Math.max(0.5, rate));
    audio.playbackRate = clamped;
    audio.defaultPlaybackRate = clamped;
    speed.value = String(clamped);
  }

  /** @param {1 | -1} step */
  function stepSpeed(step) {
    const index = SPEEDS.indexOf(audio.playbackRate);
    const next = SPEEDS[Math.min(SPEEDS.length - 1, Math.max(0, (index < 0 ? SPEEDS.indexOf(1) : index) + step))];
    if (next !== undefined) setSpeed(next);
  }

  function toggle() {
    if (!audio.paused) {
      intendsToPlay = false;
      audio.pause();
      return;
    }
    intendsToPlay = true;
    mixer?.resume();
    audio.play().catch(() => undefined);
  }

  /**
   * A link lives minutes; a review may take longer. When the media request fails (the link
   * expired, most often on a seek), a new link is asked for (the caller issues it with the same
   * reason, audited again) and playback resumes where it was.
   */
  async function recover() {
    const message = 'The recording could not be played: the link may have expired or been revoked.';
    if (!opts.renewSource || Date.now() - lastRenewal < RENEW_BACKOFF_MS) {
      opts.onError?.(message);
      return;
    }
    lastRenewal = Date.now();
    const position = audio.currentTime;
    const src = await opts.renewSource();
    if (!src) {
      opts.onError?.(message);
      return;
    }
    resumeAt = position;
    audio.src = src;
    if (intendsToPlay) audio.play().catch(() => undefined);
  }

  function linkToMoment() {
    history.replaceState(null, '', `#t=${Math.floor(audio.currentTime)}`);
  }

  function seekToHash() {
    const t = parseTimeHash(location.hash);
    if (t !== null) seek(t);
  }

  /** @param {KeyboardEvent} event */
  function onKey(event) {
    if (event.altKey || event.ctrlKey || event.metaKey || !root.isConnected) return;
    const target = event.target;
    if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return;
    if (target instanceof HTMLElement && target.isContentEditable) return;
    // A focused button or link acts on space itself.
    if (event.key === ' ' && (target instanceof HTMLButtonElement || target instanceof HTMLAnchorElement)) return;
    /** @type {Record<string, () => void>} */
    const actions = {
      ' ': toggle, ArrowLeft: () => skip(-SKIP_SECONDS), ArrowRight: () => skip(SKIP_SECONDS), '[': () => stepSpeed(-1), ']': () => stepSpeed(1),
    };
    const action = actions[event.key];
    if (!action) return;
    event.preventDefault();
    action();
  }

  async function loadPeaks() {
    try {
      const answer = await api('GET', `/v1/recordings/${encodeURIComponent(opts.recordingId)}/peaks`);
      if (!isPeaks(answer) || answer.peaks.length === 0) throw new Error('no peaks');
      peaks = answer;
      const stereo = answer.peaks.length === 2;
      lanes = answer.peaks.map((pairs, i) => newLane(stereo ? LANE_NAMES[i] ?? `Channel ${i + 1}` : 'Recording', pairs));
      waveNote.textContent = '';
    } catch {
      waveNote.textContent = 'The waveform is not available for this recording yet; the audio plays as usual.';
    }
    renderLanes();
  }

  audio.addEventListener('play', () => {
    playButton.textContent = 'Pause';
    if (!frame) frame = requestAnimationFrame(animate);
  });
  // A review can be a long listen with no click: while the audio plays, the session stays in use.
  const listening = setInterval(() => {
    if (!audio.paused) reportActivity().catch(() => undefined);
  }, LISTENING_REPORT_MS);
  audio.addEventListener('pause', () => { playButton.textContent = 'Play'; draw(); });
  audio.addEventListener('loadedmetadata', () => {
    if (resumeAt === null) seekToHash();
    else seek(resumeAt);
    resumeAt = null;
    draw();
  });
  audio.addEventListener('ended', () => { intendsToPlay = false; });
  audio.addEventListener('seeked', draw);
  audio.addEventListener('error', () => { void recover(); });
  addEventListener('hashchange', seekToHash);
  document.addEventListener('keydown', onKey);
  const observer = new ResizeObserver(() => resize());
  observer.observe(lanesBox);
  renderLanes();
  void loadPeaks();

  return {
    root,
    audio,
    destroy() {
      audio.pause();
      audio.removeAttribute('src');
      audio.load();
      cancelAnimationFrame(frame);
      clearInterval(listening);
      observer.disconnect();
      removeEventListener('hashchange', seekToHash);
      document.removeEventListener('keydown', onKey);
      mixer?.close();
    },
  };
}
