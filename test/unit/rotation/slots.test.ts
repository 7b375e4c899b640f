import { describe, expect, it } from 'vitest';
import { chooseSlot } from '../../../shared/rotation/index.js';

const slots = ['app_blue', 'app_green'] as const;

describe('chooseSlot: the inactive slot from the latest version tags', () => {
  it.each([
    ['a new secret starts on the first slot, nothing to retire', undefined, { ok: true, next: 'app_blue' }],
    ['blue active → green next, blue to retire', { 'relay-slot': 'app_blue' }, { ok: true, next: 'app_green', previous: 'app_blue' }],
    ['green active → blue next, green to retire', { 'relay-slot': 'app_green', other: 'x' }, { ok: true, next: 'app_blue', previous: 'app_green' }],
  ])('%s', (_what, tags, expected) => {
    expect(chooseSlot(slots, tags)).toEqual(expected);
  });

  it.each([
    ['no relay-slot tag', {}, 'slot-tag-missing', 'app_blue or app_green'],
    ['a slot that is not configured', { 'relay-slot': 'app_red' }, 'slot-tag-unknown', '"app_red"'],
  ])('refuses %s, naming the slots', (_what, tags, reason, named) => {
    const choice = chooseSlot(slots, tags);
    expect(choice).toMatchObject({ ok: false, reason });
    expect(!choice.ok && choice.message).toContain(named);
  });
});
