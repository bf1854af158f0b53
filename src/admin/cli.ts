import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import { ConfigError, loadConfig } from '../config/loader.js';
import type { Config } from '../config/schema.js';
import { type AdminCliDeps, closeDeps, createAdminDeps, isEmbedded } from '../deps.js';
import { AppError } from '../errors.js';
import { safeError } from '../observability/safe-error.js';
import { parseCommandLine, UsageError } from '../util/cli-args.js';
import { PasswordEntryCancelled, readPasswordLine } from './password-input.js';
import { type Actor, createUser, disableUser, enableUser, getUserByEmail, parseRoles, revokeUserSessions, setUserRoles } from './users.js';

const USAGE = `Usage: npm run admin -- <command> [options]

Operates on users directly in the database and session store of config.yml (no API needed).

Commands:
  create-user --email E (--password-stdin | --password P) [--role R ...]
                          create an account (roles default to "user")
  set-roles   --email E --role R [--role R ...]
                          replace the roles; every session of the user ends
  disable     --email E   refuse logins; every session of the user ends
  enable      --email E   allow logins again
  revoke-all  --email E   end every session of the user (all its tokens die)
  show        --email E   print the account and its number of live sessions

Options:
  --config PATH           config file (default: CONFIG_FILE, else ./config.yml)
  --password-stdin        read the password from the first line of stdin, or at a
                          terminal as typed, not echoed (preferred: --password leaves
                          it in the shell history and process list)
  -h, --help              show this help

Exit status: 0 done, 1 failed (unknown user, e-mail taken, weak password, store
unavailable, bad config), 2 usage error (unknown command or option, bad role).`;

/** No `cache.url`: sessions live in a server's memory. With PGlite that server is stopped (it holds the data directory). */
const MEMORY_SESSIONS_NOTE = {
  pglite:
    'note: embedded mode: sessions live only in the memory of the server process, which this command cannot reach; ' +
    'they ended when that server stopped (it must be stopped to use this command: PGlite in the data directory serves one process)',
  postgres: 'note: no cache.url: sessions live only in the memory of the server process, which this command cannot see or end',
};


type Options = { email?: string | undefined; password?: string | undefined; 'password-stdin'?: boolean | undefined; role?: string[] | undefined };
type Command = (deps: AdminCliDeps, options: Options) => Promise<string>;

/** Sessions live in the memory of a server that may be running (no `cache.url`, users in PostgreSQL). */
const sessionsElsewhere = (config: Config) => isEmbedded(config) && Boolean(config.database.url);

const actor: Actor = {};

function requiredEmail(options: Options): string {
  if (!options.email) throw new UsageError('--email is required');
  return options.email;
}

async function readPassword(options: Options): Promise<string> {
  if (options.password !== undefined && options['password-stdin']) throw new UsageError('give --password or --password-stdin, not both');
  if (options.password !== undefined) return options.password;
  if (!options['password-stdin']) throw new UsageError('--password-stdin (or --password) is required');
  return readPasswordLine();
}

function roles(options: Options, { atLeastOne }: { atLeastOne: boolean }): string[] {
  const given = options.role ?? [];
  if (atLeastOne && given.length === 0) throw new UsageError('at least one --role is required');
  return parseRoles(given);
}

const commands: Record<string, Command> = {
  async 'create-user'(deps, options) {
    const email = requiredEmail(options);
    const wanted = roles(options, { atLeastOne: false });
    const password = await readPassword(options);
    const user = await createUser(deps, actor, { email, password, roles: wanted });
    return `created user ${user.id} ${user.email} (roles: ${user.roles.join(', ') || 'none'})`;
  },
  async 'set-roles'(deps, options) {
    const wanted = roles(options, { atLeastOne: true });
    const target = await getUserByEmail(deps, requiredEmail(options));
    const user = await setUserRoles(deps, actor, target.id, wanted);
    return `roles of ${user.email} are now: ${user.roles.join(', ')}; every session of the user ended (new logins carry the new roles)`;
  },
  async disable(deps, options) {
    const target = await getUserByEmail(deps, requiredEmail(options));
    const user = await disableUser(deps, actor, target.id);
    return `disabled ${user.email}; every session of the user ended and logins are refused`;
  },
  async enable(deps, options) {
    const target = await getUserByEmail(deps, requiredEmail(options));
    const user = await enableUser(deps, actor, target.id);
    return `enabled ${user.email}; the user can log in again`;
  },
  async 'revoke-all'(deps, options) {
    const user = await getUserByEmail(deps, requiredEmail(options));
    await revokeUserSessions(deps, actor, user.id);
    return `ended every session of ${user.email}; all of its tokens are revoked`;
  },
  async show(deps, options) {
    const user = await getUserByEmail(deps, requiredEmail(options));
    const sessions = sessionsElsewhere(deps.config) ? 'live sessions not visible here' : `${(await deps.sessions.list(user.id)).length} live session(s)`;
    const state = user.disabledAt ? `disabled since ${user.disabledAt.toISOString()}` : 'enabled';
    return `${user.id} ${user.email} roles: ${user.roles.join(', ') || 'none'}; ${state}; created ${user.createdAt.toISOString()}; ${sessions}`;
  },
};

/** Changes the session store: in embedded mode that store is another process's memory. */
const TOUCHES_SESSIONS = new Set(['set-roles', 'disable', 'enable', 'revoke-all', 'show']);
/** Commands whose point is to end the user's sessions. */
const ENDS_SESSIONS = new Set(['set-roles', 'disable', 'revoke-all']);

function parse(argv: string[]) {
  return parseCommandLine({
    args: argv,
    allowPositionals: true,
    options: {
      email: { type: 'string' },
      password: { type: 'string' },
      'password-stdin': { type: 'boolean' },
      role: { type: 'string', multiple: true },
      config: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

/** Warnings (a Redis without noeviction, a data directory others can read) go to stderr; stdout is the result. */
const stderrLogger = (): Logger =>
  pino(
    { level: 'warn', base: null, serializers: { err: safeError } },
    pretty({ destination: 2, sync: true, colorize: process.stderr.isTTY === true, ignore: 'pid,hostname' }),
  );

/**
 * An unexpected error as one line: its message without the query parameters a driver appends
 * (drizzle's carry e-mails and password hashes), then its cause's (PostgreSQL's own words).
 */
function oneLine(error: unknown): string {
  const first = (text: unknown) => String(text ?? '').split('\n')[0]?.trim() ?? '';
  const { message, cause } = safeError(error);
  const because = cause && typeof cause === 'object' ? first((cause as { message?: unknown }).message) : '';
  return [first(message), because].filter(Boolean).join(': ');
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const [name, ...extra] = positionals;
  if (name === undefined) throw new UsageError('a command is required');
  const command = commands[name];
  if (!command) throw new UsageError(`unknown command "${name}"`);
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0] ?? ''}"`);

  const config = loadConfig({ file: values.config });
  // Sessions in a server's memory but users in a shared PostgreSQL: a server may be running (no
  // data-directory lock guards PostgreSQL), and this process cannot end its sessions. Changing the
  // user here would leave them live on the old roles, or on a disabled account, for their lifetime.
  if (sessionsElsewhere(config) && ENDS_SESSIONS.has(name)) {
    throw new AppError('forbidden', `${name}: sessions live in the memory of the server (no cache.url), which this command cannot reach; use the server's /admin API`);
  }
  const deps = await createAdminDeps(config, stderrLogger());
  try {
    const message = await command(deps, values);
    process.stdout.write(`${message}\n`);
    if (isEmbedded(config) && TOUCHES_SESSIONS.has(name)) process.stderr.write(`${MEMORY_SESSIONS_NOTE[sessionsElsewhere(config) ? 'postgres' : 'pglite']}\n`);
    return 0;
  } finally {
    await closeDeps(deps);
  }
}

function exitCode(error: unknown): number {
  if (error instanceof UsageError) return 2;
  if (error instanceof AppError) return error.code === 'invalid_request' ? 2 : 1;
  return 1;
}

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    // One line, never a stack trace: the operator needs what is wrong, not where.
    const known = error instanceof UsageError || error instanceof AppError || error instanceof ConfigError || error instanceof PasswordEntryCancelled;
    const hint = error instanceof UsageError ? ' (see --help)' : '';
    process.stderr.write(`admin: ${known ? (error as Error).message : `${oneLine(error)} (unexpected)`}${hint}\n`);
    process.exit(exitCode(error));
  },
);
