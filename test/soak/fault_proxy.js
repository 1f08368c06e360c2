// A TCP proxy in front of a dataset's PostgreSQL server that can be made to fail on demand,
// for the soak suite's dataset faults. Modes (set with setMode):
//   pass       forwards both ways untouched
//   slow       forwards, holding every chunk back for `delayMs` in each direction
//   blackhole  accepts connections and never answers (existing connections go silent too)
//   down       refuses connections (the listening socket is closed; its port stays reserved
//              by nobody, so a connect is refused) and cuts the existing ones
'use strict';
const net = require('node:net');

class FaultProxy {
  constructor({ targetHost = '127.0.0.1', targetPort, delayMs = 150 }) {
    this.target = { host: targetHost, port: targetPort };
    this.delayMs = delayMs;
    this.mode = 'pass';
    this.sockets = new Set();
    this.server = null;
    this.port = 0;
  }

  async start(port = 0) {
    this.server = net.createServer((client) => this.accept(client));
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', resolve);
    });
    this.port = this.server.address().port;
    return this.port;
  }

  accept(client) {
    this.sockets.add(client);
    client.on('close', () => this.sockets.delete(client));
    client.on('error', () => {});
    if (this.mode === 'blackhole') return;  // never read, never answer
    const upstream = net.connect(this.target);
    this.sockets.add(upstream);
    upstream.on('close', () => { this.sockets.delete(upstream); client.destroy(); });
    client.on('close', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    const relay = (from, to) => from.on('data', (chunk) => {
      if (this.mode === 'blackhole') return;
      if (this.mode === 'slow') setTimeout(() => to.writable && to.write(chunk), this.delayMs);
      else if (to.writable) to.write(chunk);
    });
    relay(client, upstream);
    relay(upstream, client);
  }

  async setMode(mode) {
    this.mode = mode;
    if (mode === 'down') {
      for (const socket of this.sockets) socket.destroy();
      if (this.server) await new Promise((resolve) => this.server.close(() => resolve()));
      this.server = null;
    }
  }

  async stop() {
    for (const socket of this.sockets) socket.destroy();
    if (this.server) await new Promise((resolve) => this.server.close(() => resolve()));
    this.server = null;
  }
}

module.exports = { FaultProxy };
