// The proof-of-work solver off the page's thread (DESIGN.md §15): receives {challenge, difficulty},
// posts {tried} now and then and finally {nonce, tried, ms}.
import { solve } from './sha256';

interface Job {
  challenge: string;
  difficulty: number;
}

const scope = self as unknown as DedicatedWorkerGlobalScope;
scope.onmessage = (event: MessageEvent<Job>) => {
  const started = performance.now();
  const { challenge, difficulty } = event.data;
  const nonce = solve(challenge, difficulty, (tried) => scope.postMessage({ tried }));
  scope.postMessage({ nonce, tried: Number(nonce) + 1, ms: Math.round(performance.now() - started) });
};
