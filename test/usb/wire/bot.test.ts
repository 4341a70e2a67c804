/**
 * The one declaration of the Bulk-Only wire format (src/usb/wire/bot.ts) against BOT 1.0 itself: the CBW is 31
 * bytes with its fields where §5.1 puts them, the CSW 13 bytes as §5.2 has it, the signatures spell "USBC" and
 * "USBS" on the wire, and the class requests are §3.1 and §3.2's.
 */
import { describe, expect, it } from 'vitest';
import {
  BOT_REQUEST, BOT_REQUEST_TYPE, CBW_LENGTH, CBW_OFFSET, CBW_SIGNATURE, CbwLayout, CSW_LENGTH, CSW_OFFSET,
  CSW_SIGNATURE, CSW_STATUS, CswLayout,
} from '../../../src/usb/wire/bot.js';

describe('the BOT wire declarations', () => {
  it('CBW: 31 bytes, dCBWSignature 0, dCBWTag 4, dCBWDataTransferLength 8, bmCBWFlags 12, bCBWLUN 13, bCBWCBLength 14, CBWCB 15', () => {
    expect(CBW_LENGTH).toBe(31);
    expect(CBW_OFFSET).toEqual({ signature: 0, tag: 4, dataTransferLength: 8, flags: 12, lun: 13, cbLength: 14, cb: 15 });
  });

  it('CSW: 13 bytes, dCSWSignature 0, dCSWTag 4, dCSWDataResidue 8, bCSWStatus 12', () => {
    expect(CSW_LENGTH).toBe(13);
    expect(CSW_OFFSET).toEqual({ signature: 0, tag: 4, dataResidue: 8, status: 12 });
  });

  it('a CBW and a CSW encoded from the declarations read as the spec\'s bytes', () => {
    const cbw = Buffer.alloc(CBW_LENGTH);
    CbwLayout.encode({ signature: CBW_SIGNATURE, tag: 0x11223344, dataTransferLength: 512, flags: 0x80, lun: 1,
      cbLength: 10, cb: Buffer.from('28000000000700000100000000000000', 'hex') }, cbw);
    // "USBC", tag, length 512, flags, LUN, CB length, the READ(10) zero padded to 16
    expect(cbw.toString('hex')).toBe(['55534243', '44332211', '00020000', '80', '01', '0a',
      '28000000000700000100000000000000'].join(''));
    const csw = Buffer.alloc(CSW_LENGTH);
    CswLayout.encode({ signature: CSW_SIGNATURE, tag: 0x11223344, dataResidue: 3, status: CSW_STATUS.FAILED }, csw);
    expect(csw.toString('hex')).toBe(['55534253', '44332211', '03000000', '01'].join('')); // "USBS", tag, residue, status
  });

  it('Bulk-Only Mass Storage Reset is 21h/FFh and Get Max LUN A1h/FEh', () => {
    expect([BOT_REQUEST_TYPE.OUT, BOT_REQUEST.MASS_STORAGE_RESET]).toEqual([0x21, 0xff]);
    expect([BOT_REQUEST_TYPE.IN, BOT_REQUEST.GET_MAX_LUN]).toEqual([0xa1, 0xfe]);
  });
});
