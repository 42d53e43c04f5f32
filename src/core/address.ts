// host:port addresses as Catena prints and takes them (`127.0.0.1:7000`, `[::1]:7000`).

/** Host and port of a `host:port` address (IPv6 hosts in brackets), or undefined if it is not one. */
export function splitAddress(address: string): { host: string; port: number } | undefined {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, Math.max(colon, 0)).replace(/^\[(.*)\]$/, '$1');
  const portText = address.slice(colon + 1);
  const port = Number(portText);
  if (colon <= 0 || host === '' || !/^\d+$/.test(portText) || port < 1 || port > 65535) return undefined;
  return { host, port };
}
