// Live seat statuses: Server-Sent Events from /schedules/{id}/seats/stream (a snapshot, then
// deltas; EventSource resumes with Last-Event-ID by itself). While the stream is unavailable the
// feed polls GET /schedules/{id}/seats every 2 s and reports what changed, so the map stays live.
import { call } from './api';
import type { SeatMapResponse, SeatStatus } from './seatmodel';

export interface SeatChange {
  seatNo: string;
  status: SeatStatus;
}

export interface SeatFeedHandlers {
  // Every seat's status (stream snapshot or a poll): the receiver diffs it against its map.
  snapshot(seats: SeatChange[]): void;
  changes(changes: SeatChange[]): void;
  mode(mode: 'live' | 'polling'): void;
}

const pollMs = 2000;
const reopenStreamMs = 30_000;

export class SeatFeed {
  private source: EventSource | null = null;
  private pollTimer = 0;
  private reopenTimer = 0;
  private stopped = false;
  private polling = false;
  private streamEvents = 0; // snapshots and deltas heard on the stream
  private pollGeneration = 0; // a tick of an earlier polling run does not go on after a restart

  constructor(
    private readonly scheduleId: string,
    private readonly handlers: SeatFeedHandlers,
  ) {}

  start(): void {
    this.open();
  }

  stop(): void {
    this.stopped = true;
    this.source?.close();
    window.clearTimeout(this.pollTimer);
    window.clearTimeout(this.reopenTimer);
  }

  // Ask for the whole map now (after our own hold ended, for instance).
  async refresh(): Promise<void> {
    const heardBefore = this.streamEvents;
    try {
      const map = await call<SeatMapResponse>(`/schedules/${this.scheduleId}/seats`);
      // What the stream said meanwhile may be newer than this read: then the read is dropped.
      if (!this.stopped && this.streamEvents === heardBefore) this.handlers.snapshot(map.seats);
    } catch {
      // The next poll or stream event brings the map up to date.
    }
  }

  private open(): void {
    if (this.stopped || typeof EventSource === 'undefined') {
      this.startPolling();
      return;
    }
    const source = new EventSource(`/schedules/${this.scheduleId}/seats/stream`);
    this.source = source;
    // Open again after a drop: a resumed stream (Last-Event-ID) sends only the deltas missed, no
    // snapshot, so the polling meanwhile ends here.
    source.addEventListener('open', () => {
      this.stopPolling();
      this.handlers.mode('live');
    });
    source.addEventListener('snapshot', (event) => {
      this.streamEvents += 1;
      const data = JSON.parse((event as MessageEvent<string>).data) as { seats: SeatChange[] };
      this.stopPolling();
      this.handlers.mode('live');
      this.handlers.snapshot(data.seats);
    });
    source.addEventListener('delta', (event) => {
      this.streamEvents += 1;
      const data = JSON.parse((event as MessageEvent<string>).data) as { changes: SeatChange[] };
      this.handlers.changes(data.changes);
    });
    source.addEventListener('error', () => {
      // CONNECTING: EventSource retries by itself (with Last-Event-ID); poll meanwhile.
      // CLOSED: the server refused the stream (no such route yet, 503 cap): poll, retry later.
      this.startPolling();
      if (source.readyState === EventSource.CLOSED) {
        this.source = null;
        window.clearTimeout(this.reopenTimer);
        this.reopenTimer = window.setTimeout(() => this.open(), reopenStreamMs);
      }
    });
  }

  // A stream that opened but has said nothing yet (a buffering proxy may hold it back): poll until
  // it speaks.
  pollUntilHeard(): void {
    if (this.streamEvents === 0) this.startPolling();
  }

  private startPolling(): void {
    if (this.polling || this.stopped) return;
    this.polling = true;
    const generation = ++this.pollGeneration;
    this.handlers.mode('polling');
    const running = (): boolean => this.polling && !this.stopped && generation === this.pollGeneration;
    const tick = async (): Promise<void> => {
      if (!running()) return;
      await this.refresh();
      if (running()) this.pollTimer = window.setTimeout(() => void tick(), pollMs);
    };
    this.pollTimer = window.setTimeout(() => void tick(), pollMs);
  }

  private stopPolling(): void {
    this.polling = false;
    window.clearTimeout(this.pollTimer);
  }
}
