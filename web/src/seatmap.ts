// The seat map on one <canvas>: every seat drawn as a small square coloured by price tier and
// status. A full draw of 10,000 seats is a few milliseconds; live changes repaint only their cells.
// Keyboard: the canvas is focusable, arrows move a focus ring, Enter/Space toggle; the page
// announces the focused seat in an aria-live region.
import { cell, seatSize, stageHeight, margin, labelHeight, type SeatModel } from './seatmodel';

// Tier colours (front of house first) — the same values as .tier-N in styles.css. All have at
// least 3:1 contrast against the white background (WCAG 1.4.11, non-text contrast).
export const tierColours = ['#6a1b9a', '#1565c0', '#00796b', '#ad5700', '#c2185b', '#4e342e'];
export const heldColour = '#c4c7cc';
export const soldColour = '#5f6368';
export const selectedColour = '#ffb300';
export const mineColour = '#e65100';
const background = '#ffffff';
const focusColour = '#000000';

export interface SeatMapHandlers {
  toggle(index: number): void;
  focus(index: number): void;
}

export class SeatMapCanvas {
  readonly canvas: HTMLCanvasElement;
  private readonly context: CanvasRenderingContext2D;
  private zoom = 1; // 1 = the whole venue fits the width
  private offsetX = 0; // CSS pixels
  private offsetY = 0;
  private cssWidth = 0;
  private cssHeight = 0;
  private focused = -1;
  private readonly pointers = new Map<number, { x: number; y: number }>();
  private dragged = false;
  private pinchDistance = 0;
  private readonly resizeObserver: ResizeObserver;
  readonly selected = new Set<number>();
  readonly mine = new Set<number>();

  constructor(
    private readonly model: SeatModel,
    label: string,
    private readonly handlers: SeatMapHandlers,
    private readonly stageLabel: string,
  ) {
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'seat-canvas';
    this.canvas.tabIndex = 0;
    this.canvas.setAttribute('role', 'application');
    this.canvas.setAttribute('aria-label', label);
    const context = this.canvas.getContext('2d', { alpha: false });
    if (!context) throw new Error('canvas 2d is not available');
    this.context = context;
    this.canvas.addEventListener('keydown', (event) => this.onKey(event));
    this.canvas.addEventListener('focus', () => {
      if (this.pointers.size > 0) return; // a click focuses too: the seat under it is chosen on pointerup
      if (this.focused < 0) this.setFocus(this.firstAvailable());
      else this.handlers.focus(this.focused);
    });
    this.canvas.addEventListener('blur', () => this.draw());
    this.canvas.addEventListener('pointerdown', (event) => this.onPointerDown(event));
    this.canvas.addEventListener('pointermove', (event) => this.onPointerMove(event));
    this.canvas.addEventListener('pointerup', (event) => this.onPointerUp(event));
    this.canvas.addEventListener('pointercancel', (event) => this.pointers.delete(event.pointerId));
    this.canvas.addEventListener('wheel', (event) => this.onWheel(event), { passive: false });
    this.resizeObserver = new ResizeObserver(() => this.resize());
  }

  // Call once the canvas is in the document: sizes it to its box and draws everything.
  attach(): void {
    this.resizeObserver.observe(this.canvas.parentElement ?? this.canvas);
    this.resize();
  }

  destroy(): void {
    this.resizeObserver.disconnect();
  }

  get focusedSeat(): number {
    return this.focused;
  }

  private get scale(): number {
    return (this.cssWidth / this.model.width) * this.zoom;
  }

  private resize(): void {
    const width = Math.max(200, Math.floor((this.canvas.parentElement ?? this.canvas).clientWidth));
    if (width === this.cssWidth) return;
    this.cssWidth = width;
    this.cssHeight = Math.ceil((width * this.model.height) / this.model.width);
    const ratio = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(width * ratio);
    this.canvas.height = Math.round(this.cssHeight * ratio);
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${this.cssHeight}px`;
    this.clampOffset();
    this.draw();
  }

  private applyTransform(): void {
    const ratio = window.devicePixelRatio || 1;
    const s = this.scale * ratio;
    this.context.setTransform(s, 0, 0, s, this.offsetX * ratio, this.offsetY * ratio);
  }

  colourOf(index: number): string {
    if (this.mine.has(index)) return mineColour;
    if (this.selected.has(index)) return selectedColour;
    const status = this.model.status[index];
    if (status === 1) return heldColour;
    if (status === 2) return soldColour;
    return tierColours[this.model.tierOf[index]! % tierColours.length]!;
  }

  // Everything: background, stage, section names, every seat, the focus ring.
  draw(): void {
    const c = this.context;
    c.setTransform(1, 0, 0, 1, 0, 0);
    c.fillStyle = background;
    c.fillRect(0, 0, this.canvas.width, this.canvas.height);
    this.applyTransform();
    const m = this.model;
    c.fillStyle = '#202124';
    c.fillRect(m.width * 0.2, margin, m.width * 0.6, stageHeight);
    c.fillStyle = '#ffffff';
    c.font = `bold ${stageHeight * 0.5}px system-ui, sans-serif`;
    c.textAlign = 'center';
    c.textBaseline = 'middle';
    c.fillText(this.stageLabel, m.width / 2, margin + stageHeight / 2);
    c.fillStyle = '#202124';
    c.font = `bold ${labelHeight * 0.8}px system-ui, sans-serif`;
    c.textAlign = 'left';
    c.textBaseline = 'bottom';
    for (const section of m.sections) c.fillText(section.name, section.x, section.y - 3);
    let colour = '';
    for (let i = 0; i < m.count; i += 1) {
      const next = this.colourOf(i);
      if (next !== colour) c.fillStyle = colour = next;
      c.fillRect(m.x[i]!, m.y[i]!, seatSize, seatSize);
    }
    this.drawMarks();
    this.drawFocus();
  }

  // Selected and own seats get a dark outline so they differ by more than colour.
  private drawMarks(): void {
    const c = this.context;
    c.strokeStyle = '#202124';
    c.lineWidth = Math.max(1, 1.2 / this.scale);
    for (const set of [this.selected, this.mine]) {
      for (const i of set) c.strokeRect(this.model.x[i]! + 0.5, this.model.y[i]! + 0.5, seatSize - 1, seatSize - 1);
    }
  }

  private drawFocus(): void {
    if (this.focused < 0 || document.activeElement !== this.canvas) return;
    const c = this.context;
    const pad = Math.max(2, 4 / this.scale);
    c.strokeStyle = focusColour;
    c.lineWidth = Math.max(1.5, 2.5 / this.scale);
    const x = this.model.x[this.focused]!;
    const y = this.model.y[this.focused]!;
    c.strokeRect(x - pad, y - pad, seatSize + 2 * pad, seatSize + 2 * pad);
  }

  // Repaint only these seats (a live delta): their cell, their mark, and the focus ring on top.
  redrawSeats(indices: Iterable<number>): void {
    const c = this.context;
    this.applyTransform();
    const m = this.model;
    for (const i of indices) {
      c.fillStyle = background;
      c.fillRect(m.x[i]! - 1, m.y[i]! - 1, cell, cell);
      c.fillStyle = this.colourOf(i);
      c.fillRect(m.x[i]!, m.y[i]!, seatSize, seatSize);
      if (this.selected.has(i) || this.mine.has(i)) {
        c.strokeStyle = '#202124';
        c.lineWidth = Math.max(1, 1.2 / this.scale);
        c.strokeRect(m.x[i]! + 0.5, m.y[i]! + 0.5, seatSize - 1, seatSize - 1);
      }
    }
    this.drawFocus();
  }

  setFocus(index: number): void {
    if (index < 0) return;
    this.focused = index;
    this.scrollIntoView(index);
    this.draw();
    this.handlers.focus(index);
  }

  private firstAvailable(): number {
    for (let i = 0; i < this.model.count; i += 1) if (this.model.status[i] === 0) return i;
    return 0;
  }

  private onKey(event: KeyboardEvent): void {
    if (this.focused < 0) this.focused = this.firstAvailable();
    const m = this.model;
    let next = -1;
    switch (event.key) {
      case 'ArrowLeft': next = m.move(this.focused, -1, 0); break;
      case 'ArrowRight': next = m.move(this.focused, 1, 0); break;
      case 'ArrowUp': next = m.move(this.focused, 0, -1); break;
      case 'ArrowDown': next = m.move(this.focused, 0, 1); break;
      case 'PageUp': next = m.sectionStep(this.focused, -1); break;
      case 'PageDown': next = m.sectionStep(this.focused, 1); break;
      case 'Home': next = m.sections[m.sectionOf[this.focused]!]!.seats[0]!; break;
      case 'End': { const seats = m.sections[m.sectionOf[this.focused]!]!.seats; next = seats[seats.length - 1]!; break; }
      case '+': case '=': this.zoomBy(1.5); break;
      case '-': this.zoomBy(1 / 1.5); break;
      case 'Enter': case ' ':
        event.preventDefault();
        this.handlers.toggle(this.focused);
        return;
      default:
        return;
    }
    event.preventDefault();
    if (next >= 0) this.setFocus(next);
  }

  // Zoom keeps the seat under (cx, cy) in place; the default centre is the canvas' middle.
  zoomBy(factor: number, cx = this.cssWidth / 2, cy = this.cssHeight / 2): void {
    const before = this.zoom;
    this.zoom = Math.min(16, Math.max(1, this.zoom * factor));
    const k = this.zoom / before;
    this.offsetX = cx - (cx - this.offsetX) * k;
    this.offsetY = cy - (cy - this.offsetY) * k;
    this.clampOffset();
    this.draw();
  }

  resetZoom(): void {
    this.zoom = 1;
    this.offsetX = 0;
    this.offsetY = 0;
    this.draw();
  }

  private clampOffset(): void {
    // At the fitted size a vertical swipe scrolls the page (a phone shows the venue taller than the
    // screen); zoomed in, every gesture pans the map.
    this.canvas.style.touchAction = this.zoom > 1 ? 'none' : 'pan-y';
    const contentWidth = this.model.width * this.scale;
    const contentHeight = this.model.height * this.scale;
    this.offsetX = Math.min(0, Math.max(this.cssWidth - contentWidth, this.offsetX));
    this.offsetY = Math.min(0, Math.max(this.cssHeight - contentHeight, this.offsetY));
  }

  private scrollIntoView(index: number): void {
    const s = this.scale;
    const x = this.model.x[index]! * s + this.offsetX;
    const y = this.model.y[index]! * s + this.offsetY;
    const pad = 20;
    if (x < pad) this.offsetX += pad - x;
    if (x > this.cssWidth - pad) this.offsetX -= x - (this.cssWidth - pad);
    if (y < pad) this.offsetY += pad - y;
    if (y > this.cssHeight - pad) this.offsetY -= y - (this.cssHeight - pad);
    this.clampOffset();
  }

  private local(event: PointerEvent | WheelEvent): { x: number; y: number } {
    const box = this.canvas.getBoundingClientRect();
    return { x: event.clientX - box.left, y: event.clientY - box.top };
  }

  // The seat at a point in CSS pixels relative to the canvas (also used by the tests).
  seatAt(x: number, y: number): number {
    return this.model.hit((x - this.offsetX) / this.scale, (y - this.offsetY) / this.scale);
  }

  // Where a seat's centre is, in CSS pixels relative to the canvas.
  pointOf(index: number): { x: number; y: number } {
    const s = this.scale;
    return {
      x: (this.model.x[index]! + seatSize / 2) * s + this.offsetX,
      y: (this.model.y[index]! + seatSize / 2) * s + this.offsetY,
    };
  }

  private onPointerDown(event: PointerEvent): void {
    this.canvas.setPointerCapture(event.pointerId);
    this.pointers.set(event.pointerId, this.local(event));
    this.dragged = false;
    if (this.pointers.size === 2) this.pinchDistance = this.pointerDistance();
  }

  private pointerDistance(): number {
    const [a, b] = [...this.pointers.values()];
    return a && b ? Math.hypot(a.x - b.x, a.y - b.y) : 0;
  }

  private onPointerMove(event: PointerEvent): void {
    const previous = this.pointers.get(event.pointerId);
    if (!previous) return;
    const point = this.local(event);
    this.pointers.set(event.pointerId, point);
    if (this.pointers.size === 2) {
      const distance = this.pointerDistance();
      const [a, b] = [...this.pointers.values()];
      if (this.pinchDistance > 0 && a && b) this.zoomBy(distance / this.pinchDistance, (a.x + b.x) / 2, (a.y + b.y) / 2);
      this.pinchDistance = distance;
      this.dragged = true;
      return;
    }
    const dx = point.x - previous.x;
    const dy = point.y - previous.y;
    if (!this.dragged && Math.hypot(dx, dy) < 4) {
      this.pointers.set(event.pointerId, previous); // not a drag yet: measure from the start
      return;
    }
    this.dragged = true;
    this.offsetX += dx;
    this.offsetY += dy;
    this.clampOffset();
    this.draw();
  }

  private onPointerUp(event: PointerEvent): void {
    const point = this.pointers.get(event.pointerId);
    this.pointers.delete(event.pointerId);
    if (!point || this.dragged || this.pointers.size > 0) return;
    const index = this.seatAt(point.x, point.y);
    if (index < 0) return;
    this.focused = index;
    this.handlers.toggle(index);
  }

  private onWheel(event: WheelEvent): void {
    if (!event.ctrlKey) return; // plain wheel scrolls the page
    event.preventDefault();
    const point = this.local(event);
    this.zoomBy(Math.exp(-event.deltaY / 300), point.x, point.y);
  }
}
