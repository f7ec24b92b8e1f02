// The workbench's box tool: draw boxes on an SVG over the upright photo (its viewBox is upright image pixels),
// select one by clicking, delete it. The geometry (clamping, spans, the EXIF frames) is boxes.js's.
import { clampBox, spanBox } from "./boxes.js";
import { colorOf, svgEl } from "./svg.js";

const MIN_DRAW = 3; // upright image pixels: a smaller drag is a click

// Draw read-only boxes (a verification task shows the boxes it asks about).
export function drawBoxes(svg, boxes, W) {
  const font = Math.max(12, W / 45);
  for (const box of boxes) {
    const color = colorOf(box.label);
    svg.append(svgEl("rect", {
      x: box.left, y: box.top, width: box.width, height: box.height, stroke: color, fill: color,
      "fill-opacity": 0.08, "stroke-width": 2, "vector-effect": "non-scaling-stroke",
    }));
    const tag = svgEl("text", { x: box.left + 2, y: Math.max(box.top - 4, font), fill: color, "font-size": font,
      "paint-order": "stroke", stroke: "#fff", "stroke-width": font / 5 });
    tag.textContent = box.label;
    svg.append(tag);
  }
}

export class BoxTool {
  // svg: the overlay; size: [W, H] upright; label(): the label for new boxes; onChange(boxes): after each change.
  constructor(svg, { label, onChange }) {
    this.svg = svg;
    this.label = label;
    this.onChange = onChange;
    this.boxes = [];
    this.selected = null;
    this.drag = null;
    svg.addEventListener("pointerdown", (e) => this.down(e));
    svg.addEventListener("pointermove", (e) => this.move(e));
    svg.addEventListener("pointerup", (e) => this.up(e));
    svg.addEventListener("pointercancel", () => this.cancel());
  }

  reset(W, H) {
    this.W = W;
    this.H = H;
    this.boxes = [];
    this.selected = null;
    this.drag = null;
    this.render();
  }

  point(event) {
    const p = this.svg.createSVGPoint();
    p.x = event.clientX;
    p.y = event.clientY;
    const q = p.matrixTransform(this.svg.getScreenCTM().inverse());
    return { x: Math.max(0, Math.min(this.W, q.x)), y: Math.max(0, Math.min(this.H, q.y)) };
  }

  down(event) {
    if (event.button !== 0 || !this.W) return;
    const group = event.target.closest("g.box");
    if (group) {
      this.select(Number(group.dataset.index));
      return;
    }
    const start = this.point(event);
    this.drag = { start, box: null };
    this.svg.setPointerCapture(event.pointerId);
    event.preventDefault();
  }

  move(event) {
    if (!this.drag) return;
    const p = this.point(event);
    this.drag.box = spanBox(this.drag.start.x, this.drag.start.y, p.x, p.y);
    this.render();
  }

  up(event) {
    if (!this.drag) return;
    const { box } = this.drag;
    this.drag = null;
    if (this.svg.hasPointerCapture(event.pointerId)) this.svg.releasePointerCapture(event.pointerId);
    if (box && box.width >= MIN_DRAW && box.height >= MIN_DRAW) {
      this.boxes.push(clampBox({ label: this.label(), ...box }, this.W, this.H));
      this.selected = this.boxes.length - 1;
      this.changed();
    } else {
      this.selected = null;
      this.render();
    }
  }

  cancel() {
    const was = this.drag;
    this.drag = null;
    this.render();
    return Boolean(was);
  }

  select(index) {
    this.selected = index;
    this.changed();
  }

  remove(index) {
    if (index === null || index === undefined || !this.boxes[index]) return false;
    this.boxes.splice(index, 1);
    this.selected = null;
    this.changed();
    return true;
  }

  removeLast() {
    return this.remove(this.boxes.length - 1);
  }

  changed() {
    this.render();
    this.onChange(this.boxes);
  }

  render() {
    this.svg.replaceChildren();
    const font = Math.max(12, this.W / 45);
    this.boxes.forEach((box, index) => {
      const color = colorOf(box.label);
      const group = svgEl("g", { class: `box${index === this.selected ? " selected" : ""}`, "data-index": index });
      group.append(svgEl("rect", {
        x: box.left, y: box.top, width: box.width, height: box.height, stroke: color, fill: color,
        "fill-opacity": index === this.selected ? 0.22 : 0.08, "stroke-width": index === this.selected ? 3 : 2,
        "vector-effect": "non-scaling-stroke",
      }));
      const tag = svgEl("text", { x: box.left + 2, y: Math.max(box.top - 4, font), fill: color, "font-size": font,
        "paint-order": "stroke", stroke: "#fff", "stroke-width": font / 5 });
      tag.textContent = `${index + 1} ${box.label}`;
      group.append(tag);
      this.svg.append(group);
    });
    if (this.drag && this.drag.box) {
      const b = this.drag.box;
      this.svg.append(svgEl("rect", { x: b.left, y: b.top, width: b.width, height: b.height, class: "drawing",
        "stroke-width": 2, "vector-effect": "non-scaling-stroke" }));
    }
  }
}
