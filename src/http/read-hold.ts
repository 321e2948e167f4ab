/**
 * Stops reading a node:http connection while too many of its pipelined requests wait (httpd does
 * not read a connection's next request before the one under way is done), and reads it again
 * once they drain.
 *
 * node:http's parser takes its bytes straight from the socket's handle, so `socket.pause()` is
 * what stops it: node's own 'pause' listener stops the handle reading, its 'resume' listener
 * starts it again (a chunk already read is still parsed whole). node:http resumes sockets of its
 * own accord: whenever a request's body is read, and so whenever a response finishes (it dumps
 * the request's unread body), and when a backlog of responses that made it pause drains
 * (`_http_server.js`: parserOnIncoming pauses, socketOnDrain resumes). None of that may end a
 * hold, so a held socket is paused again on every 'resume'. A `resume()` followed by a `pause()`
 * in the same tick leaves the stream not flowing but the handle reading once the deferred
 * resume runs ('pause' is only emitted on a change of flow): then the 'pause' event itself is
 * what makes node stop the handle.
 */
import type { Socket } from "node:net";

export class ReadHold {
  /** Sockets not read now. */
  private readonly held = new WeakSet<Socket>();
  /** Sockets that carry the re-pausing 'resume' listener (added once, at their first hold). */
  private readonly watched = new WeakSet<Socket>();

  isHeld(socket: Socket): boolean {
    return this.held.has(socket);
  }

  hold(socket: Socket): void {
    if (this.held.has(socket)) return;
    this.held.add(socket);
    if (!this.watched.has(socket)) {
      this.watched.add(socket);
      socket.on("resume", () => {
        if (this.held.has(socket)) stopReading(socket);
      });
    }
    stopReading(socket);
  }

  /**
   * Read the socket again, unless node:http has paused it itself because its responses are
   * backed up (`_paused`, with its parser paused too): its drain handler resumes it then, and
   * data read before that would reach a paused parser (node asserts it never does).
   */
  release(socket: Socket): void {
    if (!this.held.delete(socket)) return;
    if (!socket.destroyed && (socket as Socket & { _paused?: boolean })._paused !== true) socket.resume();
  }

  /** The socket is going away: forget the hold without reading again. */
  forget(socket: Socket): void {
    this.held.delete(socket);
  }
}

function stopReading(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket.readableFlowing === false) socket.emit("pause");
  else socket.pause();
}
