// Where the viewer's pixels come from, best first:
//   1. the raw channels of the service (GET /api/scans/{id}/channels/{low,high,material,z_eff,labels}):
//      exact 16-bit energies plus the analysis' per-pixel material, Z_eff and object labels;
//   2. the stored format-v1 TIFF (links.tiff) decoded in the browser: exact energies, no Z_eff;
//   3. the service's 8-bit PNG renderings at full range (view=high/low, window=1, level=0.5):
//      approximate energies (the read-out says so), material from view=material when offered.
import { api } from '../api.js';
import { decodeScanTiff } from './tiff.js';

const TYPED = { uint16: Uint16Array, uint8: Uint8Array, float32: Float32Array, int32: Int32Array };

function typed(ch, expected, pixels) {
  if (!ch) return null;
  const T = TYPED[ch.dtype];
  if (!T) throw new Error(`channel of unknown type '${ch.dtype}'`);
  if (expected && ch.dtype !== expected) throw new Error(`channel is ${ch.dtype}, expected ${expected}`);
  if (ch.buffer.byteLength !== pixels * T.BYTES_PER_ELEMENT) throw new Error(`channel has ${ch.buffer.byteLength} bytes for ${pixels} pixels`);
  return new T(ch.buffer);
}

async function channelsOf(scan, pixels) {
  const names = ['material', 'z_eff', 'labels', 'areal_density'];
  const [material, zeff, labels, density] = await Promise.all(names.map((n) => api.scanChannel(scan.scan_id, n).catch(() => null)));
  if (!material && !zeff && !labels) return null;
  return {
    material: typed(material, 'uint8', pixels),
    zeff: typed(zeff, 'float32', pixels),
    labels: typed(labels, 'int32', pixels),
    density: typed(density, 'float32', pixels),
  };
}

async function pngPixels(url) {
  const res = await fetch(url, { credentials: 'same-origin' });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  const bmp = await createImageBitmap(await res.blob());
  const c = document.createElement('canvas');
  c.width = bmp.width;
  c.height = bmp.height;
  const g = c.getContext('2d', { willReadFrequently: true });
  g.drawImage(bmp, 0, 0);
  return { width: bmp.width, height: bmp.height, rgba: g.getImageData(0, 0, bmp.width, bmp.height).data };
}

// Material classes back from the service's material rendering: the hue tells the class.
function classesFromRgb(rgba) {
  const n = rgba.length / 4;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const r = rgba[4 * i], g = rgba[4 * i + 1], b = rgba[4 * i + 2];
    const max = Math.max(r, g, b), min = Math.min(r, g, b);
    if (max < 8) out[i] = 4;
    else if (max - min < 18) out[i] = 0;
    else if (r === max) out[i] = 1;
    else if (g === max) out[i] = 2;
    else out[i] = 3;
  }
  return out;
}

export async function loadScanData(scan) {
  const pixels = scan.width * scan.height;
  const errors = [];
  // The fallbacks can be forced (localStorage 'cs-viewer-source' = 'tiff' or 'png'): the
  // browser tests exercise every path this way.
  const forced = globalThis.localStorage?.getItem('cs-viewer-source') || '';
  // 1. Raw channels.
  if (!forced) try {
    const [low, high] = await Promise.all([api.scanChannel(scan.scan_id, 'low'), api.scanChannel(scan.scan_id, 'high')]);
    if (low && high) {
      const data = { width: low.width || scan.width, height: low.height || scan.height, low: typed(low, 'uint16', pixels), high: typed(high, 'uint16', pixels) };
      return { data, channels: await channelsOf(scan, pixels), approximate: false, source: 'raw energies and analysis channels from the server' };
    }
  } catch (e) {
    if (e.status === 401) throw e;
    errors.push(`channels: ${e.message}`);
  }
  // 2. The stored TIFF.
  if (scan.links?.tiff && forced !== 'png') {
    try {
      const buf = await api.scanTiff(scan.links.tiff);
      const data = await decodeScanTiff(buf);
      return { data, channels: await channelsOf(scan, data.width * data.height), approximate: false, source: 'format-v1 TIFF decoded in the browser' };
    } catch (e) {
      if (e.status === 401) throw e;
      errors.push(`tiff: ${e.message}`);
    }
  }
  // 3. PNG renderings.
  try {
    const [hi, lo] = await Promise.all(['high', 'low'].map((v) => pngPixels(api.scanImageUrl(scan.scan_id, v, { window: 1, level: 0.5 }))));
    const n = hi.width * hi.height;
    const high = new Uint16Array(n), low = new Uint16Array(n);
    for (let i = 0; i < n; i++) { high[i] = Math.max(1, hi.rgba[4 * i] * 257); low[i] = Math.max(1, lo.rgba[4 * i] * 257); }
    let channels = null;
    try {
      const mat = await pngPixels(api.scanImageUrl(scan.scan_id, 'material'));
      channels = { material: classesFromRgb(mat.rgba), zeff: null, labels: null };
    } catch { /* no calibration on the server */ }
    return { data: { width: hi.width, height: hi.height, low, high }, channels, approximate: true, source: '8-bit PNG renderings (approximate values)' };
  } catch (e) {
    errors.push(`png: ${e.message}`);
  }
  throw new Error(errors.join('; '));
}
