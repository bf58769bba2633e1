// QR codes as SVG elements built with the DOM (CSP forbids data: images and inline markup).
// Drawn at a whole number of CSS pixels per module (at least 4, about 240 px for a ticket's
// ~150-character payload) with the 4-module quiet zone and crisp edges: a screenshot at 1x,
// which is what a fan shows at the gate, must still decode. Never scaled by CSS (a fractional
// module size blurs the edges into grey).
import qrcode from 'qrcode-generator';

const minPixelsPerModule = 4;
const minSidePixels = 160;

const svgNs = 'http://www.w3.org/2000/svg';

export function qrSvg(payload: string, label: string): SVGSVGElement {
  const code = qrcode(0, 'M');
  code.addData(payload);
  code.make();
  const modules = code.getModuleCount();
  const quiet = 4;
  const size = modules + quiet * 2;
  let path = '';
  for (let row = 0; row < modules; row += 1) {
    for (let col = 0; col < modules; col += 1) {
      if (code.isDark(row, col)) path += `M${col + quiet} ${row + quiet}h1v1h-1z`;
    }
  }
  const pixelsPerModule = Math.max(minPixelsPerModule, Math.ceil(minSidePixels / size));
  const svg = document.createElementNS(svgNs, 'svg');
  svg.setAttribute('viewBox', `0 0 ${size} ${size}`);
  svg.setAttribute('width', String(size * pixelsPerModule));
  svg.setAttribute('height', String(size * pixelsPerModule));
  svg.dataset.modulePixels = String(pixelsPerModule);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  svg.setAttribute('class', 'qr');
  svg.setAttribute('shape-rendering', 'crispEdges');
  const back = document.createElementNS(svgNs, 'rect');
  back.setAttribute('width', String(size));
  back.setAttribute('height', String(size));
  back.setAttribute('fill', '#ffffff');
  const dark = document.createElementNS(svgNs, 'path');
  dark.setAttribute('d', path);
  dark.setAttribute('fill', '#000000');
  svg.append(back, dark);
  return svg;
}
