/**
 * One logical unit of the software disk: its medium, its switches (eject, write protect), its sense and unit
 * attention state. The SCSI command set it answers is in ./scsi-target.ts.
 */
import { MemoryMedia } from './media.js';
import { SENSE, type SenseName, type SenseValue, type Identity } from './scsi-data.js';
import type { MediaStore, MockBlockSize, MockLunOptions, MockProvisioning } from './types.js';
import { UsbmsArgumentError } from '../util/errors.js';

/** LUN options that cannot describe a disk (size, block length ...): code ARG_INVALID. */
export class LunConfigError extends UsbmsArgumentError {
  override readonly name = 'LunConfigError';
}

/** One logical unit of the software disk: its media, identity, removable-medium state and pending sense. */
export class MockLun {
  readonly blocks: bigint;
  readonly blockSize: MockBlockSize;
  readonly removable: boolean;
  readonly identity: Identity;
  /** MODE SENSE DPOFUA: WRITEs with FUA are flushed to the media before their status. */
  readonly dpofua: boolean;
  /** Logical block provisioning limits, when the LUN is thin (UNMAP, WRITE SAME with UNMAP). */
  readonly provisioning: Required<MockProvisioning> | undefined;
  private medium: MediaStore;
  private mediumPresent: boolean;
  private writeProtectSwitch: boolean;
  private removalPrevented = false;
  /** Ejected by START STOP UNIT (the medium is still in the tray and can be loaded again). */
  private ejectedByHost = false;
  private pendingUnitAttention: SenseValue | undefined;
  private currentSense: SenseValue = { key: 0, asc: 0, ascq: 0, info: undefined };

  constructor(readonly index: number, opts: MockLunOptions, serial: string) {
    this.blocks = BigInt(opts.blocks);
    this.blockSize = opts.blockSize ?? 512;
    if (this.blocks < 1n || this.blocks > 0xffff_ffff_ffff_ffffn) throw new LunConfigError(`LUN ${index}: bad block count ${this.blocks}`);
    if (![512, 2048, 4096].includes(this.blockSize)) throw new LunConfigError(`LUN ${index}: bad block size ${this.blockSize}`);
    const bytes = this.blocks * BigInt(this.blockSize);
    this.medium = opts.media ?? new MemoryMedia(bytes);
    if (this.medium.size < bytes) throw new LunConfigError(`LUN ${index}: media holds ${this.medium.size} bytes, need ${bytes}`);
    const deviceType = opts.deviceType ?? 0;
    this.removable = opts.removable ?? deviceType === 5;
    this.mediumPresent = opts.present ?? true;
    this.writeProtectSwitch = opts.writeProtected ?? deviceType === 5;
    this.dpofua = opts.dpofua ?? false;
    const p = opts.provisioning === true ? {} : opts.provisioning === false ? undefined : opts.provisioning;
    this.provisioning = p === undefined ? undefined : {
      maxUnmapBlocks: p.maxUnmapBlocks ?? 0x40000, maxUnmapDescriptors: p.maxUnmapDescriptors ?? 64,
      maxWriteSameBlocks: p.maxWriteSameBlocks ?? 0x40000,
    };
    this.identity = {
      deviceType,
      removable: this.removable,
      vendor: opts.vendor ?? 'USBMS',
      product: opts.product ?? (deviceType === 5 ? 'Mock CD-ROM' : 'Mock Disk'),
      revision: opts.revision ?? '1.00',
      serial: opts.serial ?? `${serial}-${index}`,
      lun: index,
      provisioning: this.provisioning,
    };
  }

  /** The media store behind this LUN. */
  get media(): MediaStore { return this.medium; }
  /** Whether a medium is loaded. */
  get present(): boolean { return this.mediumPresent; }
  /** Whether writes are refused (the switch, or read-only media). */
  get writeProtected(): boolean { return this.writeProtectSwitch || (this.medium.readOnly ?? false); }
  /** Whether medium removal is prevented (PREVENT ALLOW MEDIUM REMOVAL). */
  get prevented(): boolean { return this.removalPrevented; }
  /** The sense the next REQUEST SENSE would return (for tests). */
  get sense(): Readonly<SenseValue> { return this.currentSense; }
  /** The UNIT ATTENTION the next command will get, if any. */
  get unitAttention(): Readonly<SenseValue> | undefined { return this.pendingUnitAttention; }

  /** The user pulls the medium out (a card reader cannot refuse that). */
  eject(): void {
    this.mediumPresent = false;
    this.ejectedByHost = false;
    this.removalPrevented = false;
  }

  /** The user puts a medium in (optionally a different one): UNIT ATTENTION 28/00, medium may have changed. */
  insert(media?: MediaStore): void {
    if (media !== undefined) {
      const need = this.blocks * BigInt(this.blockSize);
      if (media.size < need) throw new LunConfigError(`LUN ${this.index}: media holds ${media.size} bytes, need ${need}`);
      this.medium = media;
    }
    this.mediumPresent = true;
    this.ejectedByHost = false;
    this.raiseUnitAttention('mediumChanged');
  }

  /** Flip the write-protect switch. */
  setWriteProtect(on: boolean): void { this.writeProtectSwitch = on; }

  /** Reset or power on: the next command (other than INQUIRY/REPORT LUNS/REQUEST SENSE) reports it once. */
  resetState(): void {
    this.removalPrevented = false;
    this.clearSense();
    this.raiseUnitAttention('powerOnReset');
  }

  /** Queue a UNIT ATTENTION (medium changed or power-on reset) for the next command. */
  raiseUnitAttention(which: 'mediumChanged' | 'powerOnReset'): void {
    const [key, asc, ascq] = SENSE[which];
    this.pendingUnitAttention = { key, asc, ascq, info: undefined };
  }

  /** Hands out the pending unit attention once. */
  takeUnitAttention(): SenseValue | undefined {
    const ua = this.pendingUnitAttention;
    this.pendingUnitAttention = undefined;
    return ua;
  }

  /** Set the sense the next REQUEST SENSE returns, by name. */
  setSense(name: SenseName, info?: bigint): void {
    const [key, asc, ascq] = SENSE[name];
    this.currentSense = { key, asc, ascq, info };
  }

  /** Set the sense the next REQUEST SENSE returns. */
  setSenseValue(s: SenseValue): void { this.currentSense = s; }

  /** Forget the pending sense. */
  clearSense(): void {
    if (this.currentSense.key === 0 && this.currentSense.asc === 0) return;
    this.currentSense = { key: 0, asc: 0, ascq: 0, info: undefined };
  }

  /** START STOP UNIT with LoEj: eject unless prevented. Returns false when prevention refuses it. */
  hostEject(): boolean {
    if (this.removalPrevented) return false;
    if (this.mediumPresent) this.ejectedByHost = true;
    this.mediumPresent = false;
    return true;
  }

  /** START STOP UNIT with LoEj and Start: load a medium that the host ejected into the tray. */
  hostLoad(): void {
    if (this.ejectedByHost) this.mediumPresent = true;
    this.ejectedByHost = false;
  }

  /** PREVENT ALLOW MEDIUM REMOVAL: whether removal is prevented. */
  setPrevent(on: boolean): void { this.removalPrevented = on; }
}
