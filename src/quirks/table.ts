/**
 * The table of known devices: VID:PID (+ optional bcdDevice range, bus speed) -> flags, each entry saying why.
 */
import type { UsbSpeed } from '../usb/port.js';

/** One row of the quirks table: a VID:PID (and bcdDevice range), its flags and why. */
export interface QuirkEntry {
  readonly vendorId: number;
  readonly productId: number;
  /** Inclusive bcdDevice range; absent = every revision. */
  readonly bcd?: readonly [number, number];
  /**
   * Only at these bus speeds (the same emulated stick behaves differently behind QEMU's xHCI and its EHCI);
   * absent = any speed. An unknown speed matches every speed-limited entry (the safe side).
   */
  readonly speeds?: readonly UsbSpeed[];
  /** Flag names, parameterised ones as NAME=value. */
  readonly quirks: readonly string[];
  readonly why: string;
}

/**
 * Known devices. Linux entries are from drivers/usb/storage/unusual_devs.h (bcd ranges as there). The software
 * disk's personalities are not here: they bring their quirks as overrides, the way a user would (src/mock).
 */
export const QUIRK_TABLE: readonly QuirkEntry[] = [
  { vendorId: 0x46f4, productId: 0x0001, quirks: ['SENSE_LUN0_ONLY'],
    why: 'QEMU usb-storage/usb-bot: REQUEST SENSE on LUN >= 1 with sense pending is routed to the SCSI target, '
      + 'which answers LOGICAL UNIT NOT SUPPORTED (5/25/00) instead of the LUN\'s sense (lab README quirk 4)' },
  { vendorId: 0x46f4, productId: 0x0001, speeds: ['super', 'super-plus'], quirks: ['NO_CSW_PIPELINING'],
    why: 'QEMU usb-storage behind qemu-xhci (SuperSpeed): a CSW read queued while a 1 MiB data read is pending '
      + 'never completes, and one queued while a 1 MiB data-OUT is still due is stalled (bench-lab fastpath; lab '
      + 'README quirk 2), so data-IN segments go one at a time and the CSW is read only after the data. The '
      + 'data submitted with the CBW is taken, in and out, at every size tried (4 KiB .. 1 MiB). Through USB/IP '
      + '(usbip-host replays the URBs on the exporting host\'s xHCI) the same modes fail and the same are taken '
      + '(bench-lab usbip, docs/rigs-usbip.md): the entry holds for the stick attached through vhci too' },
  { vendorId: 0x46f4, productId: 0x0001, speeds: ['super', 'super-plus'], quirks: ['QUEUED_CSW_OUT_MAX=122880'],
    why: 'QEMU usb-storage behind qemu-xhci: CBW, data-OUT and CSW read submitted together are taken at 4 KiB and '
      + '120 KiB in all seven bench-lab fastpath runs (2026-12-01) and stalled at 1 MiB in all seven: its SCSI layer '
      + 'takes 128 KiB of OUT data at once (hw/scsi/scsi-disk.c SCSI_DMA_BUF_SIZE), and an IN that arrives while '
      + 'OUT data is still due is stalled (hw/usb/dev-storage.c). 120 KiB is the largest size measured' },
  { vendorId: 0x46f4, productId: 0x0001, speeds: ['high', 'full', 'low'], quirks: ['NO_EARLY_IN', 'NO_CSW_PIPELINING'],
    why: 'QEMU usb-storage behind EHCI/UHCI: an IN that arrives before the device is due to send is answered '
      + 'with a STALL: a data-IN submitted with the CBW, and a CSW read queued while data-OUT is still due, at every '
      + 'size tried (4 KiB .. 1 MiB; facts 5, bench-lab fastpath). A data-OUT queued behind the CBW is taken. A CSW '
      + 'read queued behind the data-IN is taken too, but from the third session of a process on it made 4 KiB '
      + 'READs take 0.6-1.5 s each (four sessions, EHCI guest; 20-29 ms with NO_CSW_PIPELINING)' },
  { vendorId: 0x03eb, productId: 0x2002, bcd: [0x0100, 0x0100], quirks: ['IGNORE_RESIDUE'],
    why: 'ATMEL SND1 Storage: reports bogus residue (unusual_devs.h)' },
  { vendorId: 0x03ee, productId: 0x6901, bcd: [0x0000, 0x0200], quirks: ['SINGLE_LUN'],
    why: 'Mitsumi USB FDD: only LUN 0 answers (unusual_devs.h)' },
  { vendorId: 0x0409, productId: 0x0040, quirks: ['SINGLE_LUN'],
    why: 'NEC USB UF000x floppies need single-LUN enforcement (unusual_devs.h)' },
  { vendorId: 0x0421, productId: 0x0019, bcd: [0x0592, 0x0592], quirks: ['MAX_SECTORS_64'],
    why: 'Nokia 6288: fails transfers over 64 sectors (unusual_devs.h)' },
  { vendorId: 0x0421, productId: 0x047c, bcd: [0x0370, 0x0610], quirks: ['MAX_SECTORS_64'],
    why: 'Nokia 6131: fails transfers over 64 sectors (unusual_devs.h)' },
  { vendorId: 0x0421, productId: 0x005d, bcd: [0x0001, 0x0600], quirks: ['FIX_CAPACITY'],
    why: 'Nokia 3110c: READ CAPACITY returns the block count instead of the last LBA (unusual_devs.h)' },
  { vendorId: 0x0421, productId: 0x0433, bcd: [0x0100, 0x0100], quirks: ['IGNORE_RESIDUE', 'FIX_CAPACITY'],
    why: 'Nokia E70: bogus residue and off-by-one capacity (unusual_devs.h)' },
  { vendorId: 0x0424, productId: 0x0fdc, bcd: [0x0210, 0x0210], quirks: ['SINGLE_LUN'],
    why: 'SMSC FDC GOLD-2.30: only LUN 0 answers (unusual_devs.h)' },
  { vendorId: 0x04b0, productId: 0x0405, bcd: [0x0100, 0x0100], quirks: ['FIX_CAPACITY'],
    why: 'Nikon DSC D70: off-by-one capacity (unusual_devs.h)' },
];
