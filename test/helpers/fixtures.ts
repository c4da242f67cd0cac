import path from 'node:path';

/** The sample call recordings shipped with the repository (test/fixtures/README.md). */
export const FIXTURE_DIR = path.resolve(import.meta.dirname, '../fixtures/recordings');
export const FIXTURE_FILES = ['call-ulaw-8k-mono.wav', 'call-pcm16-8k-stereo.wav', 'call-8k-mono.mp3', 'call-16k-mono.opus'] as const;
/** The other containers ingest accepts, derived from the four above (test/fixtures/README.md). */
export const OTHER_CONTAINER_FILES = ['call-pcm16-8k-stereo.flac', 'call-16k-mono-vorbis.ogg', 'call-16k-mono.webm'] as const;
export type FixtureName = (typeof FIXTURE_FILES)[number] | (typeof OTHER_CONTAINER_FILES)[number];

export function fixturePath(name: FixtureName): string {
  return path.join(FIXTURE_DIR, name);
}
