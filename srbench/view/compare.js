// The comparison panels of `srbench view` (a Streamlit components-v2 component; mounted by srbench/view/component.py).
//
// data: {nonce, image, w, h, x, y, zoom, grey, panels: [{key, title, src}],
//        ahead: {next: A, previous: A}} with A = {image, w, h, panels} (or only {image} where the server must
//        first regenerate it): the neighbours in the image list, fetched and decoded in the background so that
//        the previous / next buttons show them at once (then tell the server, which keeps the URL).
// Every panel shows the same square region (x, y, side = min(panel / zoom, w, h) HR pixels), each image pixel
// as zoom x zoom device pixels (nearest neighbour) at any devicePixelRatio: drawExact()/snapExact() of
// mos_app/pixelexact.js (put in front of this file by the Python side), the MOS rating screen's own drawing.
// Pan by dragging any panel or with the arrow keys, zoom with the 1x/2x/4x/8x buttons: the panels are redrawn
// here at once and the region is sent to the server as the state "view" {x, y, zoom} (it keeps it in the URL).
// The server's region is adopted when its nonce changes (another image, a link opened); otherwise the page's own
// region wins (it may be ahead of the server while the user drags).

const PANEL_PX = 384;
const ZOOMS = [1, 2, 4, 8];

function sideOf(zoom, w, h) {
  return Math.min(Math.floor(PANEL_PX / zoom), w, h);
}

class Compare {
  constructor(parent) {
    this.root = document.createElement("div");
    this.root.className = "srv-compare";
    this.root.tabIndex = 0;
    this.root.innerHTML = '<div class="srv-bar"></div><div class="srv-grid"></div>';
    parent.appendChild(this.root);
    this.bar = this.root.querySelector(".srv-bar");
    this.grid = this.root.querySelector(".srv-grid");
    this.zoomButtons = ZOOMS.map((z) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "srv-zoom";
      b.dataset.zoom = String(z);
      b.textContent = `${z}x`;
      b.addEventListener("click", () => this.setZoom(z));
      this.bar.appendChild(b);
      return b;
    });
    this.stepButtons = [["previous", -1], ["next", 1]].map(([name, step]) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "srv-step";
      b.dataset.step = String(step);
      b.textContent = name;
      b.addEventListener("click", () => this.step(name));
      this.bar.appendChild(b);
      return b;
    });
    this.regionText = document.createElement("span");
    this.regionText.className = "srv-region";
    this.bar.appendChild(this.regionText);
    this.images = new Map(); // src -> HTMLImageElement
    this.panels = [];
    this.nonce = null;
    this.drag = null;
    this.root.addEventListener("keydown", (e) => this.key(e));
    this.onDpr = () => { this.watchDpr(); this.draw(); };
    this.watchDpr();
    this.onResize = () => this.draw();
    window.addEventListener("resize", this.onResize);
  }

  watchDpr() {
    if (this.mq) this.mq.removeEventListener("change", this.onDpr);
    this.mq = window.matchMedia(`(resolution: ${window.devicePixelRatio || 1}dppx)`);
    this.mq.addEventListener("change", this.onDpr);
  }

  update(d) {
    this.d = d;
    if (this.nonce !== d.nonce) {
      this.nonce = d.nonce;
      this.x = d.x; this.y = d.y; this.zoom = d.zoom;
    }
    this.clamp();
    const keys = d.panels.map((p) => `${p.key}|${p.src}`).join(";");
    if (keys !== this.panelKeys) {
      this.panelKeys = keys;
      this.build(d);
    }
    const ahead = d.ahead || {};
    this.prefetch([ahead.next, ahead.previous].flatMap((a) => (a && a.panels ? a.panels.map((p) => p.src) : [])));
    this.draw();
  }

  // Show the previous / next image at once when its images are decoded; the server follows (state "view").
  step(which) {
    const a = (this.d.ahead || {})[which];
    if (!a) return;
    const decoded = a.panels && a.panels.every((p) => { const im = this.images.get(p.src); return im && im.complete && im.naturalWidth > 0; });
    if (decoded) {
      this.d = Object.assign({}, this.d, { image: a.image, w: a.w, h: a.h, panels: a.panels, ahead: {} });
      this.clamp();
      this.panelKeys = a.panels.map((p) => `${p.key}|${p.src}`).join(";");
      this.build(this.d);
      this.draw();
    }
    if (this.send) this.send("view", { x: this.x, y: this.y, zoom: this.zoom, image: a.image });
  }

  image(src) {
    let img = this.images.get(src);
    if (!img) {
      img = new Image();
      img.src = src;
      this.images.set(src, img);
    }
    return img;
  }

  prefetch(srcs) {
    const keep = new Set([...this.panels.map((p) => p.src), ...srcs]);
    for (const src of [...this.images.keys()]) if (!keep.has(src)) this.images.delete(src);
    for (const src of srcs) this.image(src).decode().catch(() => {});
  }

  build(d) {
    this.grid.replaceChildren();
    this.panels = d.panels.map((p) => {
      const box = document.createElement("div");
      box.className = "srv-panel";
      box.dataset.key = p.key;
      const title = document.createElement("div");
      title.className = "srv-title";
      title.textContent = p.title;
      const stage = document.createElement("div");
      stage.className = "srv-stage";
      const cv = document.createElement("canvas");
      cv.className = "srv-canvas";
      cv.dataset.key = p.key;
      cv.style.visibility = "hidden";
      stage.appendChild(cv);
      box.append(title, stage);
      this.grid.appendChild(box);
      cv.addEventListener("pointerdown", (e) => this.startDrag(e, cv));
      cv.addEventListener("pointermove", (e) => this.moveDrag(e));
      cv.addEventListener("pointerup", (e) => this.endDrag(e, cv));
      cv.addEventListener("pointercancel", (e) => this.endDrag(e, cv));
      const img = this.image(p.src);
      const panel = { key: p.key, src: p.src, img, cv, stage, ready: false };
      img.decode().then(() => { panel.ready = true; this.draw(); })
        .catch(() => { title.textContent = `${p.title}\n(could not be loaded)`; });
      return panel;
    });
    this.root.dataset.state = "loading";
  }

  side() {
    return sideOf(this.zoom, this.d.w, this.d.h);
  }

  clamp() {
    const s = this.side();
    this.x = Math.max(0, Math.min(Math.round(this.x), this.d.w - s));
    this.y = Math.max(0, Math.min(Math.round(this.y), this.d.h - s));
  }

  draw() {
    if (!this.d) return;
    const dpr = window.devicePixelRatio || 1;
    const s = this.side();
    const region = { sx: this.x, sy: this.y, sw: s, sh: s, zoom: this.zoom };
    const css = Math.ceil((s * this.zoom) / dpr) + 2;
    let all = true, exact = true;
    for (const p of this.panels) {
      p.stage.style.width = `${css}px`;
      p.stage.style.height = `${css}px`;
      if (!p.ready) { all = false; continue; }
      if (!drawExact(p.cv, p.img, region, dpr, this.d.grey) || !snapExact(p.cv, dpr)) { exact = false; continue; }
      p.cv.style.visibility = "visible";
    }
    for (const b of this.zoomButtons) b.setAttribute("aria-pressed", String(Number(b.dataset.zoom) === this.zoom));
    this.regionText.textContent = `${this.d.image}  x=${this.x} y=${this.y} w=${s} h=${s}  zoom ${this.zoom}x` +
      (exact ? "" : `  (pixel ratio ${+dpr.toFixed(3)}: cannot draw one image pixel per screen pixel; set the ` +
       "browser zoom to 100 %)");
    Object.assign(this.root.dataset, { x: String(this.x), y: String(this.y), zoom: String(this.zoom),
                                       side: String(s), image: this.d.image });
    const drawn = `${this.d.image}|${this.x},${this.y},${this.zoom}|${this.panelKeys}`;
    if (all && exact) {
      if (this.root.dataset.drawn !== `${this.d.image}|${this.x},${this.y},${this.zoom}`) this.root.dataset.state = "drawing";
      requestAnimationFrame(() => requestAnimationFrame(() => {
        if (`${this.d.image}|${this.x},${this.y},${this.zoom}|${this.panelKeys}` !== drawn) return;
        this.root.dataset.drawn = `${this.d.image}|${this.x},${this.y},${this.zoom}`;
        this.root.dataset.state = "ready";
      }));
    } else {
      this.root.dataset.state = "loading";
    }
  }

  report() {
    if (this.send) this.send("view", { x: this.x, y: this.y, zoom: this.zoom, image: this.d.image });
  }

  setZoom(z) {
    const s = this.side();
    const cx = this.x + s / 2, cy = this.y + s / 2;
    this.zoom = z;
    const n = this.side();
    this.x = Math.round(cx - n / 2);
    this.y = Math.round(cy - n / 2);
    this.clamp();
    this.draw();
    this.report();
  }

  panBy(dx, dy) {
    this.x += dx;
    this.y += dy;
    this.clamp();
    this.draw();
  }

  startDrag(e, cv) {
    cv.setPointerCapture(e.pointerId);
    this.drag = { px: e.clientX, py: e.clientY, x: this.x, y: this.y };
  }

  moveDrag(e) {
    if (!this.drag) return;
    const dpr = window.devicePixelRatio || 1;
    // dragging the picture moves the region the other way; CSS px -> device px -> image px
    this.x = this.drag.x - Math.round(((e.clientX - this.drag.px) * dpr) / this.zoom);
    this.y = this.drag.y - Math.round(((e.clientY - this.drag.py) * dpr) / this.zoom);
    this.clamp();
    this.draw();
  }

  endDrag(e, cv) {
    if (!this.drag) return;
    this.drag = null;
    if (cv.hasPointerCapture(e.pointerId)) cv.releasePointerCapture(e.pointerId);
    this.report();
  }

  key(e) {
    const step = Math.max(1, Math.round(this.side() / 4));
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (!(e.key in moves)) return;
    e.preventDefault();
    this.panBy(...moves[e.key]);
    this.report();
  }

  stop() {
    window.removeEventListener("resize", this.onResize);
    if (this.mq) this.mq.removeEventListener("change", this.onDpr);
  }
}

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  let view = parentElement.__srvCompare;
  if (!view) {
    view = new Compare(parentElement);
    parentElement.__srvCompare = view;
  }
  view.send = setStateValue;
  view.update(data);
  return () => { view.stop(); delete parentElement.__srvCompare; };
}
