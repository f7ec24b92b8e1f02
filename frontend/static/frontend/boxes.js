// Box geometry between the two frames of an image (pure functions, no DOM).
//
// The API keeps boxes in pixels of the image *as stored* (the file's pixel grid before its EXIF orientation,
// origin top-left; `width`/`height` of an entry are that grid's size), as the Ground Truth manifest does.
// Browsers show a photo upright (they apply the EXIF orientation), so the editor works in the upright frame
// and converts on load and on save. Orientations 5-8 swap the sides.

export function uprightSize(width, height, orientation) {
  return orientation >= 5 ? [height, width] : [width, height];
}

// Where stored pixel (x, y) of a W x H stored image lands in the upright picture.
function toUprightPoint(orientation, x, y, W, H) {
  switch (orientation) {
    case 2: return [W - x, y];
    case 3: return [W - x, H - y];
    case 4: return [x, H - y];
    case 5: return [y, x];
    case 6: return [H - y, x];
    case 7: return [H - y, W - x];
    case 8: return [y, W - x];
    default: return [x, y];
  }
}

// 6 and 8 undo each other; the other orientations are their own inverse.
const INVERSE = { 6: 8, 8: 6 };

function mapBox(box, orientation, W, H) {
  const [x1, y1] = toUprightPoint(orientation, box.left, box.top, W, H);
  const [x2, y2] = toUprightPoint(orientation, box.left + box.width, box.top + box.height, W, H);
  return {
    ...box,
    left: Math.min(x1, x2),
    top: Math.min(y1, y2),
    width: Math.abs(x2 - x1),
    height: Math.abs(y2 - y1),
  };
}

export function toUpright(box, storedWidth, storedHeight, orientation) {
  return mapBox(box, orientation, storedWidth, storedHeight);
}

export function toStored(box, storedWidth, storedHeight, orientation) {
  const [uw, uh] = uprightSize(storedWidth, storedHeight, orientation);
  return mapBox(box, INVERSE[orientation] || orientation, uw, uh);
}

// A box kept inside a W x H picture with integer sides of at least 1 px.
export function clampBox(box, W, H) {
  const left = Math.max(0, Math.min(Math.round(box.left), W - 1));
  const top = Math.max(0, Math.min(Math.round(box.top), H - 1));
  const width = Math.max(1, Math.min(Math.round(box.width), W - left));
  const height = Math.max(1, Math.min(Math.round(box.height), H - top));
  return { ...box, left, top, width, height };
}

// The rectangle spanned by two points (a drag), in any direction.
export function spanBox(x1, y1, x2, y2) {
  return { left: Math.min(x1, x2), top: Math.min(y1, y2), width: Math.abs(x2 - x1), height: Math.abs(y2 - y1) };
}

// A box resized by dragging one of its handles ("nw", "n", "ne", "e", "se", "s", "sw", "w") by (dx, dy).
export function resizeBox(box, handle, dx, dy) {
  let x1 = box.left;
  let y1 = box.top;
  let x2 = box.left + box.width;
  let y2 = box.top + box.height;
  if (handle.includes("w")) x1 += dx;
  if (handle.includes("e")) x2 += dx;
  if (handle.includes("n")) y1 += dy;
  if (handle.includes("s")) y2 += dy;
  return { ...box, ...spanBox(x1, y1, x2, y2) };
}
