// @ts-check
/**
 * A volume per channel of a media element: element -> splitter -> one gain per channel ->
 * merger (each channel back on its own side) -> speakers. Once created, the element's sound
 * goes only through this graph, for every later source of the element too.
 */

/**
 * @typedef {{ setGain(channel: number, value: number): void, resume(): void, close(): void }} ChannelMixer
 */

/**
 * Null where the browser has no WebAudio. Create it from a user gesture, so the context may start.
 * @param {HTMLMediaElement} media
 * @param {number} channels
 * @returns {ChannelMixer | null}
 */
export function createChannelMixer(media, channels) {
  if (typeof AudioContext !== 'function') return null;
  const context = new AudioContext();
  const source = context.createMediaElementSource(media);
  const splitter = context.createChannelSplitter(channels);
  const merger = context.createChannelMerger(channels);
  const gains = Array.from({ length: channels }, () => context.createGain());
  source.connect(splitter);
  gains.forEach((gain, i) => {
    splitter.connect(gain, i);
    gain.connect(merger, 0, i);
  });
  merger.connect(context.destination);
  void context.resume();
  return {
    setGain(channel, value) {
      const gain = gains[channel];
      if (gain) gain.gain.value = value;
    },
    resume() { void context.resume(); },
    close() { void context.close(); },
  };
}
