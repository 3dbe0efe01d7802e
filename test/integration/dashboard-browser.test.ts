import { existsSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createApiKey } from '@lumbar/db';
import { serve, type Running } from '@lumbar/server';
import { storescu } from '../helpers/dcmtk';
import { makeTmpDir } from '../helpers/files';
import { freePorts, startOrthanc, type OrthancPeer } from '../helpers/orthanc';
import { generatePhantom, studyDirs } from '../helpers/phantom';
import { useTestDatabase } from '../helpers/db';
import { serveEnv } from '../helpers/serve-env';
import { waitFor } from '../helpers/wait';

// The operator dashboard in a real browser (Debian's chromium, headless), against a whole node on loopback:
// a study analysed, one of its two exports failed (the second PACS is down), retried from the page once
// that PACS is up. Screenshots go to $LUMBAR_TEST_ARTIFACTS/dashboard (or a temp folder), printed below.
const CHROMIUM = '/usr/bin/chromium';
const t = useTestDatabase();
const ADMIN = 'lk_dashadm1_0123456789abcdefghijklmnopqrstuvwxyz';
const READ = 'lk_dashrd01_0123456789abcdefghijklmnopqrstuvwxyz';
const WAIT = 15_000;
const describeIf = existsSync(CHROMIUM) ? describe : describe.skip;

let orthanc: OrthancPeer;
let second: OrthancPeer | undefined;
let secondPort: number;
let running: Running;
let browser: Browser;
let page: Page;
let studyDir: string;
let base: string;
const artifacts = path.join(
  process.env.LUMBAR_TEST_ARTIFACTS || path.join(os.tmpdir(), 'lumbar-test-artifacts'),
  'dashboard',
);

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
}

async function login(key: string): Promise<void> {
  await page.locator('#key').fill(key);
  await page.locator('#login button').click();
  await page.locator('#out').waitFor({ state: 'visible', timeout: WAIT });
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) return;
  mkdirSync(artifacts, { recursive: true });
  const [dicomPort, downPort] = await freePorts(2);
  secondPort = downPort;
  orthanc = await startOrthanc({
    aet: 'ORTHANC',
    modalities: { lumbar: ['LUMBAR', '127.0.0.1', dicomPort] },
  });
  running = await serve(
    undefined,
    serveEnv(t.url, {
      LUMBAR_DICOM_PORT: String(dicomPort),
      LUMBAR_API_HOST: '127.0.0.1',
      LUMBAR_STABLE_SECONDS: '2',
      // the second PACS is down until the test starts it: its export fails after one attempt
      LUMBAR_DESTINATIONS: `ORTHANC@127.0.0.1:${orthanc.dicomPort},SECOND@127.0.0.1:${downPort}`,
      LUMBAR_EXPORT_ATTEMPTS: '1',
      LUMBAR_EXPORT_BACKOFF_MS: '0',
      LUMBAR_EXPORT_TIMEOUT_MS: '5000',
      LUMBAR_ALLOWED_CALLERS: 'STORESCU@127.0.0.1',
      LUMBAR_BOOTSTRAP_API_KEY: ADMIN,
      LUMBAR_LOG_LEVEL: 'silent',
    }),
  );
  await createApiKey(t.db, ['read'], 'dashboard reader', READ);
  base = `http://127.0.0.1:${running.ports.api}`;
  const phantomOut = makeTmpDir('lumbar-dash-');
  await generatePhantom(phantomOut, 2027, 1);
  studyDir = studyDirs(phantomOut)[0];
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], timeout: 30_000 });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(WAIT);
  console.log(`dashboard screenshots: ${artifacts}`);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await running?.stop();
  await second?.stop();
  await orthanc?.stop();
});

describeIf('operator dashboard in a browser', () => {
  it('asks for a key, then shows the analysed study, its findings, key image and the failed export', async () => {
    await page.goto(`${base}/dashboard`, { timeout: WAIT });
    await page.locator('#login').waitFor({ state: 'visible' });
    await shot('01-login');
    await login(READ);
    expect(await page.locator('#scopes').textContent()).toContain('read');
    expect(await page.locator('#board').isHidden()).toBe(true);

    const run = await storescu({
      port: running.ports.dicom!,
      aec: 'LUMBAR',
      aet: 'STORESCU',
      paths: [studyDir],
    });
    expect(run.results.every((r) => r.status === 0)).toBe(true);

    // the page polls: the study appears with its findings, then its failed export to the second PACS
    const study = page.locator('.study').first();
    await study.locator('table.findings').waitFor({ state: 'visible', timeout: 90_000 });
    const levels = await study.locator('table.findings td:first-child').allTextContents();
    expect(levels).toEqual(expect.arrayContaining(['L4-L5', 'L5-S1']));
    await study.locator('img[data-key-image]').first().waitFor({ state: 'visible' });
    await waitFor(
      'the key image decoded',
      () =>
        study
          .locator('img[data-key-image]')
          .first()
          .evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth > 0),
      WAIT,
    );
    await page
      .locator('#failures td', { hasText: `SECOND@127.0.0.1:${secondPort}` })
      .waitFor({ timeout: 60_000 });
    // a read key sees the failure but gets no retry button
    expect(await page.locator('button.retry').count()).toBe(0);
    // the export to the working PACS runs beside the failing one and may finish after it: the latency table
    // counts it once the page's next poll has it
    await waitFor(
      'the export to ORTHANC in the latency table',
      async () => Number((await page.locator('#latency td').allTextContents())[0]) >= 1,
      60_000,
    );
    await shot('02-read-key-study-and-failure');
  }, 180_000);

  it('lets an admin key retry the failed export from the page, and shows it sent', async () => {
    await page.locator('#logout').click();
    await page.locator('#login').waitFor({ state: 'visible' });
    await login(ADMIN);
    const retry = page.locator('#failures button.retry').first();
    await retry.waitFor({ state: 'visible' });
    const exportId = Number(await retry.getAttribute('data-export'));
    const failed = await t.db.export.findUniqueOrThrow({ where: { id: exportId } });
    expect(failed).toMatchObject({ status: 'failed', destination: `SECOND@127.0.0.1:${secondPort}` });
    await shot('03-admin-failed-export');

    // the second PACS comes up on the port the node sends to
    second = await startOrthanc({ aet: 'SECOND', config: { DicomPort: secondPort } });
    await retry.click();
    await page.locator('#msg', { hasText: `Export ${exportId} queued again` }).waitFor();
    const row = page.locator(`.study table.exports tr`, { hasText: `SECOND@127.0.0.1:${secondPort}` });
    await row.locator('td.good', { hasText: 'succeeded' }).waitFor({ timeout: 60_000 });
    await page.locator('#failures td', { hasText: 'none' }).waitFor();
    expect((await t.db.export.findUniqueOrThrow({ where: { id: exportId } })).status).toBe('succeeded');
    const inSecond = await second.rest<string[]>('/instances');
    expect(inSecond.length).toBeGreaterThan(0);
    await shot('04-admin-export-retried');
  }, 120_000);

  it('opens the BullMQ board for admin keys only', async () => {
    const get = (key?: string) =>
      fetch(`${base}/admin/queues`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
    expect((await get()).status).toBe(401);
    expect((await get(READ)).status).toBe(403);
    expect((await get(ADMIN)).status).toBe(200);
    expect(
      (await fetch(`${base}/admin/queues/api/queues`, { headers: { authorization: `Bearer ${READ}` } }))
        .status,
    ).toBe(403);
    // from the dashboard: the button gets a session cookie for the board, which opens in a new tab
    const [board] = await Promise.all([
      page.context().waitForEvent('page', { timeout: WAIT }),
      page.locator('#board').click(),
    ]);
    await board.waitForLoadState('domcontentloaded', { timeout: WAIT });
    await board.getByText('lumbar', { exact: false }).first().waitFor({ timeout: WAIT });
    await board.screenshot({ path: path.join(artifacts, '05-queue-board.png'), fullPage: true });
    await board.close();
  }, 60_000);
});
