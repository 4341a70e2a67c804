/** The HBA's queues: a fixed-capacity per-LUN wait queue (a ring: no allocation per command), with FLAG_HEAD insertion. */
export class PktQueue<T> {
  private readonly ring: (T | undefined)[];
  private head = 0;
  length = 0;

  constructor(readonly capacity: number) {
    this.ring = new Array<T | undefined>(capacity).fill(undefined);
  }

  get full(): boolean {
    return this.length >= this.capacity;
  }

  pushBack(item: T): void {
    this.ring[(this.head + this.length) % this.capacity] = item;
    this.length++;
  }

  pushFront(item: T): void {
    this.head = (this.head + this.capacity - 1) % this.capacity;
    this.ring[this.head] = item;
    this.length++;
  }

  shift(): T | undefined {
    if (this.length === 0) return undefined;
    const item = this.ring[this.head];
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.length--;
    return item;
  }

  /** Remove one item wherever it is; false if it is not queued. */
  remove(item: T): boolean {
    for (let i = 0; i < this.length; i++) {
      if (this.ring[(this.head + i) % this.capacity] !== item) continue;
      for (let j = i; j < this.length - 1; j++) {
        this.ring[(this.head + j) % this.capacity] = this.ring[(this.head + j + 1) % this.capacity];
      }
      this.ring[(this.head + this.length - 1) % this.capacity] = undefined;
      this.length--;
      return true;
    }
    return false;
  }

  /** Empty the queue, handing each item (in order) to `fn`. */
  drain(fn: (item: T) => void): void {
    for (let item = this.shift(); item !== undefined; item = this.shift()) fn(item);
  }
}

/**
 * The packets on the wire: at most `capacity` (the transport's queueDepth) at once, in a fixed array (no
 * allocation per command). They may complete in any order.
 */
export class OnWire<T> {
  private readonly items: (T | undefined)[];
  count = 0;

  constructor(readonly capacity: number) {
    this.items = new Array<T | undefined>(capacity).fill(undefined);
  }

  get full(): boolean {
    return this.count >= this.capacity;
  }

  /** Put `item` on the wire; false (and nothing changes) when it is full. */
  add(item: T): boolean {
    const i = this.items.indexOf(undefined);
    if (i < 0) return false;
    this.items[i] = item;
    this.count++;
    return true;
  }

  remove(item: T): boolean {
    const i = this.items.indexOf(item);
    if (i < 0) return false;
    this.items[i] = undefined;
    this.count--;
    return true;
  }

  has(item: T): boolean {
    return this.items.includes(item);
  }

  /** The items for which `keep` is true, as a new array (for the rare operations that stop several). */
  filter(keep: (item: T) => boolean): T[] {
    const out: T[] = [];
    for (const item of this.items) if (item !== undefined && keep(item)) out.push(item);
    return out;
  }
}
