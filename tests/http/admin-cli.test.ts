import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, PASSWORD, testCluster, uniqueEmail, type TestInstance } from '../helpers/test-app.js';

const root = resolve(import.meta.dirname, '../..');
const tsx = join(root, 'node_modules/.bin/tsx');
const work = mkdtempSync(join(tmpdir(), 'jwt-admin-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('npm run admin (cluster mode, against the test Redis and PostgreSQL)', () => {
  let instance: TestInstance;
  let configFile: string;
  let databaseUrl: string;

  beforeAll(async () => {
    const cluster = await testCluster();
    instance = await cluster.start();
    const { cache, database, auth } = cluster.config;
    databaseUrl = database.url as string;
    // The same backend and keys as the running instance, as an operator's config.yml would have them.
    configFile = join(work, 'config.yml');
    writeFileSync(
      configFile,
      JSON.stringify({
        logging: { level: 'silent' },
        cache: { url: cache.url, key_prefix: cache.key_prefix },
        database: { url: database.url },
        auth: { keys: auth.keys.map(({ kid, value }) => ({ kid, value })), refresh_secret: auth.refresh_secret },
      }),
    );
  });

  /** Runs the CLI as a child process with a clean environment; `stdin` is written and closed. */
  async function admin(args: string[], stdin: string | Buffer = '') {
    const child = spawn(tsx, [join(root, 'src/admin/cli.ts'), ...args], {
      cwd: work,
      env: { PATH: process.env.PATH ?? '', HOME: work, CONFIG_FILE: configFile },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdin.end(stdin);
    const [code] = (await once(child, 'exit')) as [number | null];
    return { code, stdout, stderr };
  }

  const login = (email: string) => call(instance.url, 'POST', '/login', { body: { email, password: PASSWORD } });
  const roles = async (token: string) => (await call(instance.url, 'GET', '/authenticate', { token })).headers.get('x-user-roles');

  it('bootstraps an admin who can use the API, then changes roles, revokes and disables', async () => {
    const email = uniqueEmail();
    const created = await admin(['create-user', '--email', email, '--password-stdin', '--role', 'admin'], `${PASSWORD}\n`);
    expect(created).toMatchObject({ code: 0, stderr: '' });
    expect(created.stdout).toMatch(new RegExp(`^created user [0-9a-f-]{36} ${email} \\(roles: admin\\)\\n$`));
    expect(created.stdout).not.toContain(PASSWORD);

    const first = await login(email);
    expect(first.status).toBe(200);
    const token = first.body?.access_token as string;
    expect(await roles(token)).toBe('admin');
    expect((await call(instance.url, 'GET', `/admin/users?email=${encodeURIComponent(email)}`, { token })).status).toBe(200);

    const changed = await admin(['set-roles', '--email', email.toUpperCase(), '--role', 'admin', '--role', 'ops']);
    expect(changed.code).toBe(0);
    expect(changed.stdout).toContain('admin, ops');
    expect((await call(instance.url, 'GET', '/authenticate', { token })).status).toBe(401);
    const second = (await login(email)).body?.access_token as string;
    expect(await roles(second)).toBe('admin,ops');

    expect((await admin(['revoke-all', '--email', email])).code).toBe(0);
    expect((await call(instance.url, 'GET', '/authenticate', { token: second })).status).toBe(401);

    expect((await admin(['disable', '--email', email])).code).toBe(0);
    expect((await login(email)).body).toMatchObject({ error: 'invalid_credentials' });
    expect((await admin(['enable', '--email', email])).code).toBe(0);
    expect((await login(email)).status).toBe(200);
  }, 60_000);

  it.each([
    ['no command', [], 2, 'a command is required'],
    ['an unknown command', ['promote', '--email', 'a@example.com'], 2, 'unknown command'],
    ['an unknown option', ['disable', '--emial', 'a@example.com'], 2, "Unknown option '--emial'"],
    ['a missing --email', ['disable'], 2, '--email is required'],
    ['set-roles without a role', ['set-roles', '--email', 'a@example.com'], 2, 'at least one --role'],
    ['a bad role', ['set-roles', '--email', 'a@example.com', '--role', 'a,b'], 2, 'is not a role'],
    ['an unknown user', ['disable', '--email', 'nobody@example.test'], 1, 'no user with e-mail nobody@example.test'],
    ['a weak password', ['create-user', '--email', 'weak@example.test', '--password', 'short'], 1, 'at least 8 characters'],
  ])('fails on %s with one line and the documented exit code', async (_name, args, exitCode, message) => {
    const result = await admin(args);
    expect(result.code).toBe(exitCode);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(message);
  }, 30_000);

  it('refuses a password on stdin that is not UTF-8 (each bad byte would read as U+FFFD: two such passwords would hash alike)', async () => {
    const email = uniqueEmail();
    const bytes = Buffer.concat([Buffer.from('abc'), Buffer.from([0xff, 0xfe]), Buffer.from('defghijk\n')]);
    const refused = await admin(['create-user', '--email', email, '--password-stdin'], bytes);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe('admin: the password is not valid UTF-8 text\n');
    expect((await admin(['show', '--email', email])).code).toBe(1);
    // Nothing on stdin is said so, not refused as a short password.
    const empty = await admin(['create-user', '--email', email, '--password-stdin'], '');
    expect(empty.code).toBe(2);
    expect(empty.stderr).toBe('admin: no password on stdin (--password-stdin reads its first line)\n');
    // A CRLF line ending is still not part of the password.
    expect((await admin(['create-user', '--email', email, '--password-stdin'], `${PASSWORD}\r\n`)).code).toBe(0);
    expect((await login(email)).status).toBe(200);
  }, 30_000);

  it('refuses an e-mail that is taken, and prints help', async () => {
    const email = uniqueEmail();
    expect((await admin(['create-user', '--email', email, '--password', PASSWORD])).code).toBe(0);
    const again = await admin(['create-user', '--email', email, '--password-stdin'], PASSWORD);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already exists');
    const help = await admin(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('create-user');
  }, 30_000);

  it('needs only the stores: without signing keys or a refresh secret, which it never uses, every command runs', async () => {
    const storesOnly = join(work, 'stores-only.yml');
    const { cache, database } = JSON.parse(readFileSync(configFile, 'utf8')) as { cache: unknown; database: unknown };
    writeFileSync(storesOnly, JSON.stringify({ logging: { level: 'silent' }, cache, database }));
    const email = uniqueEmail();
    const run = (args: string[]) => admin([...args, '--config', storesOnly]);
    expect(await run(['create-user', '--email', email, '--password', PASSWORD])).toMatchObject({ code: 0, stderr: '' });
    const token = (await login(email)).body?.access_token as string;
    expect((await run(['set-roles', '--email', email, '--role', 'ops'])).code).toBe(0);
    expect((await call(instance.url, 'GET', '/authenticate', { token })).status).toBe(401);
    expect((await run(['revoke-all', '--email', email])).code).toBe(0);
    expect((await run(['disable', '--email', email])).code).toBe(0);
    expect((await run(['enable', '--email', email])).code).toBe(0);
    const shown = await run(['show', '--email', email]);
    expect(shown).toMatchObject({ code: 0, stderr: '' });
    expect(shown.stdout).toContain('roles: ops; enabled');
  }, 60_000);

  /**
   * Runs `command` on a terminal of its own (`script`), whose output — echo included — is what a
   * person would see; resolves `prompted` once the password prompt shows.
   */
  function onTerminal(command: string[]) {
    const child = spawn('script', ['-qec', command.join(' '), '/dev/null'], {
      cwd: work,
      env: { PATH: process.env.PATH ?? '', HOME: work, CONFIG_FILE: configFile },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let shown = '';
    const prompted = new Promise<void>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', () => reject(new Error(`exited before the prompt; it showed: ${shown}`)));
      child.stdout.on('data', (chunk: Buffer) => {
        shown += chunk.toString();
        if (shown.includes('password: ')) resolve();
      });
    });
    const exited = once(child, 'exit') as Promise<[number | null]>;
    return { child, prompted, exited, shown: () => shown };
  }

  it('at a terminal, --password-stdin prompts on stderr and never echoes what is typed', async () => {
    const email = uniqueEmail();
    const terminal = onTerminal([tsx, join(root, 'src/admin/cli.ts'), 'create-user', '--email', email, '--password-stdin']);
    await terminal.prompted;
    // Typed with a mistake erased (backspace), then Enter.
    terminal.child.stdin.write(`${PASSWORD}x\u007f\r`);
    const [code] = await terminal.exited;
    terminal.child.stdin.end();
    expect(code).toBe(0);
    expect(terminal.shown()).toMatch(new RegExp(`created user [0-9a-f-]{36} ${email}`));
    expect(terminal.shown()).not.toContain(PASSWORD);
    expect((await login(email)).status).toBe(200);
  }, 30_000);

  it('gives the terminal back as it found it once the password is read (line editing, Ctrl-C)', async () => {
    const probe = join(work, 'terminal-probe.mts');
    writeFileSync(
      probe,
      `import { execSync } from 'node:child_process';
import { readPasswordLine } from ${JSON.stringify(join(root, 'src/admin/password-input.ts'))};
const password = await readPasswordLine();
const mode = execSync('stty -a', { stdio: ['inherit', 'pipe', 'pipe'] }).toString();
console.log(\`read \${password.length}; \${(mode.match(/-?icanon|-?isig/g) ?? []).sort().join(' ')}\`);
process.exit(0);
`,
    );
    const terminal = onTerminal([tsx, probe]);
    await terminal.prompted;
    terminal.child.stdin.write('secret12\r');
    const [code] = await terminal.exited;
    terminal.child.stdin.end();
    expect(code).toBe(0);
    expect(terminal.shown()).toContain('read 8; icanon isig');
  }, 30_000);

  it('with sessions in a server\'s memory and users in PostgreSQL, refuses the commands that must end sessions', async () => {
    // As `DATABASE_URL=… npm start` with no Redis: a running server holds the sessions in memory.
    const memoryConfig = join(work, 'memory-sessions.yml');
    writeFileSync(memoryConfig, JSON.stringify({ logging: { level: 'silent' }, database: { url: databaseUrl }, auth: { refresh_secret: 'x'.repeat(40) } }));
    const email = uniqueEmail();
    expect((await admin(['--config', memoryConfig, 'create-user', '--email', email, '--password-stdin'], `${PASSWORD}\n`)).code).toBe(0);
    for (const args of [['set-roles', '--email', email, '--role', 'user'], ['disable', '--email', email], ['revoke-all', '--email', email]]) {
      const refused = await admin(['--config', memoryConfig, ...args]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/^admin: .*use the server's \/admin API\n$/);
    }
    // Nothing was changed: the account is enabled, with its roles.
    const shown = await admin(['--config', memoryConfig, 'show', '--email', email]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain('enabled');
    expect(shown.stdout).not.toContain('disabled');
    // A server may be running with live sessions this process cannot see: no count, and no claim that they ended.
    expect(shown.stdout).toMatch(/; live sessions not visible here\n$/);
    expect(shown.stderr).toBe('note: no cache.url: sessions live only in the memory of the server process, which this command cannot see or end\n');
  }, 30_000);

  it('reports a database failure in one line, without the query parameters (e-mail, password hash)', async () => {
    const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
    // Any error that is not a lost connection passes through drizzle, whose message lists the
    // insert's parameters (e.g. a read-only standby, a full disk); a trigger stands in for those.
    await sql.unsafe(`create function refuse_users() returns trigger language plpgsql as $$ begin raise exception 'refused for the test'; end $$;
      create trigger refuse_users before insert on users for each row execute function refuse_users();`);
    try {
      const email = uniqueEmail();
      const failed = await admin(['create-user', '--email', email, '--password-stdin'], `${PASSWORD}\n`);
      expect(failed.code).toBe(1);
      expect(failed.stderr.trim().split('\n')).toHaveLength(1);
      expect(failed.stderr).toMatch(/^admin: .*refused for the test \(unexpected\)\n$/);
      expect(failed.stderr).not.toContain(email);
      expect(failed.stderr).not.toContain('$argon2id$');
    } finally {
      await sql.unsafe('drop trigger refuse_users on users; drop function refuse_users();');
      await sql.end({ timeout: 5 });
    }
  }, 30_000);
});
