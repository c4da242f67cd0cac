/**
 * A small WebM writer for tests, laid out as browsers' MediaRecorder writes a live recording:
 * a Segment and Clusters of unknown size, a track list, then SimpleBlocks. Packets come from the
 * Ogg/Opus sample call, whose pages are walked here without the vault's code.
 */

/** An element with an 8-byte size field (or the unknown size). */
export function element(id: number, body: Buffer | null): Buffer {
  const hex = id.toString(16);
  const idBytes = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
  const size = Buffer.alloc(8);
  if (body === null) size.fill(0xff, 1);
  else size.writeBigUInt64BE(BigInt(body.length), 0);
  size[0] = 0x01;
  return Buffer.concat([idBytes, size, body ?? Buffer.alloc(0)]);
}

function uint(id: number, value: number): Buffer {
  const body = Buffer.alloc(4);
  body.writeUInt32BE(value);
  return element(id, body);
}

/** The EBML header, an unknown-size Segment and the track list of one audio track. */
export function webmHead(codecId: string, codecPrivate: Buffer): Buffer {
  const ebml = element(0x1a45dfa3, Buffer.concat([uint(0x4286, 1), element(0x4282, Buffer.from('webm'))]));
  const track = element(0xae, Buffer.concat([uint(0xd7, 1), uint(0x83, 2), element(0x86, Buffer.from(codecId)), element(0x63a2, codecPrivate)]));
  return Buffer.concat([ebml, element(0x18538067, null), element(0x1654ae6b, track)]);
}

/** An unknown-size Cluster of SimpleBlocks on track 1. */
export function webmCluster(timecode: number, frames: Buffer[]): Buffer {
  const blocks = frames.map((frame, i) => element(0xa3, Buffer.concat([Buffer.from([0x81, 0, i & 0x7f, 0x80]), frame])));
  return Buffer.concat([element(0x1f43b675, null), uint(0xe7, timecode), ...blocks]);
}

/** The OpusHead and the audio packets of an Ogg/Opus file (one logical stream). */
export function oggOpusPackets(ogg: Buffer): { head: Buffer; packets: Buffer[] } {
  const packets: Buffer[] = [];
  let partial: Buffer[] = [];
  for (let at = 0; at < ogg.length;) {
    const segments = ogg[at + 26] ?? 0;
    let body = at + 27 + segments;
    for (let i = 0; i < segments; i++) {
      const lace = ogg[at + 27 + i] ?? 0;
      partial.push(ogg.subarray(body, body + lace));
      body += lace;
      if (lace < 255) { packets.push(Buffer.concat(partial)); partial = []; }
    }
    at = body;
  }
  const [head = Buffer.alloc(0), , ...audio] = packets;
  return { head, packets: audio };
}
