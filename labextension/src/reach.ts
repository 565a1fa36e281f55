// Whether this browser reaches an address on the server's loopback (the server's reach probe,
// never Django itself, whose views a request would run): it does not when Jupyter is reached
// through an SSH tunnel or a hub, where 127.0.0.1 is the user's machine, not the server's. A
// no-cors request resolves when something answers and rejects when nothing does (refused,
// unresolvable, blocked); the answer itself stays opaque and unread.
export type Reach = 'unknown' | 'reachable' | 'unreachable';

export class Reachability {
  /** `changed` is called when an answer arrives for an address asked about. */
  constructor(changed: () => void) {
    this._changed = changed;
  }

  /** What is known of `url` so far; the first call starts finding out. */
  check(url: string): Reach {
    const known = this._known.get(url);
    if (known !== undefined) {
      return known;
    }
    this._known.set(url, 'unknown');
    fetch(url, { mode: 'no-cors', cache: 'no-store', credentials: 'omit' }).then(
      () => this._settle(url, 'reachable'),
      () => this._settle(url, 'unreachable')
    );
    return 'unknown';
  }

  private _settle(url: string, reach: Reach): void {
    this._known.set(url, reach);
    this._changed();
  }

  private readonly _changed: () => void;
  private readonly _known = new Map<string, Reach>();
}
