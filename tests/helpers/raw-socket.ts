import { connect } from 'node:net';

/** Writes `request` as is on a fresh connection and reads the answer until the server closes it (`Connection: close`); `text` is all it read. */
export function rawSocket(base: string, request: string): Promise<{ status: number; head: string; body: string; text: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    let text = '';
    const socket = connect(Number(port), hostname, () => socket.write(request));
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const [head = '', body = ''] = text.split('\r\n\r\n');
      resolve({ status: Number(head.split(' ')[1]), head, body, text });
    });
  });
}
