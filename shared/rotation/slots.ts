import type { SlotPair } from './contract.js';

/** Tag of a source version: the slot whose credential this version holds (the active slot). */
export const SLOT_TAG = 'relay-slot';
/** Tag of a source version written by a rotation: the slot that was active before it (to retire). */
export const PREVIOUS_SLOT_TAG = 'relay-slot-previous';

/** Which slot to rotate next, read from the latest source version's tags. Pure. */
export type SlotChoice =
  | { readonly ok: true; readonly next: string; readonly previous?: string }
  | { readonly ok: false; readonly reason: 'slot-tag-missing' | 'slot-tag-unknown'; readonly message: string };

/**
 * Chooses the inactive slot. A secret that does not exist yet starts on the first slot with nothing to retire. A
 * secret without a `relay-slot` tag is refused: the relay cannot know which credential its consumers use, so any
 * choice could break them (tag the current version with the slot in use, once).
 */
export function chooseSlot(slots: SlotPair, latestTags: Readonly<Record<string, string>> | undefined): SlotChoice {
  if (latestTags === undefined) return { ok: true, next: slots[0] };
  const active = latestTags[SLOT_TAG];
  if (active === undefined) {
    return {
      ok: false,
      reason: 'slot-tag-missing',
      message: `the latest version has no "${SLOT_TAG}" tag; tag it with the slot in use (${slots.join(' or ')})`,
    };
  }
  const index = slots.indexOf(active);
  if (index < 0) {
    return { ok: false, reason: 'slot-tag-unknown', message: `"${SLOT_TAG}" is "${active}", which is not one of the slots ${slots.join(', ')}` };
  }
  return { ok: true, next: slots[1 - index]!, previous: active };
}
