import { describe, expect, it } from 'vitest';
import { Foreground, Semaphore } from '../../local/host/durable/semaphore.js';

/** A job that runs until `finish()` is called; `started` tells whether it got a slot. */
function job(): { started: boolean; finish: () => void; run: () => Promise<void> } {
  let finish = (): void => undefined;
  const state = {
    started: false,
    finish: () => finish(),
    run: () =>
      new Promise<void>((resolve) => {
        state.started = true;
        finish = resolve;
      }),
  };
  return state;
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('durable work scheduling (Semaphore with a Foreground)', () => {
  it('runs up to its limit, then starts waiting jobs in arrival order as slots free', async () => {
    const slots = new Semaphore(2);
    const jobs = [job(), job(), job()];
    const done = jobs.map((j) => slots.run(j.run));
    await settle();
    expect(jobs.map((j) => j.started)).toEqual([true, true, false]);
    jobs[1]!.finish();
    await settle();
    expect(jobs[2]!.started).toBe(true);
    jobs[0]!.finish();
    jobs[2]!.finish();
    await Promise.all(done);
    expect(slots.running).toBe(0);
  });

  it('holds waiting jobs while a request is being answered and starts them once it is answered', async () => {
    const foreground = new Foreground({ quietInMs: 0 });
    const slots = new Semaphore(2, { foreground, maxDeferralInMs: 3_600_000 });
    const leave = foreground.enter();
    const jobs = [job(), job(), job()];
    const done = jobs.map((j) => slots.run(j.run));
    await settle();
    expect(jobs.map((j) => j.started)).toEqual([false, false, false]);
    leave();
    await settle();
    expect(jobs.map((j) => j.started)).toEqual([true, true, false]);
    for (const j of jobs) j.finish();
    await settle();
    expect(jobs[2]!.started).toBe(true);
    jobs[2]!.finish();
    await Promise.all(done);
  });

  it('starts a job that has waited long enough while the host stays busy', async () => {
    const foreground = new Foreground({ quietInMs: 0 });
    const slots = new Semaphore(2, { foreground, maxDeferralInMs: 20 });
    const leave = foreground.enter();
    const waiting = job();
    const done = slots.run(waiting.run);
    await expect.poll(() => waiting.started, { timeout: 10_000 }).toBe(true);
    expect(foreground.busy).toBe(true);
    waiting.finish();
    await done;
    leave();
  });

  it('starts one job at a time while a request is being answered (no deferral), and up to the limit once it is answered', async () => {
    const foreground = new Foreground({ quietInMs: 0 });
    const slots = new Semaphore(3, { foreground, maxDeferralInMs: 0 });
    const leave = foreground.enter();
    const jobs = [job(), job(), job(), job()];
    const done = jobs.map((j) => slots.run(j.run));
    await settle();
    // work still progresses while the host answers: one job runs
    expect(jobs.map((j) => j.started)).toEqual([true, false, false, false]);
    jobs[0]!.finish();
    await settle();
    expect(jobs.map((j) => j.started)).toEqual([true, true, false, false]);

    leave();
    await settle();
    expect(jobs.map((j) => j.started)).toEqual([true, true, true, true]);
    expect(slots.running).toBe(3);

    // a new request does not stop running jobs, but nothing more starts until fewer than one runs
    const leaveAgain = foreground.enter();
    const late = job();
    const lateDone = slots.run(late.run);
    jobs[1]!.finish();
    await settle();
    expect(late.started).toBe(false);
    leaveAgain();
    await settle();
    expect(late.started).toBe(true);
    for (const j of [...jobs, late]) j.finish();
    await Promise.all([...done, lateDone]);
    expect(slots.running).toBe(0);
    expect(slots.waiting).toBe(0);
  });

  it('counts a request once however often it is left', () => {
    const foreground = new Foreground({ quietInMs: 0 });
    const first = foreground.enter();
    const second = foreground.enter();
    first();
    first();
    expect(foreground.busy).toBe(true);
    second();
    expect(foreground.busy).toBe(false);
  });

  it('stays busy for a quiet period after the last answer, then starts the waiting jobs', async () => {
    const foreground = new Foreground({ quietInMs: 3_600_000 });
    const slots = new Semaphore(2, { foreground, maxDeferralInMs: 3_600_000 });
    foreground.enter()();
    const waiting = job();
    const done = slots.run(waiting.run);
    await settle();
    // answered, but a burst's next request may be on its way: nothing starts yet
    expect(foreground.busy).toBe(true);
    expect(waiting.started).toBe(false);

    const short = new Foreground({ quietInMs: 20 });
    const shortSlots = new Semaphore(2, { foreground: short, maxDeferralInMs: 3_600_000 });
    short.enter()();
    const later = job();
    const laterDone = shortSlots.run(later.run);
    await expect.poll(() => later.started, { timeout: 10_000 }).toBe(true);
    later.finish();
    await laterDone;
    void done;
  });
});
