// The scan viewer's pure parts against the C++ library, through the CLI: the browser's TIFF
// decoder must read exactly the pixels libtiff wrote (plain and deflate + predictor), and the
// browser's window/level must give exactly the bytes the service's renderer gives.
//
//   CLEARSIGHT_CLI=build/release/clearsight node --test tests/e2e/viewer.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';

import { decodeScanTiff, TiffError } from '../../web/js/viewer/tiff.js';
import { attenuation, autoWindow, fuseEnergies, labelBoundary, renderView, windowLut } from '../../web/js/viewer/render.js';

const CLI = process.env.CLEARSIGHT_CLI;
if (!CLI) throw new Error('set CLEARSIGHT_CLI to the clearsight binary');
const dir = mkdtempSync(join(tmpdir(), 'cs-viewer-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

const run = (...args) => execFileSync(CLI, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
run('xray', 'simulate', '--count', '2', '--seed', '7', '--threat-rate', '1', '--width', '300', '--height', '200', '--out', join(dir, 'plain'));
run('xray', 'simulate', '--count', '1', '--seed', '7', '--threat-rate', '1', '--width', '300', '--height', '200', '--compress', '--out', join(dir, 'deflate'));

// A minimal PNG reader for 8-bit gray / RGB, non-interlaced (what the library writes).
function readPng(path) {
  const b = readFileSync(path);
  assert.equal(b.toString('latin1', 1, 4), 'PNG');
  let off = 8, width = 0, height = 0, channels = 0;
  const idat = [];
  while (off < b.length) {
    const len = b.readUInt32BE(off);
    const type = b.toString('latin1', off + 4, off + 8);
    const data = b.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0); height = data.readUInt32BE(4);
      assert.equal(data[8], 8, 'bit depth');
      channels = { 0: 1, 2: 3 }[data[9]];
      assert.equal(data[12], 0, 'interlace');
    } else if (type === 'IDAT') idat.push(data);
    off += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const out = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? out[y * stride + x - channels] : 0;
      const up = y > 0 ? out[(y - 1) * stride + x] : 0;
      const c = x >= channels && y > 0 ? out[(y - 1) * stride + x - channels] : 0;
      let v = line[x];
      if (f === 1) v += a;
      else if (f === 2) v += up;
      else if (f === 3) v += (a + up) >> 1;
      else if (f === 4) { const p = a + up - c; const pa = Math.abs(p - a), pb = Math.abs(p - up), pc = Math.abs(p - c); v += pa <= pb && pa <= pc ? a : pb <= pc ? up : c; }
      out[y * stride + x] = v & 255;
    }
  }
  return { width, height, channels, pixels: out };
}

async function decodeFile(path) {
  const b = readFileSync(path);
  return decodeScanTiff(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

for (const [kind, base] of [['uncompressed', 'plain/S7-000000'], ['deflate with predictor', 'deflate/S7-000000']]) {
  test(`TIFF decoder reads the ${kind} scan exactly as libtiff wrote it`, async () => {
    const scan = await decodeFile(join(dir, `${base}.tif`));
    assert.equal(scan.width, 300);
    assert.equal(scan.height, 200);
    for (const [page, flag] of [['high', []], ['low', ['--low']]]) {
      const png = join(dir, `${page}.png`);
      run('xray', 'render', '--in', join(dir, `${base}.tif`), '--out', png, '--mode', 'gray', '--window', '1', '--level', '0.5', ...flag);
      const ref = readPng(png);
      const pix = scan[page];
      let mismatches = 0, dense = 0;
      for (let i = 0; i < pix.length; i++) {
        if (Math.round((255 * pix[i]) / 65535) !== ref.pixels[i]) mismatches++;
        if (pix[i] < 40000) dense++;
      }
      assert.equal(mismatches, 0, `${page}: pixels differ from the library's rendering`);
      assert.ok(dense > 100, `${page}: the scan shows objects (${dense} dense pixels)`);
    }
  });
}

test('both TIFF encodings of the same simulated scan decode to the same pixels', async () => {
  const a = await decodeFile(join(dir, 'plain/S7-000000.tif'));
  const b = await decodeFile(join(dir, 'deflate/S7-000000.tif'));
  assert.deepEqual(a.low, b.low);
  assert.deepEqual(a.high, b.high);
});

test('TIFF decoder refuses what is not a format-v1 scan, saying why', async () => {
  const png = join(dir, 'x.png');
  run('xray', 'render', '--in', join(dir, 'plain/S7-000000.tif'), '--out', png);
  const b = readFileSync(png);
  await assert.rejects(decodeScanTiff(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)), (e) => e instanceof TiffError && /magic/.test(e.message));
  const t = readFileSync(join(dir, 'plain/S7-000000.tif'));
  const cut = t.buffer.slice(t.byteOffset, t.byteOffset + 5000);
  await assert.rejects(decodeScanTiff(cut), TiffError);
});

test('window/level in the browser gives the same bytes as the service renderer', async () => {
  const scan = await decodeFile(join(dir, 'plain/S7-000001.tif'));
  const out = new Uint8ClampedArray(scan.width * scan.height * 4);
  for (const [w, l, view] of [[0.4, 0.6, 'high'], [0.1, 0.3, 'low'], [1, 0.5, 'high']]) {
    const png = join(dir, 'wl.png');
    run('xray', 'render', '--in', join(dir, 'plain/S7-000001.tif'), '--out', png, '--mode', 'gray', '--window', String(w), '--level', String(l), ...(view === 'low' ? ['--low'] : []));
    const ref = readPng(png);
    assert.ok(renderView({ ...scan, fused: fuseEnergies(scan.low, scan.high) }, view, { window: w, level: l }, out));
    let diff = 0;
    for (let i = 0; i < ref.pixels.length; i++) if (out[4 * i] !== ref.pixels[i]) diff++;
    assert.equal(diff, 0, `window ${w} level ${l} ${view}: ${diff} pixels differ`);
  }
});

test('automatic window matches the service automatic window', async () => {
  const scan = await decodeFile(join(dir, 'plain/S7-000001.tif'));
  const png = join(dir, 'auto.png');
  run('xray', 'render', '--in', join(dir, 'plain/S7-000001.tif'), '--out', png, '--mode', 'gray');
  const ref = readPng(png);
  const { window, level } = autoWindow(scan.high);
  const lut = windowLut(window, level);
  let diff = 0;
  for (let i = 0; i < scan.high.length; i++) if (lut[scan.high[i]] !== ref.pixels[i]) diff++;
  assert.equal(diff, 0);
});

test('material view colours classes and needs them', () => {
  const n = 4;
  const data = { low: new Uint16Array([65535, 30000, 30000, 1]), high: new Uint16Array([65535, 20000, 20000, 20000]), material: new Uint8Array([0, 1, 3, 4]) };
  data.fused = fuseEnergies(data.low, data.high);
  const out = new Uint8ClampedArray(n * 4);
  assert.ok(renderView(data, 'material', { window: 1, level: 0.5 }, out));
  assert.ok(out[4] > out[6], 'organic is orange: red over blue');
  assert.ok(out[10] > out[8], 'metal is blue: blue over red');
  assert.deepEqual([...out.slice(12, 15)], [0, 0, 0], 'impenetrable is black');
  assert.equal(renderView({ ...data, material: null }, 'material', { window: 1, level: 0.5 }, out), false);
});

test('attenuation and outline helpers', () => {
  assert.equal(attenuation(65535), 0);
  assert.ok(Math.abs(attenuation(Math.round(65535 * Math.exp(-2))) - 2) < 1e-4);
  // A 3x3 object in a 5x5 image: its boundary is the square from (1, 1) to (4, 4), four merged
  // segments along pixel edges; nothing runs through its inside.
  const labels = new Int32Array(25);
  for (let y = 1; y < 4; y++) for (let x = 1; x < 4; x++) labels[y * 5 + x] = 1;
  const seg = [...labelBoundary(labels, 5, 5)];
  assert.deepEqual(seg, [1, 1, 4, 1, 1, 4, 4, 4, 1, 1, 1, 4, 4, 1, 4, 4]);
  // Two objects side by side share one boundary between them; an object at the image's edge is
  // closed by the border.
  const two = new Int32Array([1, 1, 2, 2]);
  const s2 = [...labelBoundary(two, 4, 1)];
  assert.deepEqual(s2, [0, 0, 4, 0, 0, 1, 4, 1, 0, 0, 0, 1, 2, 0, 2, 1, 4, 0, 4, 1]);
});
