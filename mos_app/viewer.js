// The MOS rating screen (a Streamlit components-v2 component; mounted by mos_app/viewer.py).
//
// data.mode "probe": draw nothing, report the window (size, devicePixelRatio) to the server.
// data.mode "rate": show one presentation: status line, a message line whose height is always
// reserved, the caption and five score buttons in a fixed column on the left, the image on the right.
//
// Rules kept here (the server checks them again, see mos_app/flow.py):
// * the buttons are disabled until the image has been decoded, put on the page and painted
//   (two animation frames) and then shown for data.min_ms; a click disables them again at once,
//   so a second click can never answer the next image;
// * the image is drawn one image pixel per device pixel at any devicePixelRatio (drawExact() and
//   snapExact() of pixelexact.js, which mos_app/viewer.py puts in front of this file);
//   where that is impossible (an odd ratio such as 1.1) or the image does not fit in the window it
//   is hidden, the buttons stay disabled and the message says why, until the window is changed;
// * the window is reported whenever it changes (setStateValue "view").
// The page only ever knows an image by its opaque token and media URL.

const SCORES = [5, 4, 3, 2, 1];
const GREY = "#808080";
function windowNow() {
  return {
    w: Math.round(window.innerWidth), h: Math.round(window.innerHeight),
    dpr: window.devicePixelRatio || 1,
    sw: Math.round(screen.width), sh: Math.round(screen.height),
  };
}

function sameView(a, b) {
  return !!a && !!b && ["w", "h", "dpr", "sw", "sh", "fits", "exact"].every((k) => a[k] === b[k]);
}

// Whether images of every size in `sizes` ([[w, h], ...]) can be drawn one image pixel per device
// pixel at ratio dpr, placed near element `el` (the same geometry() and nudge() as the rating page).
function drawable(sizes, dpr, el) {
  if (sizes.some(([w, h]) => geometry(w, h, dpr) === null)) return false;
  const r = el.getBoundingClientRect();
  return nudge(r.left + window.scrollX, dpr) !== null && nudge(r.top + window.scrollY, dpr) !== null;
}

class Reporter {
  // Sends the window (plus whether the current image fits) when it changes; watches resizes and
  // devicePixelRatio changes (browser zoom, moving the window to another screen).
  constructor(onChange) {
    this.onChange = onChange;
    this.last = null;
    this.send = null;
    this.timer = null;
    this.resize = () => { clearTimeout(this.timer); this.timer = setTimeout(() => this.onChange(), 150); };
    window.addEventListener("resize", this.resize);
    this.watchDpr();
  }
  watchDpr() {
    if (this.mq) this.mq.removeEventListener("change", this.dprChange);
    this.mq = window.matchMedia(`(resolution: ${window.devicePixelRatio || 1}dppx)`);
    this.dprChange = () => { this.watchDpr(); this.onChange(); };
    this.mq.addEventListener("change", this.dprChange);
  }
  report(fits) {
    const view = Object.assign(windowNow(), { fits: fits === undefined ? null : fits },
                               this.extra ? this.extra() : {});
    if (sameView(view, this.last) || !this.send) return;
    this.last = view;
    this.send("view", view);
  }
  stop() {
    window.removeEventListener("resize", this.resize);
    if (this.mq) this.mq.removeEventListener("change", this.dprChange);
    clearTimeout(this.timer);
  }
}

class Viewer {
  constructor(parent) {
    this.root = document.createElement("div");
    this.root.className = "mos-viewer";
    this.root.innerHTML =
      '<div class="mos-status"><span class="mos-progress"></span><span class="mos-session"></span></div>' +
      '<div class="mos-message" role="status" aria-live="polite"><span class="mos-message-text"></span></div>' +
      '<div class="mos-main"><div class="mos-side"><div class="mos-caption"></div><div class="mos-scale"></div>' +
      '<div class="mos-hint"></div></div><div class="mos-stage"></div></div>';
    parent.appendChild(this.root);
    this.progress = this.root.querySelector(".mos-progress");
    this.session = this.root.querySelector(".mos-session");
    this.message = this.root.querySelector(".mos-message-text");
    this.caption = this.root.querySelector(".mos-caption");
    this.hint = this.root.querySelector(".mos-hint");
    this.stage = this.root.querySelector(".mos-stage");
    this.canvas = document.createElement("canvas");
    this.canvas.className = "mos-stimulus";
    this.canvas.setAttribute("role", "img");
    this.canvas.setAttribute("aria-label", "the image to rate");
    this.canvas.style.visibility = "hidden";
    this.stage.appendChild(this.canvas);
    this.buttons = SCORES.map((score) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "mos-score";
      b.dataset.score = String(score);
      b.disabled = true;
      b.addEventListener("click", () => this.click(score));
      this.root.querySelector(".mos-scale").appendChild(b);
      return b;
    });
    this.cur = null;
    this.serverMessage = "";
    this.localMessage = "";
    this.cache = new Map(); // src -> decoded HTMLImageElement (current and next only)
    this.reporter = new Reporter(() => this.layout());
  }

  update(d) {
    this.reporter.send = this.send;
    this.progress.textContent = d.progress || "";
    this.session.textContent = d.session || "";
    this.caption.innerHTML = d.caption || "";
    this.hint.textContent = `The buttons unlock after the image has been shown for ${d.min_ms / 1000} s.`;
    d.labels.forEach(([score, label]) => {
      this.buttons[SCORES.indexOf(score)].textContent = label;
    });
    this.serverMessage = d.message || "";
    this.root.dataset.rev = String(d.rev);
    const key = `${d.p}:${d.token}`;
    if (!this.cur || this.cur.key !== key) {
      this.show(d, key);
    } else if (this.cur.rev !== d.rev) {
      // The server answered a click without moving on (wrong calibration score, refused click):
      // show the same image again; the buttons come back once its viewing time is complete.
      this.cur.rev = d.rev;
      this.replied();
    }
    this.renderMessage();
    this.preload(d.next);
  }

  image(src) {
    let img = this.cache.get(src);
    if (!img) {
      img = new Image();
      img.className = "mos-source";
      img.alt = "";
      img.hidden = true;
      img.src = src;
      this.cache.set(src, img);
    }
    return img;
  }

  preload(src) {
    const keep = new Set([this.cur && this.cur.src, src]);
    for (const k of [...this.cache.keys()]) if (!keep.has(k)) this.cache.delete(k);
    if (src) this.image(src).decode().catch(() => {});
  }

  show(d, key) {
    if (this.cur) { clearTimeout(this.cur.enableTimer); clearTimeout(this.cur.replyTimer); }
    const c = { key, p: d.p, token: d.token, rev: d.rev, src: d.src, w: d.w, h: d.h, minMs: d.min_ms,
                stageW: d.stage[0], stageH: d.stage[1], img: null, paintedAt: null, fits: null, sent: false,
                drawn: null };
    this.cur = c;
    this.setEnabled(false);
    this.canvas.style.visibility = "hidden";
    this.stage.replaceChildren(this.canvas);
    this.root.dataset.p = String(d.p);
    this.root.dataset.state = "loading";
    this.localMessage = "";
    this.sizeStage();
    const img = this.image(d.src);
    img.decode().then(() => {
      if (this.cur !== c) return;
      c.img = img;
      this.layout();
    }).catch(() => {
      if (this.cur !== c) return;
      this.root.dataset.state = "failed";
      this.localMessage = "This image could not be loaded. Reload the page; if that does not help, " +
                          "tell the study organiser.";
      this.renderMessage();
    });
  }

  sizeStage() {
    const dpr = window.devicePixelRatio || 1;
    const c = this.cur;
    this.stage.style.width = `${Math.ceil(Math.max(c.stageW, c.w) / dpr) + 4}px`;
    this.stage.style.height = `${Math.ceil(Math.max(c.stageH, c.h) / dpr) + 4}px`;
  }

  // Size, snap and fit-check the current image; (re)start its viewing clock once it is painted.
  layout() {
    const c = this.cur;
    if (!c) { this.reporter.report(); return; }
    this.sizeStage();
    if (!c.img) { this.reporter.report(c.fits); return; }
    // A small window's rater scrolled down to Begin (or to a button): show the rating screen from its top,
    // so that the image is in the window, not above it (Streamlit scrolls a container, not the window).
    for (let a = this.root.parentElement; a; a = a.parentElement) {
      if (a.scrollTop !== 0 || a.scrollLeft !== 0) { a.scrollTop = 0; a.scrollLeft = 0; }
    }
    if (window.scrollX !== 0 || window.scrollY !== 0) window.scrollTo(0, 0);
    const dpr = window.devicePixelRatio || 1;
    const cv = this.canvas;
    const geo = geometry(c.w, c.h, dpr);
    let fits = false, problem = null, x = null, y = null;
    if (geo === null) {
      problem = `At this browser zoom and display scaling (pixel ratio ${+dpr.toFixed(3)}) the images cannot ` +
        `be drawn one image pixel per screen pixel. Please set the browser zoom to 100 % (Ctrl and 0).`;
    } else {
      const key = `${c.key}@${dpr}`;
      if (c.drawn !== key) {
        if (c.img.parentNode !== this.stage) this.stage.appendChild(c.img);
        drawExact(cv, c.img, { sx: 0, sy: 0, sw: c.w, sh: c.h, zoom: 1 }, dpr, GREY);
        c.drawn = key;
      }
      sizeExact(cv, dpr);
      if (!snapExact(cv, dpr)) {
        problem = `At this browser zoom and display scaling (pixel ratio ${+dpr.toFixed(3)}) the images cannot ` +
          `be placed on whole screen pixels. Please set the browser zoom to 100 % (Ctrl and 0).`;
      } else {
        const r = cv.getBoundingClientRect();
        x = r.left + window.scrollX;
        y = r.top + window.scrollY;
        // the image itself (without the grey padding) must be inside the window
        fits = r.left >= -0.01 && r.top >= -0.01 && x + c.w / dpr <= document.documentElement.clientWidth + 0.01 &&
          y + c.h / dpr <= window.innerHeight + 0.01;
        if (!fits) {
          const needW = Math.ceil(x + c.w / dpr + 8), needH = Math.ceil(y + c.h / dpr + 8);
          problem = `Your browser window is too small to show this image at full resolution (it needs about ` +
            `${needW} x ${needH}, the window is ${window.innerWidth} x ${window.innerHeight}). Please maximise ` +
            `the window or press F11 for full screen; keep the zoom at 100 %.`;
        }
      }
    }
    const was = c.fits;
    c.fits = fits;
    if (!fits) {
      cv.style.visibility = "hidden";
      c.paintedAt = null;
      clearTimeout(c.enableTimer);
      this.setEnabled(false);
      this.root.dataset.state = "too-small";
      this.localMessage = problem;
      this.renderMessage();
    } else {
      if (was === false) { this.localMessage = ""; this.renderMessage(); }
      cv.style.visibility = c.sent ? "hidden" : "visible";
      if (c.paintedAt === null && !c.sent) {
        // Painted = two animation frames after the drawn canvas became visible.
        requestAnimationFrame(() => requestAnimationFrame(() => {
          if (this.cur !== c || !c.fits || c.paintedAt !== null) return;
          c.paintedAt = performance.now();
          this.root.dataset.state = "viewing";
          this.scheduleEnable();
        }));
      }
    }
    this.reporter.report(fits);
  }

  scheduleEnable() {
    const c = this.cur;
    clearTimeout(c.enableTimer);
    if (c.paintedAt === null || c.sent || !c.fits) return;
    const left = c.minMs - (performance.now() - c.paintedAt);
    if (left > 0) {
      c.enableTimer = setTimeout(() => this.scheduleEnable(), Math.ceil(left));
      return;
    }
    this.root.dataset.state = "ready";
    this.setEnabled(true);
  }

  setEnabled(on) {
    for (const b of this.buttons) b.disabled = !on;
  }

  click(score) {
    const c = this.cur;
    if (!c || c.sent || c.paintedAt === null || !c.fits) return;
    const viewMs = Math.floor(performance.now() - c.paintedAt);
    if (viewMs < c.minMs) return;
    c.sent = true;
    clearTimeout(c.enableTimer);
    this.setEnabled(false);
    this.canvas.style.visibility = "hidden"; // mid-grey until the next image is painted
    this.root.dataset.state = "sent";
    this.send("answer", { p: c.p, token: c.token, score, view_ms: viewMs, view: windowNow() });
    c.replyTimer = setTimeout(() => {
      if (this.cur !== c || !c.sent) return;
      this.localMessage = "No reply from the server yet. Check your connection, then click again.";
      this.replied();
      this.renderMessage();
    }, 10000);
  }

  replied() {
    const c = this.cur;
    clearTimeout(c.replyTimer);
    c.sent = false;
    if (c.img && c.fits) {
      this.canvas.style.visibility = "visible";
      this.root.dataset.state = "viewing";
      this.scheduleEnable();
    }
  }

  renderMessage() {
    this.message.textContent = this.localMessage || this.serverMessage;
  }

  stop() {
    this.reporter.stop();
    if (this.cur) { clearTimeout(this.cur.enableTimer); clearTimeout(this.cur.replyTimer); }
  }
}

export default function (component) {
  const { data, parentElement, setTriggerValue, setStateValue } = component;
  const send = (name, value) => (name === "answer" ? setTriggerValue : setStateValue)(name, value);
  if (data.mode === "probe") {
    let probe = parentElement.__mosProbe;
    if (!probe) {
      probe = new Reporter(() => probe.report());
      parentElement.__mosProbe = probe;
    }
    // The rating page's own test (geometry() for every image size of the study, nudge() for a place on
    // the page), so that Begin is offered only where the rating page will draw the images.
    probe.extra = () => ({ exact: drawable(data.sizes || [], window.devicePixelRatio || 1, parentElement) });
    probe.onChange = () => probe.report();
    probe.send = send;
    probe.report();
    return () => { probe.stop(); delete parentElement.__mosProbe; };
  }
  let viewer = parentElement.__mosViewer;
  if (!viewer) {
    viewer = new Viewer(parentElement);
    parentElement.__mosViewer = viewer;
  }
  viewer.send = send;
  viewer.update(data);
  return () => { viewer.stop(); delete parentElement.__mosViewer; };
}
