import { existsSync, readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { urlHasPassword } from './fields.js';
import { configSchema } from './schema.js';
import type { Config } from './schema.js';

/** Thrown for any unusable configuration; the message is one line naming the file, key path and problem. */
export class ConfigError extends Error {
  override name = 'ConfigError';

  constructor(message: string) {
    super(message.replace(/\s*[\r\n]+\s*/g, ' '));
  }
}

/** Where {@link loadConfig} looks; every field defaults to the running process. */
export interface LoadConfigOptions {
  /** Config file to read (the command line's `--config`); wins over `CONFIG_FILE`. */
  file?: string;
  /** Environment for `${VAR}` interpolation and overrides (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** Collects what is allowed but unwise (a secret written in the file), one line each, for the caller to log. */
  warnings?: string[];
}

type Path = readonly PropertyKey[];

const DEFAULT_FILE = 'config.yml';

/** Env vars that replace a config value when set and non-empty, applied after interpolation. */
const ENV_OVERRIDES = [
  ['PORT', ['server', 'port']],
  ['REDIS_URL', ['cache', 'url']],
  ['DATABASE_URL', ['database', 'url']],
  ['LOG_LEVEL', ['logging', 'level']],
  ['LOG_MODE', ['logging', 'mode']],
  ['REFRESH_SECRET', ['auth', 'refresh_secret']],
  ['INSTANCE_ID', ['server', 'instance_id']],
] as const;

/** Keys whose values may hold credentials; their values never appear in an error message. */
const SECRET_KEYS: ReadonlySet<PropertyKey> = new Set(['refresh_secret', 'value', 'url', 'password', 'sentinel_password']);

const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;
const WHOLE_PLACEHOLDER = new RegExp(`^${PLACEHOLDER.source}$`);
/** A placeholder, the escape `$${` (a literal `${`), or any other `${`: a form not supported (`${VAR:?…}`, `${VAR-…}`, unclosed). */
const DOLLAR_BRACE = new RegExp(`\\$\\$\\{|${PLACEHOLDER.source}|\\$\\{`, 'g');

/**
 * Loads and validates the configuration.
 *
 * The file is `options.file`, else env `CONFIG_FILE`, else `./config.yml` if it exists, else none
 * (all defaults). In every string value `${VAR}` and `${VAR:-default}` are replaced from env,
 * `$${` is a literal `${`, and any other `${` is refused; a value that is exactly `${VAR}` with
 * VAR unset or empty means "not given", like a key left empty. Then `PORT`, `REDIS_URL`,
 * `DATABASE_URL`, `LOG_LEVEL`, `LOG_MODE`, `REFRESH_SECRET` and `INSTANCE_ID` override their keys.
 *
 * @throws {ConfigError} naming the first bad key (unknown key, wrong type or value, unset variable)
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const { env = process.env } = options;
  if (options.file === '') throw new ConfigError('--config: needs a file path (--config PATH)');
  const file = options.file ?? nonEmpty(env.CONFIG_FILE);
  const source = file ?? (existsSync(DEFAULT_FILE) ? DEFAULT_FILE : undefined);
  const label = source ?? 'config (no file)';

  const raw = source === undefined ? {} : readYaml(source, file !== undefined);
  for (const path of writtenSecrets(raw, [])) {
    options.warnings?.push(`${label}: ${formatPath(path)} is written in the file: give secrets by environment (\${VAR}) or file (password_file, refresh_secret_file, auth.keys[].file), never in a config that may be committed`);
  }
  const given = ENV_OVERRIDES.filter(([name]) => nonEmpty(env[name]) !== undefined);
  // The values the overrides replace are not interpolated: their own variables need not be set.
  const document = interpolate(raw, [], env, label, new Set(given.map(([, target]) => target.join('.'))));
  const overridden = applyEnvOverrides(document, env, given);

  const result = configSchema.safeParse(document, { reportInput: true });
  if (result.success) return result.data;
  const [issue] = result.error.issues;
  if (issue === undefined) throw new ConfigError(`${label}: invalid configuration`);
  const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0] ?? '?'] : issue.path;
  // An override of the key itself, or of one inside the mapping a rule about several keys refused.
  const fromEnv = overridden.find(([, target]) => sameStart(path, target) || sameStart(target, path));
  const suffix = fromEnv ? ` (set by env ${fromEnv[0]})` : '';
  const secret = SECRET_KEYS.has(path.at(-1) ?? '');
  throw new ConfigError(`${label}: ${formatPath(path)}: ${describeIssue(issue, secret)}${suffix}`);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value ? value : undefined;
}

function readYaml(file: string, explicit: boolean): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    const hint = explicit && code === 'ENOENT' ? 'file not found' : `cannot read (${code})`;
    throw new ConfigError(`${file}: ${hint}`);
  }
  const doc = parseDocument(text);
  const [syntaxError] = doc.errors;
  if (syntaxError) {
    const start = syntaxError.linePos?.[0];
    const where = start ? `line ${start.line}, column ${start.col}` : 'syntax';
    const reason = firstLine(syntaxError.message).replace(/ at line \d+, column \d+:?$/, '');
    throw new ConfigError(`${file}: ${where}: invalid YAML: ${reason}`);
  }
  let data: unknown;
  try {
    data = doc.toJS();
  } catch (error) {
    // An alias with no anchor before it, or one expanding past the alias limit (a "billion laughs").
    throw new ConfigError(`${file}: invalid YAML: ${firstLine(error instanceof Error ? error.message : String(error))}`);
  }
  if (data === null || data === undefined) return {};
  if (!isMapping(data)) {
    throw new ConfigError(`${file}: top level must be a mapping of sections (server, logging, cache, ...), got ${typeName(data)}`);
  }
  return data;
}

/** Credentials that appear in the file itself, not through a `${VAR}`: secrets, key material, URLs with a password. */
function writtenSecrets(value: unknown, path: Path): Path[] {
  if (Array.isArray(value)) return value.flatMap((item, index) => writtenSecrets(item, [...path, index]));
  if (!isMapping(value)) return [];
  return Object.entries(value).flatMap(([key, item]) => {
    const at = [...path, key];
    if (typeof item !== 'string') return writtenSecrets(item, at);
    // What the file itself says: a `${VAR}` is not in it, a `${VAR:-default}`'s default is.
    const written = item.replace(PLACEHOLDER, (_match, _name: string, fallback: string | undefined) => fallback ?? '');
    const secret = key === 'url' ? urlHasPassword(written) : SECRET_KEYS.has(key) && written !== '';
    return secret ? [at] : [];
  });
}

/**
 * Replaces `${VAR}` in every string but those at `skip` (`section.key` paths); mapping entries
 * that end up null become `undefined` ("not given": the default applies), kept so that an unknown
 * key is still refused with an empty value.
 */
function interpolate(value: unknown, path: Path, env: NodeJS.ProcessEnv, label: string, skip: ReadonlySet<string>): unknown {
  if (typeof value === 'string') return skip.has(path.join('.')) ? value : interpolateString(value, path, env, label);
  if (Array.isArray(value)) return value.map((item, index) => interpolate(item, [...path, index], env, label, skip));
  if (!isMapping(value)) return value;
  const result: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    // Assigned, it would set the mapping's prototype: its keys would pass as the mapping's own.
    if (key === '__proto__') throw new ConfigError(`${label}: ${formatPath([...path, key])}: unknown key`);
    const resolved = interpolate(item, [...path, key], env, label, skip);
    result[key] = resolved ?? undefined;
  }
  return result;
}

/** A `${VAR:-default}`'s default as written, its `$${` read as `${` like everywhere else. */
const unescaped = (fallback: string | undefined) => fallback?.replaceAll('$${', '${');

function interpolateString(text: string, path: Path, env: NodeJS.ProcessEnv, label: string): string | null {
  const exact = WHOLE_PLACEHOLDER.exec(text);
  if (exact) return nonEmpty(env[exact[1] as string]) ?? nonEmpty(unescaped(exact[2])) ?? null;
  return text.replace(DOLLAR_BRACE, (match, name: string | undefined, fallback: string | undefined) => {
    if (match === '$${') return '${';
    if (name === undefined) {
      throw new ConfigError(`${label}: ${formatPath(path)}: unsupported placeholder: use \${VAR} or \${VAR:-default} (and $\${ for a literal \${)`);
    }
    const value = nonEmpty(env[name]) ?? unescaped(fallback);
    if (value === undefined) {
      throw new ConfigError(`${label}: ${formatPath(path)}: environment variable ${name} is not set (use \${${name}:-default} for a fallback)`);
    }
    return value;
  });
}

/** Sets each of `overrides` (those whose variable is set) in `document`; returns those it could set. */
function applyEnvOverrides(document: unknown, env: NodeJS.ProcessEnv, overrides: readonly (typeof ENV_OVERRIDES)[number][]): (typeof ENV_OVERRIDES)[number][] {
  if (!isMapping(document)) return [];
  return overrides.filter(([name, [section, key]]) => {
    const current = document[section] ?? {};
    // A section that is not a mapping is left for the schema to report.
    if (!isMapping(current)) return false;
    document[section] = { ...current, [key]: env[name] };
    return true;
  });
}

function describeIssue(issue: z.core.$ZodIssue, secret: boolean): string {
  const input = (value: unknown) => (secret ? typeName(value) : describeValue(value));
  const shown = (value: unknown) => (secret ? 'the value' : show(value));
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.length > 1 ? `unknown key (also unknown: ${issue.keys.slice(1).join(', ')})` : 'unknown key';
    case 'invalid_type':
      return issue.input === undefined ? 'is required' : `expected ${yamlType(issue.expected)}, got ${input(issue.input)}`;
    case 'invalid_union': {
      const expected = issue.errors.flat().flatMap((inner) => (inner.code === 'invalid_type' ? [yamlType(inner.expected)] : []));
      return expected.length > 0 ? `expected ${expected.join(' or ')}, got ${input(issue.input)}` : issue.message;
    }
    case 'invalid_value':
      return `${shown(issue.input)} is not one of ${issue.values.map(String).join(', ')}`;
    case 'too_small':
      if (issue.origin === 'string' && Number(issue.minimum) === 1) return 'must not be empty';
      return `${shown(issue.input)} is too small (${boundText(issue.origin, 'at least', issue.minimum)})`;
    case 'too_big':
      return `${shown(issue.input)} is too big (${boundText(issue.origin, 'at most', issue.maximum)})`;
    default:
      return firstLine(issue.message);
  }
}

/** Zod's type names in the words of YAML. */
function yamlType(expected: string): string {
  if (expected === 'object') return 'a mapping';
  if (expected === 'array') return 'a list';
  return expected;
}

function boundText(origin: string, relation: string, bound: number | bigint): string {
  if (origin === 'string') return `${relation} ${bound} characters`;
  if (origin === 'array') return `${relation} ${bound} items`;
  return `${relation} ${bound}`;
}

/** `auth.keys[0].kid`; the empty path is the top level. */
function formatPath(path: Path): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else text += text === '' ? String(segment) : `.${String(segment)}`;
  }
  return text === '' ? '(top level)' : text;
}

function sameStart(path: Path, prefix: Path): boolean {
  return prefix.every((segment, index) => path[index] === segment);
}

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return typeName(value);
}

function describeValue(value: unknown): string {
  const type = typeName(value);
  return typeof value === 'object' || value === undefined ? type : `${type} ${show(value)}`;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return typeof value;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0]?.trim() ?? text;
}
