// The seat map's data: seats in flat typed arrays (10,000 seats stay cheap), laid out by section
// in a grid, priced by tier. Pure: no DOM, so the layout is the same wherever it is drawn.
export type SeatStatus = 'AVAILABLE' | 'HELD' | 'SOLD';
export const statusCodes: Record<SeatStatus, number> = { AVAILABLE: 0, HELD: 1, SOLD: 2 };
export const statusNames: SeatStatus[] = ['AVAILABLE', 'HELD', 'SOLD'];

export interface SeatEntry {
  seatNo: string;
  section: string;
  price: number;
  status: SeatStatus;
}

export interface SeatMapResponse {
  scheduleId: number;
  seats: SeatEntry[];
}

export interface Tier {
  index: number;
  price: number;
  sections: string[];
}

// Most expensive first: tier 0 is the front of the house.
export function priceTiers(seats: readonly SeatEntry[]): Tier[] {
  const byPrice = new Map<number, Set<string>>();
  for (const seat of seats) {
    let sections = byPrice.get(seat.price);
    if (!sections) byPrice.set(seat.price, (sections = new Set()));
    sections.add(seat.section);
  }
  return [...byPrice.entries()]
    .sort((a, b) => b[0] - a[0])
    .map(([price, sections], index) => ({ index, price, sections: [...sections].sort(naturalCompare) }));
}

// One collator for all comparisons: localeCompare with options builds one per call (slow on 10k seats).
const collator = new Intl.Collator('en', { numeric: true });
export function naturalCompare(a: string, b: string): number {
  return collator.compare(a, b);
}

// World units: one seat is `seatSize` wide inside a `cell`; sections are `sectionGap` apart.
export const cell = 10;
export const seatSize = 8;
export const sectionGap = 30;
export const labelHeight = 18;
export const margin = 20;
export const stageHeight = 40;

export interface Section {
  name: string;
  seats: number[]; // seat indices in grid order (row-major)
  cols: number;
  rows: number;
  x: number; // top-left of the first seat, world units
  y: number;
  gridRow: number;
  gridCol: number;
}

export class SeatModel {
  readonly count: number;
  readonly seatNos: string[];
  readonly numbers: string[];
  readonly prices: Float64Array;
  readonly tierOf: Uint8Array;
  readonly sectionOf: Uint16Array;
  readonly status: Uint8Array;
  readonly x: Float32Array;
  readonly y: Float32Array;
  readonly sections: Section[];
  readonly tiers: Tier[];
  readonly indexOf = new Map<string, number>();
  readonly width: number;
  readonly height: number;
  readonly sectionsPerRow: number;

  // `maxSectionsPerRow`: 5 on a laptop; fewer on a phone so seats stay big enough to see and tap.
  constructor(seats: readonly SeatEntry[], maxSectionsPerRow = 5) {
    this.tiers = priceTiers(seats);
    const tierByPrice = new Map(this.tiers.map((tier) => [tier.price, tier.index]));
    const bySection = new Map<string, number[]>();
    const order = seats.map((_, i) => i);
    // The seat's name within its section: "12" of "A-12", "3-12" of "A-3-12" (row 3) — never just
    // "12", which two rows of a section would share.
    const numberOf = (seatNo: string, section: string): string =>
      seatNo.startsWith(`${section}-`) ? seatNo.slice(section.length + 1) : seatNo.slice(seatNo.lastIndexOf('-') + 1);
    order.sort((a, b) => {
      const sa = seats[a]!;
      const sb = seats[b]!;
      return naturalCompare(sa.section, sb.section) || naturalCompare(sa.seatNo, sb.seatNo);
    });
    this.count = seats.length;
    this.seatNos = new Array<string>(this.count);
    this.numbers = new Array<string>(this.count);
    this.prices = new Float64Array(this.count);
    this.tierOf = new Uint8Array(this.count);
    this.sectionOf = new Uint16Array(this.count);
    this.status = new Uint8Array(this.count);
    this.x = new Float32Array(this.count);
    this.y = new Float32Array(this.count);
    order.forEach((source, index) => {
      const seat = seats[source]!;
      this.seatNos[index] = seat.seatNo;
      this.numbers[index] = numberOf(seat.seatNo, seat.section);
      this.prices[index] = seat.price;
      this.tierOf[index] = tierByPrice.get(seat.price) ?? 0;
      this.status[index] = statusCodes[seat.status] ?? 1;
      this.indexOf.set(seat.seatNo, index);
      let list = bySection.get(seat.section);
      if (!list) bySection.set(seat.section, (list = []));
      list.push(index);
    });

    const names = [...bySection.keys()];
    const most = Math.max(1, maxSectionsPerRow);
    const perRow = names.length <= most ? Math.max(1, names.length) : Math.ceil(names.length / Math.ceil(names.length / most));
    this.sectionsPerRow = perRow;
    const largest = Math.max(1, ...[...bySection.values()].map((list) => list.length));
    // Every section gets the same box (the largest one's), so the grid lines up like a hall.
    const cols = Math.max(1, Math.ceil(Math.sqrt(largest * 2)));
    const rows = Math.ceil(largest / cols);
    const boxWidth = cols * cell;
    const boxHeight = labelHeight + rows * cell;
    this.sections = names.map((name, s) => {
      const list = bySection.get(name)!;
      const gridRow = Math.floor(s / perRow);
      const gridCol = s % perRow;
      const x = margin + gridCol * (boxWidth + sectionGap);
      const y = margin + stageHeight + sectionGap + gridRow * (boxHeight + sectionGap) + labelHeight;
      list.forEach((index, i) => {
        this.sectionOf[index] = s;
        this.x[index] = x + (i % cols) * cell;
        this.y[index] = y + Math.floor(i / cols) * cell;
      });
      return { name, seats: list, cols, rows: Math.ceil(list.length / cols), x, y, gridRow, gridCol };
    });
    const gridRows = Math.ceil(names.length / perRow);
    this.width = 2 * margin + perRow * boxWidth + (perRow - 1) * sectionGap;
    this.height = 2 * margin + stageHeight + sectionGap + gridRows * boxHeight + (gridRows - 1) * sectionGap;
  }

  // The seat under a world point, or -1 (the gap around a seat counts as the seat).
  hit(wx: number, wy: number): number {
    for (const section of this.sections) {
      const col = Math.floor((wx - section.x) / cell);
      const row = Math.floor((wy - section.y) / cell);
      if (col < 0 || row < 0 || col >= section.cols || row >= section.rows) continue;
      return section.seats[row * section.cols + col] ?? -1;
    }
    return -1;
  }

  sectionName(index: number): string {
    return this.sections[this.sectionOf[index]!]!.name;
  }

  // Keyboard movement: arrows move inside a section's grid and step into the neighbouring section
  // at its edge; `sectionStep` (Page Up/Down) jumps whole sections.
  move(index: number, dx: number, dy: number): number {
    const section = this.sections[this.sectionOf[index]!]!;
    const position = section.seats.indexOf(index);
    const col = position % section.cols;
    const row = Math.floor(position / section.cols);
    const nextCol = col + dx;
    const nextRow = row + dy;
    const s = this.sectionOf[index]!;
    if (nextCol < 0 || nextCol >= section.cols) {
      const neighbour = this.sections[s + (dx < 0 ? -1 : 1)];
      if (!neighbour || neighbour.gridRow !== section.gridRow) return index;
      const targetCol = dx < 0 ? neighbour.cols - 1 : 0;
      return this.clampInto(neighbour, Math.min(row, neighbour.rows - 1) * neighbour.cols + targetCol);
    }
    if (nextRow < 0 || nextRow * section.cols + nextCol >= section.seats.length) {
      const neighbour = this.sections[s + (dy < 0 ? -this.sectionsPerRow : this.sectionsPerRow)];
      if (!neighbour) return index;
      const targetRow = dy < 0 ? neighbour.rows - 1 : 0;
      return this.clampInto(neighbour, targetRow * neighbour.cols + Math.min(col, neighbour.cols - 1));
    }
    return section.seats[nextRow * section.cols + nextCol] ?? index;
  }

  sectionStep(index: number, step: number): number {
    const s = Math.min(this.sections.length - 1, Math.max(0, this.sectionOf[index]! + step));
    return this.sections[s]!.seats[0] ?? index;
  }

  private clampInto(section: Section, position: number): number {
    return section.seats[Math.min(Math.max(0, position), section.seats.length - 1)]!;
  }
}
