/** A fixed-capacity per-LUN wait queue (a ring: no allocation per command), with FLAG_HEAD insertion. */
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
