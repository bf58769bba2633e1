// QR codes as SVG elements built with the DOM (CSP forbids data: images and inline markup).
import qrcode from 'qrcode-generator';

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
  const svg = document.createElementNS(svgNs, 'svg');
  svg.setAttribute('viewBox', `0 0 ${size} ${size}`);
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
