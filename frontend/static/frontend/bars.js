// Progress bars of server-rendered pages: each segment's width (percent) comes in its data-width and is set here,
// through the CSSOM, because the Content-Security-Policy allows no inline style attribute.
for (const segment of document.querySelectorAll(".progress .seg[data-width]")) {
  segment.style.width = `${segment.dataset.width}%`;
}
