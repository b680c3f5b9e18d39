// A small reader for scan format v1 (docs/scan-format.md): a classic TIFF with two pages of
// 16-bit unsigned grayscale, page 0 low energy, page 1 high energy. Handles both byte orders,
// strips and tiles, no compression and (Adobe) deflate with or without the horizontal
// predictor: what the service's own writer and common scanner software produce. Anything else
// is refused with a message that says what was found.
//
// Runs in the browser and in node (tests): deflate goes through DecompressionStream.

const kTags = {
  width: 256, height: 257, bits: 258, compression: 259, photometric: 262, stripOffsets: 273,
  samples: 277, rowsPerStrip: 278, stripByteCounts: 279, planar: 284, predictor: 317,
  tileWidth: 322, tileLength: 323, tileOffsets: 324, tileByteCounts: 325, sampleFormat: 339,
};
const kTypeSize = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8 };

export class TiffError extends Error {}

function readIfd(view, offset, little) {
  if (offset + 2 > view.byteLength) throw new TiffError('directory offset past the end of the file');
  const n = view.getUint16(offset, little);
  if (offset + 2 + n * 12 + 4 > view.byteLength) throw new TiffError('directory is truncated');
  const tags = new Map();
  for (let i = 0; i < n; i++) {
    const e = offset + 2 + i * 12;
    const tag = view.getUint16(e, little);
    const type = view.getUint16(e + 2, little);
    const count = view.getUint32(e + 4, little);
    const size = kTypeSize[type] || 1;
    let at = e + 8;
    if (size * count > 4) at = view.getUint32(e + 8, little);
    if (at + size * count > view.byteLength) throw new TiffError(`tag ${tag} points past the end of the file`);
    const values = [];
    // Only numeric tags matter here; strings are skipped.
    if (type === 3 || type === 8) for (let k = 0; k < count; k++) values.push(view.getUint16(at + 2 * k, little));
    else if (type === 4 || type === 9) for (let k = 0; k < count; k++) values.push(view.getUint32(at + 4 * k, little));
    else if (type === 1 || type === 7) for (let k = 0; k < Math.min(count, 16); k++) values.push(view.getUint8(at + k));
    tags.set(tag, values);
  }
  const next = view.getUint32(offset + 2 + n * 12, little);
  return { tags, next };
}

async function inflate(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function one(tags, tag, fallback) {
  const v = tags.get(tag);
  return v && v.length ? v[0] : fallback;
}

async function readPage(buffer, view, little, tags, index) {
  const where = `page ${index}`;
  const width = one(tags, kTags.width, 0);
  const height = one(tags, kTags.height, 0);
  if (!width || !height) throw new TiffError(`${where}: no image size`);
  if (one(tags, kTags.bits, 1) !== 16) throw new TiffError(`${where}: ${one(tags, kTags.bits, 1)} bits per sample; scan format v1 needs 16`);
  if (one(tags, kTags.samples, 1) !== 1) throw new TiffError(`${where}: scan format v1 needs 1 sample per pixel`);
  if (one(tags, kTags.sampleFormat, 1) !== 1) throw new TiffError(`${where}: samples are not unsigned integers`);
  const compression = one(tags, kTags.compression, 1);
  if (compression !== 1 && compression !== 8 && compression !== 32946)
    throw new TiffError(`${where}: compression ${compression} is not supported (none or deflate)`);
  const predictor = one(tags, kTags.predictor, 1);
  if (predictor !== 1 && predictor !== 2) throw new TiffError(`${where}: predictor ${predictor} is not supported`);

  const tiled = tags.has(kTags.tileOffsets);
  const blockW = tiled ? one(tags, kTags.tileWidth, 0) : width;
  const blockH = tiled ? one(tags, kTags.tileLength, 0) : Math.min(one(tags, kTags.rowsPerStrip, height) || height, height);
  const offsets = tags.get(tiled ? kTags.tileOffsets : kTags.stripOffsets) || [];
  const counts = tags.get(tiled ? kTags.tileByteCounts : kTags.stripByteCounts) || [];
  if (!blockW || !blockH) throw new TiffError(`${where}: bad strip or tile size`);
  const across = tiled ? Math.ceil(width / blockW) : 1;
  const down = Math.ceil(height / blockH);
  if (offsets.length < across * down || counts.length < across * down)
    throw new TiffError(`${where}: has ${offsets.length} strips or tiles, needs ${across * down}`);

  const out = new Uint16Array(width * height);
  for (let by = 0; by < down; by++) {
    for (let bx = 0; bx < across; bx++) {
      const k = by * across + bx;
      if (offsets[k] + counts[k] > buffer.byteLength) throw new TiffError(`${where}: strip or tile ${k} is truncated`);
      let raw = new Uint8Array(buffer, offsets[k], counts[k]);
      if (compression !== 1) raw = await inflate(raw);
      const rows = tiled ? blockH : Math.min(blockH, height - by * blockH);
      if (raw.byteLength < rows * blockW * 2) throw new TiffError(`${where}: strip or tile ${k} is truncated or corrupt`);
      const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      for (let r = 0; r < rows; r++) {
        const y = by * blockH + r;
        if (y >= height) break;
        let prev = 0;
        for (let c = 0; c < blockW; c++) {
          let v = dv.getUint16((r * blockW + c) * 2, little);
          if (predictor === 2) { v = (v + prev) & 0xffff; prev = v; }
          const x = bx * blockW + c;
          if (x < width) out[y * width + x] = v;
        }
      }
    }
  }
  return { width, height, pixels: out };
}

// Decodes an ArrayBuffer holding a format-v1 scan. Resolves to {width, height, low, high}
// (Uint16Array each, row-major) or rejects with a TiffError saying what is wrong.
export async function decodeScanTiff(buffer, { maxPixels = 64 << 20 } = {}) {
  if (!(buffer instanceof ArrayBuffer)) buffer = buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength);
  const view = new DataView(buffer);
  if (view.byteLength < 8) throw new TiffError('too short to be a TIFF');
  const magic = String.fromCharCode(view.getUint8(0), view.getUint8(1));
  if (magic !== 'II' && magic !== 'MM') throw new TiffError('not a TIFF (bad magic bytes)');
  const little = magic === 'II';
  if (view.getUint16(2, little) !== 42) throw new TiffError('not a classic TIFF');
  const pages = [];
  let offset = view.getUint32(4, little);
  const seen = new Set();
  while (offset && pages.length < 3) {
    if (seen.has(offset)) throw new TiffError('directory loop');
    seen.add(offset);
    const ifd = readIfd(view, offset, little);
    pages.push(ifd.tags);
    offset = ifd.next;
  }
  if (pages.length !== 2) throw new TiffError(`${pages.length > 2 ? 'more than 2' : pages.length} page(s); scan format v1 needs exactly 2 (low, high energy)`);
  for (const t of pages) {
    if (one(t, kTags.width, 0) * one(t, kTags.height, 0) > maxPixels) throw new TiffError('image is larger than the viewer accepts');
  }
  const low = await readPage(buffer, view, little, pages[0], 0);
  const high = await readPage(buffer, view, little, pages[1], 1);
  if (low.width !== high.width || low.height !== high.height) throw new TiffError('pages differ in size');
  return { width: low.width, height: low.height, low: low.pixels, high: high.pixels };
}
