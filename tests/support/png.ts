import { inflateSync } from 'node:zlib';

/**
 * A small PNG decoder for tests: checks the signature, the chunk CRCs and the chunk order, inflates
 * the IDAT stream and undoes the row filters (types 0–4). 8-bit non-interlaced images of every
 * colour type (grey, RGB, palette, grey + alpha, RGBA); the pixels come out as RGBA.
 */
export interface DecodedPng {
  width: number;
  height: number;
  /** IHDR colour type (0 grey, 2 RGB, 3 palette, 4 grey + alpha, 6 RGBA). */
  colorType: number;
  /** Row filter type of every scanline, as stored. */
  filters: number[];
  /** RGBA, row by row. */
  rgba: Uint8Array;
}

export interface Rgba {
  r: number;
  g: number;
  b: number;
  a: number;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of bytes) c = (CRC_TABLE[(c ^ byte) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export function isPng(buffer: Uint8Array): boolean {
  return buffer.length >= 8 && Buffer.from(buffer.subarray(0, 8)).equals(SIGNATURE);
}

export function decodePng(input: Uint8Array): DecodedPng {
  const buf = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (!isPng(buf)) throw new Error('not a PNG: bad signature');

  let offset = 8;
  let header: { width: number; height: number; depth: number; colorType: number; interlace: number } | null =
    null;
  let palette: Buffer | null = null;
  let transparency: Buffer | null = null;
  const idat: Buffer[] = [];
  let ended = false;
  while (offset < buf.length) {
    if (offset + 12 > buf.length) throw new Error('PNG truncated inside a chunk header');
    const length = buf.readUInt32BE(offset);
    const type = buf.toString('latin1', offset + 4, offset + 8);
    const dataEnd = offset + 8 + length;
    if (dataEnd + 4 > buf.length) throw new Error(`PNG chunk ${type} runs past the end`);
    const data = buf.subarray(offset + 8, dataEnd);
    const crc = buf.readUInt32BE(dataEnd);
    if (crc32(buf.subarray(offset + 4, dataEnd)) !== crc) throw new Error(`PNG chunk ${type}: bad CRC`);
    if (header === null && type !== 'IHDR') throw new Error('PNG: IHDR is not the first chunk');
    if (type === 'IHDR') {
      if (length !== 13) throw new Error('PNG: bad IHDR length');
      header = {
        width: data.readUInt32BE(0),
        height: data.readUInt32BE(4),
        depth: data[8] ?? 0,
        colorType: data[9] ?? 0,
        interlace: data[12] ?? 0,
      };
    } else if (type === 'PLTE') palette = data;
    else if (type === 'tRNS') transparency = data;
    else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') {
      ended = true;
      break;
    }
    offset = dataEnd + 4;
  }
  if (!header) throw new Error('PNG: no IHDR');
  if (!ended) throw new Error('PNG: no IEND');
  if (idat.length === 0) throw new Error('PNG: no IDAT');
  const { width, height, depth, colorType, interlace } = header;
  const channels = CHANNELS[colorType];
  if (width === 0 || height === 0) throw new Error('PNG: empty image');
  if (channels === undefined) throw new Error(`PNG: bad colour type ${colorType}`);
  if (depth !== 8) throw new Error(`PNG: bit depth ${depth} not supported by this decoder`);
  if (interlace !== 0) throw new Error('PNG: interlaced images not supported by this decoder');
  if (colorType === 3 && !palette) throw new Error('PNG: palette image without PLTE');

  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  if (raw.length !== height * (stride + 1)) {
    throw new Error(`PNG: image data is ${raw.length} bytes, expected ${height * (stride + 1)}`);
  }

  const pixels = new Uint8Array(height * stride);
  const filters: number[] = [];
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)] ?? -1;
    filters.push(filter);
    const src = y * (stride + 1) + 1;
    const row = y * stride;
    const prev = row - stride;
    for (let i = 0; i < stride; i++) {
      const x = raw[src + i] ?? 0;
      const a = i >= channels ? (pixels[row + i - channels] ?? 0) : 0;
      const b = y > 0 ? (pixels[prev + i] ?? 0) : 0;
      const c = y > 0 && i >= channels ? (pixels[prev + i - channels] ?? 0) : 0;
      let value: number;
      switch (filter) {
        case 0:
          value = x;
          break;
        case 1:
          value = x + a;
          break;
        case 2:
          value = x + b;
          break;
        case 3:
          value = x + ((a + b) >>> 1);
          break;
        case 4:
          value = x + paeth(a, b, c);
          break;
        default:
          throw new Error(`PNG: bad filter type ${filter} on row ${y}`);
      }
      pixels[row + i] = value & 0xff;
    }
  }

  const rgba = new Uint8Array(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    const s = p * channels;
    const d = p * 4;
    const v0 = pixels[s] ?? 0;
    if (colorType === 6) rgba.set(pixels.subarray(s, s + 4), d);
    else if (colorType === 2) rgba.set([v0, pixels[s + 1] ?? 0, pixels[s + 2] ?? 0, 255], d);
    else if (colorType === 0) rgba.set([v0, v0, v0, 255], d);
    else if (colorType === 4) rgba.set([v0, v0, v0, pixels[s + 1] ?? 0], d);
    else {
      const pal = palette as Buffer;
      if (v0 * 3 + 2 >= pal.length) throw new Error(`PNG: palette index ${v0} out of range`);
      rgba.set([pal[v0 * 3] ?? 0, pal[v0 * 3 + 1] ?? 0, pal[v0 * 3 + 2] ?? 0, transparency?.[v0] ?? 255], d);
    }
  }
  return { width, height, colorType, filters, rgba };
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

export function pixelAt(png: DecodedPng, x: number, y: number): Rgba {
  const i = (y * png.width + x) * 4;
  const p = png.rgba;
  return { r: p[i] ?? 0, g: p[i + 1] ?? 0, b: p[i + 2] ?? 0, a: p[i + 3] ?? 0 };
}

export interface Region {
  x0: number;
  y0: number;
  /** Exclusive. */
  x1: number;
  /** Exclusive. */
  y1: number;
}

/** Pixels of `region` (default: the whole image) for which `test` holds. */
export function countPixels(png: DecodedPng, test: (p: Rgba) => boolean, region?: Region): number {
  const { x0, y0, x1, y1 } = region ?? { x0: 0, y0: 0, x1: png.width, y1: png.height };
  let n = 0;
  for (let y = Math.max(0, y0); y < Math.min(png.height, y1); y++) {
    for (let x = Math.max(0, x0); x < Math.min(png.width, x1); x++) {
      if (test(pixelAt(png, x, y))) n++;
    }
  }
  return n;
}

/** Coordinates of the pixels for which `test` holds. */
export function findPixels(png: DecodedPng, test: (p: Rgba) => boolean): Array<{ x: number; y: number }> {
  const found: Array<{ x: number; y: number }> = [];
  for (let y = 0; y < png.height; y++) {
    for (let x = 0; x < png.width; x++) if (test(pixelAt(png, x, y))) found.push({ x, y });
  }
  return found;
}
