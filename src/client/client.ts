/**
 * The crabtalk client SDK: one connection to the daemon carrying any number
 * of concurrent requests and streams, multiplexed by request id.
 *
 *   const client = await CrabtalkClient.connect();          // $CRABTALK_HOME socket
 *   const pong = await client.request({ ping: {} });
 *   for await (const reply of client.stream({ stream: { agent: "crab", content: "hi" } })) {
 *     if (reply.stream?.chunk) process.stdout.write(reply.stream.chunk.content);
 *   }
 *   client.close();
 *
 * `request()` resolves with the first reply; `stream()` yields replies until
 * the stream's terminal frame (StreamEnd for a turn) and throws DaemonError
 * when the daemon answers ErrorMsg. Breaking out of a long-lived stream
 * (subscribeEvents, attach) sends Unsubscribe for it. Both take an optional
 * AbortSignal, and request() a timeoutMs; either cancels at the daemon too.
 *
 * Correlation, cancellation, timeouts and the in-flight cap are the
 * transport's RequestChannel; this file only says what crabtalk.proto
 * messages mean. Request ids are the channel's (numbers from 1); replies
 * carry `requestId` as a RequestId (number, or bigint above 2^53 - 1).
 */
import { connectPipe, type FramedPipe } from "../transport/pipe.ts";
import { CertificateRefused } from "../transport/socket.ts";
import { ConnectionClosed } from "../transport/framing.ts";
import { DaemonError, DaemonNotRunning, Disconnected } from "./errors.ts";
import { describeEndpoint, resolveEndpoint, type EndpointOptions } from "./endpoint.ts";
import { clientMessage, serverMessage } from "../protocol/codec.ts";
import { ClientCore, clientChannel, type ClientRequestOptions, type PipeClientOptions } from "./core.ts";

/** The codec generated ahead of time (src/protocol/codec.ts), the same one the dashboard uses in the browser. */
const MESSAGES = { encode: clientMessage.encode, decode: serverMessage.decode };

export type { ClientRequestOptions };

export class CrabtalkClient extends ClientCore {
  /** A client over an already open pipe (any carrier); closing the client closes the pipe. */
  static override fromPipe(pipe: FramedPipe, messages = MESSAGES, options: PipeClientOptions = {}): CrabtalkClient {
    return new CrabtalkClient(clientChannel(pipe, messages, options));
  }

  /**
   * Connects over the Unix socket (default) or TCP (optionally TLS). With a
   * token, authenticates before resolving (a wrong one rejects with
   * DaemonError 401). Throws DaemonNotRunning with how to start it, and
   * CertificateRefused when a TLS certificate does not match its pin.
   */
  static async connect(options: EndpointOptions = {}): Promise<CrabtalkClient> {
    const client = await CrabtalkClient.open(options);
    if (options.token && options.tcp) {
      try {
        await client.request({ auth: { token: options.token } });
      } catch (err) {
        client.close();
        throw err;
      }
    }
    return client;
  }

  private static async open(options: EndpointOptions): Promise<CrabtalkClient> {
    const endpoint = resolveEndpoint(options);
    try {
      const pipe = await connectPipe(endpoint);
      return CrabtalkClient.fromPipe(pipe);
    } catch (err) {
      if (err instanceof CertificateRefused || err instanceof ConnectionClosed) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      if (
        code === "ENOENT" ||
        code === "ECONNREFUSED" ||
        code === "FailedToOpenSocket" ||
        /connect|ENOENT|refused/i.test(String(err))
      ) {
        throw new DaemonNotRunning(describeEndpoint(endpoint), code);
      }
      throw err;
    }
  }
}

export { CertificateRefused, DaemonError, DaemonNotRunning, Disconnected };
