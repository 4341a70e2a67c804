/**
 * Sessions (and ports, handles: anything with `close()`) that close themselves at the end of a block:
 * `await using s = closing(await openUsbms({ mock }))`, or `await using r = closing(await rig(...))` for anything
 * that holds a session (`{ session, disk, dev }`). It is closed when the block is left, whether the test passed,
 * failed an assertion or threw: what a `try { ... } finally { await session.close() }` around every test body did.
 */
interface Closable { close(): Promise<unknown> }
type Holder = Closable | { readonly session: Closable };

// Its own close() first: a rig's DeviceHandle has both, and its session comes and goes.
const closableOf = (held: Holder): Closable => ('close' in held ? held : held.session);

/** `held` (a session or a port, or something with a `session`), closing it when disposed. */
export function closing<T extends Holder>(held: T): T & AsyncDisposable {
  const target = closableOf(held);
  return Object.assign(held, { [Symbol.asyncDispose]: async () => { await target.close(); } });
}
