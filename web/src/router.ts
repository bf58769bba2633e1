// Client-side routing with the History API. The server answers index.html for any GET that asks
// for text/html, so every address below can be loaded directly or reloaded.
export interface Page {
  // Called when the page is left (navigation, language switch): stop timers, close streams.
  onLeave(cleanup: () => void): void;
  // True once the page was left; async work checks it before touching the DOM.
  readonly left: boolean;
  readonly params: Record<string, string>;
  readonly query: URLSearchParams;
  readonly outlet: HTMLElement;
}

export type Render = (page: Page) => void | Promise<void>;

interface Route {
  pattern: RegExp;
  names: string[];
  render: Render;
}

const routes: Route[] = [];
let notFound: Render = () => undefined;
let current: { cleanups: (() => void)[]; left: boolean } | null = null;
let outletElement: HTMLElement | null = null;
let afterRender: (path: string) => void = () => undefined;

export function route(path: string, render: Render): void {
  const names: string[] = [];
  const source = path.replace(/\{(\w+)\}/g, (_, name: string) => {
    names.push(name);
    return '([^/]+)';
  });
  routes.push({ pattern: new RegExp(`^${source}$`), names, render });
}

export function fallback(render: Render): void {
  notFound = render;
}

export function start(outlet: HTMLElement, onRendered: (path: string) => void): void {
  outletElement = outlet;
  afterRender = onRendered;
  window.addEventListener('popstate', () => void render());
  // Plain links inside the app navigate without a page load.
  document.addEventListener('click', (event) => {
    const anchor = (event.target as Element | null)?.closest('a');
    if (!anchor || event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey || anchor.target) return;
    const url = new URL(anchor.href, location.href);
    if (url.origin !== location.origin) return;
    event.preventDefault();
    navigate(url.pathname + url.search);
  });
  void render();
}

export function navigate(path: string, options: { replace?: boolean } = {}): void {
  if (options.replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  void render();
}

export function rerender(): Promise<void> {
  return render();
}

async function render(): Promise<void> {
  if (!outletElement) return;
  if (current) {
    current.left = true;
    for (const cleanup of current.cleanups) cleanup();
  }
  const state = { cleanups: [] as (() => void)[], left: false };
  current = state;
  const outlet = outletElement;
  while (outlet.firstChild) outlet.removeChild(outlet.firstChild);
  const path = location.pathname;
  let params: Record<string, string> = {};
  let chosen: Render = notFound;
  for (const candidate of routes) {
    const match = candidate.pattern.exec(path);
    if (!match) continue;
    params = Object.fromEntries(candidate.names.map((name, i) => [name, decodeURIComponent(match[i + 1] ?? '')]));
    chosen = candidate.render;
    break;
  }
  const page: Page = {
    onLeave: (cleanup) => state.cleanups.push(cleanup),
    get left() {
      return state.left;
    },
    params,
    query: new URLSearchParams(location.search),
    outlet,
  };
  afterRender(path);
  await chosen(page);
}
