/**
 * Checks an extension definition once, at defineExtension, and derives what
 * the handshake announces: the capabilities (from which handlers are
 * defined, so an extension never claims a hook it cannot answer) and the
 * tool definitions (JSON Schema as UTF-8 bytes, ext.proto ToolDef).
 * A bad definition throws at start-up with what to fix, not at the first call.
 */
import type { Init } from "../../protocol/codec.ts";
import type { Capability, ToolDef } from "../../protocol/gen/ext.ts";
import type { ExtensionSpec, ToolSpec } from "./types.ts";

/** What model APIs accept as a function name. */
const TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;

export class ExtensionDefinitionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ExtensionDefinitionError";
  }
}

export function checkSpec(spec: ExtensionSpec): void {
  const where = `defineExtension(${JSON.stringify(spec.name)})`;
  if (!spec.name || typeof spec.name !== "string")
    throw new ExtensionDefinitionError('defineExtension: `name` is required (the service name, e.g. "hello")');
  if (!spec.version || typeof spec.version !== "string")
    throw new ExtensionDefinitionError(`${where}: \`version\` is required (e.g. "0.1.0")`);
  const seen = new Set<string>();
  for (const tool of spec.tools ?? []) {
    if (!TOOL_NAME.test(tool.name ?? ""))
      throw new ExtensionDefinitionError(
        `${where}: tool name ${JSON.stringify(tool.name)} is invalid; use 1-64 letters, digits, "_" or "-"`,
      );
    if (seen.has(tool.name)) throw new ExtensionDefinitionError(`${where}: tool ${tool.name} is defined twice`);
    seen.add(tool.name);
    if (typeof tool.handler !== "function")
      throw new ExtensionDefinitionError(`${where}: tool ${tool.name} has no handler(args, ctx) function`);
    const params = tool.parameters as unknown;
    if (typeof params !== "object" || params === null || Array.isArray(params))
      throw new ExtensionDefinitionError(
        `${where}: tool ${tool.name}: \`parameters\` must be a JSON Schema object, e.g. { type: "object", properties: {} }`,
      );
  }
}

/** The ExtReady capabilities of a definition, in ext.proto's table order. */
export function capabilitiesOf(spec: ExtensionSpec): Init<Capability>[] {
  const caps: Init<Capability>[] = [];
  const tools = spec.tools ?? [];
  if (tools.length > 0) caps.push({ tools: { names: tools.map((t) => t.name) } });
  if (spec.query || spec.schema) caps.push({ query: {} });
  if (spec.buildAgent) caps.push({ buildAgent: {} });
  if (spec.beforeRun) caps.push({ beforeRun: {} });
  if (spec.compact) caps.push({ compact: {} });
  if (spec.onEvent) caps.push({ eventObserver: {} });
  if (spec.afterRun) caps.push({ afterRun: {} });
  if (spec.infer) caps.push({ infer: {} });
  if (spec.afterCompact) caps.push({ afterCompact: {} });
  return caps;
}

const utf8 = new TextEncoder();

export function toolDef(tool: ToolSpec): Init<ToolDef> {
  return { name: tool.name, description: tool.description, parameters: utf8.encode(JSON.stringify(tool.parameters)) };
}
