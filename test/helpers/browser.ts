// Debian's Chromium driven by playwright-core, as every browser test launches it (DESIGN §8): headless, no sandbox,
// no GPU, no background traffic, in a throw-away profile.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export interface LaunchedChromium {
  context: BrowserContext;
  /** The context's first page. */
  page: Page;
  /** Closes the browser and removes its profile. */
  close(): Promise<void>;
}

export async function launchChromium(
  options: { viewport?: { width: number; height: number } } = {},
): Promise<LaunchedChromium> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'bt-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    ...(options.viewport ? { viewport: options.viewport } : {}),
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    close: async () => {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
