/**
 * `node build/tools/bench/bare-uas.js --qd N ...`: runs INSIDE the lab guest (hw-tests/lab/bench-uas.sh). The
 * least work any UAS host over node-usb can do at high speed (no streams), to tell usbms's own cost from the cost
 * of node-usb, libusb and usbfs under the emulator: 4 KiB random READ(10)s with N tags in flight, done the way
 * Linux's uas does it without streams (one status read posted per command, the data-in transfer posted when READ
 * READY names the tag, the next command of a tag sent when its SENSE IU arrives), in callbacks only: no promise,
 * no timer, no recovery, no check beyond the SENSE IU's status. It prints one JSON line like qd.js's.
 *
 * It talks to usb@2 directly on purpose and shares only the wire declarations (src/usb/wire/uas.ts) with usbms.
 * Options: --qd N (default 8), --seconds S (default 8), --warmup N (commands first, default 500),
 * --vid-pid 46f4:0003 (default QEMU's usb-uas), --size BYTES (default 4096; a multiple of 512, at most 16 MiB
 * over all tags: usbfs's default memory limit) with --pattern random|sequential (default random; sequential reads
 * the region in order, each tag the next piece): the ceiling of sequential reads at the tuned size, one libusb
 * transfer per data phase as Linux's uas sends one URB.
 */
import type { InEndpoint, LibUSBException, OutEndpoint, Transfer } from 'usb';
import {
  CommandIu, IU_ID, IuHeader, PIPE_ID, PIPE_USAGE_DESCRIPTOR_TYPE, SenseIu, UAS_INTERFACE_PROTOCOL,
} from '../../src/usb/wire/uas.js';

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? dflt) : dflt;
};

/** The bPipeID of an endpoint's extra descriptors (`04 24 ID 00`), or -1. */
function pipeId(extra: Buffer): number {
  for (let at = 0; at + 3 <= extra.length && extra[at]! >= 2; at += extra[at]!) {
    if (extra[at + 1] === PIPE_USAGE_DESCRIPTOR_TYPE) return extra[at + 2]!;
  }
  return -1;
}

async function main(): Promise<void> {
  const qd = Number(arg('qd', '8'));
  const seconds = Number(arg('seconds', '8'));
  const warmup = Number(arg('warmup', '500'));
  const size = Number(arg('size', '4096'));
  const pattern = arg('pattern', 'random');
  if (size % 512 !== 0 || size <= 0 || size * qd > 16 << 20) throw new Error(`--size ${size} x --qd ${qd}: multiples of 512, at most 16 MiB in all`);
  if (pattern !== 'random' && pattern !== 'sequential') throw new Error(`--pattern ${pattern}: random or sequential`);
  const blocks = size / 512;
  const [vid, pid] = arg('vid-pid', '46f4:0003').split(':').map((h) => parseInt(h, 16));
  const usb = await import('usb');
  const device = usb.findByIds(vid!, pid!);
  if (device === undefined) throw new Error(`no device ${arg('vid-pid', '46f4:0003')}`);
  device.open();
  const iface = device.interfaces?.find((i) => i.descriptor.bInterfaceClass === 8 && i.descriptor.bInterfaceSubClass === 6);
  if (iface === undefined) throw new Error('no mass-storage interface');
  if (iface.isKernelDriverActive()) iface.detachKernelDriver();
  iface.claim();
  const alt = device.configDescriptor?.interfaces[iface.interfaceNumber]?.find((a) => a.bInterfaceProtocol === UAS_INTERFACE_PROTOCOL);
  if (alt === undefined) throw new Error('no UAS alternate setting');
  if (alt.bAlternateSetting !== iface.altSetting) await iface.setAltSettingAsync(alt.bAlternateSetting);
  const pipes = new Map(alt.endpoints.map((e) => [pipeId(e.extra), e.bEndpointAddress]));
  const ep = <T>(id: number): T => iface.endpoint(pipes.get(id)!) as T;
  const cmdEp = ep<OutEndpoint>(PIPE_ID.COMMAND);
  const statusEp = ep<InEndpoint>(PIPE_ID.STATUS);
  const dataEp = ep<InEndpoint>(PIPE_ID.DATA_IN);

  // READ CAPACITY(10) is not needed: LBAs in the first 64 MiB past 1 MiB (the bench image is 128 MiB), at random
  // or in order, in pieces of --size.
  const SLOTS = Math.max(1, Math.floor((64 << 20) / size));
  let x = 0x5eed;
  let next = 0;
  const nextLba = pattern === 'sequential'
    ? (): number => { const lba = 2048 + next * blocks; next = (next + 1) % SLOTS; return lba; }
    : (): number => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return 2048 + ((x >>> 0) % SLOTS) * blocks; };

  let done = 0;
  let failed = 0;
  let t0 = 0n;
  let cpu0 = process.cpuUsage();
  let until = 0n;
  let stopping = false;
  let inFlight = 0;
  let finish: () => void = () => undefined;
  const none = (e?: LibUSBException): void => { if (e !== undefined) throw e; };

  interface Tag { iu: Buffer; data: Buffer; cmd: Transfer; dataIn: Transfer }
  const tags: Tag[] = [];
  const send = (t: number): void => {
    const s = tags[t - 1]!;
    s.iu.writeUInt32BE(nextLba(), CommandIu.offsets.cdb + 2);
    inFlight++;
    s.cmd.submit(s.iu);
  };
  // Each status read's completion: READ READY posts the tag's data read and the status read again (the SENSE IU
  // is still due); SENSE ends the command, sends the tag's next one and posts the status read for it.
  const onStatus = (e: LibUSBException | undefined, buf: Buffer, n: number, me: Transfer): void => {
    if (e !== undefined) throw e;
    const id = buf[IuHeader.offsets.iuId];
    const t = buf.readUInt16BE(IuHeader.offsets.tag);
    if (id === IU_ID.READ_READY) {
      tags[t - 1]!.dataIn.submit(tags[t - 1]!.data);
      me.submit(buf);
      return;
    }
    if (id !== IU_ID.SENSE || n < SenseIu.span) throw new Error(`IU 0x${id?.toString(16)} of ${n} bytes`);
    inFlight--;
    if (buf[SenseIu.offsets.status] !== 0) failed++;
    else if (++done === warmup) { t0 = process.hrtime.bigint(); cpu0 = process.cpuUsage(); until = t0 + BigInt(seconds * 1e9); }
    if (t0 !== 0n && (done & 15) === 0 && process.hrtime.bigint() >= until) stopping = true;
    if (stopping) { if (inFlight === 0) finish(); return; }
    send(t);
    me.submit(buf);
  };
  const status: [Buffer, Transfer][] = [];
  for (let t = 1; t <= qd; t++) {
    const iu = Buffer.alloc(CommandIu.span);
    iu[CommandIu.offsets.iuId] = IU_ID.COMMAND;
    iu.writeUInt16BE(t, CommandIu.offsets.tag);
    iu[CommandIu.offsets.cdb] = 0x28; // READ(10): LBA at CDB bytes 2-5, the blocks at 7-8
    iu.writeUInt16BE(blocks, CommandIu.offsets.cdb + 7);
    tags.push({ iu, data: Buffer.alloc(size), cmd: cmdEp.makeTransfer(0, none), dataIn: dataEp.makeTransfer(0, none) });
    const sb = Buffer.alloc(512);
    const tr: Transfer = statusEp.makeTransfer(0, (e, _b, n) => onStatus(e, sb, n, tr));
    status.push([sb, tr]);
  }
  const ended = new Promise<void>((resolve) => { finish = resolve; });
  // A device that stops answering ends the loop rather than the guest's whole run.
  const watchdog = setTimeout(() => { process.stderr.write(`bare-uas: no end after ${seconds + 60} s (${done} done)\n`); process.exit(1); },
    (seconds + 60) * 1000);
  for (const [buf, tr] of status) tr.submit(buf);
  for (let t = 1; t <= qd; t++) send(t);
  await ended;
  clearTimeout(watchdog);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const ops = done - warmup;
  process.stdout.write(`${JSON.stringify({
    transport: 'bare-uas', queueDepth: qd, size, pattern, op: 'read', ops, seconds: secs, failed,
    iops: ops / secs, mbPerSecond: (ops * size) / secs / 1e6, cpuUserMsPerOp: cpu.user / 1000 / ops, cpuSystemMsPerOp: cpu.system / 1000 / ops,
  })}\n`);
  process.exit(0);
}

main().catch((e: unknown) => {
  process.stderr.write(`bare-uas: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
