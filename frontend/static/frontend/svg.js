// Drawing boxes in SVG, shared by the image view and the workbench: an element with attributes, and each
// label's own colour (the same label has the same colour everywhere).
export const SVG = "http://www.w3.org/2000/svg";

export function svgEl(name, attrs) {
  const el = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, value);
  return el;
}

export function colorOf(label) {
  let hash = 0;
  for (const char of label) hash = (hash * 31 + char.codePointAt(0)) % 360;
  return `hsl(${hash} 85% 45%)`;
}
