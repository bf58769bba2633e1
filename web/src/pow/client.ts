// Fetches a proof-of-work challenge and solves it in a Web Worker (a same-origin file: the CSP
// `default-src 'self'` allows it; no blob: URLs).
import { call } from '../api';

declare const POW_WORKER_URL: string;

interface ChallengeView {
  challenge: string;
  difficulty: number;
  expiresAt: string;
  algorithm: string;
}

export interface PowSolution {
  powChallenge: string;
  powNonce: string;
}

// `progress(fraction)` runs from 0 towards 1 (the expected number of tries is 2^difficulty).
export async function solveChallenge(scheduleId: string, progress: (fraction: number) => void): Promise<PowSolution> {
  const view = await call<ChallengeView>(`/queue/challenge?scheduleId=${scheduleId}`, { auth: true });
  const expected = 2 ** view.difficulty;
  const worker = new Worker(POW_WORKER_URL);
  try {
    const nonce = await new Promise<string>((resolve, reject) => {
      worker.onmessage = (event: MessageEvent<{ tried: number; nonce?: string }>) => {
        if (event.data.nonce !== undefined) resolve(event.data.nonce);
        else progress(1 - Math.exp(-event.data.tried / expected));
      };
      worker.onerror = (event) => reject(new Error(event.message || 'proof-of-work worker failed'));
      worker.postMessage({ challenge: view.challenge, difficulty: view.difficulty });
    });
    return { powChallenge: view.challenge, powNonce: nonce };
  } finally {
    worker.terminate();
  }
}
