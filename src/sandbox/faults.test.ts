import { describe, expect, it } from 'vitest';
import { FaultBoard, attackOf, faultSchema, hostileXml, messageFault } from './faults.ts';

describe('the attack fault', () => {
  it('needs a variant its system’s protocol has a use for, and only the attack mode takes one', () => {
    expect(faultSchema.safeParse({ system: 'tax', mode: 'attack', variant: 'xxe' }).success).toBe(true);
    expect(faultSchema.safeParse({ system: 'social-insurance', mode: 'attack', variant: 'alg-none' }).success).toBe(true);
    expect(faultSchema.safeParse({ system: 'tax', mode: 'attack' }).success).toBe(false);
    expect(faultSchema.safeParse({ system: 'dvcqg', mode: 'attack', variant: 'signature-wrapping' }).success).toBe(false);
    expect(faultSchema.safeParse({ system: 'tax', mode: 'down', variant: 'xxe' }).success).toBe(false);
  });

  it('is drawn by the simulator’s signing step when it is in the message, not when it is in the transport', () => {
    const board = new FaultBoard();
    board.set({ system: 'tax', mode: 'attack', variant: 'signature-wrapping' });
    expect(attackOf(messageFault(board, 'tax'))).toBe('signature-wrapping');
    board.set({ system: 'tax', mode: 'attack', variant: 'slow-body' });
    expect(messageFault(board, 'tax')).toBeUndefined();
  });
});

describe('hostileXml', () => {
  const xml = '<?xml version="1.0" encoding="utf-8"?><KetQuaTraCuu><MaLoi>00</MaLoi><MoTa>Thành công</MoTa></KetQuaTraCuu>';

  it('declares an external entity after the XML declaration and puts its reference in the element', () => {
    const hostile = hostileXml(xml, 'xxe', 'MoTa');
    expect(hostile.startsWith('<?xml version="1.0" encoding="utf-8"?><!DOCTYPE KetQuaTraCuu [<!ENTITY e SYSTEM "file:///etc/passwd">]>')).toBe(true);
    expect(hostile).toContain('<MoTa>&e;</MoTa>');
  });

  it('nests entities to a billion expansions', () => {
    const hostile = hostileXml(xml, 'entity-expansion', 'MoTa');
    expect(hostile.match(/<!ENTITY/g)).toHaveLength(11);
    expect(hostile).toContain(`<!ENTITY e1 "${'&e0;'.repeat(10)}">`);
    expect(hostile).toContain('<MoTa>&e;</MoTa>');
  });
});
