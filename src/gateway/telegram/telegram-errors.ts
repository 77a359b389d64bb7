/**
 * Reading Telegram's refusals: a 429 carries retry_after; a 400 about
 * entities means our MarkdownV2 was refused (fall back to plain text); "not
 * modified" means the edit had nothing to change (not a failure).
 */
import { GrammyError } from "grammy/web";

export function retryAfterSeconds(err: unknown): number | null {
  if (err instanceof GrammyError && err.error_code === 429) return err.parameters.retry_after ?? 1;
  return null;
}

export function isEntityRefusal(err: unknown): boolean {
  return err instanceof GrammyError && err.error_code === 400 && /entit|parse/i.test(err.description);
}

export function isNotModified(err: unknown): boolean {
  return err instanceof GrammyError && err.error_code === 400 && /not modified/i.test(err.description);
}

/** A short line for the log; never the token (grammy's messages name the method, not the URL). */
export function describeTelegramError(err: unknown): string {
  if (err instanceof GrammyError) return `${err.method}: ${err.error_code} ${err.description}`;
  return (err as Error)?.message ?? String(err);
}
