import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ConfigError, loadConfig } from '../../src/config/loader.js';
import { configSchema, revocationReplicas } from '../../src/config/schema.js';
import { parseDuration } from '../../src/config/units.js';

const dir = mkdtempSync(join(tmpdir(), 'jwt-cluster-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileCount = 0;
function writeConfig(text: string): string {
  fileCount += 1;
  const file = join(dir, `config-${fileCount}.yml`);
  writeFileSync(file, text);
  return file;
}

function load(text: string, env: NodeJS.ProcessEnv = {}) {
  return loadConfig({ file: writeConfig(text), env });
}

function errorOf(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('the committed config.yml', () => {
  it('loads with an empty env and equals the schema defaults', () => {
    const config = loadConfig({ env: {} });
    expect(config).toEqual(configSchema.parse({}));
    expect(config.server.port).toBe(8080);
    expect(config.server.body_limit).toBe(16 * 1024);
    expect(config.auth.access_lifetime).toBe(15 * 60_000);
    expect(config.auth.refresh_lifetime).toBe(720 * 3_600_000);
    expect(config.auth.refresh_reuse_grace).toBe(10_000);
    expect(config.auth.keys).toEqual([]);
    expect(config.cache.url).toBeUndefined();
    expect(config.database.url).toBeUndefined();
    expect(config.auth.refresh_secret).toBeUndefined();
  });

  it('takes its URLs and refresh secret from the environment', () => {
    const config = loadConfig({
      env: { REDIS_URL: 'redis://r:6379', DATABASE_URL: 'postgres://d/db', REFRESH_SECRET: 's3cret'.repeat(6) },
    });
    expect(config.cache.url).toBe('redis://r:6379');
    expect(config.database.url).toBe('postgres://d/db');
    expect(config.auth.refresh_secret).toBe('s3cret'.repeat(6));
  });
});

describe('deploy/config.compose.yml', () => {
  it("loads with docker-compose.yml's environment for the jwt replicas, every secret from a mounted file", () => {
    const compose = parse(readFileSync('docker-compose.yml', 'utf8')) as { services: { jwt: { environment: Record<string, string> } } };
    const { REDIS_URL, DATABASE_URL } = compose.services.jwt.environment;
    const warnings: string[] = [];
    const config = loadConfig({ file: 'deploy/config.compose.yml', env: { REDIS_URL, DATABASE_URL }, warnings });
    expect(warnings).toEqual([]);
    expect([config.cache.url, config.database.url]).toEqual(['redis://redis:6379/0', 'postgres://jwt@postgres:5432/jwt']);
    expect([config.cache.password_file, config.database.password_file, config.auth.refresh_secret_file, config.auth.keys[0]?.file]).toEqual([
      '/run/secrets/redis_password',
      '/run/secrets/postgres_password',
      '/run/secrets/refresh_secret',
      '/run/secrets/jwt_signing_key',
    ]);
  });
});

describe('deploy/k8s/configmap.yaml', () => {
  it("loads with secret.example.yaml's URLs, the keys and the refresh secret from the mounted Secret", () => {
    const configMap = parse(readFileSync('deploy/k8s/configmap.yaml', 'utf8')) as { data: { 'config.yml': string } };
    const secret = readFileSync('deploy/k8s/examples/secret.example.yaml', 'utf8');
    const literal = (name: string) => new RegExp(`--from-literal=${name}='([^']+)'`).exec(secret)?.[1];
    const warnings: string[] = [];
    const config = loadConfig({ file: writeConfig(configMap.data['config.yml']), env: { REDIS_URL: literal('REDIS_URL'), DATABASE_URL: literal('DATABASE_URL') }, warnings });
    expect(warnings).toEqual([]);
    expect([config.cache.url, config.database.url]).toEqual([literal('REDIS_URL'), literal('DATABASE_URL')]);
    expect(config.auth.refresh_secret_file).toBe('/etc/jwt-cluster/keys/refresh-secret');
    // /metrics on its own port, which the Service's http port (the Ingress's) does not reach.
    expect(config.server.metrics_port).toBe(9090);
  });
});

describe('defaults', () => {
  it.each(['', '# only a comment\n', 'server:\n'])('treats %j as all defaults', (text) => {
    expect(load(text)).toEqual(configSchema.parse({}));
  });

  it('waits for one replica per revocation on Sentinel, none elsewhere, unless told', () => {
    const sentinel = 'cache:\n  sentinel:\n    name: m\n    nodes: ["s:26379"]\n';
    expect(revocationReplicas(load(sentinel).cache)).toBe(1);
    expect(revocationReplicas(load(`${sentinel}  revocation_replicas: 0\n`).cache)).toBe(0);
    expect(revocationReplicas(load(`${sentinel}  revocation_replicas: 2\n`).cache)).toBe(2);
    expect(revocationReplicas(load('cache:\n  url: redis://r:6379\n').cache)).toBe(0);
    // On a Cluster: none unless asked for (a cluster may have no replicas).
    const cluster = 'cache:\n  cluster:\n    nodes: ["r:6379"]\n';
    expect(revocationReplicas(load(cluster).cache)).toBe(0);
    expect(revocationReplicas(load(`${cluster}  revocation_replicas: 1\n`).cache)).toBe(1);
  });
});

describe('${VAR} interpolation', () => {
  it('replaces a whole value', () => {
    expect(load('cache:\n  url: ${MY_REDIS}\n', { MY_REDIS: 'redis://x:1' }).cache.url).toBe('redis://x:1');
  });

  it('replaces inside a longer string', () => {
    const config = load('database:\n  url: "postgres://app:${PGPASS}@db:5432/app"\n', { PGPASS: 'pw' });
    expect(config.database.url).toBe('postgres://app:pw@db:5432/app');
  });

  it('uses the :-default when the variable is unset or empty', () => {
    expect(load('cache:\n  key_prefix: ${PREFIX:-app:}\n').cache.key_prefix).toBe('app:');
    expect(load('cache:\n  key_prefix: "${PREFIX:-app}:"\n', { PREFIX: '' }).cache.key_prefix).toBe('app:');
    expect(load('cache:\n  key_prefix: ${PREFIX:-app:}\n', { PREFIX: 'x:' }).cache.key_prefix).toBe('x:');
  });

  it('treats an exact ${VAR} that is unset or empty as not given', () => {
    expect(load('cache:\n  url: ${NOPE}\n').cache.url).toBeUndefined();
    expect(load('cache:\n  url: ${NOPE}\n', { NOPE: '' }).cache.url).toBeUndefined();
    expect(load('server:\n  port: ${NOPE}\n').server.port).toBe(8080);
  });

  it('rejects an unset variable inside a longer string, naming key and variable', () => {
    const error = errorOf(() => load('database:\n  url: "postgres://${DB_HOST}/app"\n'));
    expect(error.message).toContain('database.url');
    expect(error.message).toContain('DB_HOST');
  });

  it('writes $${ as a literal ${, and leaves a bare $NAME alone', () => {
    expect(load('auth:\n  issuer: "a$${B}c ${C}"\n', { B: 'never', C: 'd' }).auth.issuer).toBe('a${B}c d');
    expect(load('auth:\n  issuer: "$HOST"\n', { HOST: 'never' }).auth.issuer).toBe('$HOST');
    expect(load('auth:\n  issuer: "${UNSET:-x$${y}"\n  audience: "a ${UNSET:-b$${c}"\n').auth).toMatchObject({ issuer: 'x${y', audience: 'a b${c' });
  });

  it('interpolates inside lists of mappings', () => {
    const config = load('auth:\n  keys:\n    - kid: k1\n      value: ${KEY}\n', { KEY: 'material' });
    expect(config.auth.keys).toEqual([{ kid: 'k1', value: 'material', file: undefined, sign: true }]);
  });
});

describe('env overrides', () => {
  const base = 'server:\n  port: 1234\nlogging:\n  level: warn\n  mode: text\ncache:\n  url: redis://file\n';

  it.each([
    ['PORT', '9090', (c: ReturnType<typeof load>) => c.server.port, 9090],
    ['REDIS_URL', 'redis://env', (c: ReturnType<typeof load>) => c.cache.url, 'redis://env'],
    ['DATABASE_URL', 'postgres://env/db', (c: ReturnType<typeof load>) => c.database.url, 'postgres://env/db'],
    ['LOG_LEVEL', 'debug', (c: ReturnType<typeof load>) => c.logging.level, 'debug'],
    ['LOG_MODE', 'json', (c: ReturnType<typeof load>) => c.logging.mode, 'json'],
    ['REFRESH_SECRET', 'x'.repeat(32), (c: ReturnType<typeof load>) => c.auth.refresh_secret, 'x'.repeat(32)],
    ['INSTANCE_ID', 'jwt-7', (c: ReturnType<typeof load>) => c.server.instance_id, 'jwt-7'],
  ] as const)('%s overrides the file', (name, value, pick, expected) => {
    expect(pick(load(base, { [name]: value }))).toBe(expected);
  });

  it('names the variable when a rule about several keys refuses what it set', () => {
    const { message } = errorOf(() => load('cache:\n  sentinel:\n    name: m\n    nodes: ["s:26379"]\n', { REDIS_URL: 'redis://r:6379' }));
    expect(message).toContain('cache: give only one of url, sentinel or cluster (set by env REDIS_URL)');
    const password = errorOf(() => load('cache:\n  password_file: /run/secrets/redis\n', { REDIS_URL: 'redis://:s3cretpw@r:6379' }));
    expect(password.message).toContain('cache: give the Redis password in one place: password_file, or the url (sentinel.password, cluster.password) (set by env REDIS_URL)');
    expect(password.message).not.toContain('s3cretpw');
  });

  it('names the variable when the refresh secret it set is too short, without showing it', () => {
    const { message } = errorOf(() => load(base, { REFRESH_SECRET: 'short-secret' }));
    expect(message).toContain('auth.refresh_secret: needs at least 32 bytes (set by env REFRESH_SECRET)');
    expect(message).not.toContain('short-secret');
    // Counted in bytes: 11 × 3 UTF-8 bytes pass.
    expect(load(base, { REFRESH_SECRET: '€'.repeat(11) }).auth.refresh_secret).toBe('€'.repeat(11));
  });

  it('replaces a value whose own variables are unset, never reading them', () => {
    const file = 'cache:\n  url: "redis://${REDIS_HOST}:6379/0"\nserver:\n  port: "${PORT_BASE}0"\n';
    expect(load(file, { REDIS_URL: 'redis://env:6379/1', PORT: '8081' })).toMatchObject({ cache: { url: 'redis://env:6379/1' }, server: { port: 8081 } });
    expect(errorOf(() => load(file, { PORT: '8081' })).message).toContain('cache.url: environment variable REDIS_HOST is not set');
  });

  it('ignores empty override variables', () => {
    const config = load(base, { PORT: '', REDIS_URL: '', LOG_LEVEL: '' });
    expect(config.server.port).toBe(1234);
    expect(config.cache.url).toBe('redis://file');
    expect(config.logging.level).toBe('warn');
  });

  it('validates an override and names the variable', () => {
    const error = errorOf(() => load(base, { LOG_LEVEL: 'verbose' }));
    expect(error.message).toContain('logging.level');
    expect(error.message).toContain('LOG_LEVEL');
  });
});

describe('choosing the file', () => {
  const portFile = (port: number) => writeConfig(`server:\n  port: ${port}\n`);

  it('reads CONFIG_FILE', () => {
    expect(loadConfig({ env: { CONFIG_FILE: portFile(1003) } }).server.port).toBe(1003);
  });

  it('prefers the file given (--config) over CONFIG_FILE', () => {
    const config = loadConfig({ file: portFile(1005), env: { CONFIG_FILE: portFile(1004) } });
    expect(config.server.port).toBe(1005);
  });

  it('falls back to ./config.yml', () => {
    expect(loadConfig({ env: { CONFIG_FILE: '' } })).toEqual(configSchema.parse({}));
  });

  it('fails on a named file that does not exist', () => {
    const missing = join(dir, 'missing.yml');
    expect(errorOf(() => loadConfig({ env: { CONFIG_FILE: missing } })).message).toContain(missing);
  });

  it('fails on an empty path (--config=)', () => {
    expect(errorOf(() => loadConfig({ file: '', env: {} })).message).toBe('--config: needs a file path (--config PATH)');
  });
});

describe('bad files', () => {
  it.each([
    ['unknown top-level key', 'bogus: 1\n', 'bogus: unknown key'],
    ['unknown nested key', 'auth:\n  bogus: 1\n', 'auth.bogus: unknown key'],
    ['unknown key in a list item', 'auth:\n  keys:\n    - kid: a\n      file: a.pem\n      color: red\n', 'auth.keys[0].color: unknown key'],
    ['bad duration', 'auth:\n  access_lifetime: x\n', 'auth.access_lifetime: "x" is not a duration'],
    ['zero auto-logout', 'auth:\n  auto_logout: 0s\n', 'auth.auto_logout: must be longer than 0 (got "0s")'],
    ['zero refresh lifetime', 'auth:\n  refresh_lifetime: "0"\n', 'auth.refresh_lifetime: must be longer than 0'],
    ['zero Redis command timeout', 'cache:\n  command_timeout: 0ms\n', 'cache.command_timeout: must be longer than 0'],
    ['an audit retention that would empty the trail', 'audit:\n  retention: 30m\n', 'audit.retention: must be 0 (keep them for ever) or at least 1h'],
    ['bad size', 'server:\n  body_limit: huge\n', 'server.body_limit: "huge" is not a size'],
    ['bad enum', 'logging:\n  level: verbose\n', 'logging.level: "verbose" is not one of'],
    ['negative port', 'server:\n  port: -1\n', 'server.port: -1 is too small'],
    ['port out of range', 'server:\n  port: 70000\n', 'server.port: 70000 is too big'],
    ['wrong type', 'auth:\n  refresh_cookie: "yes"\n', 'auth.refresh_cookie: expected true or false, got "yes"'],
    ['a number for a flag', 'limits:\n  enabled: 0\n', 'limits.enabled: expected true or false, got number'],
    ['a secret-like string for a flag, not shown', 'limits:\n  enabled: "Zm9vYmFyYmF6cXV4"\n', 'limits.enabled: expected true or false, got a string of 16 characters'],
    ['section of the wrong type', 'server: 5\n', 'server: expected a mapping, got number'],
    ['duration as a number', 'auth:\n  auto_logout: 60\n', 'auth.auto_logout: 60 has no unit'],
    ['a bare 0 where 0 is refused', 'auth:\n  auto_logout: 0\n', 'auth.auto_logout: must be longer than 0 (got "0")'],
    ['YAML syntax error', 'server:\n  port: 1\n  host: a: b\n', 'line 3, column'],
    ['duplicate key', 'server:\n  port: 1\n  port: 2\n', 'line 3'],
    ['top level a list', '- server\n- auth\n', 'top level must be a mapping'],
    ['key with both file and value', 'auth:\n  keys:\n    - kid: a\n      file: a.pem\n      value: abc\n', 'auth.keys[0]: give exactly one of file or value'],
    ['key with neither file nor value', 'auth:\n  keys:\n    - kid: a\n', 'auth.keys[0]: give exactly one of file or value'],
    ['empty string', 'cache:\n  key_prefix: ""\n', 'cache.key_prefix: must not be empty'],
    ['list instead of a mapping', 'logging: [json]\n', 'logging: expected a mapping, got a list'],
    ['bad kid', 'auth:\n  keys:\n    - kid: a b\n      file: a.pem\n', 'auth.keys[0].kid:'],
    ['a hash tag in the key prefix', 'cache:\n  key_prefix: "{jwt}:"\n', 'cache.key_prefix: may not contain { or }'],
    ['min_length above max_length', 'passwords:\n  min_length: 64\n  max_length: 32\n', 'passwords.min_length: must not exceed passwords.max_length'],
    ['headers timeout above the request timeout', 'server:\n  headers_timeout: 40s\n', 'server.headers_timeout: must not exceed server.request_timeout'],
    ['metrics port equal to the port', 'server:\n  port: 9000\n  metrics_port: 9000\n', 'server.metrics_port: must differ from server.port'],
    ['unknown key left empty', 'auth:\n  acess_lifetime:\n', 'auth.acess_lifetime: unknown key'],
    ['unknown section left empty', 'bogus_section:\n', 'bogus_section: unknown key'],
    ['unknown key of an unset variable', 'auth:\n  refersh_secret: ${UNSET_FOR_THE_TEST}\n', 'auth.refersh_secret: unknown key'],
    ['a wait longer than a timer can', 'server:\n  shutdown_grace: 1000h\n', 'server.shutdown_grace: must be at most 596h'],
    ['an absurd lifetime', 'auth:\n  access_lifetime: 99999999999999999999h\n', 'auth.access_lifetime: must be at most 87600h'],
    ['keep-alive of 0 (Node: no timeout at all)', 'server:\n  keep_alive_timeout: "0"\n', 'server.keep_alive_timeout: must be longer than 0'],
    ['a body limit no login fits in', 'server:\n  body_limit: 0\n', 'server.body_limit: must be between 1kb'],
    ['access tokens outliving refresh tokens', 'auth:\n  access_lifetime: 2h\n  refresh_lifetime: 1h\n', 'auth.access_lifetime: must not exceed auth.refresh_lifetime'],
    ['a clock tolerance as long as the access lifetime', 'auth:\n  access_lifetime: 1m\n  clock_tolerance: 1m\n', 'auth.clock_tolerance: must be shorter than auth.access_lifetime'],
    ['a Redis URL that is no URL', 'cache:\n  url: "redis:/:s3cretpw@host:6379"\n', 'cache.url: must be a redis:// or rediss:// URL'],
    ['a Redis password in the url and a file', 'cache:\n  url: "redis://:pw@h:6379"\n  password_file: /run/secrets/redis\n', 'cache: give the Redis password in one place'],
    [
      'a Redis Cluster password and a file',
      'cache:\n  cluster:\n    nodes: ["h:7000"]\n    password: pw\n  password_file: /run/secrets/redis\n',
      'cache: give the Redis password in one place',
    ],
    [
      'a Sentinel data password and a file',
      'cache:\n  sentinel:\n    name: m\n    nodes: ["s:26379"]\n    password: pw\n  password_file: /run/secrets/redis\n',
      'cache: give the Redis password in one place',
    ],
    ['a PostgreSQL password in the url and a file', 'database:\n  url: "postgres://jwt:pw@db/jwt"\n  password_file: /run/secrets/pg\n', 'database: give the PostgreSQL password in one place'],
    ['a database URL of another scheme', 'database:\n  url: "https://u:s3cretpw@db/x"\n', 'database.url: must be a postgres:// or postgresql:// URL'],
    ['a short refresh secret', 'auth:\n  refresh_secret: "too short"\n', 'auth.refresh_secret: needs at least 32 bytes'],
    ['a long reuse grace', 'auth:\n  refresh_reuse_grace: 1h\n', 'auth.refresh_reuse_grace: must be at most 5m'],
    ['a __proto__ key (it would set the mapping\'s prototype)', 'server:\n  __proto__:\n    port: 9999\n', 'server.__proto__: unknown key'],
    ['a __proto__ section', '__proto__:\n  server:\n    port: 9999\n', '__proto__: unknown key'],
    ['an alias with no anchor', 'server:\n  port: *nope\n', 'invalid YAML: Unresolved alias'],
    ['aliases that expand past the limit', `a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [${'*a, '.repeat(9)}*a]\nc: &c [${'*b, '.repeat(9)}*b]\nd: [${'*c, '.repeat(9)}*c]\n`, 'invalid YAML: Excessive alias count'],
    ['a shell placeholder form that is not supported', 'auth:\n  refresh_secret: "${REFRESH_SECRET:?must be set}"\n', 'auth.refresh_secret: unsupported placeholder'],
    ['a placeholder with a plain dash default', 'server:\n  host: "${HOST-127.0.0.1}"\n', 'server.host: unsupported placeholder'],
    ['an unclosed placeholder', 'server:\n  host: "${HOST"\n', 'server.host: unsupported placeholder'],
    ['a password with a slash left unencoded', 'cache:\n  url: "redis://:hun/ter2@h:6379"\n', 'cache.url: is not a valid URL'],
    ['a port out of range', 'cache:\n  url: "redis://h:99999/0"\n', 'cache.url: is not a valid URL'],
    ['a broken percent-encoding', 'database:\n  url: "postgres://u:p%zz@db/x"\n', 'database.url: is not a valid URL'],
    ['a password with # left unencoded', 'database:\n  url: "postgres://u:Sec/ret#Pw@db/x"\n', 'database.url: is not a valid URL'],
    ['a password with @ left unencoded (postgres.js 3 split at the first, 4 at the last)', 'database:\n  url: "postgres://u:p@x@h1/db"\n', 'database.url: is not a valid URL'],
    ['a second PostgreSQL host with a bad port', 'database:\n  url: "postgres://u@h1:5432,h2:99999/db"\n', 'database.url: is not a valid URL'],
    ['an empty second PostgreSQL host', 'database:\n  url: "postgres://u@h1,/db"\n', 'database.url: is not a valid URL'],
    ['an IPv6 PostgreSQL host with no closing bracket', 'database:\n  url: "postgres://u@[::1:5432/db"\n', 'database.url: is not a valid URL'],
    ['an IPv6 PostgreSQL host with no brackets', 'database:\n  url: "postgres://u@::1/db"\n', 'database.url: is not a valid URL'],
    ['an IPv6 PostgreSQL host with a zone', 'database:\n  url: "postgres://u@h1,[fe80::1%25eth0]:5432/db"\n', 'database.url: is not a valid URL'],
    ['a PostgreSQL host in brackets that is no IPv6 address', 'database:\n  url: "postgres://u@[db]:5432/db"\n', 'database.url: is not a valid URL'],
    ['a second IPv6 PostgreSQL host with a bad port', 'database:\n  url: "postgres://u@[::1]:5432,[::2]:99999/db"\n', 'database.url: is not a valid URL'],
    ['a Redis database path of two slashes', 'cache:\n  url: "redis://h:6379//"\n', 'cache.url: the database after the host must be a number'],
    ['a Redis database that is no number', 'cache:\n  url: "redis://h:6379/abc"\n', 'cache.url: the database after the host must be a number'],
    ['an empty host', 'server:\n  host: ""\n', 'server.host: must not be empty'],
    ['a cluster node port out of range', 'cache:\n  cluster:\n    nodes: ["h:99999"]\n', 'cache.cluster.nodes[0]: must be host:port or [ipv6]:port'],
    ['a sentinel node with no port', 'cache:\n  sentinel:\n    name: m\n    nodes: ["::1"]\n', 'cache.sentinel.nodes[0]: must be host:port or [ipv6]:port'],
    ['a body limit past 1mb', 'server:\n  body_limit: 99999999mb\n', 'server.body_limit: must be between 1kb'],
    ['a Redis ?password= beside a file', 'cache:\n  url: "redis://h:6379/0?password=pw"\n  password_file: /run/secrets/redis\n', 'cache: give the Redis password in one place'],
    ['an idle window within the activity throttle', 'auth:\n  auto_logout: 1s\n', 'auth.auto_logout: must be above 1s'],
    [
      'an idle window within the revocation cache age',
      'cache:\n  revocation: cached\n  revocation_cache_max_age: 30s\nauth:\n  auto_logout: 30s\n',
      'auth.auto_logout: must be above 1s, and in cached revocation mode above cache.revocation_cache_max_age',
    ],
  ])('%s', (_name, text, expected) => {
    const file = writeConfig(text);
    const { message } = errorOf(() => loadConfig({ file, env: {} }));
    expect(message).toContain(expected);
    expect(message.startsWith(`${file}: `)).toBe(true);
    expect(message).not.toContain('\n');
  });

  it('takes a password_file beside a url with a user name but no password, or a sentinel password', () => {
    const config = load('cache:\n  url: "redis://default@h:6379/0"\n  password_file: /run/secrets/redis\ndatabase:\n  url: "postgres://jwt@db/jwt"\n  password_file: /run/secrets/pg\n');
    expect([config.cache.password_file, config.database.password_file]).toEqual(['/run/secrets/redis', '/run/secrets/pg']);
    const sentinel = load('cache:\n  sentinel:\n    name: m\n    nodes: ["s:26379"]\n    sentinel_password: ${SENTINEL_PASSWORD}\n  password_file: /run/secrets/redis\n', { SENTINEL_PASSWORD: 'pw' });
    expect(sentinel.cache.password_file).toBe('/run/secrets/redis');
  });

  it('takes the URLs drivers take: several PostgreSQL hosts, query options, IPv6 hosts, encoded passwords, a trailing slash', () => {
    for (const url of ['postgres://u@h1:5432,h2:5433/db?target_session_attrs=read-write', 'postgresql://u:p%2Fw%23d%40@db:5432/db', 'postgres://u@h', 'postgres:///jwt', 'postgres://u@[::1]:5432/db', 'postgres://u@[fd00::5],h2:5433,[fd00::6]:5434/db']) {
      expect(load(`database:\n  url: "${url}"\n`).database.url).toBe(url);
    }
    for (const url of ['rediss://u:p%40x@h:6380/1?family=6', 'redis://h:6379/0/', 'redis://h:6379/', 'redis://[::1]:6379', 'redis://h']) {
      expect(load(`cache:\n  url: "${url}"\n`).cache.url).toBe(url);
    }
  });

  it('takes Sentinel and Cluster nodes as host:port or [ipv6]:port', () => {
    const nodes = ['redis-1:6379', '10.0.0.5:7000', '[::1]:26379', '[fd00::5]:6379'];
    expect(load(`cache:\n  cluster:\n    nodes: ${JSON.stringify(nodes)}\n`).cache.cluster?.nodes).toEqual(nodes);
  });

  it('takes a bare 0 as a duration, as Go does (the one duration without a unit)', () => {
    expect(load('auth:\n  refresh_reuse_grace: 0\n').auth.refresh_reuse_grace).toBe(0);
  });

  it("reads every form of Go's time.ParseDuration, to whole milliseconds (a positive one to at least 1 ms)", () => {
    expect(['1h30m', '1.5h', '90m', '5400s', '+1h30m'].map(parseDuration)).toEqual(Array(5).fill(5_400_000));
    expect(['.5s', '0.5s', '5.s', '500ms', '500000us', '500000µs', '500000μs', '500000000ns'].map(parseDuration)).toEqual([500, 500, 5_000, 500, 500, 500, 500, 500]);
    expect(['1us', '400us', '1ns', '1.4ms', '1.6ms'].map(parseDuration)).toEqual([1, 1, 1, 1, 2]);
    expect(['', '.', 's', '1', '-1s', '1d', '1 s', '1.2.3s', 'ms', '0s0'].map(parseDuration)).toEqual(Array(10).fill(null));
    expect(parseDuration('0s')).toBe(0);
  });

  it('keeps a multi-line value on one line', () => {
    const { message } = errorOf(() => load('auth:\n  access_lifetime: |\n    15m\n    oops\n'));
    expect(message).toContain('auth.access_lifetime');
    expect(message).not.toContain('\n');
  });

  it('warns of a credential written in the file itself, never of one given by ${VAR}, and never repeats it', () => {
    const warningsOf = (text: string, env: NodeJS.ProcessEnv = {}) => {
      const warnings: string[] = [];
      loadConfig({ file: writeConfig(text), env, warnings });
      return warnings;
    };
    const secret = 'a-literal-secret-of-thirty-two-chars!';
    const written = warningsOf(
      `auth:\n  refresh_secret: "${secret}"\ncache:\n  url: "redis://:hunter2hunter2@cache:6379"\ndatabase:\n  url: "postgres://jwt@db:5432/jwt"\n`,
    );
    expect(written).toHaveLength(2);
    expect(written[0]).toContain('auth.refresh_secret is written in the file');
    expect(written[1]).toContain('cache.url is written in the file');
    expect(written.join(' ')).not.toContain(secret);
    expect(written.join(' ')).not.toContain('hunter2');
    const fromEnv = warningsOf('auth:\n  refresh_secret: ${REFRESH_SECRET}\ncache:\n  url: "redis://:${REDIS_PASSWORD}@cache:6379"\n', { REFRESH_SECRET: secret, REDIS_PASSWORD: 'hunter2hunter2' });
    expect(fromEnv).toEqual([]);
    // A default written after `:-`, or a password beside a variable, is in the file all the same.
    const defaults = warningsOf(`auth:\n  refresh_secret: \${REFRESH_SECRET:-${secret}}\ncache:\n  url: "redis://:hunter2hunter2@\${REDIS_HOST}:6379"\n`, { REDIS_HOST: 'cache' });
    expect(defaults.map((warning) => warning.split(' is written')[0]?.split(': ').pop())).toEqual(['auth.refresh_secret', 'cache.url']);
  });

  it('never echoes a secret value', () => {
    const { message } = errorOf(() => load('auth:\n  refresh_secret: 123456789\n'));
    expect(message).toContain('auth.refresh_secret');
    expect(message).not.toContain('123456789');
    const sentinel = errorOf(() => load('cache:\n  sentinel:\n    name: m\n    nodes: ["s:26379"]\n    password: 12345678901\n'));
    expect(sentinel.message).toContain('cache.sentinel.password');
    expect(sentinel.message).not.toContain('12345678901');
    expect(errorOf(() => load('cache:\n  url: "redis:/:s3cretpw@h:6379"\n')).message).not.toContain('s3cretpw');
  });

  it('takes every boolean as true/false text too (from ${VAR}), in any case', () => {
    const env = { ON: 'True', OFF: 'FALSE' };
    const config = load(
      'auth:\n  refresh_cookie: ${ON}\npasswords:\n  reject_common: ${OFF}\naudit:\n  enabled: ${OFF}\nserver:\n  cors:\n    origins: ["https://a.example"]\n    credentials: ${ON}\ncache:\n  allow_rollback: ${ON}\nlogging:\n  authenticate_successes: ${ON}\n',
      env,
    );
    expect([config.auth.refresh_cookie, config.passwords.reject_common, config.audit.enabled, config.server.cors.credentials, config.cache.allow_rollback, config.logging.authenticate_successes]).toEqual([true, false, false, true, true, true]);
  });
});
