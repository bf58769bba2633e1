import { lang } from './i18n';

export const locale = (): string => (lang() === 'ko' ? 'ko-KR' : 'en-US');

// Seat prices are decimal amounts in US dollars (the demo catalogue); formatted for the reader.
export function money(amount: number): string {
  return new Intl.NumberFormat(locale(), { style: 'currency', currency: 'USD' }).format(amount);
}

// A count, grouped as the reader's language writes it ("10,000").
export function count(value: number): string {
  return new Intl.NumberFormat(locale()).format(value);
}

// A date and time in a list or a table (the console's): short, in the reader's language.
export function shortDateTime(iso: string): string {
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'medium' }).format(new Date(iso));
}

export function timeOfDay(iso: string): string {
  return new Intl.DateTimeFormat(locale(), { timeStyle: 'medium' }).format(new Date(iso));
}

export function dateTime(iso: string): string {
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'full', timeStyle: 'short' }).format(new Date(iso));
}

// "1d 02:03:04" / "02:03" — a countdown from a number of milliseconds.
export function countdown(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const days = Math.floor(total / 86400);
  const hours = Math.floor((total % 86400) / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const two = (n: number): string => String(n).padStart(2, '0');
  const clock = hours > 0 || days > 0 ? `${two(hours)}:${two(minutes)}:${two(seconds)}` : `${two(minutes)}:${two(seconds)}`;
  return days > 0 ? `${days}${lang() === 'ko' ? '일' : 'd'} ${clock}` : clock;
}
