/**
 * The daemon's version: injected by scripts/build-binary.ts as the global
 * CRABTALK_VERSION; when running from source it falls back to package.json
 * with a "-dev" suffix so the two are never confused.
 */
import pkg from "../../package.json" with { type: "json" };

declare const CRABTALK_VERSION: string | undefined;

export const VERSION: string = typeof CRABTALK_VERSION === "string" ? CRABTALK_VERSION : `${pkg.version}-dev`;
