// Values this tab keeps in sessionStorage as JSON (a hold, a seat selection, a payment attempt).

// The value kept under `key`; null when there is none or it cannot be read.
export function storedValue<T>(key: string): T | null {
  try {
    const raw = sessionStorage.getItem(key);
    return raw ? (JSON.parse(raw) as T) : null;
  } catch {
    return null;
  }
}

// Keeps `value` under `key`; null forgets it.
export function storeValue(key: string, value: unknown): void {
  if (value === null) sessionStorage.removeItem(key);
  else sessionStorage.setItem(key, JSON.stringify(value));
}
