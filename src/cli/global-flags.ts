/**
 * Global connection flags. `--socket PATH`, `--tcp [HOST:PORT]`, `--token T`,
 * `--tls` and `--fingerprint SHA256` may come
 * before the command (`crabtalk --tcp status`), as users of dockerd-style
 * tools expect; citty only parses flags after the subcommand, so they are
 * moved behind the command name, where every client command declares them.
 */
const HOST_PORT = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]*):\d{1,5}$/;

export function hoistGlobalFlags(argv: readonly string[]): string[] {
  const hoisted: string[] = [];
  const rest: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("-")) break;
    if ((arg === "--socket" || arg === "--token" || arg === "--fingerprint") && i + 1 < argv.length) {
      hoisted.push(arg, argv[++i]!);
    } else if (
      arg === "--tls" ||
      ["--socket=", "--tcp=", "--token=", "--fingerprint="].some((prefix) => arg.startsWith(prefix))
    ) {
      hoisted.push(arg);
    } else if (arg === "--tcp") {
      const next = argv[i + 1];
      if (next !== undefined && HOST_PORT.test(next)) hoisted.push(`--tcp=${argv[++i]}`);
      else hoisted.push("--tcp");
    } else {
      rest.push(arg);
    }
  }
  if (hoisted.length === 0 || i >= argv.length) return [...argv];
  // rest holds other leading flags (--help...), kept in front; the command name follows, then the hoisted flags.
  return [...rest, argv[i]!, ...hoisted, ...argv.slice(i + 1)];
}
