/**
 * Attachments: a photo (its largest size) or a document is fetched with
 * getFile and the Bot API's file route, and saved under the agent's cwd in
 * inbox/, named by date and Telegram's unique file id so two uploads never
 * collide. Over the cap (default 20 MB, Telegram's own getFile limit) it
 * is refused before any download. The agent reads the saved path in the
 * message text.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { basename, extname, join } from "node:path";
import type { Api } from "grammy/web";
import type { Message } from "grammy/types";

export interface Attachment {
  fileId: string;
  uniqueId: string;
  size?: number;
  name: string;
  mime?: string;
}

export function attachmentOf(msg: Message): Attachment | null {
  const photo = msg.photo?.at(-1);
  if (photo)
    return {
      fileId: photo.file_id,
      uniqueId: photo.file_unique_id,
      size: photo.file_size,
      name: "photo.jpg",
      mime: "image/jpeg",
    };
  const doc = msg.document;
  if (doc)
    return {
      fileId: doc.file_id,
      uniqueId: doc.file_unique_id,
      size: doc.file_size,
      name: doc.file_name ?? "document",
      mime: doc.mime_type,
    };
  return null;
}

export class TooLarge extends Error {}

/**
 * The body, refused as soon as it passes maxBytes: the size Telegram declares
 * may be missing (a self-hosted Bot API server allows 2 GB files), so the cap
 * is counted while reading, never after holding the whole file.
 */
async function readCapped(res: Response, maxBytes: number, tooLarge: () => Error): Promise<Uint8Array> {
  const declared = Number(res.headers.get("content-length") ?? Number.NaN);
  if (declared > maxBytes) {
    await res.body?.cancel();
    throw tooLarge();
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = res.body?.getReader();
  if (!reader) return new Uint8Array(0);
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  return bytes;
}

export async function saveAttachment(
  api: Api,
  file: { token: string; apiRoot: string },
  a: Attachment,
  dir: string,
  maxBytes: number,
): Promise<string> {
  const limit = `${Math.round(maxBytes / 1024 / 1024)} MB`;
  if (a.size !== undefined && a.size > maxBytes)
    throw new TooLarge(`${a.name} is ${(a.size / 1024 / 1024).toFixed(1)} MB; the limit is ${limit}`);
  const info = await api.getFile(a.fileId);
  if (!info.file_path) throw new Error(`Telegram gave no download path for ${a.name}`);
  if (info.file_size !== undefined && info.file_size > maxBytes)
    throw new TooLarge(`${a.name} is ${(info.file_size / 1024 / 1024).toFixed(1)} MB; the limit is ${limit}`);
  const res = await fetch(`${file.apiRoot}/file/bot${file.token}/${info.file_path}`);
  if (!res.ok) throw new Error(`downloading ${a.name} failed: HTTP ${res.status}`);
  const bytes = await readCapped(res, maxBytes, () => new TooLarge(`${a.name} is over the limit of ${limit}`));
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, "-");
  // extname never holds a "/", but a long or odd one would make the name unwritable.
  const ext = (extname(a.name) || extname(info.file_path) || "").replace(/[^\w.]+/g, "_").slice(0, 16);
  const stem =
    basename(a.name, extname(a.name))
      .replace(/[^\w.-]+/g, "_")
      .slice(0, 60) || "file";
  const path = join(dir, `${stamp}-${a.uniqueId.replace(/[^\w-]+/g, "_")}-${stem}${ext}`);
  writeFileSync(path, bytes, { mode: 0o600 });
  return path;
}
