import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNginxOnLoopback } from '../../scripts/cluster/nginx.js';

/** The operators' example, rendered as documented in its header. */
export const GATEWAY_TEMPLATE = fileURLToPath(new URL('../../deploy/gateway/nginx.conf.template', import.meta.url));

export interface Gateway {
  url: string;
  stop(): Promise<void>;
}

/** Replaces every `{{NAME}}`; a placeholder left without a value is an error. */
export function renderTemplate(template: string, values: Record<string, string>): string {
  const rendered = template.replace(/\{\{([A-Z_]+)\}\}/g, (match, name: string) => values[name] ?? match);
  const left = /\{\{[A-Z_]+\}\}/.exec(rendered);
  if (left) throw new Error(`template placeholder ${left[0]} has no value`);
  return rendered;
}

/** Starts nginx from the gateway template in front of `apiUpstream`, authenticating through `jwtUpstream`. */
export async function startGateway(jwtUpstream: string, apiUpstream: string): Promise<Gateway> {
  if (!existsSync(GATEWAY_TEMPLATE)) throw new Error(`${GATEWAY_TEMPLATE} is missing`);
  const template = readFileSync(GATEWAY_TEMPLATE, 'utf8');
  const values = (listen: string) => ({ JWT_UPSTREAM: jwtUpstream, RESOLVER: '127.0.0.1' /* unused: loopback upstreams */, API_UPSTREAM: apiUpstream, LISTEN: listen });
  return startLocalNginx('jwt-gateway-', (listen) => renderTemplate(template, values(listen)), 'daemon off;');
}

/** Starts nginx on a free loopback port with `confFor(listen, dir)`, its files in a temp dir that `stop` removes. */
export async function startLocalNginx(prefix: string, confFor: (listen: string, dir: string) => string, globals?: string): Promise<Gateway> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    const { listen, nginx } = await startNginxOnLoopback(dir, (listen) => confFor(listen, dir), { globals });
    return {
      url: `http://${listen}`,
      async stop() {
        await nginx.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
