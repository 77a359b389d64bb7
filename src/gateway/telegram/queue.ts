/**
 * Per-chat work queues: each chat runs one turn at a time, in arrival order,
 * and chats never wait for each other (the reference served every chat in
 * one loop, so one long answer held them all). A chat's queue is bounded:
 * a Telegram user can send faster than any model answers, and each queued
 * message is a future provider request.
 */
export const MAX_QUEUED_PER_CHAT = 10;

type Job = () => Promise<void>;

interface Lane {
  running: boolean;
  jobs: Job[];
}

export class ChatQueues {
  private readonly lanes = new Map<number, Lane>();

  constructor(private readonly onError: (chat: number, err: unknown) => void) {}

  /** Queues a job; returns how many jobs are ahead of it (0 = runs now), or null when the queue is full. */
  push(chat: number, job: Job): number | null {
    let lane = this.lanes.get(chat);
    if (!lane) {
      lane = { running: false, jobs: [] };
      this.lanes.set(chat, lane);
    }
    if (lane.jobs.length >= MAX_QUEUED_PER_CHAT) return null;
    const ahead = lane.jobs.length + (lane.running ? 1 : 0);
    lane.jobs.push(job);
    if (!lane.running) void this.drain(chat, lane);
    return ahead;
  }

  queued(chat: number): number {
    return this.lanes.get(chat)?.jobs.length ?? 0;
  }

  /** Drops the chat's waiting jobs (not the running one); returns how many. */
  clear(chat: number): number {
    const lane = this.lanes.get(chat);
    if (!lane) return 0;
    const n = lane.jobs.length;
    lane.jobs = [];
    return n;
  }

  private async drain(chat: number, lane: Lane): Promise<void> {
    lane.running = true;
    for (let job = lane.jobs.shift(); job; job = lane.jobs.shift()) {
      try {
        await job();
      } catch (err) {
        this.onError(chat, err);
      }
    }
    lane.running = false;
    this.lanes.delete(chat);
  }
}
