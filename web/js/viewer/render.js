// Pure rendering of a dual-energy scan into RGBA pixels: no DOM, so node tests can run it.
//
// Pixels are transmissions (scan format v1: round(65535 * I/I0), 1..65535; air bright, dense
// dark). Window/level works over transmission 0..1 as the service's renderer does:
// display = (t - level) / window + 0.5, clamped to 0..1.
//
// Views:
//   gray      both energies fused (geometric mean of the transmissions)
//   high      the high-energy image only
//   low       the low-energy image only
//   material  the standard screening colours (organic orange, inorganic green, metal blue,
//             impenetrable black) from the per-pixel material classes of the scan's analysis,
//             brightness from the high-energy image through the window/level.

export const MATERIAL_NAMES = ['none', 'organic', 'inorganic', 'metal', 'impenetrable'];
// The same hues as the service's RenderMaterialPng.
export const MATERIAL_HUES = [[255, 255, 255], [255, 140, 0], [40, 170, 40], [40, 90, 230], [0, 0, 0]];

export function attenuation(pixel) {
  return 0 - Math.log(Math.max(1, pixel) / 65535);  // 0, not -0, for air
}

// The geometric mean of both energies, as one 16-bit image (computed once per scan).
export function fuseEnergies(low, high) {
  const out = new Uint16Array(low.length);
  for (let i = 0; i < low.length; i++) out[i] = Math.round(Math.sqrt(low[i] * high[i]));
  return out;
}

// Window and level that stretch the 2nd..99.8th percentile of one page (the service's automatic
// window).
export function autoWindow(page) {
  const hist = new Uint32Array(65536);
  for (let i = 0; i < page.length; i++) hist[page[i]]++;
  const pct = (q) => {
    const target = Math.floor(q * page.length);
    let acc = 0;
    for (let v = 0; v < 65536; v++) if ((acc += hist[v]) > target) return v / 65535;
    return 1;
  };
  const lo = pct(0.02);
  let hi = pct(0.998);
  if (hi - lo < 1e-3) hi = lo + 1e-3;
  return { window: hi - lo, level: (hi + lo) / 2 };
}

// 65536-entry table from pixel value to display value 0..255.
export function windowLut(window, level, invert = false) {
  const lut = new Uint8Array(65536);
  const w = Math.max(window, 1e-4);
  for (let v = 0; v < 65536; v++) {
    let d = (v / 65535 - level) / w + 0.5;
    d = d < 0 ? 0 : d > 1 ? 1 : d;
    if (invert) d = 1 - d;
    lut[v] = Math.round(255 * d);
  }
  return lut;
}

// Colour saturation by high-energy pixel value: thin objects fade to white, as on the service
// (full colour from an attenuation of 0.3 on).
let satLut = null;
function saturationLut() {
  if (!satLut) {
    satLut = new Float32Array(65536);
    for (let v = 0; v < 65536; v++) {
      const hh = attenuation(v);
      satLut[v] = hh >= 0.3 ? 1 : hh / 0.3;
    }
  }
  return satLut;
}

// table[m * 65536 + v]: the packed colour of class m at high-energy pixel value v, for one
// window/level. Most values are thick enough to be fully saturated; their colour depends only on
// the display byte, so it comes from a 256-entry row.
function materialTable(lut, sats) {
  const clamp = (x) => (x < 0 ? 0 : x > 255 ? 255 : Math.round(x));
  const pack = (r, g, b) => (0xff000000 | (b << 16) | (g << 8) | r) >>> 0;
  // A floor of 0.3 keeps the hue of dense objects visible (the service uses 0.15).
  const colour = (m, b, sat) => {
    if (m === 4) return pack(0, 0, 0);
    if (m === 0) { const g = clamp(255 * (0.25 + 0.75 * b)); return pack(g, g, g); }
    const [hr, hg, hb] = MATERIAL_HUES[m];
    const shade = 0.3 + 0.7 * b, white = (1 - sat) * 255;
    return pack(clamp((white + sat * hr) * shade), clamp((white + sat * hg) * shade), clamp((white + sat * hb) * shade));
  };
  const table = new Uint32Array(5 * 65536);
  for (let m = 0; m < 5; m++) {
    const full = new Uint32Array(256);
    for (let d = 0; d < 256; d++) full[d] = colour(m, d / 255, 1);
    const base = m * 65536;
    for (let v = 0; v < 65536; v++) table[base + v] = sats[v] === 1 ? full[lut[v]] : colour(m, lut[v] / 255, sats[v]);
  }
  return table;
}

// Renders into `out` (Uint8ClampedArray of width*height*4). `data` holds
// {low, high, fused, material} (material optional: Uint8Array of classes). Returns false when
// the view cannot be drawn from the data (material view without classes).
export function renderView(data, view, { window, level, invert = false }, out) {
  const n = data.low.length;
  const lut = windowLut(window, level, invert);
  // One packed RGBA word per pixel (little-endian: 0xAABBGGRR), from tables built per call.
  const out32 = new Uint32Array(out.buffer, out.byteOffset, n);
  if (view === 'material') {
    if (!data.material) return false;
    const high = data.high;
    const mat = data.material;
    const sats = saturationLut();
    // table[m * 65536 + v]: the colour of class m at high-energy pixel value v.
    const table = materialTable(lut, sats);
    for (let i = 0; i < n; i++) {
      const m = mat[i] > 4 ? 4 : mat[i];
      out32[i] = table[(m << 16) | high[i]];
    }
    return true;
  }
  const page = view === 'low' ? data.low : view === 'high' ? data.high : data.fused;
  const gray = new Uint32Array(65536);
  for (let v = 0; v < 65536; v++) { const g = lut[v]; gray[v] = (0xff000000 | (g << 16) | (g << 8) | g) >>> 0; }
  for (let i = 0; i < n; i++) out32[i] = gray[page[i]];
  return true;
}

// The boundaries of the labelled regions (object ids), as line segments along pixel edges in
// image coordinates: [x0, y0, x1, y1, ...], runs along a row or column merged into one segment.
// Drawn as lines of a fixed screen width, an outline stays thin at any zoom.
export function labelBoundary(labels, width, height) {
  const seg = [];
  const at = (x, y) => (x < 0 || y < 0 || x >= width || y >= height ? 0 : labels[y * width + x]);
  for (let y = 0; y <= height; y++) {  // horizontal edges, between rows y - 1 and y
    let start = -1;
    for (let x = 0; x <= width; x++) {
      const a = x < width ? at(x, y - 1) : 0;
      const b = x < width ? at(x, y) : 0;
      const edge = x < width && a !== b;
      if (edge && start < 0) start = x;
      if (!edge && start >= 0) { seg.push(start, y, x, y); start = -1; }
    }
  }
  for (let x = 0; x <= width; x++) {  // vertical edges, between columns x - 1 and x
    let start = -1;
    for (let y = 0; y <= height; y++) {
      const a = y < height ? at(x - 1, y) : 0;
      const b = y < height ? at(x, y) : 0;
      const edge = y < height && a !== b;
      if (edge && start < 0) start = y;
      if (!edge && start >= 0) { seg.push(x, start, x, y); start = -1; }
    }
  }
  return Float32Array.from(seg);
}
