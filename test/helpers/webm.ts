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

/** A 2-byte EBML number; signed ones are stored with the bias 2^13 - 1. */
function vint2(value: number, signed: boolean): Buffer {
  const raw = signed ? value + 8191 : value;
  return Buffer.from([0x40 | (raw >> 8), raw & 0xff]);
}

/** Sizes of all frames but the last, as Xiph (runs of 255) or EBML (first size, then differences) lacing writes them. */
function laceSizes(frames: Buffer[], lacing: 'xiph' | 'ebml'): Buffer {
  const sizes = frames.slice(0, -1).map((f) => f.length);
  if (lacing === 'xiph') return Buffer.from(sizes.flatMap((n) => [...Array<number>(Math.floor(n / 255)).fill(255), n % 255]));
  return Buffer.concat(sizes.map((n, i) => (i === 0 ? vint2(n, false) : vint2(n - (sizes[i - 1] ?? 0), true))));
}

/**
 * An unknown-size Cluster of SimpleBlocks on track 1: one frame per block, or `perBlock` frames
 * laced into each.
 */
export function webmCluster(timecode: number, frames: Buffer[], lacing?: 'xiph' | 'ebml', perBlock = 3): Buffer {
  const groups = lacing ? Array.from({ length: Math.ceil(frames.length / perBlock) }, (_, i) => frames.slice(i * perBlock, (i + 1) * perBlock)) : frames.map((f) => [f]);
  const blocks = groups.map((group, i) => {
    const laced = lacing !== undefined && group.length > 1;
    const flags = 0x80 | (!laced ? 0 : lacing === 'xiph' ? 0x02 : 0x06);
    const header = Buffer.from([0x81, 0, i & 0x7f, flags]);
    const lace = laced ? Buffer.concat([Buffer.from([group.length - 1]), laceSizes(group, lacing)]) : Buffer.alloc(0);
    return element(0xa3, Buffer.concat([header, lace, ...group]));
  });
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
