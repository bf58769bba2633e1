// Tells the header that the signed-in account changed (sign in, sign out), without a cycle
// between main.ts and the pages.
const listeners: (() => void)[] = [];

export function onSessionChanged(listener: () => void): void {
  listeners.push(listener);
}

export function sessionChanged(): void {
  for (const listener of listeners) listener();
}
