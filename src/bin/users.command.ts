/**
 * `users add|passwd|token`: dashboard accounts from the command line. A generated password or a new API token is
 * printed once. The flags of `users add` are checked in cli-options.ts before this module loads.
 */
import type { Config } from '../config/config.js';
import { generatePassword, hashPassword, hashSecret, newSecret } from '../dashboard/auth.js';
import { ApiTokenRepository } from '../db/api-token.repository.js';
import { AppError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { UserRole } from './cli-options.js';
import { withRepositories } from './commands.js';
import { openRepositories } from './context.js';

type Print = (text: string) => void;

/** `users add NAME --role R [--password P]`. */
export async function addUser(
  config: Config,
  logger: Logger,
  name: string,
  options: { role: UserRole; password?: string; print: Print },
): Promise<void> {
  const password: string = options.password ?? generatePassword();
  await withRepositories(config, logger, async (repos) => {
    if (await repos.users.findByName(name)) throw new AppError('CONFLICT', `user ${name} already exists`);
    await repos.users.create({ name, role: options.role, passwordHash: await hashPassword(password) });
  });
  options.print(
    options.password
      ? `created ${name} (${options.role})`
      : `created ${name} (${options.role}) with password ${password}`,
  );
}

/** `users passwd NAME [--password P]`: ends the account's sessions and revokes its API tokens. */
export async function setUserPassword(
  config: Config,
  logger: Logger,
  name: string,
  options: { password?: string; print: Print },
): Promise<void> {
  const password: string = options.password ?? generatePassword();
  await withRepositories(config, logger, async (repos) => {
    const user = await repos.users.findByName(name);
    if (!user) throw new AppError('NOT_FOUND', `no user named ${name}`);
    await repos.users.setPassword(user.id, await hashPassword(password));
    await repos.audit.record({ userId: user.id, actor: 'cli', action: 'passwd', origin: 'cli' });
  });
  options.print(options.password ? `password of ${name} changed` : `password of ${name} changed to ${password}`);
}

/** `users token NAME [--label L]`: a personal API token, valid for TAGGER_TOKEN_DAYS. */
export async function createUserToken(
  config: Config,
  logger: Logger,
  name: string,
  options: { label: string; print: Print },
): Promise<void> {
  // The dashboard app (fastify) loads only for this subcommand.
  const { TOKEN_PREFIX } = await import('../dashboard/app.js');
  const secret = `${TOKEN_PREFIX}${newSecret()}`;
  const { db, repos } = await openRepositories(config, logger);
  try {
    const user = await repos.users.findByName(name);
    if (!user) throw new AppError('NOT_FOUND', `no user named ${name}`);
    await new ApiTokenRepository(db.prisma).create({
      userId: user.id,
      name: options.label,
      tokenHash: hashSecret(secret),
      expiresAt: new Date(Date.now() + config.tokenDays * 86_400_000),
    });
    await repos.audit.record({
      userId: user.id,
      actor: 'cli',
      action: 'token',
      detail: { name: options.label },
      origin: 'cli',
    });
  } finally {
    await db.close();
  }
  options.print(secret);
}
