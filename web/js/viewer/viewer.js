// The scan viewer: a canvas with zoom and pan (wheel, drag, keyboard), window/level (sliders and
// right-drag), grayscale / material colour / high-energy / low-energy views, detection and
// segmentation overlays that can be switched off, and a read-out of the pixel under the cursor
// (raw values, attenuation at both energies, Z_eff and material class).
//
// The viewer renders from the scan's raw energies when it has them (format-v1 TIFF from the
// service) and from the service's PNG renderings otherwise. Z_eff, material classes and object
// labels per pixel come from the analysis channels when the service sends them.
import { attenuation, autoWindow, fuseEnergies, labelBoundary, MATERIAL_NAMES, renderView } from './render.js';

const VIEWS = [
  { id: 'gray', label: 'Gray', key: 'g', title: 'Grayscale: both energies fused' },
  { id: 'material', label: 'Material', key: 'm', title: 'Material colour: organic orange, inorganic green, metal blue' },
  { id: 'high', label: 'High energy', key: 'h' },
  { id: 'low', label: 'Low energy', key: 'l' },
];
const MIN_ZOOM = 0.05;
const MAX_ZOOM = 32;
const THREAT_CLASSES = new Set(['weapon', 'knife', 'gun', 'pistol', 'explosive', 'firearm']);

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v === true) e.setAttribute(k, '');
    else if (v !== false && v != null) e.setAttribute(k, v);
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}

function fmt(v, digits = 3) {
  return Number.isFinite(v) ? v.toFixed(digits) : '—';
}

export class ScanViewer {
  // `root` is an empty element; `options.idPrefix` keeps ids unique when several viewers exist.
  // Screener training: `overlays: false` starts with every overlay off and offers no switch for
  // them; `onMark(x, y)` is called with the image pixel of a click (a press without a drag), and
  // with `onMarkBox(x0, y0, x1, y1)` a left drag draws a box (Shift+drag and the arrows still pan).
  constructor(root, { idPrefix = 'sv', overlays = true, onMark = null, onMarkBox = null } = {}) {
    this.root = root;
    this.idPrefix = idPrefix;
    this.data = null;        // {width, height, low, high, fused, material, zeff, labels, approximate}
    this.view = 'gray';
    this.wl = { window: 1, level: 0.5 };
    this.autoWl = null;
    this.invert = false;
    this.zoom = 1;
    this.panX = 0;           // image coordinate at the canvas centre
    this.panY = 0;
    this.overlays = { detections: overlays, objects: overlays, reasons: overlays };
    this.overlaySwitches = overlays;
    this.onMark = onMark;
    this.onMarkBox = onMarkBox;
    this.mark = null;        // {x, y} or {x0, y0, x1, y1}: the trainee's mark
    this.draftBox = null;    // [x0, y0, x1, y1] while a box is being drawn
    this.truth = null;       // {box:[x0,y0,x1,y1], text}: drawn whatever the overlays
    this.objects = [];       // [{id, box:[x0,y0,x1,y1], material, mass_kg, z_eff}]
    this.detections = [];    // [{class, score, box:[x0,y0,x1,y1]}]
    this.reasonMarks = [];   // [{text, box:[x0,y0,x1,y1]}]
    this.probe = null;       // image pixel under the cursor or the keyboard probe
    this.drag = null;
    this.build();
  }

  build() {
    const p = this.idPrefix;
    this.canvas = el('canvas', { class: 'sv-canvas' });
    this.stage = el('div', {
      class: 'sv-stage', tabindex: '0', role: 'application',
      'aria-label': 'X-ray image. Wheel or plus and minus zoom, drag or arrows pan, 0 fits, right-drag sets window and level, shift and arrows move the read-out probe, G M H L switch views, O toggles overlays.',
      'aria-describedby': `${p}-readout`,
    }, this.canvas);
    this.status = el('p', { class: 'sv-status', role: 'status' }, 'No scan loaded.');

    const viewGroup = el('fieldset', { class: 'sv-views' }, el('legend', { class: 'visually-hidden' }, 'View'));
    this.viewInputs = {};
    for (const v of VIEWS) {
      const input = el('input', { type: 'radio', name: `${p}-view`, id: `${p}-view-${v.id}`, value: v.id, 'data-view': v.id });
      input.addEventListener('change', () => { if (input.checked) this.setView(v.id); });
      this.viewInputs[v.id] = input;
      viewGroup.append(el('label', { for: `${p}-view-${v.id}`, title: `${v.title || v.label} (key ${v.key.toUpperCase()})` }, input, ` ${v.label}`));
    }

    this.windowInput = el('input', { type: 'range', id: `${p}-window`, min: '0.005', max: '1', step: '0.005', value: '1' });
    this.levelInput = el('input', { type: 'range', id: `${p}-level`, min: '0', max: '1', step: '0.005', value: '0.5' });
    this.windowValue = el('output', { for: `${p}-window` });
    this.levelValue = el('output', { for: `${p}-level` });
    this.windowInput.addEventListener('input', () => this.setWindowLevel(+this.windowInput.value, this.wl.level));
    this.levelInput.addEventListener('input', () => this.setWindowLevel(this.wl.window, +this.levelInput.value));
    this.invertInput = el('input', { type: 'checkbox', id: `${p}-invert` });
    this.invertInput.addEventListener('change', () => { this.invert = this.invertInput.checked; this.renderImage(); });
    const wlGroup = el('fieldset', { class: 'sv-wl', title: 'Or drag on the image with the right mouse button: sideways for window, up and down for level.' },
      el('legend', { class: 'visually-hidden' }, 'Window / level'),
      el('label', { for: `${p}-window` }, 'Window '), this.windowInput, this.windowValue,
      el('label', { for: `${p}-level` }, 'Level '), this.levelInput, this.levelValue,
      el('button', { type: 'button', onclick: () => this.resetWindowLevel() }, 'Auto'),
      el('label', { for: `${p}-invert` }, this.invertInput, ' Invert'));

    const overlayGroup = el('fieldset', { class: 'sv-overlays' }, el('legend', { class: 'visually-hidden' }, 'Overlays'));
    this.overlayInputs = {};
    for (const [id, label] of [['detections', 'Detections'], ['objects', 'Objects'], ['reasons', 'Reasons']]) {
      const input = el('input', { type: 'checkbox', id: `${p}-ov-${id}`, checked: this.overlays[id], 'data-overlay': id });
      input.addEventListener('change', () => { this.overlays[id] = input.checked; this.draw(); });
      this.overlayInputs[id] = input;
      overlayGroup.append(el('label', { for: `${p}-ov-${id}` }, input, ` ${label}`));
    }

    this.zoomValue = el('output', { class: 'sv-zoom', 'aria-live': 'polite' });
    const zoomGroup = el('fieldset', { class: 'sv-zoomgroup' }, el('legend', { class: 'visually-hidden' }, 'Zoom'),
      el('button', { type: 'button', 'aria-label': 'Zoom in', onclick: () => this.zoomBy(1.25) }, '+'),
      el('button', { type: 'button', 'aria-label': 'Zoom out', onclick: () => this.zoomBy(0.8) }, '−'),
      el('button', { type: 'button', onclick: () => this.resetView(), title: 'Fit the image (key 0)' }, 'Fit'),
      el('button', { type: 'button', onclick: () => this.setZoom(1) }, '1:1'),
      this.zoomValue);

    this.readout = el('dl', { class: 'sv-readout', id: `${p}-readout` });
    this.legend = el('ul', { class: 'sv-legend', 'aria-label': 'Material colours' },
      ...[['organic', 'Organic', 'Z_eff below 10'], ['inorganic', 'Inorganic', 'Z_eff 10 to 18'], ['metal', 'Metal', 'Z_eff above 18'], ['impenetrable', 'Opaque', 'impenetrable: the X-ray does not get through']]
        .map(([k, t, title]) => el('li', { title }, el('span', { class: `swatch swatch-${k}`, 'aria-hidden': 'true' }), t, el('span', { class: 'visually-hidden' }, ` (${title})`))));

    // The image with a panel beside it: views, window/level, overlays, zoom, then the read-out.
    // A toolbar over the image (views, overlays, window/level, zoom), the read-out under it.
    const readoutBox = el('section', { class: 'sv-readout-box', 'aria-label': 'Pixel read-out' }, el('h3', { class: 'visually-hidden' }, 'Pixel read-out'), this.readout);
    if (!this.overlaySwitches) overlayGroup.hidden = true;
    const toolbar = el('div', { class: 'sv-toolbar sv-controls' }, viewGroup, overlayGroup, wlGroup, zoomGroup);
    readoutBox.append(this.legend);
    this.root.classList.add('scan-viewer');
    this.root.append(toolbar, this.stage, readoutBox, this.status);

    this.ctx = this.canvas.getContext('2d');
    this.offscreen = document.createElement('canvas');
    this.attachInput();
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(this.stage);
    this.onWindowResize = () => this.resize();
    window.addEventListener('resize', this.onWindowResize);
    this.updateControls();
    this.updateReadout();
  }

  // ---- Data ---------------------------------------------------------------------------------

  // scan: {width, height, low, high} (Uint16Array each); channels: {material, zeff, labels} or
  // null; approximate: true when the energies come from 8-bit PNG renderings.
  setData(scan, channels = null, { approximate = false, source = '' } = {}) {
    const fused = fuseEnergies(scan.low, scan.high);
    this.data = {
      width: scan.width, height: scan.height, low: scan.low, high: scan.high, fused,
      material: channels?.material || null, zeff: channels?.zeff || null, labels: channels?.labels || null,
      density: channels?.density || null,
      approximate, source,
    };
    this.autoWl = autoWindow(fused);
    this.wl = { ...this.autoWl };
    this.offscreen.width = scan.width;
    this.offscreen.height = scan.height;
    // The stage takes the scan's shape (up to the height the page allows): no empty bands.
    this.stage.style.aspectRatio = `${scan.width} / ${scan.height}`;
    this.imageData = new ImageData(scan.width, scan.height);
    this.buildSegmentation();
    if (this.view === 'material' && !this.data.material) this.view = 'gray';
    this.resetView();
    this.renderImage();
    const parts = [`${scan.width} × ${scan.height} px`, source];
    if (!this.data.material) parts.push('no material classes from the analysis: material colour is unavailable');
    this.setStatus(parts.filter(Boolean).join(' · '));
  }

  // analysis: the service's analysis JSON ({objects:[...], detections:[...]}); reasons: fused
  // reasons with boxes ({text, box:{x0,y0,x1,y1}}).
  setAnalysis(analysis, reasons = []) {
    this.objects = (analysis?.objects || []).map((o) => ({ ...o, box: normBox(o.box ?? o) })).filter((o) => o.box);
    this.detections = (analysis?.detections || []).map((d) => ({ ...d, box: normBox(d.box) })).filter((d) => d.box);
    this.reasonMarks = reasons.map((r) => ({ text: r.text, box: normBox(r.box) })).filter((r) => r.box);
    this.draw();
  }

  // The trainee's mark ({x, y} or {x0, y0, x1, y1} in image pixels, or null) and the truth box
  // after the answer.
  setMark(mark) {
    this.mark = mark;
    this.draw();
  }

  setTruth(box, text = '') {
    this.truth = box ? { box: normBox(box), text } : null;
    this.draw();
  }

  setStatus(text, isError = false) {
    this.status.textContent = text;
    this.status.classList.toggle('error', isError);
  }

  buildSegmentation() {
    const d = this.data;
    this.hasMasks = false;
    this.outlinePath = null;
    if (!d.labels) return;
    const seg = labelBoundary(d.labels, d.width, d.height);
    const path = new Path2D();
    for (let i = 0; i < seg.length; i += 4) {
      path.moveTo(seg[i], seg[i + 1]);
      path.lineTo(seg[i + 2], seg[i + 3]);
    }
    this.outlinePath = path;
    this.hasMasks = true;
  }

  // ---- State changes ------------------------------------------------------------------------

  setView(view) {
    if (!VIEWS.some((v) => v.id === view)) return;
    if (view === 'material' && this.data && !this.data.material) {
      this.setStatus('Material colour needs the per-pixel material classes of the scan analysis, which the server did not provide for this scan.', true);
      this.updateControls();
      return;
    }
    this.view = view;
    this.renderImage();
    this.root.dispatchEvent(new CustomEvent('viewchange', { detail: { view } }));
  }

  setWindowLevel(window, level) {
    this.wl = { window: Math.min(1, Math.max(0.005, window)), level: Math.min(1, Math.max(0, level)) };
    this.renderImage();
  }

  flushWindowLevel() {
    if (this.wlFrame) cancelAnimationFrame(this.wlFrame);
    this.wlFrame = 0;
    if (!this.pendingWl) return;
    const [w, l] = this.pendingWl;
    this.pendingWl = null;
    this.setWindowLevel(w, l);
  }

  resetWindowLevel() {
    if (this.autoWl) this.wl = { ...this.autoWl };
    this.renderImage();
  }

  setZoom(z, anchor) {
    const nz = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, z));
    if (anchor) {
      // Keep the image point under the anchor (canvas CSS pixels) in place.
      const before = this.toImage(anchor.x, anchor.y);
      this.zoom = nz;
      const after = this.toImage(anchor.x, anchor.y);
      this.panX += before.x - after.x;
      this.panY += before.y - after.y;
    } else {
      this.zoom = nz;
    }
    this.draw();
  }

  zoomBy(f, anchor) { this.setZoom(this.zoom * f, anchor); }

  panBy(dxScreen, dyScreen) {
    this.panX -= dxScreen / this.zoom;
    this.panY -= dyScreen / this.zoom;
    this.draw();
  }

  resetView() {
    if (!this.data) return;
    const w = this.cssWidth || 1, h = this.cssHeight || 1;
    this.zoom = Math.min(w / this.data.width, h / this.data.height) * 0.98;
    this.panX = this.data.width / 2;
    this.panY = this.data.height / 2;
    this.draw();
  }

  // ---- Geometry -----------------------------------------------------------------------------

  toImage(cx, cy) {
    return {
      x: (cx - this.cssWidth / 2) / this.zoom + this.panX,
      y: (cy - this.cssHeight / 2) / this.zoom + this.panY,
    };
  }

  toScreen(ix, iy) {
    return {
      x: (ix - this.panX) * this.zoom + this.cssWidth / 2,
      y: (iy - this.panY) * this.zoom + this.cssHeight / 2,
    };
  }

  // The image should fit on the screen under the page header: the stage may be as tall as the
  // window below its own top, less room for the read-out.
  fitHeight() {
    const top = this.stage.getBoundingClientRect().top + window.scrollY;
    const max = `${Math.max(320, Math.floor(window.innerHeight - top - 80))}px`;
    if (this.stage.style.maxHeight !== max) this.stage.style.maxHeight = max;
  }

  resize() {
    this.fitHeight();
    const r = this.stage.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    const first = !this.cssWidth;
    this.cssWidth = Math.max(1, Math.floor(r.width));
    this.cssHeight = Math.max(1, Math.floor(r.height));
    this.canvas.width = Math.round(this.cssWidth * dpr);
    this.canvas.height = Math.round(this.cssHeight * dpr);
    this.canvas.style.width = `${this.cssWidth}px`;
    this.canvas.style.height = `${this.cssHeight}px`;
    this.dpr = dpr;
    if (first && this.data) this.resetView();
    else this.draw();
  }

  // ---- Drawing ------------------------------------------------------------------------------

  renderImage() {
    if (this.data) {
      const ok = renderView(this.data, this.view, { ...this.wl, invert: this.invert }, this.imageData.data);
      if (ok) this.offscreen.getContext('2d').putImageData(this.imageData, 0, 0);
    }
    this.updateControls();
    this.draw();
    this.updateReadout();
  }

  draw() {
    const ctx = this.ctx;
    if (!ctx || !this.cssWidth) return;
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.fillStyle = '#202326';
    ctx.fillRect(0, 0, this.cssWidth, this.cssHeight);
    this.zoomValue.textContent = `${Math.round(this.zoom * 100)} %`;
    if (!this.data) return;
    const o = this.toScreen(0, 0);
    ctx.imageSmoothingEnabled = this.zoom < 1;
    ctx.drawImage(this.offscreen, o.x, o.y, this.data.width * this.zoom, this.data.height * this.zoom);

    this.placedLabels = [];  // label boxes drawn this frame: later labels move clear of them
    if (this.overlays.objects) {
      // Outlines of the segmented objects (their boxes when the server sent no labels); the
      // object under the pointer gets its box and a label, the others stay unlabelled.
      if (this.hasMasks) {
        // In image coordinates, with a line width that is 1.5 screen pixels at every zoom.
        ctx.save();
        ctx.setTransform(this.dpr * this.zoom, 0, 0, this.dpr * this.zoom, this.dpr * o.x, this.dpr * o.y);
        ctx.lineWidth = 1.5 / this.zoom;
        ctx.strokeStyle = 'rgb(255, 230, 0)';
        ctx.stroke(this.outlinePath);
        ctx.restore();
      } else {
        for (const ob of this.objects) this.drawBox(ob.box, '#ffe600', '', [4, 3], 1.5);
      }
      const hover = this.hoverObject();
      if (hover) this.drawBox(hover.box, '#ffe600', objectLabel(hover), [], 2);
    }
    if (this.overlays.reasons) for (const r of this.reasonMarks) this.drawBox(r.box, '#ff00c8', r.text, [8, 4], 3);
    if (this.overlays.detections) {
      for (const d of this.detections) {
        const threat = THREAT_CLASSES.has(String(d.class).toLowerCase());
        this.drawBox(d.box, threat ? '#ff2a2a' : '#00e5ff', `${d.class} ${fmt(d.score, 2)}`, [], 3);
      }
    }
    if (this.truth?.box) this.drawBox(this.truth.box, '#22c55e', this.truth.text, [], 3);
    if (this.draftBox) this.drawBox(this.draftBox, '#ff2a2a', '', [6, 4], 2);
    if (this.mark && this.mark.x0 !== undefined) {
      this.drawBox([this.mark.x0, this.mark.y0, this.mark.x1, this.mark.y1], '#ff2a2a', 'your mark', [], 2.5);
    } else if (this.mark) {
      const s = this.toScreen(this.mark.x, this.mark.y);
      ctx.save();
      for (const [colour, width] of [['rgba(0,0,0,0.8)', 5], ['#ff2a2a', 2.5]]) {
        ctx.strokeStyle = colour;
        ctx.lineWidth = width;
        ctx.beginPath();
        ctx.arc(s.x, s.y, 12, 0, 2 * Math.PI);
        ctx.moveTo(s.x - 18, s.y); ctx.lineTo(s.x + 18, s.y);
        ctx.moveTo(s.x, s.y - 18); ctx.lineTo(s.x, s.y + 18);
        ctx.stroke();
      }
      ctx.restore();
    }
    if (this.probe && this.probeFromKeyboard) {
      const s = this.toScreen(this.probe.x + 0.5, this.probe.y + 0.5);
      ctx.strokeStyle = '#ff00c8';
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      ctx.moveTo(s.x - 10, s.y); ctx.lineTo(s.x + 10, s.y);
      ctx.moveTo(s.x, s.y - 10); ctx.lineTo(s.x, s.y + 10);
      ctx.stroke();
    }
    this.drawOverview();
  }

  // When the image does not fit: a small overview in the corner with the part on screen framed.
  drawOverview() {
    const d = this.data;
    const a = this.toImage(0, 0), b = this.toImage(this.cssWidth, this.cssHeight);
    const visible = { x0: Math.max(0, a.x), y0: Math.max(0, a.y), x1: Math.min(d.width, b.x), y1: Math.min(d.height, b.y) };
    this.overviewShown = !(visible.x0 <= 0 && visible.y0 <= 0 && visible.x1 >= d.width && visible.y1 >= d.height);
    if (!this.overviewShown || visible.x1 <= visible.x0 || visible.y1 <= visible.y0) return;
    const ctx = this.ctx;
    const k = Math.min(160 / d.width, 120 / d.height);
    const w = d.width * k, h = d.height * k, x = this.cssWidth - w - 10, y = this.cssHeight - h - 10;
    ctx.save();
    ctx.globalAlpha = 0.9;
    ctx.fillStyle = '#000';
    ctx.fillRect(x - 3, y - 3, w + 6, h + 6);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(this.offscreen, x, y, w, h);
    ctx.globalAlpha = 1;
    ctx.strokeStyle = '#ffbf47';
    ctx.lineWidth = 2;
    ctx.strokeRect(x + visible.x0 * k, y + visible.y0 * k, (visible.x1 - visible.x0) * k, (visible.y1 - visible.y0) * k);
    ctx.restore();
  }

  drawBox(box, colour, label, dash = [], width = 2) {
    const ctx = this.ctx;
    const a = this.toScreen(box[0], box[1]);
    const b = this.toScreen(box[2], box[3]);
    ctx.save();
    ctx.setLineDash(dash);
    ctx.lineWidth = width + 2;
    ctx.strokeStyle = 'rgba(0,0,0,0.7)';
    ctx.strokeRect(a.x, a.y, b.x - a.x, b.y - a.y);
    ctx.lineWidth = width;
    ctx.strokeStyle = colour;
    ctx.strokeRect(a.x, a.y, b.x - a.x, b.y - a.y);
    if (label) {
      ctx.setLineDash([]);
      ctx.font = '600 13px system-ui, sans-serif';
      const text = label.length > 60 ? `${label.slice(0, 57)}…` : label;
      const tw = ctx.measureText(text).width + 8;
      let ty = a.y > 18 ? a.y - 18 : b.y;
      // Two marks on one region (a reason and a detection) would write over each other: step
      // this label down a row until it is clear of those already drawn.
      const placed = this.placedLabels || [];
      const hits = (y) => placed.some((r) => a.x < r.x + r.w && r.x < a.x + tw && y < r.y + 18 && r.y < y + 18);
      for (let i = 0; i < 8 && hits(ty); i++) ty += 18;
      placed.push({ x: a.x, y: ty, w: tw });
      ctx.fillStyle = 'rgba(0,0,0,0.75)';
      ctx.fillRect(a.x, ty, tw, 18);
      ctx.fillStyle = colour;
      ctx.fillText(text, a.x + 4, ty + 13);
    }
    ctx.restore();
  }

  hoverObject() {
    if (!this.probe) return null;
    const p = this.pixelAt(this.probe.x, this.probe.y);
    return p && p.object ? this.objects.find((o) => o.id === p.object) || null : null;
  }

  updateControls() {
    for (const v of VIEWS) {
      const input = this.viewInputs[v.id];
      input.checked = this.view === v.id;
      input.disabled = v.id === 'material' && !!this.data && !this.data.material;
    }
    this.windowInput.value = String(this.wl.window);
    this.levelInput.value = String(this.wl.level);
    this.windowValue.textContent = this.wl.window.toFixed(3);
    this.levelValue.textContent = this.wl.level.toFixed(3);
    this.legend.hidden = this.view !== 'material';
    this.root.dataset.view = this.view;
  }

  // ---- Read-out -----------------------------------------------------------------------------

  // The values at image pixel (x, y), or null outside the image.
  pixelAt(x, y) {
    const d = this.data;
    if (!d || x < 0 || y < 0 || x >= d.width || y >= d.height) return null;
    const i = y * d.width + x;
    const out = {
      x, y, low: d.low[i], high: d.high[i],
      attenuation_low: attenuation(d.low[i]), attenuation_high: attenuation(d.high[i]),
      z_eff: d.zeff ? d.zeff[i] : NaN,
      density: d.density ? d.density[i] : NaN,
      material: d.material ? MATERIAL_NAMES[d.material[i]] ?? String(d.material[i]) : null,
      object: d.labels ? d.labels[i] : 0,
    };
    if (!d.labels) {
      const hit = this.objects.find((o) => x >= o.box[0] && x < o.box[2] && y >= o.box[1] && y < o.box[3]);
      out.object = hit ? hit.id : 0;
    }
    return out;
  }

  updateReadout() {
    const p = this.probe ? this.pixelAt(this.probe.x, this.probe.y) : null;
    const rows = [];
    const add = (k, v, name) => rows.push(el('div', {}, el('dt', {}, k), el('dd', { 'data-field': name }, v)));
    if (!p) {
      this.readout.replaceChildren(el('div', {}, el('dt', { class: 'visually-hidden' }, 'Pixel'), el('dd', { class: 'muted placeholder' }, this.data ? 'Point at the image (or focus it and press shift + arrow) to read a pixel.' : '—')));
      return;
    }
    const approx = this.data.approximate ? ' (from 8-bit rendering)' : '';
    add('Pixel', `x ${p.x}, y ${p.y}`, 'xy');
    add('Attenuation low', `${fmt(p.attenuation_low)}${approx}`, 'att-low');
    add('Attenuation high', `${fmt(p.attenuation_high)}${approx}`, 'att-high');
    add('Transmission', `${fmt(p.low / 65535)} / ${fmt(p.high / 65535)}`, 'transmission');
    add('Z_eff', this.data.zeff ? (p.z_eff > 0 ? fmt(p.z_eff, 1) : 'air') : 'not available', 'zeff');
    add('Material', p.material ?? 'not available', 'material');
    if (this.data.density) add('Areal density', p.density > 0 ? `${fmt(p.density, 2)} g/cm²` : '—', 'density');
    const ob = p.object ? this.objects.find((o) => o.id === p.object) : null;
    add('Object', ob ? objectLabel(ob) : p.object ? `#${p.object}` : 'none', 'object');
    this.readout.replaceChildren(...rows);
  }

  // ---- Input --------------------------------------------------------------------------------

  attachInput() {
    const c = this.stage;
    const local = (e) => {
      const r = this.canvas.getBoundingClientRect();
      return { x: e.clientX - r.left, y: e.clientY - r.top };
    };
    c.addEventListener('wheel', (e) => {
      e.preventDefault();
      this.zoomBy(Math.exp(-e.deltaY * 0.0015), local(e));
    }, { passive: false });
    c.addEventListener('contextmenu', (e) => e.preventDefault());
    c.addEventListener('pointerdown', (e) => {
      c.focus();
      const boxing = Boolean(this.onMarkBox && this.data && e.button === 0 && !e.shiftKey);
      this.drag = { button: e.button, start: local(e), last: local(e), wl: { ...this.wl }, boxing };
      c.setPointerCapture(e.pointerId);
      c.classList.add(e.button === 2 ? 'wl-drag' : boxing ? 'box-drag' : 'pan-drag');
    });
    c.addEventListener('pointermove', (e) => {
      const pos = local(e);
      if (this.drag) {
        if (this.drag.boxing) {
          const a = this.toImage(this.drag.start.x, this.drag.start.y), b = this.toImage(pos.x, pos.y);
          const cx = (v) => Math.min(this.data.width, Math.max(0, v));
          const cy = (v) => Math.min(this.data.height, Math.max(0, v));
          this.draftBox = [cx(Math.min(a.x, b.x)), cy(Math.min(a.y, b.y)), cx(Math.max(a.x, b.x)), cy(Math.max(a.y, b.y))];
          this.draw();
        } else if (this.drag.button === 2) {
          const dx = (pos.x - this.drag.start.x) / this.cssWidth;
          const dy = (pos.y - this.drag.start.y) / this.cssHeight;
          // Re-rendering every pixel per pointer event would lag on large scans: once a frame.
          this.pendingWl = [this.drag.wl.window * Math.exp(dx * 2), this.drag.wl.level - dy * 0.5];
          if (!this.wlFrame) this.wlFrame = requestAnimationFrame(() => this.flushWindowLevel());
        } else {
          this.panBy(pos.x - this.drag.last.x, pos.y - this.drag.last.y);
        }
        this.drag.last = pos;
      }
      const ip = this.toImage(pos.x, pos.y);
      this.probe = { x: Math.floor(ip.x), y: Math.floor(ip.y) };
      this.probeFromKeyboard = false;
      this.updateReadout();
      const hover = this.hoverObject();
      if (!this.drag && hover !== this.lastHover) { this.lastHover = hover; this.draw(); }
    });
    c.addEventListener('pointerleave', () => {
      if (this.probeFromKeyboard) return;
      this.probe = null;
      this.lastHover = null;
      this.updateReadout();
      this.draw();
    });
    const end = (e) => {
      // A press and release without a drag marks the pixel (screener training).
      if (this.onMark && this.drag && this.drag.button === 0 && e.type === 'pointerup' && this.data) {
        const pos = local(e);
        if (Math.hypot(pos.x - this.drag.start.x, pos.y - this.drag.start.y) < 5) {
          const ip = this.toImage(pos.x, pos.y);
          if (ip.x >= 0 && ip.y >= 0 && ip.x < this.data.width && ip.y < this.data.height) this.onMark(ip.x, ip.y);
        } else if (this.drag.boxing && this.draftBox) {
          const [x0, y0, x1, y1] = this.draftBox;
          if (x1 - x0 >= 1 && y1 - y0 >= 1) this.onMarkBox(x0, y0, x1, y1);
        }
      }
      if (this.draftBox) { this.draftBox = null; this.draw(); }
      this.flushWindowLevel();
      this.drag = null;
      c.classList.remove('wl-drag', 'pan-drag', 'box-drag');
    };
    c.addEventListener('pointerup', end);
    c.addEventListener('pointercancel', end);
    c.addEventListener('keydown', (e) => this.onKey(e));
  }

  onKey(e) {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    const step = 40;
    const k = e.key;
    let handled = true;
    if (e.shiftKey && k.startsWith('Arrow')) {
      if (!this.data) return;
      const p = this.probe && this.probeFromKeyboard ? { ...this.probe } : { x: Math.floor(this.panX), y: Math.floor(this.panY) };
      if (k === 'ArrowLeft') p.x--;
      if (k === 'ArrowRight') p.x++;
      if (k === 'ArrowUp') p.y--;
      if (k === 'ArrowDown') p.y++;
      p.x = Math.min(this.data.width - 1, Math.max(0, p.x));
      p.y = Math.min(this.data.height - 1, Math.max(0, p.y));
      this.probe = p;
      this.probeFromKeyboard = true;
      this.updateReadout();
      this.draw();
    } else if (k === '+' || k === '=') this.zoomBy(1.25);
    else if (k === '-' || k === '_') this.zoomBy(0.8);
    else if (k === '0') this.resetView();
    else if (k === 'ArrowLeft') this.panBy(step, 0);
    else if (k === 'ArrowRight') this.panBy(-step, 0);
    else if (k === 'ArrowUp') this.panBy(0, step);
    else if (k === 'ArrowDown') this.panBy(0, -step);
    else if ((k === 'o' || k === 'O') && this.overlaySwitches) {
      const on = !(this.overlays.detections || this.overlays.objects || this.overlays.reasons);
      for (const id of Object.keys(this.overlays)) { this.overlays[id] = on; this.overlayInputs[id].checked = on; }
      this.draw();
    } else {
      const v = VIEWS.find((x) => x.key === k.toLowerCase());
      if (v) this.setView(v.id);
      else handled = false;
    }
    if (handled) e.preventDefault();
  }

  destroy() {
    this.resizeObserver.disconnect();
    window.removeEventListener('resize', this.onWindowResize);
    this.root.replaceChildren();
  }
}

function objectLabel(o) {
  const parts = [`#${o.id}`, o.material || ''];
  if (Number.isFinite(o.mass_kg)) parts.push(`${o.mass_kg.toFixed(2)} kg`);
  if (Number.isFinite(o.z_eff)) parts.push(`Z ${o.z_eff.toFixed(1)}`);
  return parts.filter(Boolean).join(' ');
}

// Boxes come as [x0,y0,x1,y1] or {x0,y0,x1,y1}.
function normBox(b) {
  if (!b) return null;
  if (Array.isArray(b) && b.length === 4) return b.map(Number);
  if (typeof b === 'object' && 'x0' in b) return [b.x0, b.y0, b.x1, b.y1].map(Number);
  return null;
}
