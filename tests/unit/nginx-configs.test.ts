import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderBalancerConf } from '../../scripts/cluster/nginx-conf.js';
import { renderTemplate } from '../cluster/gateway.js';

/** The trimmed lines of the block that opens with `header` (e.g. `location @too_large {`), braces included. */
function block(conf: string, header: string): string[] {
  const lines = conf.split('\n').map((line) => line.trim());
  const start = lines.indexOf(header);
  if (start === -1) throw new Error(`no "${header}" block`);
  let depth = 0;
  for (let end = start; end < lines.length; end++) {
    const line = lines[end] as string;
    depth += (line.match(/\{/g)?.length ?? 0) - (line.match(/\}/g)?.length ?? 0);
    if (depth === 0) return lines.slice(start, end + 1);
  }
  throw new Error(`"${header}" block is not closed`);
}

/** A config's lines, trimmed, comments dropped: a directive commented out is not there. */
const directives = (conf: string) => conf.split('\n').map((line) => line.replace(/#.*/, '').trim());

/** The directives of the (first) `server` block itself, its nested blocks left out: where an error_page applies to every request. */
function serverLevel(conf: string): string[] {
  const lines = directives(conf);
  const level: string[] = [];
  let depth = 0;
  for (const line of lines.slice(lines.indexOf('server {'))) {
    const change = (line.match(/\{/g)?.length ?? 0) - (line.match(/\}/g)?.length ?? 0);
    if (depth === 1 && change === 0) level.push(line);
    depth += change;
    if (depth === 0) return level;
  }
  throw new Error('no closed server block');
}

/** What follows a config's header comment (its first empty line), as the README's regeneration recipe cuts it. */
const afterHeader = (text: string) => text.slice(text.indexOf('\n\n') + 2);

/** The internal pages of what nginx refuses before routing, and the server-level directives sending refusals there. */
const refusalPages = ['400', '404', '405', '414'].map((status) => `location = /_nginx/${status} {`);
const refusalDirectives = ['error_page 400 501 505 =400 /_nginx/400;', 'error_page 404 /_nginx/404;', 'error_page 405 /_nginx/405;', 'error_page 414 /_nginx/414;'];

// The cluster tests run npm run cluster's nginx and the gateway template; deploy/nginx.conf needs a newer nginx than this machine's.
describe('nginx configs kept in step', () => {
  it("npm run cluster's nginx answers its own refusals as deploy/nginx.conf does", () => {
    const deployed = readFileSync('deploy/nginx.conf', 'utf8');
    const local = renderBalancerConf({ listen: '127.0.0.1:4000', dir: '/tmp/nginx', upstreams: ['127.0.0.1:8080'] });
    for (const header of ['location ^~ /metrics {', 'location ~ ^/(refresh|logout|logout-all|revoke)/?$ {', 'location @unavailable {', 'location @too_large {', 'location @headers_too_large {', ...refusalPages]) {
      expect(block(local, header), header).toEqual(block(deployed, header));
    }
    for (const directive of ['error_page 502 504 = @unavailable;', 'error_page 413 = @too_large;', 'error_page 494 = @headers_too_large;', ...refusalDirectives]) {
      expect(serverLevel(local), directive).toContain(directive);
      expect(serverLevel(deployed), directive).toContain(directive);
    }
    for (const directive of ['client_max_body_size 16k;', 'large_client_header_buffers 4 16k;', 'client_header_timeout 10s;', 'client_body_timeout 10s;', 'send_timeout 10s;']) {
      expect(directives(local), directive).toContain(directive);
      expect(directives(deployed), directive).toContain(directive);
    }
    // nginx's own answers get the headers of an instance's answers, from the same maps (the request id's names nginx's own id map).
    const ownHeaders = ['X-Request-Id $own_request_id', 'Cache-Control $own_no_store', 'X-Content-Type-Options $own_nosniff', 'X-Frame-Options $own_frame', 'Referrer-Policy $own_referrer', 'Retry-After $own_retry_after'].map(
      (header) => `add_header ${header} always;`,
    );
    for (const conf of [local, deployed]) {
      expect(serverLevel(conf).filter((line) => line.startsWith('add_header'))).toEqual(ownHeaders);
      // A location with an add_header of its own would inherit none of these.
      expect(directives(conf).filter((line) => line.startsWith('add_header'))).toEqual(ownHeaders);
    }
    const maps = (conf: string) => directives(conf).filter((line) => line.startsWith('map ') && line.includes('$own_') && !line.includes('$own_request_id'));
    expect(maps(local)).toHaveLength(5);
    expect(maps(local)).toEqual(maps(deployed));
  });

  it("the gateway example answers nginx's refusals before routing as deploy/nginx.conf does", () => {
    const deployed = readFileSync('deploy/nginx.conf', 'utf8');
    const gateway = readFileSync('deploy/gateway/nginx.conf.template', 'utf8');
    for (const header of refusalPages) expect(block(gateway, header), header).toEqual(block(deployed, header));
    for (const directive of refusalDirectives) expect(serverLevel(gateway), directive).toContain(directive);
    // /auth/ sets error_page of its own, so it inherits none: a malformed body there is its own.
    expect(block(gateway, 'location /auth/ {')).toContain('error_page 400 =400 /_nginx/400;');
  });

  it('deploy/gateway/nginx.conf is its template rendered with the compose values', () => {
    const template = readFileSync('deploy/gateway/nginx.conf.template', 'utf8');
    const rendered = readFileSync('deploy/gateway/nginx.conf', 'utf8');
    const values = { JWT_UPSTREAM: 'jwt:8080 resolve', RESOLVER: '127.0.0.11', API_UPSTREAM: 'api:80 resolve', LISTEN: '80' };
    expect(afterHeader(rendered)).toBe(renderTemplate(afterHeader(template), values));
  });
});
