import type { ClientTCP } from '@nestjs/microservices';
import type { Socket } from 'node:net';

/**
 * Closes a Nest TCP client for good. `ClientTCP.close()` only half-closes its socket, which then
 * lingers until the peer closes its side, and a hung or black-holed peer never does.
 */
export function closeTcpClient(client: ClientTCP): void {
  let socket: Socket | undefined;
  try {
    socket = client.unwrap<Socket>();
  } catch {
    socket = undefined; // never connected
  }
  client.close();
  socket?.destroy();
}
