// Pixel-exact drawing shared by the MOS rating screen (viewer.js) and the comparison viewer
// (srbench/view/compare.js): the Python side puts this file in front of each component's own script.
// (The MOS page sends this text to raters: it must name no method, set or image; test_mos_browser checks.)
//
// One image pixel per device pixel (times an integer zoom: each pixel a square block). Layout lengths are
// multiples of 1/64 CSS px, so a box of pixels / dpr CSS px (213.33 px for 320 pixels at dpr 1.5) cannot be
// laid out exactly, and a fractional device position is resampled. The pixels are therefore drawn 1:1
// into a canvas padded (with the surround colour) to the smallest size whose CSS size is a whole number
// of px (321 x ... at dpr 1.5: 214 px), placed at a whole CSS px that is also a whole device pixel.

const EPS = 1e-6;

// Padding (device px) that makes w x h device pixels a whole number of CSS px at dpr; null where no
// small padding works (the ratio is not a simple fraction).
function geometry(w, h, dpr) {
  const pad = (n) => {
    for (let k = 0; k < 16; k++) if (Math.abs((n + k) / dpr - Math.round((n + k) / dpr)) < EPS) return k;
    return null;
  };
  const pw = pad(w), ph = pad(h);
  return pw === null || ph === null ? null : { pw, ph };
}

// Smallest shift >= 0 (CSS px, a multiple of 1/64) that puts a box at CSS position v on a whole CSS
// px that is also a whole device pixel; null if there is none within 16 CSS px.
function nudge(v, dpr) {
  for (let k = 0; k < 64 * 16; k++) {
    const x = v + k / 64;
    if (Math.abs(x - Math.round(x)) < EPS && Math.abs(x * dpr - Math.round(x * dpr)) < 1e-4) return k / 64;
  }
  return null;
}

// Draw the region (sx, sy, sw, sh) of img (image pixels) into canvas cv, each image pixel as a
// zoom x zoom block of canvas pixels (no smoothing), padded with fill to geometry(); sets the
// canvas's CSS size so that one canvas pixel is one device pixel. Returns false where dpr allows no
// exact drawing (nothing is drawn then).
function drawExact(cv, img, r, dpr, fill) {
  const w = r.sw * r.zoom, h = r.sh * r.zoom;
  const geo = geometry(w, h, dpr);
  if (geo === null) return false;
  cv.width = w + geo.pw;
  cv.height = h + geo.ph;
  const ctx = cv.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.fillStyle = fill;
  ctx.fillRect(0, 0, cv.width, cv.height);
  ctx.drawImage(img, r.sx, r.sy, r.sw, r.sh, 0, 0, w, h);
  sizeExact(cv, dpr);
  return true;
}

// CSS size of a drawn canvas: one canvas pixel per device pixel (its size was padded by geometry()).
function sizeExact(cv, dpr) {
  cv.style.width = `${Math.round(cv.width / dpr)}px`;
  cv.style.height = `${Math.round(cv.height / dpr)}px`;
}

// Move a relatively positioned canvas onto whole device pixels (style left/top); false if impossible.
function snapExact(cv, dpr) {
  cv.style.left = "0px";
  cv.style.top = "0px";
  const r0 = cv.getBoundingClientRect();
  const nx = nudge(r0.left + window.scrollX, dpr), ny = nudge(r0.top + window.scrollY, dpr);
  if (nx === null || ny === null) return false;
  cv.style.left = `${nx}px`;
  cv.style.top = `${ny}px`;
  return true;
}
